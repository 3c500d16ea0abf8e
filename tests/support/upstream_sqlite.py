"""`pvp` as on an SQLite built with upstream's default `secure_delete = 0` (Debian's build
defaults to 1): every connection starts with it off, as it would on such a build.

    python -m tests.support.upstream_sqlite [pvp's arguments]   # the real pvp, on such a build
"""

from __future__ import annotations

import sqlite3
import sys
from typing import Any

_connect = sqlite3.connect


def connect(*args: Any, **kwargs: Any) -> sqlite3.Connection:
    conn = _connect(*args, **kwargs)
    conn.execute("PRAGMA secure_delete = 0")
    return conn


if __name__ == "__main__":
    sqlite3.connect = connect  # every connection of this pvp, as on upstream's build
    from pvp_tui.cli import main

    sys.exit(main())
