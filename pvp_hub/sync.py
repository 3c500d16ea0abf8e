"""Push and pull: what sites exchange with the hub. The hot path of the service.

Push applies a batch of a site's events exactly once: each event's own id is the key of
the `events` table (a repeat is skipped), and each request's Idempotency-Key stores the
first answer, replayed on a retry. Everything of one batch is one transaction: refused
input stores nothing. Pull walks the directory's change log from an opaque cursor.
"""

from __future__ import annotations

import base64
import binascii
import functools
import hashlib
import json
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from pydantic import ValidationError
from sqlalchemy import (
    Connection,
    Engine,
    Integer,
    bindparam,
    func,
    select,
    text,
    union_all,
    update,
)

from pvp_tui.core import events as event_types
from pvp_tui.core.frontdesk import NAME_MAX
from pvp_tui.core.models import Status

from . import appointments, documents, rooms
from .auth import SiteIdentity, authenticate_site
from .config import SyncLimits
from .database import (
    as_uuid,
    is_postgresql,
    read_transaction,
    run_on_driver,
    sql_on_driver,
    write_transaction,
)
from .directory import partner_row_public
from .errors import HubError
from .schema import changes, events, idempotency_keys, partners, sites, visits
from .wire import EVENT_TYPES, PushBatch, PushEvent

# The visit's status after each front-desk event (an event's own "to" wins when present).
STATUS_AFTER = {
    event_types.CHECKED_IN: Status.WAITING,
    event_types.CALLED: Status.CALLED,
    event_types.BACK_TO_WAITING: Status.WAITING,
    event_types.STARTED: Status.IN_SESSION,
    event_types.FINISHED: Status.DONE,
    event_types.NO_SHOW: Status.NO_SHOW,
    event_types.CANCELLED: Status.CANCELLED,
    event_types.TRANSFERRED: Status.TRANSFERRED,
    event_types.TRANSFERRED_IN: Status.WAITING,
    event_types.CLOSED_OVERNIGHT: Status.CANCELLED,
}
# Keys that would carry a visitor's identity: refused outside name_shared.
PERSONAL_KEYS = frozenset({"name", "visitor_name", "first_name", "last_name", "phone", "note"})
IDEMPOTENCY_KEY_MAX = 100
CURSOR_PREFIX = "c1."

Clock = Callable[[], datetime]

# The push path's statements, built once: SQLAlchemy then reuses their compiled SQL and
# cache keys, and a request pays only for executing them.
_LOCK = text("SELECT pg_try_advisory_xact_lock(:lock)")
_FIRST_ANSWER = select(
    idempotency_keys.c.request_sha256, idempotency_keys.c.status_code, idempotency_keys.c.response
).where(idempotency_keys.c.site_id == bindparam("site"), idempotency_keys.c.key == bindparam("key"))
_SAVE_ANSWER = idempotency_keys.insert()
# A batch's visits, owners, events, tickets and statuses go to the driver's own cursor
# as short hand-written SQL (one text per batch size, whose parsing psycopg caches): the
# same statements through SQLAlchemy cost about a third of a push's CPU, most of it in
# psycopg parsing the long multi-row insert SQLAlchemy renders for each batch.
_EVENT_COLUMNS = ("id", "site_id", "visit_id", "type", "at", "data", "digest", "received_at")


@functools.cache
def _rows_sql(head: str, width: int, count: int, tail: str = "") -> str:
    row = "(" + ", ".join(["%s"] * width) + ")"
    return f"{head} {', '.join([row] * count)}{tail}"


def _new_visits_sql(count: int) -> str:
    # One statement creates the batch's new visits and names any that belong to another
    # site: inserted rows come back with this site's id, another site's visit comes back
    # (untouched: its own site_id set again) with its owner's, and this site's existing
    # visits do not come back. The owners are found through the primary key's arbiter
    # check, never a planned scan: a SELECT ... WHERE id IN (...) here was prepared while
    # the table was small and kept its sequential scan as the table grew (0.6 ms of
    # PostgreSQL per push at 2,840 sites, growing with every visit). Rows go in the ids'
    # order, so two transactions lock the same visits in the same order.
    return _rows_sql(
        "INSERT INTO visits AS v (id, site_id, first_at) VALUES",
        3,
        count,
        " ON CONFLICT (id) DO UPDATE SET site_id = v.site_id"
        " WHERE v.site_id <> excluded.site_id RETURNING id, site_id",
    )


def _new_events_sql(count: int) -> str:
    return _rows_sql(
        f"INSERT INTO events ({', '.join(_EVENT_COLUMNS)}) VALUES",
        len(_EVENT_COLUMNS),
        count,
        " ON CONFLICT (id) DO NOTHING RETURNING id",
    )


# On PostgreSQL the batch's events go as one JSON parameter: a 10-event VALUES list binds
# 80 parameters, past the 50 up to which psycopg caches a query's parsing, so it parsed
# that SQL again on every push (about 7 % of the hub's CPU at 284 requests/s).
_NEW_EVENTS_PG = (
    f"INSERT INTO events ({', '.join(_EVENT_COLUMNS)})"
    " SELECT e.id, %s, e.visit_id, e.type, e.at, e.data, e.digest, %s"
    " FROM jsonb_to_recordset(%s::jsonb) AS e(id uuid, visit_id uuid, type text,"
    " at timestamptz, data jsonb, digest text)"
    " ON CONFLICT (id) DO NOTHING RETURNING id"
)


def _insert_events(conn: Connection, site: SiteIdentity, rows: list[dict[str, Any]]) -> set[Any]:
    """Insert the batch's events, skipping the ids already stored; the ids inserted."""
    if is_postgresql(conn):
        batch = json.dumps(
            [
                {
                    "id": str(row["id"]),
                    "visit_id": str(row["visit_id"]),
                    "type": row["type"],
                    "at": row["at"].isoformat(),
                    "data": row["data"],
                    "digest": row["digest"],
                }
                for row in rows
            ]
        )
        found = _run(conn, _NEW_EVENTS_PG, [site.id, rows[0]["received_at"], batch], rows=True)
    else:
        values = [row[name] for row in rows for name in _EVENT_COLUMNS]
        found = _run(conn, _new_events_sql(len(rows)), values, rows=True)
    return {as_uuid(r[0]) for r in found}


# The visits' projection from the batch's new events, one statement for the batch: each
# visit exists by now, so every row takes the update branch, found by the primary key
# (an UPDATE ... FROM (VALUES ...) would be a planned join, open to the same stale plan).
# A ticket is set when the row carries one (a check-in without partner nor ticket is
# _CLEAR_TICKET's); the status when it is the latest by the events' time.
_NEWER = (
    "excluded.status IS NOT NULL AND (v.status_at IS NULL OR v.status_at <= excluded.status_at)"
)
_HAS_TICKET = "excluded.partner IS NOT NULL OR excluded.ticket IS NOT NULL"


def _project_sql(count: int) -> str:
    return _rows_sql(
        "INSERT INTO visits AS v (id, site_id, first_at, partner, ticket, status, status_at)"
        " VALUES",
        7,
        count,
        " ON CONFLICT (id) DO UPDATE SET"
        f" partner = CASE WHEN {_HAS_TICKET} THEN excluded.partner ELSE v.partner END,"
        f" ticket = CASE WHEN {_HAS_TICKET} THEN excluded.ticket ELSE v.ticket END,"
        f" status = CASE WHEN {_NEWER} THEN excluded.status ELSE v.status END,"
        f" status_at = CASE WHEN {_NEWER} THEN excluded.status_at ELSE v.status_at END"
        f" WHERE {_HAS_TICKET} OR ({_NEWER})",
    )


_CLEAR_TICKET = "UPDATE visits SET partner = NULL, ticket = NULL WHERE id = %s"

# Pull's one statement when nothing is new (most pulls): built once too. The rows a site
# sees are two ranges of the index (region_id, site_id, seq): the region's own (site_id
# NULL) and the site's; an OR of the two would make both engines scan the region's range
# past the cursor, every other site's rows included (2,840 sites in a region).
_VISIBLE = union_all(
    *(
        select(changes.c.kind, changes.c.object_id, changes.c.seq).where(
            changes.c.region_id == bindparam("region"),
            whose,
            changes.c.seq > bindparam("after"),
        )
        for whose in (changes.c.site_id.is_(None), changes.c.site_id == bindparam("site"))
    )
).subquery("visible")
_LAST = func.max(_VISIBLE.c.seq).label("last")
_CHANGES = (
    select(_VISIBLE.c.kind, _VISIBLE.c.object_id, _LAST)
    .group_by(_VISIBLE.c.kind, _VISIBLE.c.object_id)
    .order_by(_LAST)
    .limit(bindparam("limit", type_=Integer))
    .offset(bindparam("offset", type_=Integer))  # SQLite's LIMIT has one: named, not made up
)


def system_clock() -> datetime:
    return datetime.now(UTC)


# ----------------------------------------------------------------------------- parsing
def parse_batch(body: bytes, limits: SyncLimits) -> PushBatch:
    """The batch in `body`, or a 400/422 naming every problem."""
    try:
        batch = PushBatch.model_validate_json(body)
    except ValidationError as exc:
        raise input_error(exc) from None
    if len(batch.events) > limits.max_events_per_push:
        raise HubError(
            422,
            "batch_too_large",
            f"at most {limits.max_events_per_push} events per push",
            [f"events: {len(batch.events)} events (send them in several batches)"],
        )
    # PostgreSQL refuses NUL in text and jsonb: refuse it here, with its place named.
    if b"\\u0000" in body:
        places = [
            f"events[{i}].{where}"
            for i, event in enumerate(batch.events)
            for where in _nul_places(event)
        ]
        if places:
            raise HubError(
                422,
                "nul_character",
                "the NUL character (\\u0000) is not allowed in text",
                [f"{place}: contains \\u0000" for place in places],
            )
    return batch


def _nul_places(event: PushEvent) -> list[str]:
    found = ["type"] if "\x00" in event.type else []

    def walk(value: Any, where: str) -> None:
        if isinstance(value, str) and "\x00" in value:
            found.append(where)
        elif isinstance(value, dict):
            for key, item in value.items():
                if "\x00" in key:
                    found.append(where)
                walk(item, f"{where}.{key}")
        elif isinstance(value, list):
            for index, item in enumerate(value):
                walk(item, f"{where}[{index}]")

    walk(event.data, "data")
    return found


def input_error(exc: ValidationError) -> HubError:
    errors = exc.errors(include_url=False, include_input=False)
    if any(e["type"] == "json_invalid" for e in errors):
        detail = errors[0].get("ctx", {}).get("error", "")
        return HubError(400, "malformed_json", f"the body is not valid JSON ({detail})")
    return HubError(422, "invalid_body", "the body does not have the expected shape", [
        f"{_loc(e['loc'])}: {_plain(e)}" for e in errors
    ])  # fmt: skip


def _loc(loc: tuple[int | str, ...]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "body"


def _plain(error: Any) -> str:
    if error["type"] == "extra_forbidden":
        return "unknown field"
    if error["type"] == "missing":
        return "is required"
    return str(error["msg"])


def check_events(batch: PushBatch, limits: SyncLimits, now: datetime) -> None:
    """The rules no JSON schema says: known types, a plausible clock, no names without
    consent. Every problem is named; one is enough to refuse the whole batch."""
    problems: list[str] = []
    ahead = timedelta(seconds=limits.clock_skew_seconds)
    oldest = now - timedelta(days=limits.max_event_age_days)
    for i, event in enumerate(batch.events):
        where = f"events[{i}]"
        if event.type not in EVENT_TYPES:
            problems.append(f"{where}.type: unknown event type {event.type[:40]!r}")
        if event.at > now + ahead:
            problems.append(
                f"{where}.at: {duration_words(event.at - now)} ahead of the hub's clock "
                "(is the site's clock right?)"
            )
        elif event.at < oldest:
            problems.append(
                f"{where}.at: older than {limits.max_event_age_days} days: the hub no "
                "longer takes it"
            )
        if event.type == event_types.NAME_SHARED:
            problems.extend(_check_name_shared(where, event.data))
        else:
            problems.extend(
                f"{where}.data.{key}: visitor names and details go up only in a name_shared "
                "event that records the visitor's consent"
                for key in event.data
                if key.lower() in PERSONAL_KEYS
            )
    if problems:
        raise HubError(422, "invalid_events", "some events cannot be taken", problems)


def _check_name_shared(where: str, data: dict[str, Any]) -> list[str]:
    problems = [
        f"{where}.data.{key}: unknown field" for key in data if key not in ("name", "consent")
    ]
    if data.get("consent") is not True:
        problems.append(f"{where}.data.consent: must be true (the visitor agreed)")
    name = data.get("name")
    if not isinstance(name, str) or not name.strip() or len(name.strip()) > NAME_MAX:
        problems.append(f"{where}.data.name: a name of 1 to {NAME_MAX} characters")
    elif any(not ch.isprintable() for ch in name):
        problems.append(f"{where}.data.name: one line, without control characters")
    return problems


def duration_words(delta: timedelta) -> str:
    minutes = round(delta.total_seconds() / 60)
    if minutes >= 48 * 60:
        return f"{minutes // 1440} days"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min" if hours else f"{minutes} min"


# -------------------------------------------------------------------------------- push
def check_idempotency_key(key: str | None) -> str:
    if key is None:
        raise HubError(
            400,
            "idempotency_key_required",
            "every write needs an Idempotency-Key header (a UUID made for this batch, "
            "sent again unchanged on each retry)",
        )
    if not 1 <= len(key) <= IDEMPOTENCY_KEY_MAX or not key.isascii() or not key.isprintable():
        raise HubError(
            400,
            "bad_idempotency_key",
            f"the Idempotency-Key must be 1 to {IDEMPOTENCY_KEY_MAX} printable ASCII characters",
        )
    return key


def push(
    engine: Engine,
    token: str | None,
    key: str | None,
    body: bytes,
    limits: SyncLimits,
    clock: Clock = system_clock,
) -> tuple[int, dict[str, Any]]:
    """Apply one batch: (HTTP status, answer). Runs in a worker thread."""
    request_sha = hashlib.sha256(body).hexdigest()
    problem: HubError | None = None
    batch: PushBatch | None = None
    try:
        # Parsed before the transaction, so SQLite's write lock is not held meanwhile.
        key = check_idempotency_key(key)
        batch = parse_batch(body, limits)
        check_events(batch, limits, clock())
    except HubError as exc:
        problem = exc
    if problem is not None:
        # Refused input is answered only once the token is known good (strangers learn
        # nothing), from a read: SQLite's write lock is not taken for it.
        with read_transaction(engine) as conn:
            authenticate_site(conn, token)
        raise problem
    assert batch is not None and key is not None
    with write_transaction(engine) as conn:
        site = authenticate_site(conn, token)
        # In flight: another transaction holds this key's lock (PostgreSQL); on SQLite the
        # write lock taken at BEGIN IMMEDIATE already made this request wait for it.
        if is_postgresql(conn) and not _fetch_one(conn, _LOCK, {"lock": _lock_id(site.id, key)})[0]:
            raise HubError(
                409,
                "in_flight",
                "a request with this Idempotency-Key is still being applied: retry shortly",
                headers={"Retry-After": "1"},
            )
        first = _fetch_one(conn, _FIRST_ANSWER, {"site": site.id, "key": key})
        if first is not None:
            first_sha, first_status, first_answer = first
            if first_sha != request_sha:
                raise HubError(
                    422,
                    "idempotency_key_reused",
                    "this Idempotency-Key was used for another body: make a new key for a "
                    "new batch",
                )
            # jsonb comes back parsed from psycopg, as text from SQLite.
            return first_status, (
                json.loads(first_answer) if isinstance(first_answer, str) else first_answer
            )
        answer = apply_batch(conn, site, batch, clock())
        _fetch_one(
            conn,
            _SAVE_ANSWER,
            {
                "site_id": site.id,
                "key": key,
                "request_sha256": request_sha,
                "status_code": 200,
                "response": answer,
                "created_at": clock(),
            },
        )
        return 200, answer


def _fetch_one(conn: Connection, statement: Any, params: dict[str, Any]) -> Any:
    """The first row (as the driver gives it) of a hot statement run on the driver."""
    cursor = run_on_driver(conn, statement, params)
    try:
        return cursor.fetchone() if cursor.description else None
    finally:
        cursor.close()


def _run(
    conn: Connection, sql: str, params: Any, rows: bool = False, many: bool = False
) -> list[Any]:
    """A hand-written statement on the driver's cursor; its rows when `rows`."""
    cursor = sql_on_driver(conn, sql, params, many=many)
    try:
        return cursor.fetchall() if rows else []
    finally:
        cursor.close()


def _lock_id(site_id: uuid.UUID, key: str) -> int:
    digest = hashlib.sha256(site_id.bytes + key.encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


def apply_batch(
    conn: Connection, site: SiteIdentity, batch: PushBatch, now: datetime
) -> dict[str, Any]:
    """Store the batch's new events and project them on their visits."""
    rows: list[dict[str, Any]] = []
    names: dict[uuid.UUID, tuple[str, datetime]] = {}
    first_at: dict[uuid.UUID, datetime] = {}
    seen: dict[uuid.UUID, str] = {}
    for i, event in enumerate(batch.events):
        data = dict(event.data)
        if event.type == event_types.NAME_SHARED:
            # The name lives on the visit (erased tonight), never in the event log.
            names[event.visit_id] = (data.pop("name").strip(), event.at)
        row = {
            "id": event.id,
            "site_id": site.id,
            "visit_id": event.visit_id,
            "type": event.type,
            "at": event.at,
            "data": data,
            "received_at": now,
        }
        digest: str = _digest(row)
        row["digest"] = digest
        if event.id in seen:
            if seen[event.id] != digest:
                raise _conflict([f"events[{i}].id: used twice in the batch with other content"])
            continue
        seen[event.id] = digest
        rows.append(row)
        first_at[event.visit_id] = min(first_at.get(event.visit_id, event.at), event.at)

    visit_rows = [(vid, site.id, first_at[vid]) for vid in sorted(first_at)]
    sql = _new_visits_sql(len(visit_rows))
    others = {
        as_uuid(vid)
        for vid, owner in _run(conn, sql, [v for row in visit_rows for v in row], rows=True)
        if as_uuid(owner) != site.id
    }
    foreign = [
        f"events[{i}].visit_id: not a visit of this site"
        for i, event in enumerate(batch.events)
        if event.visit_id in others
    ]
    if foreign:
        raise HubError(403, "foreign_visit", "a site may push only its own visits", foreign)

    inserted = _insert_events(conn, site, rows)
    repeats = [row for row in rows if row["id"] not in inserted]
    if repeats:
        _check_repeats(conn, site, batch, repeats)
    new = [row for row in rows if row["id"] in inserted]
    _project(conn, site, new, names)
    documents.on_new_events(conn, site, new)  # consent withdrawn: the bytes go now
    appointments.on_new_events(conn, site.id, new)  # who came: seen or no-show
    return {
        "received": len(batch.events),
        "applied": len(new),
        "duplicates": len(batch.events) - len(new),
    }


def _digest(row: dict[str, Any]) -> str:
    canonical = json.dumps(
        [str(row["visit_id"]), row["type"], row["at"].astimezone(UTC).isoformat(), row["data"]],
        sort_keys=True,
        separators=(",", ":"),
    )
    return hashlib.sha256(canonical.encode()).hexdigest()


def _conflict(problems: list[str]) -> HubError:
    return HubError(
        422, "event_conflict", "an event id was already used for another event", problems
    )


def _check_repeats(
    conn: Connection, site: SiteIdentity, batch: PushBatch, repeats: list[dict[str, Any]]
) -> None:
    """Events the hub already had: fine when they are this site's and the same event."""
    stored = {
        row.id: row
        for row in conn.execute(
            select(events.c.id, events.c.site_id, events.c.digest).where(
                events.c.id.in_([r["id"] for r in repeats])
            )
        )
    }
    index = {event.id: i for i, event in enumerate(batch.events)}
    foreign, conflicts = [], []
    for row in repeats:
        have = stored.get(row["id"])
        where = f"events[{index[row['id']]}].id"
        if have is None:
            continue  # cannot happen: ON CONFLICT skipped it because it exists
        if have.site_id != site.id:
            foreign.append(f"{where}: not an event of this site")
        elif have.digest != row["digest"]:
            conflicts.append(f"{where}: already received with other content")
    if foreign:
        raise HubError(403, "foreign_event", "a site may push only its own events", foreign)
    if conflicts:
        raise _conflict(conflicts)


def _project(
    conn: Connection,
    site: SiteIdentity,
    new: list[dict[str, Any]],
    names: dict[uuid.UUID, tuple[str, datetime]],
) -> None:
    """Update each visit from its new events, one statement for the batch. Events may
    come out of order: the status is that of the latest event by its time, and an older
    one never overwrites it."""
    latest: dict[uuid.UUID, tuple[datetime, str]] = {}
    tickets: dict[uuid.UUID, tuple[str | None, str | None]] = {}
    for row in sorted(new, key=lambda r: r["at"]):
        data = row["data"]
        if row["type"] in (event_types.CHECKED_IN, event_types.TRANSFERRED_IN):
            # In the events' order: a later check-in's ticket wins.
            tickets[row["visit_id"]] = (
                str(data.get("partner", ""))[:32] or None,
                str(data.get("ticket", ""))[:16] or None,
            )
        status = _status_after(row["type"], data)
        if status is not None:
            latest[row["visit_id"]] = (row["at"], status)
    if tickets or latest:
        cleared = [vid for vid, ticket in tickets.items() if ticket == (None, None)]
        if cleared:
            _run(conn, _CLEAR_TICKET, [(vid,) for vid in cleared], many=True)
        now = new[0]["received_at"]
        projected: list[Any] = []
        for vid in sorted(tickets.keys() | latest.keys()):
            partner, ticket = tickets.get(vid, (None, None))
            at, status = latest.get(vid, (None, None))
            projected.extend((vid, site.id, now, partner, ticket, status, at))
        _run(conn, _project_sql(len(projected) // 7), projected)
    stored_ids = {row["visit_id"] for row in new if row["type"] == event_types.NAME_SHARED}
    zone = ZoneInfo(site.timezone)
    for visit_id, (name, at) in names.items():
        if visit_id not in stored_ids:
            continue  # a repeat of a name already received (or erased since): left as is
        local_day = at.astimezone(zone).date()
        erase_at = datetime.combine(local_day + timedelta(days=1), time(0), zone)
        if erase_at <= new[0]["received_at"]:
            continue  # its day is over (the site was offline): the name is not kept at all
        conn.execute(
            update(visits)
            .where(visits.c.id == visit_id)
            .values(visitor_name=name, name_erase_at=erase_at)
        )


def _status_after(kind: str, data: dict[str, Any]) -> str | None:
    to = data.get("to")
    if kind in STATUS_AFTER and isinstance(to, str) and to in Status._value2member_map_:
        return to
    status = STATUS_AFTER.get(kind)
    return status.value if status else None


# -------------------------------------------------------------------------------- pull
def encode_cursor(seq: int) -> str:
    return CURSOR_PREFIX + base64.urlsafe_b64encode(str(seq).encode()).decode().rstrip("=")


def decode_cursor(cursor: str | None) -> int:
    if not cursor:
        return 0
    bad = HubError(
        400,
        "bad_cursor",
        "the cursor is not one this hub gave: pull without a cursor to start over",
    )
    if not cursor.startswith(CURSOR_PREFIX) or len(cursor) > 40:
        raise bad
    payload = cursor[len(CURSOR_PREFIX) :]
    try:
        text_seq = base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)).decode()
    except (binascii.Error, UnicodeDecodeError):
        raise bad from None
    if not text_seq.isdigit():
        raise bad
    return int(text_seq)


def pull(
    engine: Engine, token: str | None, cursor: str | None, limit: int, clock: Clock = system_clock
) -> dict[str, Any]:
    """What changed for the token's site since the cursor, oldest change first."""
    with read_transaction(engine) as conn:
        site = authenticate_site(conn, token)
        after = decode_cursor(cursor)
        params = {
            "region": site.region_id,
            "site": site.id,
            "after": after,
            "limit": limit + 1,
            "offset": 0,
        }
        found = run_on_driver(conn, _CHANGES, params)
        try:
            rows = [(kind, as_uuid(object_id), last) for kind, object_id, last in found.fetchall()]
        finally:
            found.close()
        more = len(rows) > limit
        rows = rows[:limit]
        items = _items(conn, site, rows) if rows else []
    return {
        "items": items,
        "cursor": encode_cursor(rows[-1][2] if rows else after),
        "more": more,
        "server_time": clock().isoformat(),
    }


# What a page's items are read from, built once: the region's partners (a few dozen at
# most: read them all, keep those that changed) and the site itself.
_REGION_PARTNERS = select(partners).where(partners.c.region_id == bindparam("region"))
_THE_SITE = select(sites.c.id, sites.c.slug, sites.c.name, sites.c.timezone).where(
    sites.c.id == bindparam("site")
)


def _items(
    conn: Connection, site: SiteIdentity, rows: list[tuple[str, uuid.UUID, int]]
) -> list[dict[str, Any]]:
    kinds = {kind for kind, _, _ in rows}
    found: dict[uuid.UUID, tuple[str, dict[str, Any]]] = {}
    removed: dict[uuid.UUID, str] = {}
    if "partner" in kinds:
        wanted = {object_id for kind, object_id, _ in rows if kind == "partner"}
        for partner in conn.execute(_REGION_PARTNERS, {"region": site.region_id}).mappings():
            if partner["id"] in wanted and partner["removed_at"] is not None:
                removed[partner["id"]] = partner["slug"]  # by its id: the site retires it
            elif partner["id"] in wanted:
                public = partner_row_public(partner)
                found[partner["id"]] = (public.pop("id"), public)
    if "site" in kinds:
        for row in conn.execute(_THE_SITE, {"site": site.id}):
            found[row.id] = (row.slug, {"name": row.name, "timezone": row.timezone})
    if appointments.KIND in kinds:
        wanted = {object_id for kind, object_id, _ in rows if kind == appointments.KIND}
        for object_id, data in appointments.feed_items(conn, site.id, wanted).items():
            found[object_id] = (str(object_id), data)
    if rooms.KIND in kinds:
        wanted = {object_id for kind, object_id, _ in rows if kind == rooms.KIND}
        for object_id, data in rooms.feed_items(conn, site.id, wanted).items():
            found[object_id] = (str(object_id), data)
    if documents.KIND in kinds:
        wanted = {object_id for kind, object_id, _ in rows if kind == documents.KIND}
        for object_id, data in documents.feed_items(conn, site.id, wanted).items():
            found[object_id] = (str(object_id), data)
    items = []
    for kind, object_id, _ in rows:
        if object_id in found:
            slug, data = found[object_id]
            items.append({"kind": kind, "id": slug, "deleted": False, "data": data})
        else:
            gone = removed.get(object_id, str(object_id))
            items.append({"kind": kind, "id": gone, "deleted": True, "data": None})
    return items


# ------------------------------------------------------------------------- site reads
def site_info(engine: Engine, token: str | None, clock: Clock = system_clock) -> dict[str, Any]:
    with read_transaction(engine) as conn:
        site = authenticate_site(conn, token)
    return {
        "id": site.slug,
        "name": site.name,
        "region": site.region_slug,
        "timezone": site.timezone,
        "server_time": clock().isoformat(),
    }


def visit_view(engine: Engine, token: str | None, visit_id: str) -> dict[str, Any]:
    """One of the site's visits as the hub has it; 404 for any other, existing or not."""
    not_found = HubError(404, "unknown_visit", "this site has no such visit on the hub")
    with read_transaction(engine) as conn:
        site = authenticate_site(conn, token)
        try:
            wanted = uuid.UUID(visit_id)
        except ValueError:
            raise not_found from None
        count = select(func.count()).where(events.c.visit_id == visits.c.id).scalar_subquery()
        row = conn.execute(
            select(visits, count.label("events")).where(
                visits.c.id == wanted, visits.c.site_id == site.id
            )
        ).first()
        room = rooms.room_of_visit(conn, wanted) if row is not None else None
    if row is None:
        raise not_found
    return {
        "room": None
        if room is None
        else {
            "source": room.source,
            "created_at": room.created_at.isoformat(),
            "agent_opened_at": room.agent_opened_at.isoformat() if room.agent_opened_at else None,
        },
        "id": str(row.id),
        "ticket": row.ticket,
        "partner": row.partner,
        "status": row.status,
        "events": row.events,
        "name_shared": row.visitor_name is not None,
    }


# ------------------------------------------------------------------------------ purge
IDEMPOTENCY_DAYS = 7  # a retry later than this is still applied once: events keep their ids


def purge(engine: Engine, clock: Clock = system_clock) -> dict[str, int]:
    """Erase visitors' names whose day is over and idempotency answers past their time."""
    now = clock()
    with write_transaction(engine) as conn:
        names = conn.execute(
            update(visits)
            .where(visits.c.name_erase_at.is_not(None), visits.c.name_erase_at <= now)
            .values(visitor_name=None, name_erase_at=None)
        ).rowcount
        keys = conn.execute(
            idempotency_keys.delete().where(
                idempotency_keys.c.created_at < now - timedelta(days=IDEMPOTENCY_DAYS)
            )
        ).rowcount
    return {"names_erased": names, "idempotency_keys_deleted": keys} | appointments.purge(
        engine, clock
    )
