"""The async runner of the site routes' work (steps.py) on PostgreSQL: asyncpg, on the
event loop.

The synchronous path costs a thread hop per request and psycopg's Python layer: about
40 % of the hub's CPU per request at 284 requests/s (docs/hub.md, "Where a request's time
goes"). Here a request's statements go from the event loop to a pool of asyncpg
connections (its protocol is compiled; each statement is prepared once per connection
and kept). The rules are the generators' own: this module only drives them. A step only
the synchronous side can run (`SyncOnly`) rolls this transaction back and hands the
whole request to `steps.run_sync` in the thread pool.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import json
import logging
import re
from typing import Any, TypeVar

import asyncpg
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


async def _keep(_conn: asyncpg.Connection) -> None:
    """A connection back in the pool keeps its session: asyncpg rolls back a transaction
    left open, and the site routes change nothing else (no session setting, cursor,
    LISTEN nor session-level lock: the push's lock is the transaction's). asyncpg's
    default reset would cost one more round trip per request (`RESET ALL` and others)."""


async def _setup(conn: asyncpg.Connection) -> None:
    # jsonb parameters and columns as Python values, as psycopg gives them.
    await conn.set_type_codec("jsonb", encoder=json.dumps, decoder=json.loads, schema="pg_catalog")


class AsyncDatabase:
    """A pool of asyncpg connections to the engine's database, made on first use on the
    running event loop (again if the loop changes: in-process callers and tests)."""

    def __init__(self, engine: Engine, size: int) -> None:
        self.engine = engine
        self.size = max(1, size)
        self.dsn = engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._pool: asyncio.Task[asyncpg.Pool] | None = None

    async def _get_pool(self) -> asyncpg.Pool:
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

    async def _make_pool(self) -> asyncpg.Pool:
        # All the pool's connections at once: one opened during a burst (a backend
        # started, the codec set, each statement prepared on it) makes the requests
        # queued behind it wait.
        return await asyncpg.create_pool(
            self.dsn,
            min_size=self.size,
            max_size=self.size,
            init=_setup,
            reset=_keep,
        )

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
            async with pool.acquire() as conn:
                return await _drive(conn, work)
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
