"""The store's upkeep while pvp runs for weeks: the WAL kept small, free pages handed back.

SQLite checkpoints the WAL by itself every 1,000 pages, but only as far as no reader
holds an older state, and it shortens the file (`journal_size_limit = 0`) only when the
next write starts it over: a report or a backup held open for long, or a quiet night
after a busy day, leaves it large. Pages freed by a purge stay in the database file
unless the file is in `auto_vacuum = INCREMENTAL` mode and `PRAGMA incremental_vacuum`
hands them back. So, in every open app (`Upkeep`, a thread of its own with its own
connection: never the app's loop nor its connection) and in `pvp purge`:

- `tidy()`: a PASSIVE checkpoint, then a TRUNCATE one when every frame was copied,
  both without waiting for anyone (busy_timeout 0: a reader or a writer in the way only
  means "next time"); and a bounded step of incremental vacuum when pages are free.
- `make_incremental()`: the one-time switch of a database made before this version
  (`VACUUM`, which rewrites the file), at the start of a day. New files are made
  incremental when created (`Store`).

Several desks on one file each run it once a minute: when there is nothing to do it is
a `stat` of the WAL and one pragma read.
"""

from __future__ import annotations

import logging
import os
import sqlite3
import threading
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger("pvp.store")

UPKEEP_SECONDS = 60.0  # how often an open app tidies the store
# Free pages handed back per write lock: 256 pages of 4 KiB, a few ms of lock.
VACUUM_STEP_PAGES = 256
SWITCH_WAIT_MS = 250  # the one-time VACUUM waits this long for another desk's write
LOGGED_WAL_BYTES = 4 * 1024 * 1024  # a WAL cut from this size up is worth a log line
INCREMENTAL = 2  # PRAGMA auto_vacuum's value for INCREMENTAL
_BUSY = (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED)


@dataclass(frozen=True)
class Tidied:
    """What one `tidy()` did (sizes in bytes)."""

    wal_before: int
    wal_after: int
    freed_pages: int
    truncated: bool  # the WAL was checkpointed whole and cut to zero bytes


def wal_bytes(path: Path) -> int:
    try:
        return os.stat(f"{path}-wal").st_size
    except OSError:
        return 0


def is_incremental(conn: sqlite3.Connection) -> bool:
    return int(conn.execute("PRAGMA auto_vacuum").fetchone()[0]) == INCREMENTAL


def _busy(exc: sqlite3.OperationalError) -> bool:
    return getattr(exc, "sqlite_errorcode", 0) & 0xFF in _BUSY


def tidy(
    conn: sqlite3.Connection, path: Path, *, vacuum_pages: int | None = VACUUM_STEP_PAGES
) -> Tidied:
    """One round of upkeep on `conn` (outside a transaction, busy_timeout 0: it never
    waits for another connection). `vacuum_pages`: at most that many free pages handed
    back (None: all of them; 0: none)."""
    before = wal_bytes(path)
    freed = 0
    try:
        if vacuum_pages != 0 and is_incremental(conn):
            free = int(conn.execute("PRAGMA freelist_count").fetchone()[0])
            if free:
                count = free if vacuum_pages is None else min(free, vacuum_pages)
                # executescript runs the pragma to its end (execute() frees one page).
                conn.executescript(f"PRAGMA incremental_vacuum({int(count)})")
                freed = free - int(conn.execute("PRAGMA freelist_count").fetchone()[0])
    except sqlite3.OperationalError as exc:
        if not _busy(exc):
            raise  # another desk is writing: next time
    truncated = False
    if wal_bytes(path):
        try:
            busy, frames, copied = conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
            if busy == 0 and frames == copied:  # no reader holds an older state
                truncated = conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()[0] == 0
        except sqlite3.OperationalError as exc:
            if not _busy(exc):
                raise
    return Tidied(before, wal_bytes(path), freed, truncated)


def make_incremental(conn: sqlite3.Connection) -> bool:
    """Switch a database made before auto_vacuum to INCREMENTAL (one VACUUM, which
    rewrites the file: seconds on a large one, so at the start of a day). True when
    switched now; False when it already was, or when another connection held the lock
    (the next start of day tries again)."""
    if is_incremental(conn):
        return False
    timeout = int(conn.execute("PRAGMA busy_timeout").fetchone()[0])
    conn.execute(f"PRAGMA busy_timeout = {SWITCH_WAIT_MS}")
    try:
        conn.execute(f"PRAGMA auto_vacuum = {INCREMENTAL}")
        conn.execute("VACUUM")
    except sqlite3.OperationalError as exc:
        if not _busy(exc):
            raise
        return False
    finally:
        conn.execute(f"PRAGMA busy_timeout = {timeout}")
    return is_incremental(conn)


def open_connection(path: Path) -> sqlite3.Connection:
    """A connection of the upkeep's own: never creates the file, never waits."""
    uri = Path(path).absolute().as_uri() + "?mode=rw"
    conn = sqlite3.connect(uri, uri=True, isolation_level=None, check_same_thread=False)
    conn.execute("PRAGMA busy_timeout = 0")
    # Per connection, as the Store sets them: moved and freed pages zeroed, and a WAL
    # started over by this connection cut to what it holds.
    conn.execute("PRAGMA secure_delete = ON")
    conn.execute("PRAGMA journal_size_limit = 0")
    return conn


class Upkeep:
    """The open app's upkeep thread: `tidy()` every `interval` seconds, and the one-time
    switch to incremental vacuum (then every free page back) when a day starts."""

    def __init__(self, path: Path | str, interval: float = UPKEEP_SECONDS) -> None:
        self.path = Path(path)
        self.interval = interval
        self.rounds = 0  # rounds done (tests wait on it)
        self.last: Tidied | None = None
        self.error: BaseException | None = None  # the last round's failure, if it failed
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._deep = False
        self._thread = threading.Thread(target=self._run, name="pvp-store-upkeep", daemon=True)

    def start(self) -> Upkeep:
        self._thread.start()
        return self

    def day_started(self) -> None:
        """A day started (the app's first read, or midnight): the deep round, now."""
        self._deep = True
        self._wake.set()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread.is_alive() and self._thread is not threading.current_thread():
            self._thread.join(timeout=2)  # a daemon: a VACUUM cut short is rolled back

    def _run(self) -> None:
        try:
            conn = open_connection(self.path)
        except sqlite3.Error as exc:
            self.error = exc
            log.warning("store upkeep not started: %s", exc)
            return
        try:
            while True:
                self._wake.wait(self.interval)
                self._wake.clear()
                if self._stop.is_set():
                    return
                deep, self._deep = self._deep, False
                try:
                    self._round(conn, deep=deep)
                except sqlite3.Error as exc:  # a read-only or full disk: tried again
                    if str(exc) != str(self.error):  # said once, not every minute
                        log.warning("store upkeep failed: %s", exc)
                    self.error = exc
                else:
                    self.error = None
                self.rounds += 1
        finally:
            conn.close()

    def _round(self, conn: sqlite3.Connection, *, deep: bool) -> None:
        if deep and make_incremental(conn):
            log.info("the database now hands free pages back (auto_vacuum incremental)")
        done = tidy(conn, self.path, vacuum_pages=None if deep else VACUUM_STEP_PAGES)
        self.last = done
        if done.freed_pages or done.wal_before - done.wal_after >= LOGGED_WAL_BYTES:
            log.info(
                "store upkeep: WAL %d -> %d bytes, %d free pages handed back",
                done.wal_before,
                done.wal_after,
                done.freed_pages,
            )
