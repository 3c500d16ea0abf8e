"""Code run in child processes by the concurrency tests (importable for `spawn`)."""

from __future__ import annotations

import sys
import time
from typing import Any

from pvp_tui.core.changes import ChangeWatcher
from pvp_tui.core.config import parse_config
from pvp_tui.core.frontdesk import CheckIn, FrontDesk
from pvp_tui.core.store import Store
from tests.support.clocks import MONDAY_10, MovableClock
from tests.support.sites import OPEN_SITE

PARTNERS = ("caf", "cpam", "france-travail")


def check_in_many(db_path: str, worker: int, count: int, go: Any) -> None:
    """Open the shared file like a separate `pvp` would, wait for the start signal, then
    check `count` visitors in as fast as possible."""
    desk = FrontDesk(
        Store(db_path, create=True), parse_config(OPEN_SITE, "test"), clock=MovableClock(MONDAY_10)
    )
    go.wait()
    for i in range(count):
        desk.check_in(CheckIn(PARTNERS[i % len(PARTNERS)], f"w{worker}-{i}"))
    desk.store.close()


def hold_a_write(db_path: str) -> None:
    """Begin a check-in's transaction, write part of it, tell the parent, then hang
    (the parent kills this process with SIGKILL)."""
    store = Store(db_path, create=True)
    with store.transaction() as db:
        db.execute(
            "INSERT INTO visits (id, site_id, day, prefix, seq, ticket, partner_id, status, "
            "kind, arrived_at, updated_at) VALUES ('half', 'test-site', '2026-11-30', 'C', 999, "
            "'C-999', 'caf', 'waiting', 'walk_in', 'x', 'x')"
        )
        db.execute("INSERT INTO visitor_details (visit_id, name) VALUES ('half', 'Half Done')")
        print("holding", flush=True)
        time.sleep(600)


def check_in_once(db_path: str) -> None:
    """One check-in, then print the wall time right after its commit."""
    desk = FrontDesk(Store(db_path, create=True), parse_config(OPEN_SITE, "test"))
    desk.check_in(CheckIn("caf", "Second Process"))
    print(time.time(), flush=True)


def watch(db_path: str) -> None:
    """Keep the store open as the app does all day (its change feed polling, a queue read
    at each change) until stdin closes."""
    desk = FrontDesk(Store(db_path), parse_config(OPEN_SITE, "test"))
    watcher = ChangeWatcher(db_path, desk.queue).start()
    desk.queue()
    print("watching", flush=True)
    sys.stdin.read()
    watcher.stop()


def hold_a_read(db_path: str) -> None:
    """Read inside one read transaction (a long report, a backup...) until stdin closes."""
    store = Store(db_path)
    with store.snapshot() as db:
        db.execute("SELECT count(*) FROM visitor_details").fetchone()
        print("reading", flush=True)
        sys.stdin.read()


def upkeep(db_path: str) -> None:
    """The store's upkeep of an open app (every 10 ms here: a minute's in the app) until
    stdin closes; then prints its rounds and its last failure."""
    from pvp_tui.core.upkeep import Upkeep

    keeper = Upkeep(db_path, interval=0.01).start()
    keeper.day_started()
    print("tidying", flush=True)
    sys.stdin.read()
    keeper.stop()
    print(keeper.rounds, repr(keeper.error), flush=True)


if __name__ == "__main__":
    workers = {
        "hold": hold_a_write,
        "once": check_in_once,
        "watch": watch,
        "read": hold_a_read,
        "upkeep": upkeep,
    }
    workers[sys.argv[1]](sys.argv[2])
