"""The kiosk's own screen: the pages the visitor sees between calls (see docs/session.md)."""
