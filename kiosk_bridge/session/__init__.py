"""The kiosk's video session: Chromium driven over DevTools, the call watched (docs/session.md)."""
