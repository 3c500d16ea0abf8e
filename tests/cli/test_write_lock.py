"""Nothing slow happens while a real `pvp` holds SQLite's write lock: no module is
imported and no file is opened between `BEGIN IMMEDIATE` and `COMMIT`."""

from __future__ import annotations

import subprocess
import sys

import pytest

from .conftest import ROOT, Pvp

# Runs pvp's main() in a fresh interpreter with an audit hook that records every import and
# file open made while one of the process's SQLite connections is inside a transaction.
WATCH = """
import sys
connections = []
seen = []

def hook(event, args):
    if event == "sqlite3.connect/handle":
        connections.append(args[0])
    elif event in ("import", "open") and any(c.in_transaction for c in connections):
        seen.append(f"{event} {args[0]}")

sys.addaudithook(hook)
from pvp_tui.cli import main
code = main(sys.argv[1:])
for line in seen:
    print(line, file=sys.stderr)
sys.exit(code)
"""


def _watched(pvp: Pvp, *args: str) -> list[str]:
    command = [sys.executable, "-c", WATCH, "--config", str(pvp.config), "--db", str(pvp.db)]
    done = subprocess.run(
        [*command, *args], capture_output=True, text=True, env=pvp.env, cwd=ROOT, timeout=60
    )
    assert done.returncode == 0, done.stderr
    return done.stderr.splitlines()


@pytest.mark.parametrize("lang", ["fr", "en"])
def test_a_cold_pvp_imports_and_opens_nothing_while_it_holds_the_write_lock(
    pvp: Pvp, lang: str
) -> None:
    assert pvp("checkin", "--partner", "caf", "--name", "Premier").code == 0  # creates, migrates
    for args in (
        ("checkin", "--partner", "caf", "--name", "Marie", "--need", "sight", "--json"),
        ("checkin", "--partner", "cpam", "--name", "Paul", "--appointment", "10:30"),
        ("call", "C-001"),
        ("start", "C-001"),
        ("finish", "C-001", "--outcome", "resolved"),
        ("transfer", "A-001", "--partner", "caf"),
        ("note", "C-002", "rappeler"),
        ("cancel", "C-002"),
    ):
        assert _watched(pvp, "--lang", lang, *args) == [], args
