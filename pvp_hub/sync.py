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
import math
import uuid
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from pydantic import ValidationError
from sqlalchemy import Connection, Engine, bindparam, func, select, update

from pvp_tui.core import events as event_types
from pvp_tui.core.frontdesk import NAME_MAX
from pvp_tui.core.models import Status

from . import appointments, documents, rooms
from .auth import (
    SITE_COLUMNS,
    SITE_OF_TOKEN,
    SiteIdentity,
    authenticate_site,
    site_of_row,
    site_steps,
    token_digest_of,
)
from .config import SyncLimits
from .database import as_uuid, read_transaction, write_transaction
from .directory import partner_row_public
from .errors import HubError
from .schema import events, idempotency_keys, partners, sites, visits
from .steps import Sql, Steps, SyncOnly, Work, run_sync
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

# The push's and the pull's statements, written once as `%s` SQL for the runners
# (steps.py): sqlite3, psycopg and asyncpg each get them in their own placeholders.
_FIRST_ANSWER = (
    "SELECT request_sha256, status_code, response FROM idempotency_keys"
    " WHERE site_id = %s AND key = %s"
)
_SAVE_ANSWER = (
    "INSERT INTO idempotency_keys (site_id, key, request_sha256, status_code, response,"
    " created_at) VALUES (%s, %s, %s, %s, %s, %s)"
)
_EVENT_COLUMNS = ("id", "site_id", "visit_id", "type", "at", "data", "digest", "received_at")


@functools.cache
def _rows_sql(head: str, width: int, count: int, tail: str = "") -> str:
    row = "(" + ", ".join(["%s"] * width) + ")"
    return f"{head} {', '.join([row] * count)}{tail}"


# One statement creates the batch's new visits and names any that belong to another
# site: inserted rows come back with this site's id, another site's visit comes back
# (untouched: its own site_id set again) with its owner's, and this site's existing
# visits do not come back. The owners are found through the primary key's arbiter check,
# never a planned scan: a SELECT ... WHERE id IN (...) here was prepared while the table
# was small and kept its sequential scan as the table grew (0.6 ms of PostgreSQL per push
# at 2,840 sites, growing with every visit). ON CONFLICT also waits for, then sees, a
# visit another transaction is inserting at the same moment. Rows go in the ids' order,
# so two transactions lock the same visits in the same order.
_VISITS_UPSERT = (
    " ON CONFLICT (id) DO UPDATE SET site_id = v.site_id"
    " WHERE v.site_id <> excluded.site_id RETURNING id, site_id"
)


def _new_visits_sql(count: int) -> str:
    return _rows_sql("INSERT INTO visits AS v (id, site_id, first_at) VALUES", 3, count,
                     _VISITS_UPSERT)  # fmt: skip


def _new_events_sql(count: int) -> str:
    return _rows_sql(
        f"INSERT INTO events ({', '.join(_EVENT_COLUMNS)}) VALUES",
        len(_EVENT_COLUMNS),
        count,
        " ON CONFLICT (id) DO NOTHING RETURNING id",
    )


# The visits' projection from the batch's new events, one statement for the batch: each
# visit exists by now, so every row takes the update branch, found by the primary key
# (an UPDATE ... FROM (VALUES ...) would be a planned join, open to the same stale plan).
# A ticket is set when the row carries one (a check-in without partner nor ticket is
# _CLEAR_TICKET's); the status when it is the latest by the events' time.
_NEWER = (
    "excluded.status IS NOT NULL AND (v.status_at IS NULL OR v.status_at <= excluded.status_at)"
)
_HAS_TICKET = "excluded.partner IS NOT NULL OR excluded.ticket IS NOT NULL"
_PROJECT_HEAD = (
    "INSERT INTO visits AS v (id, site_id, first_at, partner, ticket, status, status_at)"
)
_PROJECT_TAIL = (
    " ON CONFLICT (id) DO UPDATE SET"
    f" partner = CASE WHEN {_HAS_TICKET} THEN excluded.partner ELSE v.partner END,"
    f" ticket = CASE WHEN {_HAS_TICKET} THEN excluded.ticket ELSE v.ticket END,"
    f" status = CASE WHEN {_NEWER} THEN excluded.status ELSE v.status END,"
    f" status_at = CASE WHEN {_NEWER} THEN excluded.status_at ELSE v.status_at END"
    f" WHERE {_HAS_TICKET} OR ({_NEWER})"
)


def _project_sql(count: int) -> str:
    return _rows_sql(f"{_PROJECT_HEAD} VALUES", 7, count, _PROJECT_TAIL)


_CLEAR_TICKET = "UPDATE visits SET partner = NULL, ticket = NULL WHERE id = %s"
_NAME = "UPDATE visits SET visitor_name = %s, name_erase_at = %s WHERE id = %s"

# On PostgreSQL a push is three statements (with BEGIN and COMMIT, 5 round trips instead
# of 9), each of a fixed text whatever the batch's size (the batch goes as jsonb, so
# psycopg's parse cache and asyncpg's prepared statements keep them):
# 1. the token's site, and this key's lock (the lock's id is `_lock_id`, computed here);
# 2. after the lock is granted (a new statement, so a new snapshot under READ COMMITTED:
#    it sees the first answer of a request that held the lock): the first answer, and
#    when there is none the batch's visits (owners by the arbiter, as above) and its new
#    events, these only when no visit is another site's;
# 3. the appointments' outcomes (appointments.outcomes), the visits' projection and the
#    saved answer.
_PG_SITE_AND_LOCK = (
    f"SELECT {SITE_COLUMNS}, pg_try_advisory_xact_lock(('x' || encode(substr(sha256("
    "uuid_send(s.id) || convert_to(%s::text, 'UTF8')), 1, 8), 'hex'))::bit(64)::bigint)"
    f" {SITE_OF_TOKEN}"
)
_PG_APPLY = (
    "WITH first AS (SELECT request_sha256, status_code, response FROM idempotency_keys"
    " WHERE site_id = %s::uuid AND key = %s::text),"
    " batch_visits AS (INSERT INTO visits AS v (id, site_id, first_at)"
    " SELECT n.id, %s::uuid, n.first_at"
    " FROM jsonb_to_recordset(%s::jsonb) AS n(id uuid, first_at timestamptz)"
    f" WHERE NOT EXISTS (SELECT 1 FROM first) ORDER BY n.id{_VISITS_UPSERT}),"
    f" new_events AS (INSERT INTO events ({', '.join(_EVENT_COLUMNS)})"
    " SELECT e.id, %s::uuid, e.visit_id, e.type, e.at, e.data, e.digest, %s::timestamptz"
    " FROM jsonb_to_recordset(%s::jsonb) AS e(id uuid, visit_id uuid, type text,"
    " at timestamptz, data jsonb, digest text)"
    " WHERE NOT EXISTS (SELECT 1 FROM first)"
    " AND NOT EXISTS (SELECT 1 FROM batch_visits b WHERE b.site_id <> %s::uuid)"
    " ON CONFLICT (id) DO NOTHING RETURNING id)"
    " SELECT 'first', request_sha256, status_code, response FROM first"
    " UNION ALL SELECT 'foreign', b.id::text, NULL, NULL FROM batch_visits b"
    " WHERE b.site_id <> %s::uuid"
    " UNION ALL SELECT 'new', id::text, NULL, NULL FROM new_events"
)
_PG_PROJECT_AND_ANSWER = (
    f"WITH {appointments.PG_OUTCOMES_CTE},"
    f" projected AS ({_PROJECT_HEAD}"
    " SELECT p.id, %s::uuid, %s::timestamptz, p.partner, p.ticket, p.status, p.status_at"
    " FROM jsonb_to_recordset(%s::jsonb) AS p(id uuid, partner text, ticket text,"
    f" status text, status_at timestamptz) ORDER BY p.id{_PROJECT_TAIL})"
    " INSERT INTO idempotency_keys (site_id, key, request_sha256, status_code, response,"
    " created_at) VALUES (%s::uuid, %s::text, %s::text, %s::integer, %s::jsonb,"
    " %s::timestamptz)"
)

# The rows a site sees are two ranges of the index (region_id, site_id, seq): the
# region's own (site_id NULL) and the site's; an OR of the two would make both engines
# scan the region's range past the cursor, every other site's rows included.
_VISIBLE = (
    "SELECT kind, object_id, seq FROM changes WHERE region_id = {region} AND site_id IS NULL"
    " AND seq > %s UNION ALL SELECT kind, object_id, seq FROM changes"
    " WHERE region_id = {region} AND site_id = {site} AND seq > %s"
)
_PAGE = (
    "SELECT kind, object_id, max(seq) AS last FROM ({visible}) AS visible"
    " GROUP BY kind, object_id ORDER BY last LIMIT %s"
)
# Its parameters: region, cursor, region, site, cursor, limit.
_CHANGES = _PAGE.format(visible=_VISIBLE.format(region="%s", site="%s"))
# On PostgreSQL a pull is one statement (no transaction: a read under READ COMMITTED has
# its own snapshot anyway): the token's site, and its page of changes when it has one.
_PG_SITE_AND_CHANGES = (
    f"WITH me AS (SELECT {SITE_COLUMNS} {SITE_OF_TOKEN})"
    " SELECT me.*, page.kind, page.object_id, page.last FROM me LEFT JOIN LATERAL ("
    + _PAGE.format(visible=_VISIBLE.format(region="me.region_id", site="me.id"))
    + ") AS page ON true"
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
    # Python's JSON reader takes NaN and Infinity, which JSON has not, and reads a number
    # beyond a float's range (1e400) as infinity; PostgreSQL's jsonb takes none of them.
    # Refused here on both engines (the data is small: always walked).
    places = [
        f"events[{i}].{where}"
        for i, event in enumerate(batch.events)
        if event.data
        for where in _non_finite_places(event.data, "data")
    ]
    if places:
        raise HubError(
            422,
            "invalid_number",
            "numbers must be finite: NaN and Infinity are not JSON, and a float goes up to "
            "about 1.8e308",
            [f"{place}: not a finite number" for place in places],
        )
    return batch


def _non_finite_places(value: Any, where: str) -> list[str]:
    if isinstance(value, float):
        return [] if math.isfinite(value) else [where]
    places: list[str] = []
    if isinstance(value, dict):
        for key, item in value.items():
            places += _non_finite_places(item, f"{where}.{key}")
    elif isinstance(value, list):
        for index, item in enumerate(value):
            places += _non_finite_places(item, f"{where}[{index}]")
    return places


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
    """Apply one batch: (HTTP status, answer), on the engine (a worker thread)."""
    return run_sync(engine, push_work(token, key, body, limits, clock))


def push_work(
    token: str | None,
    key: str | None,
    body: bytes,
    limits: SyncLimits,
    clock: Clock = system_clock,
) -> Work[tuple[int, dict[str, Any]]]:
    """A push's work for a runner: the body is parsed and checked now (before any
    transaction, so SQLite's write lock is not held meanwhile)."""
    request_sha = hashlib.sha256(body).hexdigest()
    try:
        key = check_idempotency_key(key)
        batch = parse_batch(body, limits)
        check_events(batch, limits, clock())
    except HubError as exc:
        problem = exc
        # Refused input is answered only once the token is known good (strangers learn
        # nothing), from a read: SQLite's write lock is not taken for it.

        def refuse(_dialect: str) -> Steps[tuple[int, dict[str, Any]]]:
            yield from site_steps(token)
            raise problem

        return Work(refuse, write=False)
    known_key = key

    def apply(dialect: str) -> Steps[tuple[int, dict[str, Any]]]:
        return _push_steps(dialect, token, known_key, batch, request_sha, clock)

    return Work(apply, write=True)


def _lock_id(site_id: uuid.UUID, key: str) -> int:
    """The advisory lock a push holds for its key (PostgreSQL): what _PG_SITE_AND_LOCK
    computes, for tools and tests that take it themselves."""
    digest = hashlib.sha256(site_id.bytes + key.encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


def _push_steps(
    dialect: str,
    token: str | None,
    key: str,
    batch: PushBatch,
    request_sha: str,
    clock: Clock,
) -> Steps[tuple[int, dict[str, Any]]]:
    pg = dialect == "postgresql"
    if pg:
        digest = token_digest_of(token)
        found = yield Sql(_PG_SITE_AND_LOCK, (key, digest))
        site = site_of_row(found[0] if found else None, digest)
        # In flight: another transaction holds this key's lock. On SQLite the write lock
        # taken at BEGIN IMMEDIATE already made this request wait for it.
        if not found[0][7]:
            raise HubError(
                409,
                "in_flight",
                "a request with this Idempotency-Key is still being applied: retry shortly",
                headers={"Retry-After": "1"},
            )
    else:
        site = yield from site_steps(token)
    now = clock()
    try:
        rows, names, rows_json = _event_rows(site, batch, now)
    except HubError as exc:
        problem = exc  # a batch refused: unless the key's first answer says otherwise
        first = yield Sql(_FIRST_ANSWER, (site.id, key))
        if first:
            return _replay(first[0], request_sha)
        raise problem from None
    first_at: dict[uuid.UUID, datetime] = {}
    for row in rows:
        vid = row["visit_id"]
        first_at[vid] = min(first_at.get(vid, row["at"]), row["at"])
    if pg:
        new_visits = [{"id": str(vid), "first_at": at.isoformat()} for vid, at in first_at.items()]
        # One jsonb parameter: a 10-event VALUES list would bind 80 parameters.
        found = yield Sql(
            _PG_APPLY,
            (site.id, key, site.id, new_visits, site.id, now, rows_json, site.id, site.id),
        )
        for what, *first in found:
            if what == "first":
                return _replay(first, request_sha)
        others = {uuid.UUID(r[1]) for r in found if r[0] == "foreign"}
        # The new events' ids come back as text: matched as text (no UUID made nor hashed).
        inserted_text = {r[1] for r in found if r[0] == "new"}
        new = [row for row, sent in zip(rows, rows_json, strict=True)
               if sent["id"] in inserted_text]  # fmt: skip
    else:
        first = yield Sql(_FIRST_ANSWER, (site.id, key))
        if first:
            return _replay(first[0], request_sha)
        params = [v for vid in sorted(first_at) for v in (vid, site.id, first_at[vid])]
        found = yield Sql(_new_visits_sql(len(first_at)), params)
        others = {as_uuid(vid) for vid, owner in found if as_uuid(owner) != site.id}
        inserted = set()
        if not others:
            values = [row[name] for row in rows for name in _EVENT_COLUMNS]
            found = yield Sql(_new_events_sql(len(rows)), values)
            inserted = {as_uuid(r[0]) for r in found}
        new = [row for row in rows if row["id"] in inserted]
    if others:
        foreign = [
            f"events[{i}].visit_id: not a visit of this site"
            for i, event in enumerate(batch.events)
            if event.visit_id in others
        ]
        raise HubError(403, "foreign_visit", "a site may push only its own visits", foreign)

    if len(new) < len(rows):
        new_ids = {row["id"] for row in new}
        repeats = [row for row in rows if row["id"] not in new_ids]
        yield from _check_repeats(site, batch, repeats)
    answer = {
        "received": len(batch.events),
        "applied": len(new),
        "duplicates": len(batch.events) - len(new),
    }
    projected, cleared = _projection(new)
    if cleared:
        yield Sql(_CLEAR_TICKET, [(vid,) for vid in cleared], many=True)
    yield from _name_steps(site, new, names)
    if documents.withdrawn(new):
        # a scan taken back (consent withdrawn, pages changed, deleted): its bytes go now
        # (documents.py, on the engine's connection)
        yield SyncOnly(lambda conn: documents.on_new_events(conn, site, new))
    # Who came: seen or no-show (on PostgreSQL in the last statement, unless the batch
    # links an appointment).
    outcomes = appointments.outcomes(new) if pg else None
    if outcomes is None:
        outcomes = []
        yield from appointments.event_steps(site.id, new)
    saved = (site.id, key, request_sha, 200, answer, clock())
    if pg:
        yield Sql(
            _PG_PROJECT_AND_ANSWER,
            (now, outcomes, site.id, site.id, now, _projection_json(projected), *saved),
        )
    else:
        if projected:
            params = [v for vid, *rest in projected for v in (vid, site.id, now, *rest)]
            yield Sql(_project_sql(len(projected)), params)
        yield Sql(_SAVE_ANSWER, saved)
    return 200, answer


def _replay(first: Sequence[Any], request_sha: str) -> tuple[int, dict[str, Any]]:
    """The key's first answer again, for the same body; 422 for another."""
    first_sha, first_status, first_answer = first
    if first_sha != request_sha:
        raise HubError(
            422,
            "idempotency_key_reused",
            "this Idempotency-Key was used for another body: make a new key for a new batch",
        )
    # jsonb comes back parsed from psycopg and asyncpg, as text from SQLite.
    return first_status, (
        json.loads(first_answer) if isinstance(first_answer, str) else first_answer
    )


def _event_rows(
    site: SiteIdentity, batch: PushBatch, now: datetime
) -> tuple[list[dict[str, Any]], dict[uuid.UUID, tuple[str, datetime]], list[dict[str, Any]]]:
    """The batch's events as rows (one per id), the names they share by visit, and the
    rows as the jsonb records of the events' insert on PostgreSQL (`_PG_APPLY`)."""
    rows: list[dict[str, Any]] = []
    records: list[dict[str, Any]] = []
    names: dict[uuid.UUID, tuple[str, datetime]] = {}
    seen: dict[uuid.UUID, str] = {}
    for i, event in enumerate(batch.events):
        data = dict(event.data)
        if event.type == event_types.NAME_SHARED:
            # The name lives on the visit (erased tonight), never in the event log.
            names[event.visit_id] = (data.pop("name").strip(), event.at)
        at = event.at
        at_text = at.isoformat()
        visit_text = str(event.visit_id)
        # The digest's time is in UTC: the same text when the site sent UTC (the usual).
        utc_text = at_text if at.utcoffset() == _ZERO else at.astimezone(UTC).isoformat()
        digest = hashlib.sha256(
            _CANONICAL_JSON([visit_text, event.type, utc_text, data]).encode()
        ).hexdigest()
        if event.id in seen:
            if seen[event.id] != digest:
                raise _conflict([f"events[{i}].id: used twice in the batch with other content"])
            continue
        seen[event.id] = digest
        rows.append({
            "id": event.id,
            "site_id": site.id,
            "visit_id": event.visit_id,
            "type": event.type,
            "at": at,
            "data": data,
            "received_at": now,
            "digest": digest,
        })  # fmt: skip
        records.append({
            "id": str(event.id),
            "visit_id": visit_text,
            "type": event.type,
            "at": at_text,
            "data": data,
            "digest": digest,
        })  # fmt: skip
    return rows, names, records


def _projection_json(projected: list[tuple[Any, ...]]) -> list[dict[str, Any]]:
    return [
        {
            "id": str(vid),
            "partner": partner,
            "ticket": ticket,
            "status": status,
            "status_at": at.isoformat() if at else None,
        }
        for vid, partner, ticket, status, at in projected
    ]


# What json.dumps(value, sort_keys=True, separators=(",", ":")) makes, byte for byte (the
# digests are stored: they must never change), without a new encoder per call.
_CANONICAL_JSON = json.JSONEncoder(sort_keys=True, separators=(",", ":")).encode


_ZERO = timedelta(0)


def _conflict(problems: list[str]) -> HubError:
    return HubError(
        422, "event_conflict", "an event id was already used for another event", problems
    )


def _check_repeats(
    site: SiteIdentity, batch: PushBatch, repeats: list[dict[str, Any]]
) -> Steps[None]:
    """Events the hub already had: fine when they are this site's and the same event."""
    marks = ", ".join(["%s"] * len(repeats))
    found = yield Sql(
        f"SELECT id, site_id, digest FROM events WHERE id IN ({marks})",
        [r["id"] for r in repeats],
    )
    stored = {as_uuid(id_): (as_uuid(site_id), digest) for id_, site_id, digest in found}
    index = {event.id: i for i, event in enumerate(batch.events)}
    foreign, conflicts = [], []
    for row in repeats:
        have = stored.get(row["id"])
        where = f"events[{index[row['id']]}].id"
        if have is None:
            continue  # cannot happen: ON CONFLICT skipped it because it exists
        if have[0] != site.id:
            foreign.append(f"{where}: not an event of this site")
        elif have[1] != row["digest"]:
            conflicts.append(f"{where}: already received with other content")
    if foreign:
        raise HubError(403, "foreign_event", "a site may push only its own events", foreign)
    if conflicts:
        raise _conflict(conflicts)


def _projection(
    new: list[dict[str, Any]],
) -> tuple[list[tuple[Any, ...]], list[uuid.UUID]]:
    """Each visit's (id, partner, ticket, status, status_at) from its new events, in the
    ids' order, and the visits whose ticket a check-in cleared. Events may come out of
    order: the status is that of the latest event by its time, and an older one never
    overwrites it (the statement compares with the stored status's time)."""
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
    cleared = [vid for vid, ticket in tickets.items() if ticket == (None, None)]
    projected = []
    for vid in sorted(tickets.keys() | latest.keys()):
        partner, ticket = tickets.get(vid, (None, None))
        at, status = latest.get(vid, (None, None))
        projected.append((vid, partner, ticket, status, at))
    return projected, cleared


def _name_steps(
    site: SiteIdentity,
    new: list[dict[str, Any]],
    names: dict[uuid.UUID, tuple[str, datetime]],
) -> Steps[None]:
    """A shared name kept on its visit until the end of the visit's local day."""
    stored_ids = {row["visit_id"] for row in new if row["type"] == event_types.NAME_SHARED}
    zone = ZoneInfo(site.timezone)
    for visit_id, (name, at) in names.items():
        if visit_id not in stored_ids:
            continue  # a repeat of a name already received (or erased since): left as is
        local_day = at.astimezone(zone).date()
        erase_at = datetime.combine(local_day + timedelta(days=1), time(0), zone)
        if erase_at <= new[0]["received_at"]:
            continue  # its day is over (the site was offline): the name is not kept at all
        yield Sql(_NAME, (name, erase_at, visit_id))


_STATUS_VALUE_AFTER = {kind: status.value for kind, status in STATUS_AFTER.items()}
_STATUS_VALUES = frozenset(status.value for status in Status)


def _status_after(kind: str, data: dict[str, Any]) -> str | None:
    status = _STATUS_VALUE_AFTER.get(kind)
    if status is None:
        return None
    to = data.get("to")
    return to if isinstance(to, str) and to in _STATUS_VALUES else status


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
    return run_sync(engine, pull_work(token, cursor, limit, clock))


def pull_work(
    token: str | None, cursor: str | None, limit: int, clock: Clock = system_clock
) -> Work[dict[str, Any]]:
    """A pull's work for a runner (reads only)."""

    def steps(dialect: str) -> Steps[dict[str, Any]]:
        return _pull_steps(dialect, token, cursor, limit, clock)

    return Work(steps, write=False)


def _pull_steps(
    dialect: str, token: str | None, cursor: str | None, limit: int, clock: Clock
) -> Steps[dict[str, Any]]:
    try:
        after = decode_cursor(cursor)
    except HubError as exc:
        problem = exc
        yield from site_steps(token)  # a stranger learns nothing of the cursor
        raise problem from None
    if dialect == "postgresql":
        digest = token_digest_of(token)
        found = yield Sql(_PG_SITE_AND_CHANGES, (digest, after, after, limit + 1))
        site = site_of_row(found[0] if found else None, digest)
        rows = [(r[7], as_uuid(r[8]), r[9]) for r in found if r[7] is not None]
    else:
        site = yield from site_steps(token)
        params = (site.region_id, after, site.region_id, site.id, after, limit + 1)
        found = yield Sql(_CHANGES, params)
        rows = [(kind, as_uuid(object_id), last) for kind, object_id, last in found]
    more = len(rows) > limit
    rows = rows[:limit]
    items: list[dict[str, Any]] = []
    if rows:
        # The page's objects, read through their modules (on the engine's connection).
        page = rows
        items = yield SyncOnly(lambda conn: _items(conn, site, page))
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
    return run_sync(engine, site_info_work(token, clock))


def site_info_work(token: str | None, clock: Clock = system_clock) -> Work[dict[str, Any]]:
    """`GET /site`'s work for a runner: the token's site, and the hub's clock."""

    def steps(_dialect: str) -> Steps[dict[str, Any]]:
        site = yield from site_steps(token)
        return {
            "id": site.slug,
            "name": site.name,
            "region": site.region_slug,
            "timezone": site.timezone,
            "server_time": clock().isoformat(),
        }

    return Work(steps, write=False)


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
