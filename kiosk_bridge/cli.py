"""Command line of pvp-bridge (filled in by the bridge issue)."""

import sys


def main() -> int:
    print("pvp-bridge: not built yet", file=sys.stderr)
    return 2
