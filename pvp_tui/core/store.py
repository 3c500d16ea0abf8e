"""The SQLite store shared by every pvp process of a site.

WAL, a 5 s busy timeout and `BEGIN IMMEDIATE` for every read-then-write, rolled back on
any error: several processes on one file never lose or duplicate a write (see
docs/store.md). `PRAGMA data_version` is the change feed between processes.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import stat
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from sqlite_utils import Database, Migrations

from .errors import PvpError
from .i18n import _

BUSY_TIMEOUT_MS = 5000
DB_MODE = 0o660  # group-writable: staff with different accounts share one group

migrations = Migrations("pvp_tui")


@migrations()
def m001_visits_and_events(db: Database) -> None:
    db.execute(
        """
        CREATE TABLE visits (
            id TEXT PRIMARY KEY,
            site_id TEXT NOT NULL,
            day TEXT NOT NULL,
            prefix TEXT NOT NULL,
            seq INTEGER NOT NULL,
            ticket TEXT NOT NULL,
            partner_id TEXT NOT NULL,
            status TEXT NOT NULL,
            kind TEXT NOT NULL,
            appointment_at TEXT,
            priority INTEGER NOT NULL DEFAULT 0,
            needs TEXT NOT NULL DEFAULT '[]',
            outcome TEXT,
            arrived_at TEXT NOT NULL,
            called_at TEXT,
            started_at TEXT,
            ended_at TEXT,
            transferred_from TEXT REFERENCES visits(id),
            updated_at TEXT NOT NULL,
            UNIQUE (site_id, day, ticket)
        )
        """
    )
    db.execute("CREATE INDEX visits_status ON visits(status)")
    db.execute("CREATE INDEX visits_day ON visits(site_id, day)")
    # Personal data lives apart so that erasing it leaves the anonymous visit intact.
    db.execute(
        """
        CREATE TABLE visitor_details (
            visit_id TEXT PRIMARY KEY REFERENCES visits(id),
            name TEXT NOT NULL,
            phone TEXT,
            note TEXT NOT NULL DEFAULT ''
        )
        """
    )
    db.execute(
        """
        CREATE TABLE events (
            seq INTEGER PRIMARY KEY AUTOINCREMENT,
            id TEXT NOT NULL UNIQUE,
            visit_id TEXT NOT NULL REFERENCES visits(id),
            site_id TEXT NOT NULL,
            at TEXT NOT NULL,
            type TEXT NOT NULL,
            data TEXT NOT NULL DEFAULT '{}',
            actor TEXT
        )
        """
    )
    db.execute("CREATE INDEX events_visit ON events(visit_id)")
    db.execute("CREATE INDEX events_type_at ON events(type, at)")
    for operation in ("UPDATE", "DELETE"):
        db.execute(
            f"""
            CREATE TRIGGER events_append_only_{operation.lower()}
            BEFORE {operation} ON events
            BEGIN SELECT RAISE(ABORT, 'the event log is append-only'); END
            """
        )


@migrations()
def m002_ticket_lookup(db: Database) -> None:
    # Staff name visits by ticket ("C-007"): find them without scanning every past visit.
    db.execute("CREATE INDEX visits_ticket ON visits(site_id, ticket, day)")


@migrations()
def m003_interview_lengths(db: Database) -> None:
    # The learned interview medians read the latest finished visits of each partner.
    db.execute("CREATE INDEX visits_done ON visits(partner_id, status, ended_at)")


class Store:
    """One connection per process, guarded by a lock so worker threads can share it."""

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        memory = str(path) == ":memory:"
        try:
            if not memory:
                _create_shared_file(self.path)
            conn = sqlite3.connect(
                str(self.path),
                isolation_level=None,
                timeout=BUSY_TIMEOUT_MS / 1000,
                check_same_thread=False,
            )
            conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
            if not memory:
                conn.execute("PRAGMA journal_mode = WAL")
            conn.execute("PRAGMA synchronous = NORMAL")
            conn.execute("PRAGMA foreign_keys = ON")
        except (OSError, sqlite3.DatabaseError) as exc:
            raise PvpError(
                "db_unusable",
                _(
                    "Cannot open the database {path}: {error}. Check the path and its "
                    "permissions, or choose another file with --db PATH."
                ).format(path=self.path, error=exc),
            ) from exc
        self.conn = conn
        # No sqlite-utils plugins: none is meant to see this connection, and looking for
        # them scans every installed package at each start (~15 ms of issue 2's start-up).
        self.db = Database(conn, execute_plugins=False)
        self._lock = threading.RLock()
        with self.transaction():
            migrations.apply(self.db)
        if not memory:
            _share_sidecar_files(self.path)

    @contextlib.contextmanager
    def transaction(self) -> Iterator[Database]:
        """A write transaction: BEGIN IMMEDIATE, COMMIT, ROLLBACK on any error.

        Nested inside another transaction (same thread), it joins the outer one: an
        error still propagates and rolls the whole outer transaction back.
        """
        with self._lock:
            if self.conn.in_transaction:
                yield self.db
                return
            try:
                self.conn.execute("BEGIN IMMEDIATE")
            except sqlite3.OperationalError as exc:
                raise _busy_error(exc) from exc
            try:
                yield self.db
            except BaseException:
                if self.conn.in_transaction:
                    self.conn.execute("ROLLBACK")
                raise
            try:
                self.conn.execute("COMMIT")
            except BaseException as exc:
                if self.conn.in_transaction:
                    self.conn.execute("ROLLBACK")
                if isinstance(exc, sqlite3.OperationalError):
                    raise _busy_error(exc) from exc
                raise

    @contextlib.contextmanager
    def snapshot(self) -> Iterator[Database]:
        """A read transaction: every query inside sees one consistent state."""
        with self._lock:
            if self.conn.in_transaction:  # inside a transaction: it is consistent already
                yield self.db
                return
            self.conn.execute("BEGIN")
            try:
                yield self.db
            finally:
                if self.conn.in_transaction:
                    self.conn.execute("COMMIT")

    def query(self, sql: str, params: Any = ()) -> list[dict[str, Any]]:
        with self._lock:
            return list(self.db.query(sql, params))

    def data_version(self) -> int:
        """Changes whenever another connection commits (not for this one's own commits)."""
        with self._lock:
            return int(self.conn.execute("PRAGMA data_version").fetchone()[0])

    def integrity_ok(self) -> bool:
        with self._lock:
            return bool(self.conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok")

    def close(self) -> None:
        with self._lock:
            self.conn.close()


def _busy_error(exc: sqlite3.OperationalError) -> PvpError:
    return PvpError(
        "db_busy",
        _(
            "The database stayed locked by another pvp for more than 5 seconds ({error}). "
            "Nothing was changed: try again."
        ).format(error=exc),
    )


def _create_shared_file(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, DB_MODE)
    except FileExistsError:
        return
    os.close(fd)
    os.chmod(path, DB_MODE)  # the umask may have removed group write


def _share_sidecar_files(path: Path) -> None:
    """SQLite gives -wal and -shm the database's mode; repair files made by older runs."""
    for suffix in ("", "-wal", "-shm"):
        sidecar = Path(f"{path}{suffix}")
        with contextlib.suppress(OSError):
            info = sidecar.stat()
            if info.st_uid == os.getuid() and stat.S_IMODE(info.st_mode) & 0o060 != 0o060:
                os.chmod(sidecar, stat.S_IMODE(info.st_mode) | 0o060)
