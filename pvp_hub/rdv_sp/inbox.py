"""RDV Service Public's webhook deliveries: received into an inbox, applied in batches.

- **The answer is fast and honest.** `receive` checks the endpoint (cached) and the
  signature on the raw body, then reads it into the minimised appointment (a body that
  is not the sender's shape is refused: 422), writes ONE inbox row and answers. Nothing
  of a refused delivery is read or stored. A hub killed after answering has the row: it
  is applied at the next start (or by another hub process).
- **Only the minimised record waits.** The row holds `payload.Appointment`'s fields (the
  ids, status, times, name to call, phone, room), never the sender's body with its
  address, birth date, affiliation number or notes; it is deleted once applied.
- **Applied in batches** by `Applier`, a thread of each hub process, woken by every row
  this process writes and every few seconds: `apply_batch` takes up to BATCH pending
  rows (`FOR UPDATE SKIP LOCKED` on PostgreSQL, so hub processes share the inbox; the
  write lock of `BEGIN IMMEDIATE` on SQLite), locks the appointments and the change log
  once, and applies each with `intake.apply_in` (the latest-state rule, in one place).
  It first looks for a due row with a plain read, so an idle applier opens no write
  transaction; it sees `Applier.stop` between two batches.
- **A poison row does not block the others.** If a batch fails on a row's content, its
  rows are applied one at a time; the one that fails keeps its error (words, no
  personal value), is tried again after RETRY_AFTER, shows in `rdv-sp list` and on the
  region's view, and is dropped after KEEP_FAILED (the catch-up brings that appointment
  anyway; each applier looks for such rows at start, then hourly). A database that is
  down is not a poison: the batch is simply tried again.
"""

from __future__ import annotations

import json
import logging
import sqlite3
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
from sqlalchemy import Connection, Engine, func, select
from sqlalchemy import exc as sa_exc

from .. import directory
from ..database import (
    IMMEDIATE,
    as_uuid,
    is_postgresql,
    read_transaction,
    sql_on_driver,
    write_transaction,
)
from ..errors import HubError
from ..schema import rdv_sp_endpoints, rdv_sp_inbox
from . import intake, signature
from .payload import Appointment, PayloadError, parse_time, read_delivery

log = logging.getLogger(__name__)

BATCH = 200  # rows applied in one transaction
WAKE_EVERY_S = 5.0  # also without a wake-up: rows another process left, retries
RETRY_AFTER = timedelta(hours=1)  # a row that failed is tried again this much later
KEEP_FAILED = timedelta(days=8)  # the sender's own retries are over by then
DROP_EVERY_S = 3600.0  # how often an applier looks for failed rows to drop
# A row's content that cannot be applied (not a database that is unreachable).
POISON: tuple[type[BaseException], ...] = (
    PayloadError,
    HubError,
    ValueError,
    TypeError,
    KeyError,
    sa_exc.IntegrityError,
    sa_exc.DataError,
    psycopg.IntegrityError,
    psycopg.DataError,
    sqlite3.IntegrityError,
    sqlite3.DataError,
)

# The inbox's row refused by the database: only its endpoint's foreign key can be.
_INTEGRITY = (sa_exc.IntegrityError, psycopg.IntegrityError, sqlite3.IntegrityError)

Clock = Callable[[], datetime]


def _now() -> datetime:
    return datetime.now(UTC)


# -- the minimised record --------------------------------------------------------------------


def record_of(appointment: Appointment) -> dict[str, Any]:
    """What the inbox keeps of a delivery: the appointment as the hub reads it."""
    record = dict(appointment.__dict__)  # its fields (asdict's deep copy costs 50 µs)
    record["uuid"] = str(appointment.uuid)
    record["starts_at"] = appointment.starts_at.isoformat()
    record["ends_at"] = appointment.ends_at.isoformat() if appointment.ends_at else None
    return record


def appointment_of(record: dict[str, Any] | str) -> Appointment:
    found = json.loads(record) if isinstance(record, str) else dict(record)
    found["uuid"] = uuid.UUID(found["uuid"])
    found["starts_at"] = parse_time(found["starts_at"])
    found["ends_at"] = parse_time(found["ends_at"]) if found["ends_at"] else None
    return Appointment(**found)


# -- the webhook -----------------------------------------------------------------------------

_PUT = (
    "INSERT INTO rdv_sp_inbox (endpoint_id, received_at, event, version_us, record, attempts)"
    " VALUES (%s, %s, %s, %s, %s, 0)"
)
_WAKE = threading.Event()


def receive(
    engine: Engine, endpoint_id: str, body: bytes, header: str | None, clock: Clock = _now
) -> str:
    """One webhook delivery: `intake.Unauthorized` (nothing read) unless the endpoint
    exists and the signature matches the raw body; PayloadError if it is not the
    sender's shape; "ignored" for another model; else "received": its row is in the
    inbox, and this process's applier is woken."""
    try:
        wanted = uuid.UUID(endpoint_id)
    except ValueError:
        raise intake.Unauthorized from None
    endpoint = intake.cached_endpoint(engine, wanted)
    if endpoint is None or not signature.is_valid(endpoint.secret, body, header):
        raise intake.Unauthorized
    delivery = read_delivery(body)
    if delivery.appointment is None:
        return "ignored"  # a place, a user…: the endpoint may be subscribed to more
    params = (
        endpoint.id,
        clock(),
        delivery.event,
        intake.micros(delivery.timestamp),
        record_of(delivery.appointment),
    )
    try:
        with engine.connect() as conn:
            if is_postgresql(conn):  # one statement: the driver's own commit, nothing more
                driver = conn.connection.dbapi_connection
                assert driver is not None
                try:
                    sql_on_driver(conn, _PUT, params).close()
                    driver.commit()
                except BaseException:
                    driver.rollback()
                    raise
            else:
                with conn.execution_options(**{IMMEDIATE: True}).begin():
                    sql_on_driver(conn, _PUT, params).close()
    except _INTEGRITY:
        # The endpoint was removed (`rdv-sp remove`, another process) while this process
        # still had it cached: an unknown endpoint, as it now is everywhere.
        intake.forget_endpoints(endpoint.id)
        raise intake.Unauthorized from None
    _WAKE.set()
    return "received"


# -- the applier -----------------------------------------------------------------------------


@dataclass(frozen=True)
class _Row:
    id: int
    endpoint_id: uuid.UUID
    event: str
    version_us: int
    record: Any


_TAKE = (
    "SELECT id, endpoint_id, event, version_us, record FROM rdv_sp_inbox"
    " WHERE retry_at IS NULL OR retry_at <= %s ORDER BY id LIMIT %s"
)
_TAKE_PG = _TAKE + " FOR UPDATE SKIP LOCKED"
_LOCK_ALL = (
    "SELECT pg_advisory_xact_lock(k) FROM (SELECT unnest(%s::bigint[]) AS k ORDER BY 1) AS s"
)
_DONE = "DELETE FROM rdv_sp_inbox WHERE id = %s"
_FAILED = "UPDATE rdv_sp_inbox SET attempts = attempts + 1, error = %s, retry_at = %s WHERE id = %s"
_DROP_FAILED = "DELETE FROM rdv_sp_inbox WHERE error IS NOT NULL AND received_at < %s"
# Plain reads first: an idle applier opens no write transaction (on SQLite a BEGIN
# IMMEDIATE, which the webhook's insert would wait behind).
_ANY_DUE = "SELECT 1 FROM rdv_sp_inbox WHERE retry_at IS NULL OR retry_at <= %s LIMIT 1"
_ANY_TO_DROP = "SELECT 1 FROM rdv_sp_inbox WHERE error IS NOT NULL AND received_at < %s LIMIT 1"


def _found(engine: Engine, sql: str, params: tuple[Any, ...]) -> bool:
    with read_transaction(engine) as conn:
        cursor = sql_on_driver(conn, sql, params)
        try:
            return cursor.fetchone() is not None
        finally:
            cursor.close()


def _take(conn: Connection, now: datetime, limit: int) -> list[_Row]:
    cursor = sql_on_driver(conn, _TAKE_PG if is_postgresql(conn) else _TAKE, (now, limit))
    try:
        return [_Row(r[0], as_uuid(r[1]), r[2], r[3], r[4]) for r in cursor.fetchall()]
    finally:
        cursor.close()


def _apply_rows(engine: Engine, conn: Connection, rows: list[_Row], now: datetime) -> Counter[str]:
    """Apply `rows` in `conn`'s transaction: the appointments' locks in one order, then
    the change log's lock once (on PostgreSQL), then each row; then they are deleted."""
    outcomes: Counter[str] = Counter()
    work = []
    for row in rows:
        endpoint = intake.cached_endpoint(engine, row.endpoint_id)
        if endpoint is None:  # disconnected since (its rows go with it): nothing to apply
            outcomes["gone"] += 1
            continue
        work.append((row, endpoint, appointment_of(row.record)))
    batch = intake.Batch(lookups={})
    if work and is_postgresql(conn):
        keys = sorted({intake.lock_id(e.id, a.rdv_id) for _, e, a in work})
        cursor = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
        cursor.execute(_LOCK_ALL, (keys,))  # a list: an array (sql_on_driver's is JSON)
        cursor.close()
        wanted: dict[uuid.UUID, set[int]] = {}
        for _, endpoint, appointment in work:
            wanted.setdefault(endpoint.id, set()).add(appointment.rdv_id)
        batch.states = intake.read_states(conn, wanted)
    with directory.changes_locked(conn):
        for row, endpoint, appointment in work:
            destroyed = row.event == "destroyed"
            outcome = intake.apply_in(
                conn, endpoint, appointment, row.version_us, destroyed, now, batch
            )
            outcomes[outcome] += 1
    for endpoint_id in {e.id for _, e, _ in work}:
        intake.stamp_delivery(conn, endpoint_id, now)
    sql_on_driver(conn, _DONE, [(row.id,) for row in rows], many=True).close()
    return outcomes


def _words(exc: BaseException) -> str:
    """Why a row failed, without any value of it (a name, a phone)."""
    if isinstance(exc, PayloadError):
        return "; ".join(exc.problems)[:500]
    if isinstance(exc, HubError):
        return str(exc.message)[:500]
    return type(exc).__name__


def apply_batch(
    engine: Engine, clock: Clock = _now, limit: int = BATCH
) -> tuple[int, Counter[str]]:
    """Apply up to `limit` pending rows; how many were taken, and what happened to them
    (the outcomes of `intake.apply_in`, and "failed"). Nothing due: a read, no write."""
    now = clock()
    if not _found(engine, _ANY_DUE, (now,)):
        return 0, Counter()
    try:
        with write_transaction(engine) as conn:
            rows = _take(conn, now, limit)
            return len(rows), _apply_rows(engine, conn, rows, now) if rows else Counter()
    except POISON:
        pass  # one of them at least: each alone, so that the others are applied
    outcomes: Counter[str] = Counter()
    taken = 0
    for _ in range(limit):
        row: _Row | None = None
        try:
            with write_transaction(engine) as conn:
                found = _take(conn, now, 1)
                if not found:
                    break
                row = found[0]
                outcomes += _apply_rows(engine, conn, found, now)
        except POISON as exc:
            if row is None:
                raise
            words = _words(exc)
            with write_transaction(engine) as conn:
                sql_on_driver(conn, _FAILED, (words, now + RETRY_AFTER, row.id)).close()
            log.warning("rdv-sp inbox row %d not applied: %s", row.id, words)
            outcomes["failed"] += 1
        taken += 1
    return taken, outcomes


def apply_pending(
    engine: Engine,
    clock: Clock = _now,
    limit: int = BATCH,
    stop: threading.Event | None = None,
) -> Counter[str]:
    """Every pending row, batch after batch, until none is left or `stop` is set (checked
    between batches: a steady stream of deliveries never holds a stopping hub)."""
    total: Counter[str] = Counter()
    while stop is None or not stop.is_set():
        taken, outcomes = apply_batch(engine, clock, limit)
        total += outcomes
        if taken < limit:
            break
    return total


def drop_failed(engine: Engine, clock: Clock = _now) -> bool:
    """Drop the failed rows older than KEEP_FAILED (a read first: a write only when there
    is one). Whether any was."""
    before = clock() - KEEP_FAILED
    if not _found(engine, _ANY_TO_DROP, (before,)):
        return False
    with write_transaction(engine) as conn:
        sql_on_driver(conn, _DROP_FAILED, (before,)).close()
    return True


def wake() -> None:
    _WAKE.set()


class Applier:
    """This process's applier: a thread, woken by this process's deliveries and every
    WAKE_EVERY_S; after a wake-up it waits `gather_s` for more deliveries to apply them
    together. It applies what is pending at once when started (a hub that was killed
    after answering), and drops the failed rows whose time is over at start and then at
    most every DROP_EVERY_S. `stop` is seen between two batches."""

    def __init__(self, engine: Engine, gather_s: float = 0.005, limit: int = BATCH) -> None:
        self.engine = engine
        self.gather_s = gather_s
        self.limit = limit
        self._dropped_at: float | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="rdv-sp-inbox", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> bool:
        """Stop after the batch under way; whether the thread ended within `timeout`."""
        self._stop.set()
        _WAKE.set()
        self._thread.join(timeout)
        return not self._thread.is_alive()

    def _run(self) -> None:
        pause = 0.0
        while not self._stop.is_set():
            try:
                outcomes = apply_pending(self.engine, limit=self.limit, stop=self._stop)
                now = time.monotonic()
                if self._dropped_at is None or now - self._dropped_at >= DROP_EVERY_S:
                    if not self._stop.is_set():
                        drop_failed(self.engine)
                    self._dropped_at = now
                pause = 0.0
                if outcomes:
                    log.info("rdv-sp inbox: %s", _counts(outcomes))
            except Exception as exc:  # the database away: try again, more slowly
                pause = min(max(pause * 2, 1.0), 60.0)
                log.warning(
                    "rdv-sp inbox: not applied (%s); again in %.0f s", type(exc).__name__, pause
                )
                self._stop.wait(pause)
                continue
            woken = _WAKE.wait(WAKE_EVERY_S)
            _WAKE.clear()
            if woken and self.gather_s and not self._stop.is_set():
                self._stop.wait(self.gather_s)


def _counts(outcomes: Counter[str]) -> str:
    return ", ".join(f"{n} {what}" for what, n in sorted(outcomes.items()))


# -- what the region's view and `rdv-sp list` show -------------------------------------------


def failed_count(conn: Connection, region_id: uuid.UUID) -> int:
    """The region's deliveries that could not be applied (kept, with their error)."""
    found = conn.execute(
        select(func.count())
        .select_from(rdv_sp_inbox.join(rdv_sp_endpoints))
        .where(rdv_sp_endpoints.c.region_id == region_id, rdv_sp_inbox.c.error.is_not(None))
    ).scalar()
    return int(found or 0)
