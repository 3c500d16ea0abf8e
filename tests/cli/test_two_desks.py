"""Two desks calling at the same moment, with one kiosk: the second always hears it is
busy. Real `pvp call` processes on one database."""

from __future__ import annotations

import dataclasses
import sqlite3
import time

from .conftest import Pvp

ROUNDS = 6


def _two_waiting(pvp: Pvp, round_: int) -> Pvp:
    pvp = dataclasses.replace(pvp, db=pvp.db.with_name(f"round-{round_}.db"))
    for name in ("Marie", "Paul"):
        assert pvp("checkin", "--partner", "caf", "--name", name).code == 0
    return pvp


def _call_twice_at_once(pvp: Pvp, *, hold_lock: bool) -> list[str]:
    """Start two `pvp call` at once; with `hold_lock`, another writer holds the database
    until both have started, so both read the kiosks before either can call."""
    holder = sqlite3.connect(pvp.db, isolation_level=None)
    try:
        if hold_lock:
            holder.execute("BEGIN IMMEDIATE")
        calls = [pvp.popen("--lang", "en", "call") for _desk in range(2)]
        if hold_lock:
            time.sleep(1.5)  # both started and waiting for the lock (5 s busy timeout)
            holder.execute("ROLLBACK")
        outs = [call.communicate(timeout=30) for call in calls]
        assert [call.returncode for call in calls] == [0, 0], outs
        return [err for _out, err in outs]
    finally:
        holder.close()


def test_of_two_desks_calling_at_once_exactly_one_is_warned(pvp: Pvp) -> None:
    for round_ in range(ROUNDS):
        pvp = _two_waiting(pvp, round_)
        errs = _call_twice_at_once(pvp, hold_lock=round_ % 2 == 0)
        warned = [err for err in errs if "kiosk is busy" in err]
        assert len(warned) == 1, (round_, errs)
        called = pvp.rows("SELECT ticket FROM visits WHERE status = 'called' ORDER BY called_at")
        first = called[0][0]
        assert f"({first} called)" in warned[0]
        assert len(called) == 2  # a script may mean it: the call still goes through
