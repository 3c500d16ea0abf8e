"""``python -m kiosk_bridge`` = ``pvp-bridge``."""

import sys

from kiosk_bridge.cli import main

sys.exit(main())
