"""Appointments: a visitor expected at a site, for a partner, at a time.

The one writer of the `appointments` table: `upsert` and `cancel` change an appointment
and append its change (kind "appointment", scoped to its site) to the change log in the
same transaction, so the site's next pull brings it. `pvp-hub admin appointment` calls
them today (regions without a booking tool, and tests); a booking tool's webhook (RDV
Service Public) will upsert by (source, external_id) through the same function.

Only what the site needs is kept: the partner, the time, the name to call the visitor
by, an optional phone to warn them, an optional visio room. The name and phone are
erased at the end of the appointment's local day in the site's time zone (`purge`),
as the hub erases the names of visits. No name, phone or room is ever logged.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Connection, Engine, bindparam, select, update

from pvp_common.rooms import RoomRefused, judge_room_url
from pvp_tui.core.frontdesk import NAME_MAX, PHONE_RE

from .database import as_uuid, read_transaction, run_on_driver, write_transaction
from .directory import record_change, refused, region_id_of, site_id_of
from .errors import HubError
from .schema import appointments, partners, sites
from .steps import Sql, Steps

STATUSES = ("planned", "cancelled", "seen", "noshow")
OUTCOMES = frozenset({"seen", "noshow"})  # what a site's visit makes of an appointment
SOURCES = ("admin", "rdv-sp")
KIND = "appointment"  # the change log's kind, and the pull feed's

Clock = Callable[[], datetime]


def _now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class AppointmentInput:
    """What an appointment is made of, as the admin command or a booking tool gives it.
    `starts_at` (and `ends_at`) with their zone; a naive time is the site's local time."""

    site: str
    partner: str
    starts_at: datetime
    name: str
    ends_at: datetime | None = None
    phone: str | None = None
    room_url: str | None = None
    status: str = "planned"
    source: str = "admin"
    external_id: str | None = None


def erase_at(starts_at: datetime, timezone: str) -> datetime:
    """The end of the appointment's local day at its site: when its name is erased."""
    zone = ZoneInfo(timezone)
    day = starts_at.astimezone(zone).date()
    return datetime.combine(day + timedelta(days=1), time(0), zone)


def problems_of(item: AppointmentInput) -> list[str]:
    """Every mistake, one line each, naming the field (no name or phone repeated)."""
    problems: list[str] = []
    name = item.name.strip()
    if not name or len(name) > NAME_MAX or any(not c.isprintable() for c in name):
        problems.append(f"name: a name to call the visitor by, 1 to {NAME_MAX} characters")
    if item.phone is not None and not PHONE_RE.match(item.phone.strip()):
        problems.append("phone: digits such as 06 12 34 56 78 or +33 6 12 34 56 78")
    if item.room_url is not None:
        try:
            judge_room_url(item.room_url)
        except RoomRefused:
            problems.append("room_url: must be an https:// address of a visio room")
    if item.status not in STATUSES:
        problems.append(f"status: one of {', '.join(STATUSES)} (got {item.status[:20]!r})")
    if item.source not in SOURCES:
        problems.append(f"source: one of {', '.join(SOURCES)} (got {item.source[:20]!r})")
    if item.external_id is not None and not 1 <= len(item.external_id) <= 100:
        problems.append("external_id: 1 to 100 characters")
    if item.ends_at is not None and item.ends_at <= item.starts_at:
        problems.append("ends_at: must be after starts_at")
    for label, value in (("name", item.name), ("phone", item.phone or "")):
        if "\x00" in value:
            problems.append(f"{label}: no NUL character")
    return problems


def _aware(moment: datetime, timezone: str) -> datetime:
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=ZoneInfo(timezone))


def upsert(
    engine: Engine,
    region: str | None,
    item: AppointmentInput,
    appointment_id: uuid.UUID | None = None,
    clock: Clock = _now,
) -> tuple[uuid.UUID, str]:
    """Create the appointment, or update it (by `appointment_id`, else by its source's
    own `external_id`); returns its id and "added" / "updated". One transaction with
    its change, so the site's pull sees it once committed."""
    problems = problems_of(item)
    if problems:
        raise HubError(400, "invalid_appointment", "the appointment is not valid", problems)
    with write_transaction(engine) as conn:
        return upsert_in(conn, region_id_of(conn, region), item, appointment_id, clock())


# upsert_in's statements, built once and run on the driver's cursor (a booking tool's
# burst of deliveries goes through here: database.run_on_driver).
_SITE = select(sites.c.id, sites.c.timezone).where(
    sites.c.region_id == bindparam("region"), sites.c.slug == bindparam("slug")
)
_PARTNER = select(partners.c.id).where(
    partners.c.region_id == bindparam("region"),
    partners.c.slug == bindparam("slug"),
    partners.c.removed_at.is_(None),  # a partner removed from the region takes none
)
_BY_EXTERNAL = select(appointments.c.id, appointments.c.site_id, appointments.c.status).where(
    appointments.c.region_id == bindparam("region"),
    appointments.c.source == bindparam("source"),
    appointments.c.external_id == bindparam("external"),
)
_ROW = ("site_id", "partner_id", "starts_at", "ends_at", "visitor_name", "phone",
        "name_erase_at", "room_url", "status", "source", "external_id", "updated_at")  # fmt: skip
_INSERT = appointments.insert().values(
    id=bindparam("id"),
    region_id=bindparam("region"),
    created_at=bindparam("updated_at"),
    **{name: bindparam(name) for name in _ROW},
)
_UPDATE = (
    update(appointments)
    .where(appointments.c.id == bindparam("id"))
    .values(**{name: bindparam(name) for name in _ROW})
)


def _one(conn: Connection, statement: Any, params: dict[str, Any]) -> Any:
    cursor = run_on_driver(conn, statement, params)
    try:
        return cursor.fetchone() if cursor.description else None
    finally:
        cursor.close()


def upsert_in(
    conn: Connection,
    region_id: uuid.UUID,
    item: AppointmentInput,
    appointment_id: uuid.UUID | None,
    now: datetime,
    lookups: dict[tuple[Any, ...], Any] | None = None,
) -> tuple[uuid.UUID, str]:
    """`upsert` inside the caller's write transaction (a booking tool's intake checks
    and records its own state in the same one). `item` must have passed `problems_of`.
    `lookups`: the sites and partners already read in this transaction (a batch)."""

    def lookup(kind: str, statement: Any, slug: str) -> Any:
        if lookups is None:
            return _one(conn, statement, {"region": region_id, "slug": slug})
        key = (kind, region_id, slug)
        if key not in lookups:
            lookups[key] = _one(conn, statement, {"region": region_id, "slug": slug})
        return lookups[key]

    found = lookup("site", _SITE, item.site)
    if found is None:
        site_id_of(conn, region_id, item.site)  # raises: unknown site, in its words
        raise AssertionError("unreachable")
    site_id, timezone = as_uuid(found[0]), found[1]
    partner = lookup("partner", _PARTNER, item.partner)
    if partner is None:
        raise HubError(404, "unknown_partner", f"unknown partner {item.partner!r}")
    starts_at = _aware(item.starts_at, timezone)
    ends_at = _aware(item.ends_at, timezone) if item.ends_at is not None else None
    if appointment_id is not None or item.external_id is None:
        existing = _existing(conn, region_id, item, appointment_id)
    else:
        hit = _one(
            conn,
            _BY_EXTERNAL,
            {"region": region_id, "source": item.source, "external": item.external_id},
        )
        existing = None if hit is None else (as_uuid(hit[0]), as_uuid(hit[1]))
        if hit is not None and hit[2] in OUTCOMES and item.status == "planned":
            # The site's outcome (seen, no-show) stays: the booking tool's "to come"
            # only means nobody updated it there.
            item = replace(item, status=hit[2])
    erase = erase_at(starts_at, timezone)
    keep_name = erase > now  # a day already over: the name is not kept at all
    row: dict[str, Any] = {
        "site_id": site_id,
        "partner_id": as_uuid(partner[0]),
        "starts_at": starts_at,
        "ends_at": ends_at,
        "visitor_name": item.name.strip() if keep_name else None,
        "phone": (item.phone.strip() if item.phone else None) if keep_name else None,
        "name_erase_at": erase if keep_name else None,
        "room_url": item.room_url,
        "status": item.status,
        "source": item.source,
        "external_id": item.external_id,
        "updated_at": now,
    }
    if existing is None:
        appointment_id = uuid.uuid4()
        _one(conn, _INSERT, {"id": appointment_id, "region": region_id, **row})
        what = "added"
    else:
        appointment_id, old_site = existing
        _one(conn, _UPDATE, {"id": appointment_id, **row})
        if old_site != site_id:  # moved to another site: the old one drops it
            record_change(conn, region_id, KIND, appointment_id, site_id=old_site)
        what = "updated"
    record_change(conn, region_id, KIND, appointment_id, site_id=site_id)
    return appointment_id, what


def _existing(
    conn: Connection, region_id: uuid.UUID, item: AppointmentInput, wanted: uuid.UUID | None
) -> tuple[uuid.UUID, uuid.UUID] | None:
    query = select(appointments.c.id, appointments.c.site_id).where(
        appointments.c.region_id == region_id
    )
    if wanted is not None:
        found = conn.execute(query.where(appointments.c.id == wanted)).first()
        if found is None:
            raise HubError(404, "unknown_appointment", f"no appointment {wanted} in this region")
        return found[0], found[1]
    if item.external_id is None:
        return None
    found = conn.execute(
        query.where(
            appointments.c.source == item.source, appointments.c.external_id == item.external_id
        )
    ).first()
    return None if found is None else (found[0], found[1])


def cancel(engine: Engine, region: str | None, appointment_id: str, clock: Clock = _now) -> str:
    """Cancel an appointment (it leaves the site's list at its next pull); its partner
    and time, as words for the admin (no name)."""
    wanted = _uuid(appointment_id)
    with write_transaction(engine) as conn:
        region_id = region_id_of(conn, region)
        found = conn.execute(
            select(appointments.c.site_id, appointments.c.status, appointments.c.starts_at).where(
                appointments.c.id == wanted, appointments.c.region_id == region_id
            )
        ).first()
        if found is None:
            raise HubError(
                404, "unknown_appointment", f"no appointment {appointment_id} in this region"
            )
        if found.status == "cancelled":
            raise refused(f"appointment {appointment_id} is already cancelled", "already_cancelled")
        conn.execute(
            update(appointments)
            .where(appointments.c.id == wanted)
            .values(status="cancelled", updated_at=clock())
        )
        record_change(conn, region_id, KIND, wanted, site_id=found.site_id)
    return f"appointment {appointment_id} cancelled"


def _uuid(text: str) -> uuid.UUID:
    try:
        return uuid.UUID(text)
    except ValueError:
        raise HubError(404, "unknown_appointment", f"no appointment {text!r}") from None


def list_appointments(
    engine: Engine, region: str | None, site: str | None = None, day: date | None = None
) -> list[dict[str, Any]]:
    """The region's appointments (a site's, a local day's), soonest first."""
    with read_transaction(engine) as conn:
        region_id = region_id_of(conn, region)
        query = (
            select(
                appointments.c.id,
                sites.c.slug.label("site"),
                sites.c.timezone,
                partners.c.slug.label("partner"),
                appointments.c.starts_at,
                appointments.c.ends_at,
                appointments.c.visitor_name.label("name"),
                appointments.c.status,
                appointments.c.source,
            )
            .join(sites, sites.c.id == appointments.c.site_id)
            .join(partners, partners.c.id == appointments.c.partner_id)
            .where(appointments.c.region_id == region_id)
            .order_by(appointments.c.starts_at, appointments.c.id)
        )
        if site is not None:
            query = query.where(appointments.c.site_id == site_id_of(conn, region_id, site))
        if day is not None:  # a local day is within these UTC bounds in any time zone
            start = datetime.combine(day - timedelta(days=1), time(0), UTC)
            query = query.where(
                appointments.c.starts_at >= start,
                appointments.c.starts_at < start + timedelta(days=3),
            )
        rows = [dict(r) for r in conn.execute(query).mappings()]
    result = []
    for row in rows:
        zone = ZoneInfo(row.pop("timezone"))
        local = row["starts_at"].astimezone(zone)
        if day is not None and local.date() != day:
            continue
        row["starts_at"] = local.isoformat()
        row["ends_at"] = row["ends_at"].astimezone(zone).isoformat() if row["ends_at"] else None
        row["id"] = str(row["id"])
        result.append(row)
    return result


def feed_items(
    conn: Connection, site_id: uuid.UUID, wanted: set[uuid.UUID]
) -> dict[uuid.UUID, dict[str, Any]]:
    """The pull feed's data of the site's appointments among `wanted`, by id."""
    rows = conn.execute(
        select(
            appointments.c.id,
            partners.c.slug.label("partner"),
            appointments.c.starts_at,
            appointments.c.ends_at,
            appointments.c.visitor_name,
            appointments.c.phone,
            appointments.c.room_url,
            appointments.c.status,
            appointments.c.source,
            appointments.c.updated_at,
        )
        .join(partners, partners.c.id == appointments.c.partner_id)
        .where(appointments.c.site_id == site_id, appointments.c.id.in_(wanted))
    )
    return {
        row.id: {
            "partner": row.partner,
            "starts_at": row.starts_at.isoformat(),
            "ends_at": row.ends_at.isoformat() if row.ends_at else None,
            "name": row.visitor_name,
            "phone": row.phone,
            "room_url": row.room_url,
            "status": row.status,
            "source": row.source,
            "updated_at": row.updated_at.isoformat(),
        }
        for row in rows
    }


def purge(engine: Engine, clock: Clock = _now) -> dict[str, int]:
    """Erase the names and phones of appointments whose day is over."""
    now = clock()
    with write_transaction(engine) as conn:
        erased = conn.execute(
            update(appointments)
            .where(appointments.c.name_erase_at.is_not(None), appointments.c.name_erase_at <= now)
            .values(visitor_name=None, phone=None, name_erase_at=None)
        ).rowcount
    return {"appointment_names_erased": erased}


# -- the site's visits, back on their appointments -------------------------------------------
# Statements for the push's runner (steps.py), in `%s` placeholders.
_LINK = "UPDATE appointments SET visit_id = %s WHERE id = %s AND site_id = %s"
_OUTCOME = (
    "UPDATE appointments SET status = %s, updated_at = %s"
    " WHERE visit_id = %s AND site_id = %s AND status <> %s"
)
# The visit's outcome, as the appointment's status (None: the appointment stays planned).
_OUTCOME_OF = {"finished": "seen", "no_show": "noshow", "back_to_waiting": "planned"}


# On PostgreSQL the outcomes of a batch that links no appointment go as one data-modifying
# CTE of the push's last statement (sync._PG_PROJECT_AND_ANSWER): no round trip of their
# own. Its parameters: the time, the outcomes as jsonb (`outcomes`), the site.
PG_OUTCOMES_CTE = (
    "outcomes AS (UPDATE appointments AS a SET status = o.status, updated_at = %s::timestamptz"
    " FROM jsonb_to_recordset(%s::jsonb) AS o(visit_id uuid, status text)"
    " WHERE a.visit_id = o.visit_id AND a.site_id = %s::uuid AND a.status <> 'cancelled')"
)


def outcomes(rows: list[dict[str, Any]]) -> list[dict[str, str]] | None:
    """What `event_steps` would do to the appointments, as one set of rows for
    PG_OUTCOMES_CTE: each visit's last outcome by the events' time (the statements ran in
    that order, so the last one stayed). None when the batch links an appointment: a link
    must be in place before the outcomes' statement looks for it (`event_steps` then)."""
    last: dict[str, str] = {}
    for row in sorted(rows, key=lambda r: r["at"]):
        kind = row["type"]
        if kind == "checked_in" and isinstance(row["data"].get("appointment"), str):
            return None
        if kind in _OUTCOME_OF:
            last[str(row["visit_id"])] = _OUTCOME_OF[kind]
    return [{"visit_id": visit, "status": status} for visit, status in last.items()]


def event_steps(site_id: uuid.UUID, rows: list[dict[str, Any]]) -> Steps[None]:
    """A site's new events, in the push's transaction: a check-in that names one of the
    site's appointments links the visit to it; the visit's outcome becomes the
    appointment's status (finished: seen; no-show: noshow; a no-show undone: planned), so
    the region sees who came. Another site's appointment id is ignored."""
    for row in sorted(rows, key=lambda r: r["at"]):
        kind, data = row["type"], row["data"]
        if kind == "checked_in" and isinstance(data.get("appointment"), str):
            try:
                appointment = uuid.UUID(data["appointment"])
            except ValueError:
                continue
            yield Sql(_LINK, (row["visit_id"], appointment, site_id))
        elif kind in _OUTCOME_OF:
            status = _OUTCOME_OF[kind]
            yield Sql(_OUTCOME, (status, row["received_at"], row["visit_id"], site_id, "cancelled"))
