"""A full disk is said as such (`disk_full`: free space on the disk of the store), never
as a database locked by another pvp; nothing is half-written and nothing is lost."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from pvp_tui.core.errors import PvpError
from pvp_tui.core.store import Store
from tests.support.disks import fill, small_disk

from .conftest import Pvp


def test_a_full_disk_refuses_checkins_clearly_and_loses_nothing(pvp: Pvp, tmp_path: Path) -> None:
    with small_disk(tmp_path / "disk", "2m") as disk:
        pvp.db = disk / "pvp.db"
        assert pvp("checkin", "--partner", "caf", "--name", "Avant").code == 0
        filler = fill(disk)
        accepted, refused = 1, []
        for n in range(40):  # the WAL may still hold a few transactions' room
            result = pvp("--lang", "en", "checkin", "--partner", "caf", "--name", f"V{n}")
            if result.code == 0:
                accepted += 1
            else:
                refused.append(result)
        assert refused, "the disk never filled up"
        for result in refused:
            assert result.code == 1
            assert "disk holding the database is full" in result.err, result.err
            assert str(disk) in result.err
            assert "locked" not in result.err
        filler.unlink()
        assert pvp("checkin", "--partner", "caf", "--name", "Après").code == 0
        assert pvp.counts() == (accepted + 1,) * 3
        tickets = [row[0] for row in pvp.rows("SELECT ticket FROM visits")]
        assert len(set(tickets)) == len(tickets)


def test_creating_a_store_on_a_full_disk_says_the_disk_is_full(tmp_path: Path) -> None:
    with small_disk(tmp_path / "disk", "1m") as disk:
        fill(disk)
        with pytest.raises(PvpError) as error:
            Store(disk / "pvp.db", create=True)
        assert error.value.code == "disk_full"


def test_sqlite_full_inside_a_transaction_is_disk_full_and_rolled_back(tmp_path: Path) -> None:
    store = Store(tmp_path / "pvp.db", create=True)
    pages = store.conn.execute("PRAGMA page_count").fetchone()[0]
    store.conn.execute(f"PRAGMA max_page_count = {pages}")  # SQLITE_FULL at the next page
    with pytest.raises(PvpError) as error, store.transaction() as db:
        db.execute("CREATE TABLE probe (x)")
        db.execute("INSERT INTO probe SELECT zeroblob(100000)")
    assert error.value.code == "disk_full"
    assert not store.conn.in_transaction
    assert store.query("SELECT name FROM sqlite_master WHERE name = 'probe'") == []
    assert isinstance(error.value.__cause__, sqlite3.OperationalError)  # SQLite's own words
    store.close()
