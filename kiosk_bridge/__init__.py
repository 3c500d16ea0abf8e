"""pvp-bridge: the kiosk's scanner, printer and browser, over websockets."""
