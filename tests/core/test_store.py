"""The store on one file: transactions, the append-only event log, shared permissions."""

from __future__ import annotations

import contextlib
import os
import sqlite3
import stat
import subprocess
import sys
import textwrap
import uuid
from pathlib import Path

import pytest

from pvp_tui.core.errors import PvpError
from pvp_tui.core.frontdesk import FrontDesk
from pvp_tui.core.store import (
    BUSY_TIMEOUT_MS,
    MIGRATION_NAMES,
    MIGRATION_SET,
    SCHEMA_VERSION,
    Store,
    schema_version,
)
from tests.support import upstream_sqlite

from .conftest import check_in, counts


def test_the_store_uses_wal_and_a_busy_timeout(store: Store) -> None:
    assert store.query("PRAGMA journal_mode")[0]["journal_mode"] == "wal"
    assert store.query("PRAGMA busy_timeout")[0]["timeout"] >= 5000
    assert BUSY_TIMEOUT_MS >= 5000
    assert store.integrity_ok()


def test_the_store_erases_securely_whatever_sqlite_was_built_with(
    db_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Debian builds SQLite with secure_delete on; upstream's default (other platforms,
    # Python's own builds) is off: this process's connections now start off, like there.
    monkeypatch.setattr(sqlite3, "connect", upstream_sqlite.connect)
    with contextlib.closing(sqlite3.connect(db_path)) as plain:
        assert plain.execute("PRAGMA secure_delete").fetchone()[0] == 0
    store = Store(db_path, create=True)
    assert store.query("PRAGMA secure_delete")[0]["secure_delete"] == 1
    # A WAL restarted after a checkpoint is cut to what it holds (no stale frames).
    assert store.query("PRAGMA journal_size_limit")[0]["journal_size_limit"] == 0
    store.close()


def test_migrations_apply_once(db_path: Path, store: Store) -> None:
    again = Store(db_path)
    names = [r["name"] for r in again.query("SELECT name FROM _sqlite_migrations")]
    assert names == sorted(set(names)) and "m001_visits_and_events" in names
    again.close()


def test_the_migration_names_are_the_registered_migrations() -> None:
    from sqlite_utils import Database

    from pvp_tui.core.migrations import migrations

    fresh = Database(memory=True)
    assert tuple(m.name for m in migrations.pending(fresh)) == MIGRATION_NAMES
    assert migrations.name == MIGRATION_SET


def test_a_pending_migration_is_applied_at_start(db_path: Path, store: Store) -> None:
    with store.transaction() as db:
        db.execute("DROP INDEX visits_done")
        db.execute("DELETE FROM _sqlite_migrations WHERE name = 'm003_interview_lengths'")
        db.execute("PRAGMA user_version = 2")  # lower than SCHEMA_VERSION: the names are read
    store.close()
    again = Store(db_path)
    names = [r["name"] for r in again.query("SELECT name FROM _sqlite_migrations")]
    assert sorted(names) == sorted(MIGRATION_NAMES)
    indexes = again.query("SELECT name FROM sqlite_master WHERE type = 'index'")
    assert {"name": "visits_done"} in indexes
    assert schema_version(again.conn) == SCHEMA_VERSION == len(MIGRATION_NAMES)
    again.close()


def test_a_file_migrated_before_the_version_was_recorded_gets_it(db_path: Path) -> None:
    Store(db_path, create=True).close()
    with contextlib.closing(sqlite3.connect(db_path)) as conn:
        conn.execute("PRAGMA user_version = 0")
        conn.commit()
    again = Store(db_path)
    assert schema_version(again.conn) == SCHEMA_VERSION
    again.close()


def _newer(db_path: Path, *, version: int | None = None, migration: str | None = None) -> None:
    """Leave the file as a newer PVP Relais would: a higher version, a migration unknown here."""
    with contextlib.closing(sqlite3.connect(db_path)) as conn:
        if migration:
            conn.execute(
                "INSERT INTO _sqlite_migrations (migration_set, name, applied_at) "
                "VALUES ('pvp_tui', ?, '2027-01-01')",
                [migration],
            )
        if version is not None:
            conn.execute(f"PRAGMA user_version = {version}")
        conn.commit()


@pytest.mark.parametrize(
    ("version", "migration"),
    [(SCHEMA_VERSION + 1, "m004_from_the_future"), (0, "m004_from_the_future")],
)
def test_a_database_of_a_newer_pvp_is_refused_and_left_unchanged(
    db_path: Path, version: int, migration: str
) -> None:
    Store(db_path, create=True).close()
    _newer(db_path, version=version, migration=migration)
    before = db_path.read_bytes()
    with pytest.raises(PvpError) as error:
        Store(db_path)
    assert error.value.code == "db_newer"
    assert str(db_path) in error.value.message and "--db" in error.value.message
    assert db_path.read_bytes() == before


def test_a_write_after_a_newer_pvp_migrated_the_file_is_refused(
    db_path: Path, desk: FrontDesk, store: Store
) -> None:
    check_in(desk)
    _newer(db_path, version=SCHEMA_VERSION + 1, migration="m004_from_the_future")
    with pytest.raises(PvpError) as error:
        check_in(desk, name="Paul")
    assert error.value.code == "db_newer"
    assert not store.conn.in_transaction
    assert counts(store) == (1, 1, 1)


READS_WITHOUT_SQLITE_UTILS = """
    import sys
    from pvp_tui.core.clock import fixed_clock
    from pvp_tui.core.config import parse_config
    from pvp_tui.core.frontdesk import FrontDesk
    from pvp_tui.core.store import Store
    from tests.support.clocks import MONDAY_10
    from tests.support.sites import OPEN_SITE

    config = parse_config(OPEN_SITE, "t")
    desk = FrontDesk(Store(sys.argv[1]), config, clock=fixed_clock(MONDAY_10), actor="test")
    queue, active, summary = desk.queue(), desk.active(), desk.day_summary()
    desk.find(queue[0].visit.ticket)
    print(len(queue), "sqlite_utils" in sys.modules)
    desk.call_next()
    print("sqlite_utils" in sys.modules)
"""


def test_neither_reads_nor_writes_load_sqlite_utils(
    db_path: Path, desk: FrontDesk, store: Store
) -> None:
    check_in(desk)
    store.close()
    result = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(READS_WITHOUT_SQLITE_UTILS), str(db_path)],
        capture_output=True,
        text=True,
        check=False,
        cwd=Path(__file__).parents[2],
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["1", "False", "False"]  # only migrations need it


def test_a_failing_transaction_leaves_nothing(desk: FrontDesk, store: Store) -> None:
    check_in(desk)
    before = counts(store)
    with pytest.raises(RuntimeError), store.transaction() as db:
        db.execute("DELETE FROM visitor_details")
        db.update("visits", desk.find("C-001").id, {"status": "done"})
        raise RuntimeError("boom")
    assert counts(store) == before
    assert desk.find("C-001").status.value == "waiting"
    assert not store.conn.in_transaction


def test_a_nested_transaction_joins_the_outer_one(desk: FrontDesk, store: Store) -> None:
    before = counts(store)
    with pytest.raises(RuntimeError), store.transaction():
        check_in(desk)  # its own transaction joins this one
        assert desk.queue()[0].visit.ticket == "C-001"
        raise RuntimeError("boom")
    assert counts(store) == before


def test_visits_and_events_have_uuids(desk: FrontDesk, store: Store) -> None:
    visit = check_in(desk)
    desk.call(visit.ticket)
    uuid.UUID(visit.id)
    ids = [row["id"] for row in store.query("SELECT id FROM events")]
    assert len(ids) == 2
    for event_id in ids:
        assert uuid.UUID(event_id).version == 4


@pytest.mark.parametrize(
    "sql", ["UPDATE events SET type = 'finished'", "DELETE FROM events", "DELETE FROM events"]
)
def test_the_event_log_is_append_only(desk: FrontDesk, store: Store, sql: str) -> None:
    check_in(desk)
    before = store.query("SELECT * FROM events")
    with pytest.raises(sqlite3.DatabaseError, match="append-only"), store.transaction() as db:
        db.execute(sql)
    assert store.query("SELECT * FROM events") == before
    # Not even from another connection that skips the app.
    other = sqlite3.connect(store.path)
    with pytest.raises(sqlite3.DatabaseError, match="append-only"):
        other.execute(sql)
    other.close()


def test_the_database_files_are_group_writable_despite_the_umask(tmp_path: Path) -> None:
    old = os.umask(0o022)
    try:
        path = tmp_path / "shared" / "pvp.db"
        store = Store(path, create=True)
        with store.transaction() as db:
            db.execute("CREATE TABLE probe (x)")
        for name in ("pvp.db", "pvp.db-wal", "pvp.db-shm"):
            mode = stat.S_IMODE((path.parent / name).stat().st_mode)
            assert mode == 0o660, f"{name}: {oct(mode)}"
        store.close()
    finally:
        os.umask(old)


def test_an_old_file_without_group_write_is_repaired(tmp_path: Path) -> None:
    path = tmp_path / "pvp.db"
    sqlite3.connect(path).execute("CREATE TABLE t (x)").connection.close()
    os.chmod(path, 0o644)
    Store(path).close()
    assert stat.S_IMODE(path.stat().st_mode) & 0o060 == 0o060


def test_an_unusable_path_is_one_clear_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(PvpError) as error:
        Store(blocker / "pvp.db", create=True)
    assert error.value.code == "db_unusable"
    assert "--db" in error.value.message
    garbage = tmp_path / "garbage.db"
    garbage.write_bytes(b"not a database at all" * 100)
    with pytest.raises(PvpError) as error:
        Store(garbage)
    assert error.value.code == "db_unusable"


def test_a_lock_held_too_long_is_refused_cleanly(db_path: Path, desk: FrontDesk) -> None:
    other = Store(db_path, create=True)
    other.conn.execute("PRAGMA busy_timeout = 100")  # keep the test short
    holder = sqlite3.connect(db_path, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    try:
        with pytest.raises(PvpError) as error, other.transaction():
            pass
        assert error.value.code == "db_busy"
        assert not other.conn.in_transaction
        other.close()
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert check_in(desk).ticket == "C-001"


def test_data_version_moves_when_another_connection_commits(db_path: Path, store: Store) -> None:
    before = store.data_version()
    with store.transaction() as db:
        db.execute("CREATE TABLE mine (x)")
    assert store.data_version() == before  # its own commits do not count
    other = Store(db_path, create=True)
    with other.transaction() as db:
        db.execute("INSERT INTO mine VALUES (1)")
    other.close()
    assert store.data_version() != before


def test_a_missing_file_is_refused_unless_created(tmp_path: Path) -> None:
    path = tmp_path / "nowhere" / "pvp.db"
    with pytest.raises(PvpError) as error:
        Store(path)
    assert error.value.code == "db_missing"
    assert str(path) in error.value.message and "--create-db" in error.value.message
    assert not path.parent.exists()
    Store(path, create=True).close()
    Store(path).close()  # it exists now
