"""The store stays small while pvp runs for weeks: the WAL is checkpointed and cut, and
pages freed by purges go back (pvp_tui/core/upkeep.py, docs/store.md "Upkeep").

Real SQLite files; the reader that holds the WAL is another process."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from pvp_tui.core.config import Config
from pvp_tui.core.frontdesk import CheckIn, FrontDesk
from pvp_tui.core.store import Store
from pvp_tui.core.upkeep import INCREMENTAL, Upkeep, wal_bytes
from tests.support.clocks import MovableClock
from tests.support.readers import ROOT, read_held_open

MIB = 1024 * 1024
# SQLite checkpoints by itself every 1,000 pages (4 MiB); one visit's four commits add
# about 20 pages. The WAL of a day with no reader in the way stays under this.
WAL_BOUND = 5 * MIB


def visits(desk: FrontDesk, count: int, *, note: str = "") -> None:
    """`count` visits checked in and finished (four commits each)."""
    for n in range(count):
        visit = desk.check_in(CheckIn("caf", f"Visiteur {n:04d}", note=note))
        desk.call(visit.ticket)
        desk.start(visit.ticket)
        desk.finish(visit.ticket, "resolved")


def wait_until(check: object, what: str, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while not check():  # type: ignore[operator]
        if time.monotonic() > deadline:
            raise AssertionError(f"still not {what}")
        time.sleep(0.05)


@pytest.fixture
def second(db_path: Path, store: Store, config: Config, clock: MovableClock) -> Iterator[FrontDesk]:
    """Another desk on the same file (its own connection)."""
    other = FrontDesk(Store(db_path), config, clock=clock, actor="other")
    yield other
    other.store.close()


def test_a_new_store_hands_free_pages_back(store: Store) -> None:
    assert store.conn.execute("PRAGMA auto_vacuum").fetchone()[0] == INCREMENTAL


def test_the_wal_of_a_busy_day_stays_under_its_bound(
    desk: FrontDesk, second: FrontDesk, db_path: Path
) -> None:
    largest = 0
    for round_ in range(10):
        visits(desk if round_ % 2 else second, 15)
        largest = max(largest, wal_bytes(db_path))
        desk.store.tidy()  # what the open app does every minute
    assert 0 < largest < WAL_BOUND
    assert wal_bytes(db_path) == 0  # nobody reading: checkpointed whole and cut


def test_a_read_held_open_grows_the_wal_and_once_released_it_is_cut(
    desk: FrontDesk, db_path: Path
) -> None:
    with read_held_open(db_path):
        visits(desk, 60)
        held = wal_bytes(db_path)
        assert held > WAL_BOUND  # SQLite's own checkpoints cannot copy past the reader
        done = desk.store.tidy()  # and upkeep does not wait for it
        assert not done.truncated and wal_bytes(db_path) >= held
        visits(desk, 5)  # the desk goes on writing meanwhile
    done = desk.store.tidy()
    assert done.truncated and done.wal_before > WAL_BOUND
    assert wal_bytes(db_path) == 0
    assert desk.store.integrity_ok()
    assert desk.store.query("SELECT count(*) AS n FROM visits")[0]["n"] == 65


def test_an_older_file_switches_to_incremental_vacuum_once(
    db_path: Path, config: Config, clock: MovableClock
) -> None:
    conn = sqlite3.connect(db_path)  # a file made before auto_vacuum was set
    conn.execute("PRAGMA journal_mode = WAL")
    conn.close()
    desk = FrontDesk(Store(db_path), config, clock=clock)
    try:
        visits(desk, 20, note="x" * 400)
        assert desk.store.conn.execute("PRAGMA auto_vacuum").fetchone()[0] == 0
        with read_held_open(db_path):  # a reader does not stop the switch (WAL)
            assert desk.store.make_incremental()
        assert not desk.store.make_incremental()  # once
        assert desk.store.conn.execute("PRAGMA auto_vacuum").fetchone()[0] == INCREMENTAL
        assert desk.store.integrity_ok()
        assert len(desk.visits_of_day()) == 20
    finally:
        desk.store.close()


def test_the_open_apps_upkeep_cuts_the_wal_and_hands_pages_back(
    desk: FrontDesk, db_path: Path, clock: MovableClock
) -> None:
    upkeep = Upkeep(db_path, interval=0.05).start()
    try:
        with read_held_open(db_path):
            visits(desk, 60, note="n" * 500)
            assert wal_bytes(db_path) > WAL_BOUND
        wait_until(lambda: wal_bytes(db_path) == 0, "cut")
        clock.advance(days=3)  # the notes are now past retention
        size = db_path.stat().st_size
        assert desk.purge_personal_data().erased == 60
        upkeep.day_started()  # the app's start of day: every free page back
        rounds = upkeep.rounds
        wait_until(lambda: upkeep.rounds > rounds, "tidied")
        wait_until(lambda: wal_bytes(db_path) == 0, "cut")
        assert upkeep.last is not None and upkeep.last.freed_pages > 0
        assert desk.store.conn.execute("PRAGMA freelist_count").fetchone()[0] == 0
        assert db_path.stat().st_size < size
        assert upkeep.error is None
    finally:
        upkeep.stop()


def test_a_desk_holding_the_write_lock_makes_upkeep_wait_for_nothing(
    desk: FrontDesk, db_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Upkeep never waits (busy_timeout 0): rounds go on while another connection holds
    the write lock (with the 5 s timeout of writes, five rounds would take 25 s), and a
    busy store is not a failure to report."""
    visits(desk, 5, note="n" * 500)
    desk.store.conn.execute("DELETE FROM visitor_details")  # free pages to hand back
    upkeep = Upkeep(db_path, interval=0.02)
    upkeep.day_started()  # the first round is the deep one, which writes
    with caplog.at_level("WARNING", logger="pvp.store"):
        upkeep.start()
        try:
            with desk.store.transaction():  # another desk's write in progress
                wait_until(lambda: upkeep.rounds > 5, "tidied", timeout=20)
                assert upkeep.last is not None and upkeep.last.freed_pages == 0
        finally:
            upkeep.stop()
    assert upkeep.error is None
    assert not caplog.records


def test_three_desks_tidying_while_two_write_lose_nothing_and_block_nobody(
    desk: FrontDesk, second: FrontDesk, db_path: Path
) -> None:
    """Three processes running the app's upkeep 6,000 times faster than the app does,
    while two desks run visits and a reader comes and goes: every write goes through
    (none waits past its 5 s), the file stays sound, the WAL bounded, then cut."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PVP_")}
    env["PYTHONPATH"] = str(ROOT)
    keepers = [
        subprocess.Popen(
            [sys.executable, "-m", "tests.support.workers", "upkeep", str(db_path)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            env=env,
            cwd=ROOT,
        )
        for _ in range(3)
    ]
    try:
        for keeper in keepers:
            assert keeper.stdout is not None and keeper.stdout.readline().strip() == "tidying"
        largest = 0
        for round_ in range(6):
            if round_ == 3:
                with read_held_open(db_path):
                    visits(desk, 10)
            else:
                visits(desk if round_ % 2 else second, 10)
            largest = max(largest, wal_bytes(db_path))
    finally:
        reports = [keeper.communicate(timeout=30)[0].split() for keeper in keepers]
    for rounds, error in reports:
        assert int(rounds) > 10 and error == "None"
    assert largest < WAL_BOUND
    assert desk.store.integrity_ok()
    assert len(desk.visits_of_day()) == 60
    assert desk.store.tidy().wal_after == 0


def test_a_large_write_left_in_the_wal_reaches_the_database_file_only_as_zeros(
    store: Store, db_path: Path
) -> None:
    """A spool's commit (`checkpoint=False`) leaves its pages in the WAL, past SQLite's
    own threshold; erased then tidied, the database file gets only their zeros and the
    WAL is cut: the bytes are in no file. The next ordinary commit over the threshold
    still checkpoints by itself."""
    with store.transaction() as db:
        db.execute("CREATE TABLE spool (id INTEGER PRIMARY KEY, content BLOB)")
    store.tidy()
    data = os.urandom(6 * MIB)  # 1,500 pages, over SQLite's 1,000
    mark = data[3 * MIB : 3 * MIB + 64]
    with store.transaction(checkpoint=False) as db:
        db.execute("INSERT INTO spool (id, content) VALUES (1, ?)", [data])
    assert wal_bytes(db_path) > 6 * MIB
    assert mark not in db_path.read_bytes()  # not copied into the database file
    with store.transaction(checkpoint=False) as db:
        db.execute("DELETE FROM spool WHERE id = 1")  # secure_delete: zeros, in the WAL
    assert mark in Path(f"{db_path}-wal").read_bytes()
    assert store.tidy(vacuum_pages=0).truncated
    assert mark not in db_path.read_bytes() and wal_bytes(db_path) == 0
    # The connection's own threshold is back: an ordinary commit checkpoints.
    assert store.conn.execute("PRAGMA wal_autocheckpoint").fetchone()[0] == 1000
    with store.transaction() as db:
        db.execute("INSERT INTO spool (id, content) VALUES (2, ?)", [data])
    assert data[:64] in db_path.read_bytes()
