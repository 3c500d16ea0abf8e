"""The site routes' own connections to PostgreSQL (pg_async.Connections): handed out one
request at a time, waiters served in turn, a broken or unclean connection replaced, and a
hub whose connections the server cut goes on serving."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import asyncpg
import httpx
import pytest
from sqlalchemy import text

from pvp_hub.pg_async import APPLICATION, Connections
from tests.hub.regions import Hub, Region, event, push
from tests.support.hub_daemons import PostgresCluster, wait_for


def backends(hub: Hub) -> list[int]:
    """The pids of the hub's site-route connections, as the server lists them."""
    with hub.engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT pid FROM pg_stat_activity WHERE datname = current_database()"
                " AND application_name = :name"
            ),
            {"name": APPLICATION},
        )
        return sorted(row.pid for row in rows)


def test_a_hub_whose_connections_the_server_cut_goes_on_serving(
    hub: Hub, region: Region, client: httpx.Client
) -> None:
    if hub.kind != "postgresql":
        pytest.skip("the site routes' own connections are PostgreSQL's")
    site = region.site()
    assert push(client, site, [event(uuid.uuid4())]).status_code == 200
    before = backends(hub)
    assert before, "the site routes hold connections of their own"
    with hub.engine.connect() as conn:  # as a restart or an administrator would
        conn.execute(
            text("SELECT pg_terminate_backend(pid) FROM unnest(CAST(:pids AS int[])) AS pid"),
            {"pids": before},
        )
        conn.commit()
    wait_for(lambda: not set(backends(hub)) & set(before), 10, "the backends to end")
    time.sleep(0.3)  # the hub's loop reads each connection's end
    for _ in range(20):
        answer = push(client, site, [event(uuid.uuid4())])
        assert answer.status_code == 200, answer.text
        pulled = client.get("/api/v1/site/changes", headers=site.auth)
        assert pulled.status_code == 200, pulled.text
    after = backends(hub)
    assert after and not set(after) & set(before)


# ---------------------------------------------------------------- the pool on its own
def run(postgres: PostgresCluster, size: int, body: Callable[[Connections], Awaitable[Any]]) -> Any:
    dsn = postgres.url("postgres", "postgresql")

    async def main() -> Any:
        pool = Connections(dsn, size)
        await pool.open()
        try:
            return await body(pool)
        finally:
            await pool.close()

    return asyncio.run(main())


def test_a_waiter_gets_the_connection_given_back_and_a_cancelled_one_gets_none(
    postgres: PostgresCluster,
) -> None:
    async def body(pool: Connections) -> None:
        first, second = await pool.acquire(), await pool.acquire()
        cancelled = asyncio.create_task(pool.acquire())
        waiting = asyncio.create_task(pool.acquire())
        await asyncio.sleep(0.05)
        assert not cancelled.done() and not waiting.done()  # both slots are taken
        cancelled.cancel()
        await asyncio.sleep(0)
        pool.release(first)
        assert await asyncio.wait_for(waiting, 5) is first
        pool.release(second)
        pool.release(first)
        # Both back: the next two acquires get them without opening a third.
        got = {id(await pool.acquire()), id(await pool.acquire())}
        assert got == {id(first), id(second)}

    run(postgres, 2, body)


def test_a_connection_given_back_unclean_is_closed_and_replaced(
    postgres: PostgresCluster,
) -> None:
    async def body(pool: Connections) -> None:
        only = await pool.acquire()
        waiting = asyncio.create_task(pool.acquire())
        await asyncio.sleep(0.05)
        pool.release(only, clean=False)  # e.g. cancelled mid-statement
        fresh = await asyncio.wait_for(waiting, 10)
        assert only.is_closed() and fresh is not only
        assert await fresh.fetchval("SELECT 1") == 1
        await fresh.execute("BEGIN")  # left in a transaction: not handed on as it is
        pool.release(fresh)
        assert fresh.is_closed()
        again = await pool.acquire()
        assert not again.is_in_transaction() and await again.fetchval("SELECT 2") == 2
        pool.release(again)

    run(postgres, 1, body)


def test_a_connection_the_server_closed_while_idle_is_replaced_on_acquire(
    postgres: PostgresCluster,
) -> None:
    async def body(pool: Connections) -> None:
        conn = await pool.acquire()
        pid = conn.get_server_pid()
        pool.release(conn)
        killer = await asyncpg.connect(postgres.url("postgres", "postgresql"))
        try:
            await killer.execute(f"SELECT pg_terminate_backend({pid})")
        finally:
            await killer.close()
        for _ in range(100):
            if conn.is_closed():
                break
            await asyncio.sleep(0.02)
        fresh = await pool.acquire()
        assert fresh is not conn and fresh.get_server_pid() != pid
        assert await fresh.fetchval("SELECT 3") == 3
        pool.release(fresh)

    run(postgres, 1, body)


def test_a_closed_pool_refuses_and_its_waiters_are_told(postgres: PostgresCluster) -> None:
    async def body(pool: Connections) -> None:
        held = await pool.acquire()
        waiting = asyncio.create_task(pool.acquire())
        await asyncio.sleep(0.05)
        await pool.close()
        with pytest.raises(asyncpg.InterfaceError):
            await waiting
        with pytest.raises(asyncpg.InterfaceError):
            await pool.acquire()
        pool.release(held)  # given back after the close: closed, not kept
        assert held.is_closed()

    run(postgres, 1, body)


def test_a_waiter_cancelled_after_the_close_told_it_is_cancelled(
    postgres: PostgresCluster,
) -> None:
    async def body(pool: Connections) -> None:
        held = await pool.acquire()
        waiting = asyncio.create_task(pool.acquire())
        await asyncio.sleep(0.05)
        closing = asyncio.create_task(pool.close())
        await asyncio.sleep(0)  # the close tells the waiter; the waiter has not run yet
        waiting.cancel()
        with pytest.raises(asyncio.CancelledError):
            await waiting  # cancelled as asked, not the close's error in its place
        await closing
        pool.release(held)

    run(postgres, 1, body)
