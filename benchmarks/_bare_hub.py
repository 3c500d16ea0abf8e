"""The baseline of bench_hub_sync.py: a bare ASGI app (no framework, no SQLAlchemy) that
answers the hub's push and pull with the same SQL statements, run on the same driver
under the same uvicorn settings: on PostgreSQL asyncpg on the event loop, as the hub's
site routes (PVP_BARE_DRIVER=psycopg: psycopg 3 from a thread pool, the hub's path
before); on SQLite sqlite3 from the same thread pool as the hub's.

It checks nothing the hub checks (no validation, no error answers beyond 401/500): it is
the floor the hub's stack is measured against, not a hub.

Run by the benchmark: PVP_BARE_DB=<url> uvicorn _bare_hub:app --app-dir benchmarks
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import queue
import re
import sqlite3
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs

from starlette.concurrency import run_in_threadpool

URL = os.environ["PVP_BARE_DB"]
SQLITE = URL.startswith("sqlite")
POOL_SIZE = 10
# The hub's thread pool size (its [server] threads), so both make the same hop to the same
# number of threads.
THREADS = int(os.environ.get("PVP_BARE_THREADS", "4"))
# Its asyncpg pool, as the hub's `[server] connections`.
CONNECTIONS = int(os.environ.get("PVP_BARE_CONNECTIONS", "16"))
_limited = False

TOKEN = (
    "SELECT t.token_sha256, s.id, s.region_id FROM site_tokens t"
    " JOIN sites s ON s.id = t.site_id JOIN regions r ON r.id = s.region_id"
    " WHERE t.revoked_at IS NULL AND t.token_sha256 = %s"
)
LOCK = "SELECT pg_try_advisory_xact_lock(%s)"
FIRST = (
    "SELECT request_sha256, status_code, response FROM idempotency_keys"
    " WHERE site_id = %s AND key = %s"
)
VISITS = (
    "INSERT INTO visits AS v (id, site_id, first_at) VALUES {} ON CONFLICT (id) DO UPDATE"
    " SET site_id = v.site_id WHERE v.site_id <> excluded.site_id RETURNING id, site_id"
)
EVENTS = (
    "INSERT INTO events (id, site_id, visit_id, type, at, data, digest, received_at)"
    " VALUES {} ON CONFLICT (id) DO NOTHING RETURNING id"
)
EVENTS_PG = (
    "INSERT INTO events (id, site_id, visit_id, type, at, data, digest, received_at)"
    " SELECT e.id, %s, e.visit_id, e.type, e.at, e.data, e.digest, %s"
    " FROM jsonb_to_recordset(%s::jsonb) AS e(id uuid, visit_id uuid, type text,"
    " at timestamptz, data jsonb, digest text) ON CONFLICT (id) DO NOTHING RETURNING id"
)
NEWER = "excluded.status IS NOT NULL AND (v.status_at IS NULL OR v.status_at <= excluded.status_at)"
HAS_TICKET = "excluded.partner IS NOT NULL OR excluded.ticket IS NOT NULL"
PROJECT = (
    "INSERT INTO visits AS v (id, site_id, first_at, partner, ticket, status, status_at)"
    " VALUES {} ON CONFLICT (id) DO UPDATE SET"
    f" partner = CASE WHEN {HAS_TICKET} THEN excluded.partner ELSE v.partner END,"
    f" ticket = CASE WHEN {HAS_TICKET} THEN excluded.ticket ELSE v.ticket END,"
    f" status = CASE WHEN {NEWER} THEN excluded.status ELSE v.status END,"
    f" status_at = CASE WHEN {NEWER} THEN excluded.status_at ELSE v.status_at END"
    f" WHERE {HAS_TICKET} OR ({NEWER})"
)
ANSWER = (
    "INSERT INTO idempotency_keys (site_id, key, request_sha256, status_code, response,"
    " created_at) VALUES (%s, %s, %s, %s, %s, %s)"
)
CHANGES = (
    "SELECT kind, object_id, max(seq) AS last FROM ("
    "SELECT kind, object_id, seq FROM changes WHERE region_id = %s AND site_id IS NULL"
    " AND seq > %s UNION ALL SELECT kind, object_id, seq FROM changes WHERE region_id = %s"
    " AND site_id = %s AND seq > %s) AS visible GROUP BY kind, object_id ORDER BY last LIMIT %s"
)
# The appointments' outcomes the hub's push sets (in the same statement as the projection).
OUTCOME_OF = {"finished": "seen", "no_show": "noshow", "back_to_waiting": "planned"}
STATUS_AFTER = {
    "checked_in": "waiting",
    "called": "called",
    "back_to_waiting": "waiting",
    "started": "in_session",
    "finished": "done",
}


def sql(statement: str) -> str:
    return statement.replace("%s", "?") if SQLITE else statement


if SQLITE:

    def uid(value: str) -> Any:
        return uuid.UUID(value).hex  # SQLAlchemy's Uuid on SQLite: 32 hex characters

    def when(value: datetime) -> Any:
        return value.astimezone(UTC).replace(tzinfo=None).isoformat(" ")

    def jsonb(value: Any) -> Any:
        return json.dumps(value)

    def connect() -> Any:
        conn = sqlite3.connect(URL.split("///", 1)[1], check_same_thread=False, timeout=5)
        conn.isolation_level = None
        for pragma in (
            "journal_mode=WAL",
            "busy_timeout=5000",
            "foreign_keys=ON",
            "synchronous=NORMAL",
        ):
            conn.execute("PRAGMA " + pragma)
        return conn

    BEGIN = "BEGIN IMMEDIATE"
else:
    import psycopg
    from psycopg.types.json import Jsonb

    def uid(value: str) -> Any:
        return uuid.UUID(value)

    def when(value: datetime) -> Any:
        return value

    def jsonb(value: Any) -> Any:
        return Jsonb(value)

    def connect() -> Any:
        return psycopg.connect(URL.replace("postgresql+psycopg", "postgresql"))

    BEGIN = ""

POOL: queue.LifoQueue[Any] = queue.LifoQueue()


def with_connection(work: Callable[[Any], Any]) -> Any:
    try:
        conn = POOL.get_nowait()
    except queue.Empty:
        conn = connect()
    try:
        if BEGIN:
            conn.execute(BEGIN)
        try:
            answer = work(conn)
            conn.commit() if not SQLITE else conn.execute("COMMIT")
        except BaseException:
            conn.rollback() if not SQLITE else conn.execute("ROLLBACK")
            raise
        return answer
    finally:
        if POOL.qsize() < POOL_SIZE:
            POOL.put(conn)
        else:
            conn.close()


def site_of(conn: Any, token: str) -> tuple[Any, Any] | None:
    digest = hashlib.sha256(token.encode()).hexdigest()
    row = conn.execute(sql(TOKEN), (digest,)).fetchone()
    return None if row is None else (row[1], row[2])


def push(token: str, key: str, body: bytes) -> tuple[int, Any]:
    request_sha = hashlib.sha256(body).hexdigest()
    batch = json.loads(body)["events"]
    now = datetime.now(UTC)

    def work(conn: Any) -> tuple[int, Any]:
        site = site_of(conn, token)
        if site is None:
            return 401, {"error": {"code": "unauthorized"}}
        site_id = site[0]
        if not SQLITE:
            lock = int.from_bytes(
                hashlib.sha256(site_id.bytes + key.encode()).digest()[:8], "big", signed=True
            )
            conn.execute(LOCK, (lock,))
        first = conn.execute(sql(FIRST), (site_id, key)).fetchone()
        if first is not None:
            return first[1], first[2] if not SQLITE else json.loads(first[2])
        first_at: dict[str, datetime] = {}
        rows = []
        for event in batch:
            at = datetime.fromisoformat(event["at"])
            first_at[event["visit_id"]] = min(first_at.get(event["visit_id"], at), at)
            digest = hashlib.sha256(
                json.dumps(
                    [event["visit_id"], event["type"], event["at"], event["data"]], sort_keys=True
                ).encode()
            ).hexdigest()
            rows.append((event, at, digest))
        visits = [(uid(v), site_id, when(first_at[v])) for v in sorted(first_at)]
        owners = conn.execute(
            sql(VISITS.format(", ".join(["(%s, %s, %s)"] * len(visits)))),
            [value for row in visits for value in row],
        ).fetchall()
        if any(owner != site_id for _, owner in owners):
            return 403, {"error": {"code": "foreign_visit"}}
        if SQLITE:
            values = ", ".join(["(%s, %s, %s, %s, %s, %s, %s, %s)"] * len(rows))
            params = [
                value
                for event, at, digest in rows
                for value in (
                    uid(event["id"]),
                    site_id,
                    uid(event["visit_id"]),
                    event["type"],
                    when(at),
                    jsonb(event["data"]),
                    digest,
                    when(now),
                )
            ]
            inserted = conn.execute(sql(EVENTS.format(values)), params).fetchall()
        else:
            records = [
                {
                    "id": event["id"],
                    "visit_id": event["visit_id"],
                    "type": event["type"],
                    "at": event["at"],
                    "data": event["data"],
                    "digest": digest,
                }
                for event, _, digest in rows
            ]
            inserted = conn.execute(EVENTS_PG, (site_id, now, json.dumps(records))).fetchall()
        latest: dict[str, tuple[datetime, str]] = {}
        tickets: dict[str, tuple[Any, Any]] = {}
        for event in sorted(batch, key=lambda e: e["at"]):
            if event["type"] == "checked_in":
                tickets[event["visit_id"]] = (
                    event["data"].get("partner"),
                    event["data"].get("ticket"),
                )
            if event["type"] in STATUS_AFTER:
                latest[event["visit_id"]] = (
                    datetime.fromisoformat(event["at"]),
                    STATUS_AFTER[event["type"]],
                )
        projected = []
        for v in sorted(tickets.keys() | latest.keys()):
            at, status = latest.get(v, (None, None))
            partner, ticket = tickets.get(v, (None, None))
            projected.extend(
                (uid(v), site_id, when(now), partner, ticket, status, when(at) if at else None)
            )
        conn.execute(
            sql(
                PROJECT.format(", ".join(["(%s, %s, %s, %s, %s, %s, %s)"] * (len(projected) // 7)))
            ),
            projected,
        )
        answer = {
            "received": len(batch),
            "applied": len(inserted),
            "duplicates": len(batch) - len(inserted),
        }
        conn.execute(sql(ANSWER), (site_id, key, request_sha, 200, jsonb(answer), when(now)))
        return 200, answer

    return with_connection(work)


def pull(token: str, cursor: str, limit: int) -> tuple[int, Any]:
    after = _after(cursor)

    def work(conn: Any) -> tuple[int, Any]:
        site = site_of(conn, token)
        if site is None:
            return 401, {"error": {"code": "unauthorized"}}
        rows = conn.execute(
            sql(CHANGES), (site[1], after, site[1], site[0], after, limit + 1)
        ).fetchall()
        return 200, _page(rows, after, limit)

    return with_connection(work)


# On PostgreSQL the hub runs its site routes on asyncpg, on the event loop, with the push
# in three statements and the pull in one: the bare app does the same (the same SQL
# texts, imported), without the hub's checks. PVP_BARE_DRIVER=psycopg: the statements
# and thread pool of the hub before that change (the nine-statement push).
ASYNC = not SQLITE and os.environ.get("PVP_BARE_DRIVER", "asyncpg") == "asyncpg"
_apool: Any = None


async def apool() -> Any:
    """The pool, made once (by the first request: the ones arriving meanwhile wait for
    it, rather than each making a pool of its own), all its connections open, as the
    hub's."""
    global _apool
    if _apool is None:
        import asyncio

        import asyncpg

        async def setup(conn: Any) -> None:
            await conn.set_type_codec(
                "jsonb", encoder=json.dumps, decoder=json.loads, schema="pg_catalog"
            )

        async def keep(conn: Any) -> None:
            pass  # as the hub: no reset query on release

        _apool = asyncio.ensure_future(
            asyncpg.create_pool(
                URL.replace("postgresql+psycopg", "postgresql"),
                min_size=CONNECTIONS,
                max_size=CONNECTIONS,
                init=setup,
                reset=keep,
            )
        )
    return await _apool


def _dollars(statement: str) -> str:
    count = iter(range(1, 1000))
    return re.sub("%s", lambda _m: f"${next(count)}", statement)


if ASYNC:
    from pvp_hub import sync as _hub_sql

    A_SITE_AND_LOCK = _dollars(_hub_sql._PG_SITE_AND_LOCK)
    A_APPLY = _dollars(_hub_sql._PG_APPLY)
    A_PROJECT_AND_ANSWER = _dollars(_hub_sql._PG_PROJECT_AND_ANSWER)
    A_SITE_AND_CHANGES = _dollars(_hub_sql._PG_SITE_AND_CHANGES)


async def apush(token: str, key: str, body: bytes) -> tuple[int, Any]:
    request_sha = hashlib.sha256(body).hexdigest()
    batch = json.loads(body)["events"]
    now = datetime.now(UTC)
    digest = hashlib.sha256(token.encode()).hexdigest()
    async with (await apool()).acquire() as conn, conn.transaction():
        found = await conn.fetch(A_SITE_AND_LOCK, key, digest)
        if not found:
            return 401, {"error": {"code": "unauthorized"}}
        site_id = found[0][1]
        first_at: dict[str, str] = {}
        records = []
        for event in batch:
            first_at[event["visit_id"]] = min(first_at.get(event["visit_id"], event["at"]),
                                              event["at"])  # fmt: skip
            records.append(
                {
                    "id": event["id"],
                    "visit_id": event["visit_id"],
                    "type": event["type"],
                    "at": event["at"],
                    "data": event["data"],
                    "digest": hashlib.sha256(
                        json.dumps(
                            [event["visit_id"], event["type"], event["at"], event["data"]],
                            sort_keys=True,
                        ).encode()
                    ).hexdigest(),
                }
            )
        visits = [{"id": v, "first_at": at} for v, at in first_at.items()]
        rows = await conn.fetch(
            A_APPLY, site_id, key, site_id, visits, site_id, now, records, site_id, site_id
        )
        for row in rows:
            if row[0] == "first":
                return row[2], row[3]
            if row[0] == "foreign":
                return 403, {"error": {"code": "foreign_visit"}}
        inserted = sum(1 for row in rows if row[0] == "new")
        latest: dict[str, tuple[str, str]] = {}
        tickets: dict[str, tuple[Any, Any]] = {}
        outcomes: dict[str, str] = {}
        for event in sorted(batch, key=lambda e: e["at"]):
            if event["type"] == "checked_in":
                tickets[event["visit_id"]] = (
                    event["data"].get("partner"),
                    event["data"].get("ticket"),
                )
            if event["type"] in STATUS_AFTER:
                latest[event["visit_id"]] = (event["at"], STATUS_AFTER[event["type"]])
            if event["type"] in OUTCOME_OF:
                outcomes[event["visit_id"]] = OUTCOME_OF[event["type"]]
        projected = []
        for v in sorted(tickets.keys() | latest.keys()):
            at, status = latest.get(v, (None, None))
            partner, ticket = tickets.get(v, (None, None))
            projected.append(
                {"id": v, "partner": partner, "ticket": ticket, "status": status, "status_at": at}
            )
        answer = {"received": len(batch), "applied": inserted, "duplicates": len(batch) - inserted}
        await conn.execute(
            A_PROJECT_AND_ANSWER, now, [{"visit_id": v, "status": s} for v, s in outcomes.items()],
            site_id, site_id, now, projected, site_id, key, request_sha, 200, answer, now,
        )  # fmt: skip
        return 200, answer


async def apull(token: str, cursor: str, limit: int) -> tuple[int, Any]:
    after = _after(cursor)
    digest = hashlib.sha256(token.encode()).hexdigest()
    async with (await apool()).acquire() as conn:
        found = await conn.fetch(A_SITE_AND_CHANGES, digest, after, after, limit + 1)
    if not found:
        return 401, {"error": {"code": "unauthorized"}}
    rows = [(r[7], r[8], r[9]) for r in found if r[7] is not None]
    return 200, _page(rows, after, limit)


def _after(cursor: str) -> int:
    """The change seq a pull's cursor ("c1." + base64 of the seq) stands for; 0 for none."""
    payload = cursor[3:]
    return int(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))) if cursor else 0


def _page(rows: Any, after: int, limit: int) -> dict[str, Any]:
    """A pull's answer from its rows (kind, object id, seq; one more than the page)."""
    last = rows[:limit][-1][2] if rows else after
    items = [
        {"kind": kind, "id": str(object_id), "deleted": False, "data": None}
        for kind, object_id, _ in rows[:limit]
    ]
    return {
        "items": items,
        "cursor": "c1." + base64.urlsafe_b64encode(str(last).encode()).decode().rstrip("="),
        "more": len(rows) > limit,
        "server_time": datetime.now(UTC).isoformat(),
    }


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    global _limited
    if scope["type"] != "http":
        return
    if not _limited:
        import anyio.to_thread

        anyio.to_thread.current_default_thread_limiter().total_tokens = THREADS
        _limited = True
    headers = dict(scope["headers"])
    token = headers.get(b"authorization", b"")[7:].decode()
    if scope["method"] == "POST":
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        key = headers.get(b"idempotency-key", b"").decode()
        if ASYNC:
            status, answer = await apush(token, key, body)
        else:
            status, answer = await run_in_threadpool(push, token, key, body)
    else:
        query = parse_qs(scope["query_string"].decode())
        cursor = query.get("cursor", [""])[0]
        if ASYNC:
            status, answer = await apull(token, cursor, 500)
        else:
            status, answer = await run_in_threadpool(pull, token, cursor, 500)
    data = json.dumps(answer).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(data)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": data})
