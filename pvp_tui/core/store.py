"""The SQLite store shared by every pvp process of a site.

WAL, a 5 s busy timeout and `BEGIN IMMEDIATE` for every read-then-write, rolled back on
any error: several processes on one file never lose or duplicate a write (see
docs/store.md). `PRAGMA data_version` is the change feed between processes.
"""

from __future__ import annotations

import contextlib
import errno
import os
import sqlite3
import stat
import threading
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from . import i18n, upkeep
from .errors import PvpError
from .i18n import _

if TYPE_CHECKING:
    from sqlite_utils import Database

BUSY_TIMEOUT_MS = 5000
# Less free space than this and an I/O error means the disk is full (SQLite's pages, WAL
# and 32 KiB -shm blocks no longer fit).
FULL_BELOW_BYTES = 1_000_000
ERASE_WAIT_SECONDS = 5.0  # how long an erasure waits for other pvp's reads to end
_CHECKPOINT_TRY_MS = 250  # one checkpoint attempt blocks other writers at most this long
DB_MODE = 0o660  # group-writable: staff with different accounts share one group
# SQLite's automatic checkpoint: the connection whose commit brings the WAL to this many
# pages copies it into the database file, inside its commit (SQLite's default).
AUTOCHECKPOINT_PAGES = 1000

# The schema's migrations, in order (defined in migrations.py, which a test keeps equal to
# this): a start reads which are applied with plain SQL and imports sqlite-utils and the
# migrations only when one is pending (sqlite-utils costs ~33 ms of start-up).
MIGRATION_SET = "pvp_tui"
MIGRATION_NAMES = (
    "m001_visits_and_events",
    "m002_ticket_lookup",
    "m003_interview_lengths",
    "m004_pending_erasure",
    "m005_outbox",
    "m007_pull",
    "m009_hub_documents",
    "m010_hub_uploads",
)
_MIGRATIONS_TABLE = "_sqlite_migrations"
# The schema's version, kept in `PRAGMA user_version` (a header field: one cheap read at
# start and in every write): how many migrations the last pvp to migrate the file knew.
# A higher one was written by a newer PVP Relais, which this one must not write to.
SCHEMA_VERSION = len(MIGRATION_NAMES)

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


class Writer(SnapshotReader):
    """What a write transaction yields: the reads, plus inserts and updates in plain SQL.
    Not sqlite-utils: importing it costs a cold `pvp checkin` ~60 ms (it serves migrations)."""

    __slots__ = ()

    def insert(self, table: str, row: Mapping[str, Any]) -> None:
        columns = ", ".join(f'"{column}"' for column in row)
        marks = ", ".join("?" for _ in row)
        self.conn.execute(f'INSERT INTO "{table}" ({columns}) VALUES ({marks})', [*row.values()])

    def update(self, table: str, key: str, changes: Mapping[str, Any]) -> None:
        """Set `changes` on the row of `table` whose id is `key`."""
        sets = ", ".join(f'"{column}" = ?' for column in changes)
        self.conn.execute(f'UPDATE "{table}" SET {sets} WHERE id = ?', [*changes.values(), key])


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
            if int(conn.execute("PRAGMA page_count").fetchone()[0]) == 0:
                # A new file: free pages go back (upkeep.py). Only settable before the
                # first page is written, WAL mode included; older files switch at a day's
                # start (upkeep.make_incremental).
                conn.execute(f"PRAGMA auto_vacuum = {upkeep.INCREMENTAL}")
            if not memory:
                conn.execute("PRAGMA journal_mode = WAL")
            conn.execute("PRAGMA synchronous = NORMAL")
            conn.execute("PRAGMA foreign_keys = ON")
            # Deleted rows and freed pages are overwritten with zeros (upstream default: off).
            conn.execute("PRAGMA secure_delete = ON")
            # A WAL that starts over is cut to what it holds: no stale frames after its end.
            conn.execute("PRAGMA journal_size_limit = 0")
        except (OSError, sqlite3.DatabaseError) as exc:
            if _disk_full(exc, self.path):
                raise _disk_full_error(self.path, exc) from exc
            raise PvpError(
                "db_unusable",
                _(
                    "Cannot open the database {path}: {error}. Check the path and its "
                    "permissions, or choose another file with --db PATH."
                ).format(path=self.path, error=exc),
            ) from exc
        self.conn = conn
        self.autocheckpoint = AUTOCHECKPOINT_PAGES
        self._reader = SnapshotReader(conn)
        self._writer = Writer(conn)
        self._db: Database | None = None
        self._lock = threading.RLock()
        try:
            self._check_schema()
        except BaseException:
            conn.close()  # a refused file is not kept open
            raise
        if not memory:
            _share_sidecar_files(self.path)

    @property
    def db(self) -> Database:
        """The connection wrapped by sqlite-utils (for migrations), made on first use."""
        with self._lock:
            if self._db is None:
                from sqlite_utils import Database

                # No sqlite-utils plugins: none is meant to see this connection, and looking
                # for them scans every installed package (~15 ms of start-up).
                self._db = Database(self.conn, execute_plugins=False)
            return self._db

    def _check_schema(self) -> None:
        """Refuse a file of a newer PVP Relais; apply pending migrations, and record the
        version of a file migrated before it was recorded (plain SQL until then)."""
        version = schema_version(self.conn)
        if version > SCHEMA_VERSION:
            raise self._newer_error(version)
        if version == SCHEMA_VERSION:
            return  # the usual start: one header read
        applied = self._applied_migrations()
        if not applied.issubset(MIGRATION_NAMES):  # a newer pvp that did not record it
            raise self._newer_error(max(version, len(applied)))
        if not applied.issuperset(MIGRATION_NAMES):
            from .migrations import migrations

            database = self.db  # imports sqlite-utils before the write lock
            with self.transaction() as db:
                migrations.apply(database)  # reads again what is pending, in this transaction
                db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
        else:
            with self.transaction() as db:
                db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")

    def _applied_migrations(self) -> set[str]:
        with self._lock:
            has_table = self.conn.execute(
                "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?",
                [_MIGRATIONS_TABLE],
            ).fetchone()
            if not has_table:
                return set()
            return {
                row[0]
                for row in self.conn.execute(
                    f"SELECT name FROM {_MIGRATIONS_TABLE} WHERE migration_set = ?",
                    [MIGRATION_SET],
                )
            }

    def _newer_error(self, version: int) -> PvpError:
        return PvpError(
            "db_newer",
            _(
                "The database {path} was written by a newer PVP Relais (schema {found}; this "
                "pvp knows {known}). Nothing was changed. Update PVP Relais on this PC, or "
                "choose another file with --db PATH."
            ).format(path=self.path, found=version, known=SCHEMA_VERSION),
        )

    @contextlib.contextmanager
    def transaction(self, *, checkpoint: bool = True) -> Iterator[Writer]:
        """A write transaction: BEGIN IMMEDIATE, COMMIT, ROLLBACK on any error.

        Nested inside another transaction (same thread), it joins the outer one: an
        error still propagates and rolls the whole outer transaction back.
        `checkpoint=False`: its commit does not run SQLite's automatic checkpoint (a
        large write whose pages are erased soon: the spool, hub_uploads.py); the next
        commit over AUTOCHECKPOINT_PAGES, or the upkeep, copies the WAL.
        """
        with self._lock:
            if self.conn.in_transaction:
                yield self._writer
                return
            i18n.load_catalog()  # nothing slow (a file read) while the write lock is held
            try:
                self.conn.execute("BEGIN IMMEDIATE")
            except sqlite3.OperationalError as exc:
                raise _write_error(self.path, exc) from exc
            # A newer pvp may have migrated the file since this one opened it.
            version = schema_version(self.conn)
            if version > SCHEMA_VERSION:
                self.conn.execute("ROLLBACK")
                raise self._newer_error(version)
            try:
                yield self._writer
            except BaseException as exc:
                if self.conn.in_transaction:
                    self.conn.execute("ROLLBACK")
                if _disk_full(exc, self.path):
                    raise _disk_full_error(self.path, exc) from exc
                raise
            try:
                if not checkpoint:
                    self.conn.execute("PRAGMA wal_autocheckpoint = 0")
                self.conn.execute("COMMIT")
            except BaseException as exc:
                if self.conn.in_transaction:
                    self.conn.execute("ROLLBACK")
                if isinstance(exc, sqlite3.OperationalError):
                    raise _write_error(self.path, exc) from exc
                raise
            finally:
                if not checkpoint:
                    self.conn.execute(f"PRAGMA wal_autocheckpoint = {self.autocheckpoint}")

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

    def flush_erased(self, *, vacuum: bool = False, wait: float | None = None) -> bool:
        """Leave no copy of deleted rows in the store's files; True when done.

        Copies the WAL into the database and truncates it to zero bytes (with
        secure_delete, the database's pages hold no deleted text), after a VACUUM if asked
        (free space written without secure_delete). Another connection reading an older
        state prevents it: waits for it at most `wait` seconds (ERASE_WAIT_SECONDS; 0: one
        attempt), releasing the write lock between attempts so that other processes'
        writes go on, then gives up (False).
        """
        deadline = time.monotonic() + (ERASE_WAIT_SECONDS if wait is None else wait)
        while True:
            with self._lock:
                if vacuum and self._attempt(None):
                    vacuum = False
                if not vacuum and self._attempt("PRAGMA wal_checkpoint(TRUNCATE)"):
                    return True
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.05)

    def _attempt(self, pragma: str | None) -> bool:
        """One attempt at a checkpoint (`pragma`) or a VACUUM (None), briefly blocking."""
        if self.conn.in_transaction:
            raise RuntimeError("flush_erased() inside a transaction")
        self.conn.execute(f"PRAGMA busy_timeout = {_CHECKPOINT_TRY_MS}")
        try:
            if pragma is None:
                self.conn.execute("VACUUM")
                return True
            return bool(self.conn.execute(pragma).fetchone()[0] == 0)  # 0: not busy
        except sqlite3.OperationalError as exc:
            if exc.sqlite_errorcode & 0xFF not in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED):
                raise
            return False  # another connection holds a lock: try again
        finally:
            self.conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")

    def set_autocheckpoint(self, pages: int) -> None:
        """This connection's commits run SQLite's automatic checkpoint from `pages` pages
        of WAL on (AUTOCHECKPOINT_PAGES by default; the sync worker's are larger)."""
        with self._lock:
            self.conn.execute(f"PRAGMA wal_autocheckpoint = {int(pages)}")
            self.autocheckpoint = int(pages)

    def tidy(self, *, vacuum_pages: int | None = upkeep.VACUUM_STEP_PAGES) -> upkeep.Tidied:
        """The WAL checkpointed (and cut when no reader holds it) and free pages handed
        back, never waiting for another connection (upkeep.tidy)."""
        with self._lock:
            if self.conn.in_transaction:
                raise RuntimeError("tidy() inside a transaction")
            self.conn.execute("PRAGMA busy_timeout = 0")
            try:
                return upkeep.tidy(self.conn, self.path, vacuum_pages=vacuum_pages)
            finally:
                self.conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")

    def make_incremental(self) -> bool:
        """The one-time switch of an older file to incremental vacuum (upkeep.py)."""
        with self._lock:
            if self.conn.in_transaction:
                raise RuntimeError("make_incremental() inside a transaction")
            return upkeep.make_incremental(self.conn)

    def integrity_ok(self) -> bool:
        with self._lock:
            return bool(self.conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok")

    def close(self) -> None:
        with self._lock:
            self.conn.close()


def schema_version(conn: sqlite3.Connection) -> int:
    """The file's schema version (`PRAGMA user_version`, see SCHEMA_VERSION)."""
    return int(conn.execute("PRAGMA user_version").fetchone()[0])


def _write_error(path: Path, exc: sqlite3.OperationalError) -> PvpError:
    """BEGIN or COMMIT failed: the disk is full, or another pvp held the lock too long."""
    return _disk_full_error(path, exc) if _disk_full(exc, path) else _busy_error(exc)


def _disk_full(exc: BaseException, path: Path) -> bool:
    """SQLite's SQLITE_FULL ("database or disk is full"), ENOSPC from the file system, or
    an I/O error on a disk with no room left (SQLite cannot size its -shm file then)."""
    if isinstance(exc, OSError):
        return exc.errno == errno.ENOSPC
    if not isinstance(exc, sqlite3.Error):
        return False
    code = getattr(exc, "sqlite_errorcode", 0) & 0xFF
    if code == sqlite3.SQLITE_FULL:
        return True
    if code != sqlite3.SQLITE_IOERR:
        return False
    try:
        disk = os.statvfs(path.parent)
    except OSError:
        return False
    return disk.f_bavail * disk.f_frsize < FULL_BELOW_BYTES


def _disk_full_error(path: Path, exc: BaseException) -> PvpError:
    return PvpError(
        "disk_full",
        _(
            "The disk holding the database is full ({error}). Nothing was changed. Free "
            "space on the disk of {directory} (old exports, backups, logs), then try again; "
            "pvp doctor says how much is free."
        ).format(error=exc, directory=path.parent.resolve()),
    )


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
