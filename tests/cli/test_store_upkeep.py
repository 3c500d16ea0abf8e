"""`pvp purge` leaves the store small: a file made before incremental vacuum switches to
it once, the pages a purge freed go back to the disk and the WAL is cut once no reader
holds it. Real `pvp` processes; the reader is another process."""

from __future__ import annotations

import sqlite3
from datetime import datetime, timedelta
from pathlib import Path

from pvp_tui.core.config import parse_config
from pvp_tui.core.frontdesk import CheckIn, FrontDesk
from pvp_tui.core.store import Store
from pvp_tui.core.upkeep import INCREMENTAL, wal_bytes
from tests.support.personal_data import PARIS
from tests.support.readers import read_held_open
from tests.support.sites import OPEN_SITE

from .conftest import Pvp

BIG_DAY = 300
NOTE = "dossier " * 62  # near the 500 characters a note may hold


def big_day_three_days_ago(db: Path) -> None:
    then = datetime.now(PARIS).replace(hour=9, minute=0) - timedelta(days=3)
    desk = FrontDesk(Store(db, create=True), parse_config(OPEN_SITE, "t"), clock=lambda: then)
    try:
        for n in range(BIG_DAY):
            visit = desk.check_in(
                CheckIn("caf", f"Visiteur {n:04d}", phone="0600000000", note=NOTE)
            )
            desk.cancel(visit.ticket)
    finally:
        desk.store.close()


def pragma(db: Path, name: str) -> int:
    conn = sqlite3.connect(db)
    try:
        return int(conn.execute(f"PRAGMA {name}").fetchone()[0])
    finally:
        conn.close()


def test_purge_of_a_big_day_shrinks_an_older_file_and_cuts_the_wal(pvp: Pvp) -> None:
    conn = sqlite3.connect(pvp.db)  # a file made before pvp set auto_vacuum
    conn.execute("PRAGMA journal_mode = WAL")
    conn.close()
    big_day_three_days_ago(pvp.db)
    assert pragma(pvp.db, "auto_vacuum") == 0
    pragma(pvp.db, "wal_checkpoint(TRUNCATE)")  # the whole day in the database file
    before = pvp.db.stat().st_size
    result = pvp("purge", "--json")
    assert result.code == 0, result.err
    assert result.out.strip() == f'{{"erased": {BIG_DAY}, "closed_overnight": 0, "complete": true}}'
    assert pragma(pvp.db, "auto_vacuum") == INCREMENTAL
    assert pragma(pvp.db, "freelist_count") == 0
    assert wal_bytes(pvp.db) == 0
    # Given back: what the details took, less the erasure events appended (about half).
    given_back = before - pvp.db.stat().st_size
    assert given_back > BIG_DAY * len(NOTE) // 4, (before, given_back)
    assert pvp.counts() == (BIG_DAY, 0, BIG_DAY * 3)  # check-in, cancel, erased: all kept


def test_purge_cuts_a_wal_a_reader_had_grown_once_it_is_released(pvp: Pvp) -> None:
    assert pvp("queue").code == 0  # a new file, incremental from the start
    assert pragma(pvp.db, "auto_vacuum") == INCREMENTAL
    with read_held_open(pvp.db):
        big_day_three_days_ago(pvp.db)
        grown = wal_bytes(pvp.db)
        assert grown > 4 * 1024 * 1024
        result = pvp("purge", "--json")  # the reader keeps the erasure's checkpoint back
        assert result.code == 1 and '"complete": false' in result.out
        assert wal_bytes(pvp.db) >= grown
    size = pvp.db.stat().st_size
    result = pvp("purge", "--json")
    assert result.code == 0, result.err
    assert wal_bytes(pvp.db) == 0
    assert pragma(pvp.db, "freelist_count") == 0
    assert pvp.db.stat().st_size <= size
