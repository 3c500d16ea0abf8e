"""RDV Service Public's appointments into the hub: the webhook's deliveries and the API
catch-up both end in `apply`, which keeps each appointment's latest state only.

- **Who may deliver.** Each connected organisation has its own endpoint (a random id in
  the URL) and its own secret. A delivery whose endpoint is unknown or whose signature
  does not match the raw body is refused, and nothing of it is read or stored.
- **Latest state only.** Deliveries repeat (20 tries over about 8 days) and arrive out of
  order. `rdv_sp_states` keeps, per appointment, the time of the state applied
  (`meta.timestamp` for a delivery, the listing's time for the catch-up) and a digest of
  its facts: an older delivery changes nothing, a repeat changes nothing, and only a
  real change reaches the site (one change in the pull feed).
- **Mapped, or kept aside.** The organisation's mapping gives the site (from the place)
  and the partner (from the motive, else the service). An appointment that maps to no
  site or partner is kept aside in `rdv_sp_states` without any name, and counted on the
  region's view; if it was at a site before, the site's copy is cancelled.
- **Only what the site needs** reaches `pvp_hub.appointments.upsert_in`: time, partner,
  the name to call the visitor by, a phone, the visio room. A phone or a room the hub's
  rules refuse is left out rather than the appointment refused.

No web framework in here. The webhook's deliveries come through `inbox` (verified, read,
one row each, applied in batches by `apply_in`); `pvp_hub/api.py` has the route,
`pvp_hub/cli.py` the commands.
"""

from __future__ import annotations

import hashlib
import json
import logging
import threading
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, time, timedelta
from time import monotonic
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Connection, Engine, bindparam, func, insert, or_, select, text, update

from .. import appointments
from ..database import as_uuid, is_postgresql, read_transaction, run_on_driver, write_transaction
from ..directory import record_change
from ..schema import appointments as appointments_table
from ..schema import partners, rdv_sp_endpoints, rdv_sp_states, regions, sites
from .api import ApiError, RdvSpApi
from .mapping import OrganisationMap
from .payload import Appointment, PayloadError

log = logging.getLogger(__name__)

SOURCE = "rdv-sp"
# RDV Service Public's own time zone: a date given to its API is a day in Paris.
SENDER_ZONE = ZoneInfo("Europe/Paris")
# The scheduled catch-up: how often, and which days (yesterday to DAYS_AHEAD from today).
CATCH_UP_EVERY = timedelta(hours=1)
DAYS_AHEAD = 14
# How often each endpoint's last delivery time is written (not at every delivery).
DELIVERY_STAMP_SECONDS = 60
_STATUS = {"unknown": "planned", "seen": "seen", "noshow": "noshow"}
_LOCK = text("SELECT pg_advisory_xact_lock(:lock)")

Clock = Callable[[], datetime]


def _now() -> datetime:
    return datetime.now(UTC)


class Unauthorized(Exception):
    """No such endpoint, or a signature that does not match: nothing was read."""


@dataclass(frozen=True)
class Endpoint:
    id: uuid.UUID
    region_id: uuid.UUID
    organisation_id: int
    label: str
    secret: str
    mapping: OrganisationMap
    api_url: str | None
    api_email: str | None
    api_password: str | None

    @property
    def can_catch_up(self) -> bool:
        return bool(self.api_url and self.api_email and self.api_password)


def mapping_of(document: dict[str, Any], organisation_id: int) -> OrganisationMap:
    def ids(name: str) -> dict[int, str]:
        return {int(k): str(v) for k, v in (document.get(name) or {}).items()}

    return OrganisationMap(organisation_id, ids("lieux"), ids("motifs"), ids("services"))


def mapping_document(mapping: OrganisationMap) -> dict[str, Any]:
    return {
        name: {str(k): v for k, v in sorted(getattr(mapping, name).items())}
        for name in ("lieux", "motifs", "services")
    }


def _endpoint(row: Any) -> Endpoint:
    return Endpoint(
        id=row.id,
        region_id=row.region_id,
        organisation_id=row.organisation_id,
        label=row.label,
        secret=row.secret,
        mapping=mapping_of(row.mapping, row.organisation_id),
        api_url=row.api_url,
        api_email=row.api_email,
        api_password=row.api_password,
    )


def find_endpoint(engine: Engine, endpoint_id: uuid.UUID) -> Endpoint | None:
    with read_transaction(engine) as conn:
        row = conn.execute(
            select(rdv_sp_endpoints).where(rdv_sp_endpoints.c.id == endpoint_id)
        ).first()
    return None if row is None else _endpoint(row)


# Deliveries come in bursts: each process keeps an endpoint (secret, mapping) this long,
# so a change (`rdv-sp map`, `remove`) reaches running hubs within that time.
ENDPOINT_CACHE_SECONDS = 30.0
_CACHE: dict[uuid.UUID, tuple[float, Endpoint | None]] = {}
_CACHE_LOCK = threading.Lock()


def cached_endpoint(engine: Engine, endpoint_id: uuid.UUID) -> Endpoint | None:
    now = monotonic()
    with _CACHE_LOCK:
        found = _CACHE.get(endpoint_id)
    if found is not None and found[0] > now:
        return found[1]
    endpoint = find_endpoint(engine, endpoint_id)
    with _CACHE_LOCK:
        if len(_CACHE) > 1000:  # guessed ids must not grow it without end
            _CACHE.clear()
        _CACHE[endpoint_id] = (now + ENDPOINT_CACHE_SECONDS, endpoint)
    return endpoint


def forget_endpoints(endpoint_id: uuid.UUID | None = None) -> None:
    """Drop this process's cached endpoints (after a change made in this process), or
    the one found gone (removed by another process within ENDPOINT_CACHE_SECONDS)."""
    with _CACHE_LOCK:
        if endpoint_id is None:
            _CACHE.clear()
        else:
            _CACHE.pop(endpoint_id, None)


def endpoints(engine: Engine, organisation_id: int | None = None) -> list[Endpoint]:
    query = select(rdv_sp_endpoints).order_by(rdv_sp_endpoints.c.organisation_id)
    if organisation_id is not None:
        query = query.where(rdv_sp_endpoints.c.organisation_id == organisation_id)
    with read_transaction(engine) as conn:
        return [_endpoint(row) for row in conn.execute(query)]


# -- one appointment's state -----------------------------------------------------------------


def _digest(facts: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(facts, sort_keys=True, default=str).encode()).hexdigest()


def lock_id(endpoint_id: uuid.UUID, rdv_id: int) -> int:
    digest = hashlib.sha256(endpoint_id.bytes + rdv_id.to_bytes(8, "big", signed=True)).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


def _input(site: str, partner: str, appointment: Appointment, status: str) -> Any:
    """The appointment as the hub's rules take it; a phone or a room they refuse is left
    out (the visitor still has their appointment)."""
    item = appointments.AppointmentInput(
        site=site,
        partner=partner,
        starts_at=appointment.starts_at,
        ends_at=appointment.ends_at
        if appointment.ends_at and appointment.ends_at > appointment.starts_at
        else None,
        # A group session, or no participant left: no name to call; the sender's number.
        name=appointment.name or f"RDV {appointment.rdv_id}",
        phone=appointment.phone,
        room_url=appointment.room_url,
        status=status,
        source=SOURCE,
        external_id=f"{appointment.organisation_id}/{appointment.rdv_id}",
    )
    problems = appointments.problems_of(item)
    fixes: dict[str, Any] = {}
    if any(p.startswith("phone:") for p in problems):
        fixes["phone"] = None
    if any(p.startswith("room_url:") for p in problems):
        fixes["room_url"] = None
    if any(p.startswith("name:") for p in problems):
        fixes["name"] = f"RDV {appointment.rdv_id}"
    if fixes:
        item = replace(item, **fixes)
        problems = appointments.problems_of(item)
    if problems:
        raise PayloadError([f"rdv {appointment.rdv_id}: {p}" for p in problems])
    return item


def micros(moment: datetime) -> int:
    """A state's version: its time as whole microseconds since 1970 (an integer compares
    the same on both engines)."""
    delta = moment.astimezone(UTC) - EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
# The hot statements, built once and run on the driver's cursor (database.run_on_driver).
_STATE = select(
    rdv_sp_states.c.version_us, rdv_sp_states.c.digest, rdv_sp_states.c.appointment_id
).where(rdv_sp_states.c.endpoint_id == bindparam("e"), rdv_sp_states.c.rdv_id == bindparam("r"))
_STATE_NEW = insert(rdv_sp_states).values(
    endpoint_id=bindparam("e"),
    rdv_id=bindparam("r"),
    version_us=bindparam("v"),
    digest=bindparam("d"),
    appointment_id=bindparam("a"),
    aside=bindparam("aside"),
    starts_at=bindparam("starts"),
    status=bindparam("status"),
)
_STATE_SET = (
    update(rdv_sp_states)
    .where(rdv_sp_states.c.endpoint_id == bindparam("e"), rdv_sp_states.c.rdv_id == bindparam("r"))
    .values(
        version_us=bindparam("v"),
        digest=bindparam("d"),
        appointment_id=bindparam("a"),
        aside=bindparam("aside"),
        starts_at=bindparam("starts"),
        status=bindparam("status"),
    )
)
_STATE_SEEN = (
    update(rdv_sp_states)
    .where(rdv_sp_states.c.endpoint_id == bindparam("e"), rdv_sp_states.c.rdv_id == bindparam("r"))
    .values(version_us=bindparam("v"))
)
_STAMP = (
    update(rdv_sp_endpoints)
    .where(
        rdv_sp_endpoints.c.id == bindparam("e"),
        or_(
            rdv_sp_endpoints.c.last_delivery_at.is_(None),
            rdv_sp_endpoints.c.last_delivery_at < bindparam("before"),
        ),
    )
    .values(last_delivery_at=bindparam("now"))
)


def _run(conn: Connection, statement: Any, params: dict[str, Any]) -> Any:
    cursor = run_on_driver(conn, statement, params)
    try:
        return cursor.fetchone() if cursor.description else None
    finally:
        cursor.close()


def apply(
    engine: Engine,
    endpoint: Endpoint,
    appointment: Appointment,
    version: datetime,
    *,
    destroyed: bool = False,
    clock: Clock = _now,
) -> str:
    """Apply one state of an appointment in its own transaction (the catch-up's way; the
    webhook's deliveries go through `inbox`, in batches): see `apply_in`."""
    with write_transaction(engine) as conn:
        if is_postgresql(conn):  # two states of one appointment: one after the other
            _run(conn, _LOCK, {"lock": lock_id(endpoint.id, appointment.rdv_id)})
        return apply_in(conn, endpoint, appointment, micros(version), destroyed, clock())


@dataclass
class Batch:
    """What a batch of states applied in one transaction reads once: the states of its
    appointments (read together beforehand: `read_states`; kept up to date as each is
    applied) and the sites and partners."""

    states: dict[tuple[uuid.UUID, int], Any] | None = None
    lookups: dict[tuple[Any, ...], Any] | None = None


_STATES = (
    "SELECT rdv_id, version_us, digest, appointment_id FROM rdv_sp_states"
    " WHERE endpoint_id = %s AND rdv_id = ANY(%s)"
)


def read_states(conn: Connection, wanted: dict[uuid.UUID, set[int]]) -> dict[Any, Any]:
    """The states of these appointments (by endpoint), in one statement per endpoint
    (PostgreSQL: an array parameter); a missing one is None."""
    states: dict[tuple[uuid.UUID, int], Any] = {}
    cursor = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
    try:
        for endpoint_id, rdv_ids in wanted.items():
            states.update(((endpoint_id, r), None) for r in rdv_ids)
            cursor.execute(_STATES, (endpoint_id, sorted(rdv_ids)))
            for rdv_id, version_us, digest, appointment_id in cursor.fetchall():
                states[(endpoint_id, rdv_id)] = (version_us, digest, appointment_id)
    finally:
        cursor.close()
    return states


def apply_in(
    conn: Connection,
    endpoint: Endpoint,
    appointment: Appointment,
    version_us: int,
    destroyed: bool,
    now: datetime,
    batch: Batch | None = None,
) -> str:
    """Apply one state of an appointment in the caller's write transaction, which holds
    the appointment's lock on PostgreSQL (`lock_id`); what happened, in one word: added,
    updated, cancelled, aside, unchanged (a repeat) or older (a late delivery). The one
    place where the latest-state rule lives."""
    site = endpoint.mapping.site_for(appointment)
    partner = endpoint.mapping.partner_for(appointment)
    status = "cancelled" if destroyed or appointment.cancelled else _STATUS[appointment.status]
    aside = "no_site" if site is None else "no_partner" if partner is None else None
    facts = {
        "site": site,
        "partner": partner,
        "status": status,
        "starts_at": appointment.starts_at.astimezone(UTC).isoformat(),
        "ends_at": appointment.ends_at.astimezone(UTC).isoformat() if appointment.ends_at else None,
        "name": appointment.name,
        "phone": appointment.phone,
        "room": appointment.room_url,
    }
    digest = _digest(facts)
    item = None if aside else _input(site or "", partner or "", appointment, status)
    key = {"e": endpoint.id, "r": appointment.rdv_id}
    known = batch.states if batch is not None else None
    state = _run(conn, _STATE, key) if known is None else known[(endpoint.id, appointment.rdv_id)]
    if state is not None and version_us < state[0]:
        return "older"
    if state is not None and state[1] == digest:
        _run(conn, _STATE_SEEN, {**key, "v": max(version_us, state[0])})
        if known is not None:
            known[(endpoint.id, appointment.rdv_id)] = (max(version_us, state[0]), *state[1:])
        return "unchanged"
    appointment_id = as_uuid(state[2]) if state is not None and state[2] else None
    if item is None:
        if appointment_id is not None:  # it was at a site: that site drops it
            _cancel(conn, endpoint.region_id, appointment_id, now)
        outcome = "aside"
    elif appointment_id is None and status == "cancelled":
        outcome = "cancelled"  # never at a site: nothing to take back
    else:
        lookups = batch.lookups if batch is not None else None
        appointment_id, what = appointments.upsert_in(
            conn, endpoint.region_id, item, None, now, lookups
        )
        outcome = "cancelled" if status == "cancelled" else what
    values = {
        **key,
        "v": version_us,
        "d": digest,
        "a": appointment_id,
        "aside": aside,
        "starts": appointment.starts_at,
        "status": status,
    }
    _run(conn, _STATE_NEW if state is None else _STATE_SET, values)
    if known is not None:
        known[(endpoint.id, appointment.rdv_id)] = (version_us, digest, appointment_id)
    return outcome


def stamp_delivery(conn: Connection, endpoint_id: uuid.UUID, now: datetime) -> None:
    """Note the endpoint's last delivery (written at most once a minute)."""
    before = now - timedelta(seconds=DELIVERY_STAMP_SECONDS)
    _run(conn, _STAMP, {"e": endpoint_id, "before": before, "now": now})


def _cancel(
    conn: Connection, region_id: uuid.UUID, appointment_id: uuid.UUID, now: datetime
) -> None:
    site_id = conn.execute(
        select(appointments_table.c.site_id).where(appointments_table.c.id == appointment_id)
    ).scalar()
    if site_id is None:
        return
    conn.execute(
        update(appointments_table)
        .where(appointments_table.c.id == appointment_id)
        .values(status="cancelled", updated_at=now)
    )
    record_change(conn, region_id, appointments.KIND, appointment_id, site_id=site_id)


# -- the catch-up ----------------------------------------------------------------------------


@dataclass
class CatchUpResult:
    organisation_id: int
    listed: int = 0
    outcomes: Counter[str] | None = None
    unreadable: int = 0
    removed: int = 0
    error: str | None = None

    def words(self) -> str:
        if self.error:
            return f"organisation {self.organisation_id}: {self.error}"
        counts = ", ".join(f"{n} {what}" for what, n in sorted((self.outcomes or {}).items()))
        return (
            f"organisation {self.organisation_id}: {self.listed} listed"
            + (f" ({counts})" if counts else "")
            + (f", {self.removed} no longer listed (cancelled)" if self.removed else "")
            + (f", {self.unreadable} unreadable" if self.unreadable else "")
        )


def day_range(first: date, last: date) -> tuple[datetime, datetime]:
    """From `first`'s midnight to the end of `last`, in the sender's time zone."""
    start = datetime.combine(first, time(0), SENDER_ZONE)
    return start, datetime.combine(last + timedelta(days=1), time(0), SENDER_ZONE)


def catch_up(
    engine: Engine,
    endpoint: Endpoint,
    first: date,
    last: date,
    *,
    clock: Clock = _now,
    client: Callable[[Endpoint], RdvSpApi] | None = None,
) -> CatchUpResult:
    """Every appointment of the organisation from `first` to `last` (days, both
    included), applied as of the listing's time; appointments the hub holds in that
    range that are no longer listed were destroyed: cancelled."""
    result = CatchUpResult(endpoint.organisation_id, outcomes=Counter())
    if not endpoint.can_catch_up:
        result.error = "no API account (pvp-hub admin rdv-sp set-account)"
        return result
    start, end = day_range(first, last)
    listed_at = clock()
    make = client or (lambda e: RdvSpApi(e.api_url or "", e.api_email or "", e.api_password or ""))
    try:
        with make(endpoint) as api:
            listing = api.appointments(endpoint.organisation_id, start, end)
    except ApiError as exc:
        result.error = str(exc)
        _note(engine, endpoint.id, str(exc), None)
        return result
    result.listed = len(listing.appointments)
    result.unreadable = len(listing.unreadable)
    assert result.outcomes is not None
    for appointment in listing.appointments:
        if start <= appointment.starts_at < end:
            try:
                result.outcomes[apply(engine, endpoint, appointment, listed_at, clock=clock)] += 1
            except PayloadError as exc:
                result.unreadable += 1
                log.warning("rdv-sp: %s", exc)
    listed = {a.rdv_id for a in listing.appointments}
    if not listing.unreadable:  # an unreadable item might be one of them: keep them all
        result.removed = _cancel_unlisted(engine, endpoint, start, end, listed, listed_at, clock)
    _note(engine, endpoint.id, None, listed_at)
    return result


def _cancel_unlisted(
    engine: Engine,
    endpoint: Endpoint,
    start: datetime,
    end: datetime,
    listed: set[int],
    listed_at: datetime,
    clock: Clock,
) -> int:
    removed = 0
    with write_transaction(engine) as conn:
        gone = conn.execute(
            select(rdv_sp_states.c.rdv_id, rdv_sp_states.c.appointment_id).where(
                rdv_sp_states.c.endpoint_id == endpoint.id,
                rdv_sp_states.c.starts_at >= start,
                rdv_sp_states.c.starts_at < end,
                rdv_sp_states.c.status != "cancelled",
                rdv_sp_states.c.version_us < micros(listed_at),
            )
        ).all()
        for rdv_id, appointment_id in gone:
            if rdv_id in listed:
                continue
            if appointment_id is not None:
                _cancel(conn, endpoint.region_id, appointment_id, clock())
            conn.execute(
                update(rdv_sp_states)
                .where(rdv_sp_states.c.endpoint_id == endpoint.id, rdv_sp_states.c.rdv_id == rdv_id)
                .values(status="cancelled", version_us=micros(listed_at), digest="unlisted")
            )
            removed += 1
    return removed


def _note(engine: Engine, endpoint_id: uuid.UUID, error: str | None, at: datetime | None) -> None:
    values: dict[str, Any] = {"last_error": error}
    if at is not None:
        values["last_catch_up_at"] = at
    with write_transaction(engine) as conn:
        conn.execute(
            update(rdv_sp_endpoints).where(rdv_sp_endpoints.c.id == endpoint_id).values(values)
        )


def claim_catch_up(engine: Engine, endpoint_id: uuid.UUID, every: timedelta, now: datetime) -> bool:
    """Whether this process should catch up now: one process of the region's hub at a
    time, every `every` at most (its sign-in would end another process's token)."""
    with write_transaction(engine) as conn:
        claimed = conn.execute(
            update(rdv_sp_endpoints)
            .where(
                rdv_sp_endpoints.c.id == endpoint_id,
                or_(
                    rdv_sp_endpoints.c.last_catch_up_at.is_(None),
                    rdv_sp_endpoints.c.last_catch_up_at <= now - every,
                ),
            )
            .values(last_catch_up_at=now)
        ).rowcount
    return claimed == 1


# -- what the region's view counts -----------------------------------------------------------


def aside_count(conn: Connection, region_id: uuid.UUID, since: datetime) -> int:
    """Appointments from `since` on that map to no site or partner, not cancelled."""
    found = conn.execute(
        select(func.count())
        .select_from(rdv_sp_states.join(rdv_sp_endpoints))
        .where(
            rdv_sp_endpoints.c.region_id == region_id,
            rdv_sp_states.c.aside.is_not(None),
            rdv_sp_states.c.starts_at >= since,
            rdv_sp_states.c.status != "cancelled",
        )
    ).scalar()
    return int(found or 0)


def known_slugs(conn: Connection, region_id: uuid.UUID) -> tuple[set[str], set[str]]:
    """The region's site and partner ids, to check a mapping against."""
    site_slugs = set(
        conn.execute(select(sites.c.slug).where(sites.c.region_id == region_id)).scalars()
    )
    partner_slugs = set(
        conn.execute(select(partners.c.slug).where(partners.c.region_id == region_id)).scalars()
    )
    return site_slugs, partner_slugs


def region_of(conn: Connection, endpoint: Endpoint) -> str:
    return str(
        conn.execute(select(regions.c.slug).where(regions.c.id == endpoint.region_id)).scalar_one()
    )


def scheduled_catch_up(engine: Engine, clock: Clock = _now) -> list[CatchUpResult]:
    """What each hub process runs every few minutes: the organisations with an API
    account whose last catch-up is older than CATCH_UP_EVERY, one process each."""
    done = []
    now = clock()
    today = now.astimezone(SENDER_ZONE).date()
    for endpoint in endpoints(engine):
        if endpoint.can_catch_up and claim_catch_up(engine, endpoint.id, CATCH_UP_EVERY, now):
            result = catch_up(
                engine, endpoint, today - timedelta(days=1), today + timedelta(days=DAYS_AHEAD),
                clock=clock,
            )  # fmt: skip
            log.info("rdv-sp catch-up: %s", result.words())
            done.append(result)
    return done
