"""What the staff app and the kiosk bridge share: config checking and the video room rules.

Standard library only (plus ada-url, imported by `rooms` alone): it imports neither
`pvp_tui` nor `kiosk_bridge` (an import-linter contract in pyproject.toml), so both can.
"""
