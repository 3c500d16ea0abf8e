"""The async runner of the site routes' work (steps.py) on PostgreSQL: asyncpg, on the
event loop.

The synchronous path costs a thread hop per request and psycopg's Python layer: about
40 % of the hub's CPU per request at 284 requests/s (docs/hub-throughput-history.md,
"Where a request's time goes"). Here a request's statements go from the event loop to
its own asyncpg connections (its protocol is compiled; each statement is prepared once
per connection and kept). The rules are the generators' own: this module only drives
them. A step only the synchronous side can run (`SyncOnly`) rolls this transaction back
and hands the whole request to `steps.run_sync` in the thread pool.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import datetime as dt
import json
import logging
import re
from typing import Any, TypeVar

import asyncpg
import orjson
from sqlalchemy import Engine
from starlette.concurrency import run_in_threadpool

from .errors import HubError
from .steps import Sql, SyncOnly, Work, run_sync

log = logging.getLogger("pvp_hub")
T = TypeVar("T")

# What says the database cannot be reached now (the sync path's OperationalError): 503,
# and the site's retry (same key, same body) is applied once.
UNAVAILABLE = (
    OSError,
    asyncio.TimeoutError,
    asyncpg.PostgresConnectionError,
    asyncpg.InterfaceError,
    asyncpg.exceptions.CannotConnectNowError,
    asyncpg.exceptions.OperatorInterventionError,
    asyncpg.exceptions.TooManyConnectionsError,
)
# How the site routes' connections are named in pg_stat_activity.
APPLICATION = "pvp-hub site routes"
_PLACEHOLDER = re.compile(r"%s")
_DOLLARS: dict[str, str] = {}


class _NeedsSync(Exception):
    """The work yielded a step only the synchronous runner can run."""


def _dollars(sql: str) -> str:
    found = _DOLLARS.get(sql)
    if found is None:
        count = iter(range(1, 10_000))
        found = _DOLLARS[sql] = _PLACEHOLDER.sub(lambda _m: f"${next(count)}", sql)
    return found


def _value(value: Any) -> Any:
    if type(value) is dt.datetime and value.tzinfo is None:
        return value.astimezone(dt.UTC)  # taken as local time, as on the other drivers
    return value


def _jsonb(value: Any) -> bytes:
    """A jsonb parameter in PostgreSQL's binary form: version 1, then the JSON text.
    orjson writes it in a few microseconds (json.dumps took a sixth of a push's Python);
    the rare value it cannot write (an integer beyond 64 bits, which jsonb keeps as a
    numeric) goes through json."""
    try:
        return b"\x01" + orjson.dumps(value)
    except orjson.JSONEncodeError:
        return b"\x01" + json.dumps(value).encode()


def _from_jsonb(data: bytes) -> Any:
    return json.loads(data[1:]) if data[:1] == b"\x01" else json.loads(data)


async def _setup(conn: asyncpg.Connection) -> None:
    # jsonb parameters and columns as Python values, as psycopg gives them.
    await conn.set_type_codec(
        "jsonb", encoder=_jsonb, decoder=_from_jsonb, schema="pg_catalog", format="binary"
    )


class Connections:
    """asyncpg connections to one database, handed out one request at a time on the event
    loop they were made on: a list of idle connections and a queue of waiters.

    asyncpg's own pool costs about 100 µs of CPU per acquire and release (measured: a task
    to shield each release, a timer per idle connection, a proxy object per acquire,
    its reset), a seventh of a site request's CPU; the site routes need none of it. A
    connection keeps its session between requests (prepared statements and the jsonb
    codec): the site routes change nothing else in it (no session setting, cursor,
    LISTEN nor session-level lock: the push's lock is the transaction's). One given back
    after a request that did not end cleanly (cancelled mid-statement, left in a
    transaction) or found closed (the server restarted, its backend terminated) is
    dropped, and a new one is opened in its place when next needed."""

    def __init__(self, dsn: str, size: int) -> None:
        self.dsn = dsn
        self.size = max(1, size)
        self._idle: list[asyncpg.Connection] = []
        # Each waiter gets a connection, or None: a slot is free, open one.
        self._waiters: collections.deque[asyncio.Future[asyncpg.Connection | None]] = (
            collections.deque()
        )
        self._slots = 0  # connections open, being opened or promised to a waiter
        self._closed = False

    async def open(self) -> None:
        """Every connection at once: one opened during a burst (a backend started, the
        codec set, each statement prepared on it) makes the requests behind it wait."""
        self._slots += self.size
        made = await asyncio.gather(
            *(self._connect() for _ in range(self.size)), return_exceptions=True
        )
        for conn in made:
            if isinstance(conn, BaseException):
                self._slots -= 1
            else:
                self._idle.append(conn)
        if not self._idle:
            failed = next(c for c in made if isinstance(c, BaseException))
            raise failed

    async def _connect(self) -> asyncpg.Connection:
        conn = await asyncpg.connect(self.dsn, server_settings={"application_name": APPLICATION})
        try:
            await _setup(conn)
        except BaseException:
            conn.terminate()
            raise
        return conn

    async def _open_slot(self) -> asyncpg.Connection:
        """A connection in a slot already counted: the slot is given up if it fails."""
        try:
            return await self._connect()
        except BaseException:
            self._free_slot()
            raise

    async def acquire(self) -> asyncpg.Connection:
        if self._closed:
            raise asyncpg.InterfaceError("the hub is shutting down")
        while self._idle:
            conn = self._idle.pop()
            if not conn.is_closed():
                return conn
            self._slots -= 1  # closed while idle (the server restarted)
        if self._slots < self.size:
            self._slots += 1
            return await self._open_slot()
        waiter: asyncio.Future[asyncpg.Connection | None] = (
            asyncio.get_running_loop().create_future()
        )
        self._waiters.append(waiter)
        try:
            conn = await waiter
        except asyncio.CancelledError:
            if waiter.done() and not waiter.cancelled() and waiter.exception() is None:
                given = waiter.result()  # handed over as this request was cancelled
                if given is None:
                    self._free_slot()
                else:
                    self.release(given)
            else:
                with contextlib.suppress(ValueError):
                    self._waiters.remove(waiter)
            raise
        if conn is None:
            if self._closed:  # a slot handed over just before the close
                self._free_slot()
                raise asyncpg.InterfaceError("the hub is shutting down")
            return await self._open_slot()
        return conn

    def release(self, conn: asyncpg.Connection, clean: bool = True) -> None:
        """Take `conn` back; `clean` is False when its request did not end cleanly."""
        if self._closed or not clean or conn.is_closed() or conn.is_in_transaction():
            conn.terminate()
            self._free_slot()
            return
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(conn)
                return
        self._idle.append(conn)

    def _free_slot(self) -> None:
        """A slot given up: to the first waiter still waiting (it opens a connection),
        or free."""
        while self._waiters and not self._closed:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)
                return
        self._slots -= 1

    async def close(self) -> None:
        self._closed = True
        idle, self._idle = self._idle, []
        for waiter in self._waiters:
            if not waiter.done():
                waiter.set_exception(asyncpg.InterfaceError("the hub is shutting down"))
        self._waiters.clear()
        self._slots -= len(idle)
        try:
            # Each politely, at once; any still open (a server that does not answer, or
            # this close cancelled by its caller's deadline) is cut.
            await asyncio.gather(
                *(asyncio.wait_for(conn.close(), 5) for conn in idle), return_exceptions=True
            )
        finally:
            for conn in idle:
                if not conn.is_closed():
                    conn.terminate()

    def terminate(self) -> None:
        self._closed = True
        idle, self._idle = self._idle, []
        for conn in idle:
            conn.terminate()


class AsyncDatabase:
    """The site routes' connections to the engine's database, made on first use on the
    running event loop (again if the loop changes: in-process callers and tests)."""

    def __init__(self, engine: Engine, size: int) -> None:
        self.engine = engine
        self.size = max(1, size)
        self.dsn = engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._pool: asyncio.Task[Connections] | None = None

    async def _get_pool(self) -> Connections:
        loop = asyncio.get_running_loop()
        task = self._pool
        ready = self._loop is loop and task is not None and task.done()
        if ready and task is not None and not task.cancelled() and task.exception() is None:
            return task.result()  # the usual case: made, on this loop
        if self._loop is not loop or self._pool is None:
            self._drop()
            self._loop = loop
            self._pool = loop.create_task(self._make_pool())
        task = self._pool
        try:
            return await asyncio.shield(task)
        except BaseException:
            if task.done() and self._pool is task:
                self._loop = self._pool = None  # made again by the next request
            raise

    async def _make_pool(self) -> Connections:
        pool = Connections(self.dsn, self.size)
        await pool.open()
        return pool

    def _drop(self) -> None:
        task = self._pool
        self._loop = self._pool = None
        if task is not None and task.done() and not task.cancelled() and not task.exception():
            with contextlib.suppress(Exception):
                task.result().terminate()

    async def close(self) -> None:
        task, self._pool, self._loop = self._pool, None, None
        if task is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for((await task).close(), 10)

    async def run(self, work: Work[T]) -> T:
        """Drive `work` on one connection (in one transaction when it writes)."""
        try:
            pool = await self._get_pool()
            conn = await pool.acquire()
            clean = False
            try:
                result = await _drive(conn, work)
                clean = True
                return result
            except (HubError, _NeedsSync, asyncpg.PostgresError):
                # Refused or failed by the server: _drive rolled back (release checks).
                clean = True
                raise
            finally:
                pool.release(conn, clean)
        except _NeedsSync:
            return await run_in_threadpool(run_sync, self.engine, work)
        except UNAVAILABLE as exc:
            log.warning("database unavailable: %s", str(exc).splitlines()[0][:200] if str(exc)
                        else type(exc).__name__)  # fmt: skip
            raise HubError(
                503,
                "database_unavailable",
                "the hub's database is busy or unavailable: retry shortly",
                headers={"Retry-After": "2"},
            ) from None


async def _drive(conn: asyncpg.Connection, work: Work[T]) -> T:
    steps = work.steps("postgresql")
    transaction = conn.transaction() if work.write else None
    if transaction is not None:
        await transaction.start()
    answer: Any = None
    try:
        while True:
            try:
                step = steps.send(answer)
            except StopIteration as done:
                result: T = done.value
                break
            if isinstance(step, SyncOnly):
                raise _NeedsSync
            assert isinstance(step, Sql)
            sql = _dollars(step.text)
            if step.many:
                await conn.executemany(sql, [tuple(map(_value, row)) for row in step.params])
                answer = []
            else:
                answer = await conn.fetch(sql, *map(_value, step.params))
    except BaseException:
        steps.close()
        if transaction is not None and not conn.is_closed():
            with contextlib.suppress(Exception):
                await transaction.rollback()
        raise
    if transaction is not None:
        await transaction.commit()
    return result
