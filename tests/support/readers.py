"""Another process keeping an old read open on the store (a long report, a backup...)."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


@contextmanager
def read_held_open(db: Path) -> Iterator[subprocess.Popen[str]]:
    """A process of tests/support/workers.py inside one read transaction on `db` until
    the block ends (its snapshot keeps SQLite from copying later commits past it)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PVP_")}
    env["PYTHONPATH"] = str(ROOT)
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.support.workers", "read", str(db)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        env=env,
        cwd=ROOT,
    )
    assert proc.stdin is not None and proc.stdout is not None
    try:
        assert proc.stdout.readline().strip() == "reading"
        yield proc
    finally:
        proc.stdin.close()
        proc.wait(timeout=10)
        proc.stdout.close()
