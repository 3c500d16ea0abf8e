"""pvp-bridge: the kiosk's scanner, printer and browser, over websockets."""

__version__ = "0.1.0"
