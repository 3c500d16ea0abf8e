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
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from . import i18n
from .errors import PvpError
from .i18n import _

if TYPE_CHECKING:
    from sqlite_utils import Database

BUSY_TIMEOUT_MS = 5000
DB_MODE = 0o660  # group-writable: staff with different accounts share one group

# The schema's migrations, in order (defined in migrations.py, which a test keeps equal to
# this): a start reads which are applied with plain SQL and imports sqlite-utils and the
# migrations only when one is pending (sqlite-utils costs ~33 ms of start-up).
MIGRATION_SET = "pvp_tui"
MIGRATION_NAMES = ("m001_visits_and_events", "m002_ticket_lookup", "m003_interview_lengths")
_MIGRATIONS_TABLE = "_sqlite_migrations"

Params = Sequence[Any] | dict[str, Any] | None


class Reader(Protocol):
    """What reads need: `Store.snapshot()`'s reader and sqlite-utils' Database both fit."""

    @property
    def conn(self) -> sqlite3.Connection: ...

    def execute(self, sql: str, parameters: Params = None, /) -> sqlite3.Cursor: ...

    def query(self, sql: str, params: Params = None, /) -> Iterable[dict[str, Any]]: ...


class SnapshotReader:
    """Reads on the plain connection, rows as dicts (no sqlite-utils needed)."""

    __slots__ = ("conn",)

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn

    def execute(self, sql: str, parameters: Params = None, /) -> sqlite3.Cursor:
        if parameters is None:
            return self.conn.execute(sql)
        return self.conn.execute(sql, parameters)

    def query(self, sql: str, params: Params = None, /) -> Iterator[dict[str, Any]]:
        cursor = self.execute(sql, params)
        if cursor.description is None:
            raise ValueError("query() can only be used with SQL that returns rows")
        keys = _dedupe([d[0] for d in cursor.description])
        return (dict(zip(keys, row, strict=True)) for row in cursor)


def _dedupe(keys: list[str]) -> list[str]:
    """Repeated column names get a suffix, as sqlite-utils names them (`id`, `id_2`)."""
    if len(set(keys)) == len(keys):
        return keys
    seen: set[str] = set()
    result = []
    for key in keys:
        name, n = key, 1
        while name in seen:
            n += 1
            name = f"{key}_{n}"
        seen.add(name)
        result.append(name)
    return result


class Store:
    """One connection per process, guarded by a lock so worker threads can share it."""

    def __init__(self, path: Path | str, *, create: bool = False) -> None:
        """Open the store at `path`; a missing file is an error unless `create` (a typo in
        a path must not start a new, empty queue: see cli.open_context for who creates)."""
        self.path = Path(path)
        memory = str(path) == ":memory:"
        if not memory and not create and not self.path.exists():
            raise _missing_error(self.path)
        try:
            if not memory and create:
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
        self._reader = SnapshotReader(conn)
        self._db: Database | None = None
        self._lock = threading.RLock()
        if self._pending_migrations():
            from .migrations import migrations

            with self.transaction() as db:
                migrations.apply(db)  # reads again what is pending, in this transaction
        if not memory:
            _share_sidecar_files(self.path)

    @property
    def db(self) -> Database:
        """The connection wrapped by sqlite-utils, made (and sqlite-utils imported) on use."""
        with self._lock:
            if self._db is None:
                from sqlite_utils import Database

                # No sqlite-utils plugins: none is meant to see this connection, and looking
                # for them scans every installed package (~15 ms of start-up).
                self._db = Database(self.conn, execute_plugins=False)
            return self._db

    def _pending_migrations(self) -> bool:
        with self._lock:
            has_table = self.conn.execute(
                "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?",
                [_MIGRATIONS_TABLE],
            ).fetchone()
            if not has_table:
                return True
            applied = {
                row[0]
                for row in self.conn.execute(
                    f"SELECT name FROM {_MIGRATIONS_TABLE} WHERE migration_set = ?",
                    [MIGRATION_SET],
                )
            }
        return not applied.issuperset(MIGRATION_NAMES)

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
            # Everything slow (imports, catalog load) happens before the write lock.
            db = self.db
            i18n.load_catalog()
            try:
                self.conn.execute("BEGIN IMMEDIATE")
            except sqlite3.OperationalError as exc:
                raise _busy_error(exc) from exc
            try:
                yield db
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
    def snapshot(self) -> Iterator[Reader]:
        """A read transaction: every query inside sees one consistent state.

        Reads on the plain connection: the first frame's reads need no sqlite-utils.
        """
        with self._lock:
            if self.conn.in_transaction:  # inside a transaction: it is consistent already
                yield self._reader
                return
            self.conn.execute("BEGIN")
            try:
                yield self._reader
            finally:
                if self.conn.in_transaction:
                    self.conn.execute("COMMIT")

    def query(self, sql: str, params: Params = ()) -> list[dict[str, Any]]:
        with self._lock:
            return list(self._reader.query(sql, params))

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


def _missing_error(path: Path) -> PvpError:
    where = (
        _("There is no database {path}.")
        if path.parent.is_dir()
        else _("There is no database {path} (its directory {dir} does not exist either).")
    )
    return PvpError(
        "db_missing",
        where.format(path=path, dir=path.parent)
        + " "
        + _(
            "Check the path (--db, PVP_DB or [store] path in the config): another pvp may "
            "use the right one. To start a new, empty database there, add --create-db."
        ),
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
