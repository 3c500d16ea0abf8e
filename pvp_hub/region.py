"""The region's view for its admins: every site with its last sync, its queue, its
kiosks' health, today's visits by partner and failed sessions. No web framework in it.

The whole region is read in a few statements whatever its size (a region may have 300
sites): the sites with their last status, then, per time zone of the region's sites
(a region has one, seldom two), today's visits by site, partner and status and today's
failed sessions by site. "Today" is each site's own local day.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Connection, Engine, func, select

from pvp_tui.core import events as event_types
from pvp_tui.core.config import SHORT_NAME_MAX, Partner
from pvp_tui.core.models import Status
from pvp_tui.core.reports import FAILED_STATE

from .rdv_sp import inbox as rdv_inbox
from .rdv_sp import intake as rdv_intake
from .schema import admins, events, partners, regions, sites, visits

ONLINE_WITHIN = timedelta(seconds=60)  # a site syncs every few seconds when all is well
LIVE = (Status.WAITING.value, Status.CALLED.value, Status.IN_SESSION.value)
KIOSK_STATES = ("ok", "degraded", "down", "unknown")

Clock = Callable[[], datetime]


def _now() -> datetime:
    return datetime.now(UTC)


class NotVisible(LookupError):
    """A region or a site this admin may not see, or one that does not exist: the pages
    answer both with the same 404."""


@dataclass(frozen=True)
class RegionRef:
    id: uuid.UUID
    slug: str
    name: str


@dataclass(frozen=True)
class PartnerRef:
    slug: str
    name: str
    short: str  # a narrow column's: the name's acronym in parentheses (as sites do) or id


def partner_ref(slug: str, name: str) -> PartnerRef:
    short = Partner(slug, name, "X", 1).short
    return PartnerRef(slug, name, short if len(short) <= SHORT_NAME_MAX else slug.upper())


@dataclass(frozen=True)
class Kiosk:
    id: str
    state: str  # ok, degraded, down, unknown
    problems: tuple[str, ...]
    checked_at: datetime | None


@dataclass
class SiteView:
    """One site as the region's view shows it."""

    id: uuid.UUID
    slug: str
    name: str
    timezone: str
    last_seen_at: datetime | None
    online: bool
    status_at: datetime | None  # when the site made its last status (None: never sent)
    app_version: str | None
    kiosks: list[Kiosk]
    # The queue now: from the site's status made today, else from the hub's visits.
    queue: dict[str, int]
    queue_from_status: bool
    visits_by_partner: dict[str, int]  # today's visits (queue entries), partner slug -> n
    failed_sessions: int  # video sessions that ended failed today

    @property
    def waiting(self) -> int:
        return self.queue.get(Status.WAITING.value, 0)

    @property
    def visits_today(self) -> int:
        return sum(self.visits_by_partner.values())

    @property
    def kiosk_counts(self) -> dict[str, int]:
        counts = dict.fromkeys(KIOSK_STATES, 0)
        for kiosk in self.kiosks:
            counts[kiosk.state] = counts.get(kiosk.state, 0) + 1
        return counts

    @property
    def kiosk_health(self) -> str:
        """The worst state among the kiosks: down, degraded, unknown, ok ('' if none)."""
        states = {k.state for k in self.kiosks}
        return next((s for s in ("down", "degraded", "unknown", "ok") if s in states), "")


@dataclass
class Overview:
    region: RegionRef
    now: datetime
    sites: list[SiteView]
    partners: list[PartnerRef]  # the region's, plus any partner id seen today and since gone
    totals: dict[str, Any] = field(default_factory=dict)

    def partner_name(self, slug: str) -> str:
        return next((p.name for p in self.partners if p.slug == slug), slug)


# ----------------------------------------------------------------------------- scope
def admin_region(conn: Connection, admin_id: uuid.UUID) -> uuid.UUID | None:
    """The admin's region (None: an admin of every region)."""
    return conn.execute(select(admins.c.region_id).where(admins.c.id == admin_id)).scalar()


def visible_regions(engine: Engine, admin_id: uuid.UUID) -> list[RegionRef]:
    with engine.connect() as conn:
        own = admin_region(conn, admin_id)
        query = select(regions.c.id, regions.c.slug, regions.c.name).order_by(regions.c.slug)
        if own is not None:
            query = query.where(regions.c.id == own)
        return [RegionRef(r.id, r.slug, r.name) for r in conn.execute(query)]


def region_for(engine: Engine, admin_id: uuid.UUID, asked: str | None) -> RegionRef | None:
    """The region the admin asked for (`?region=`), else their own; None when an admin of
    every region must pick one. NotVisible for a region that is not theirs or not there."""
    choices = visible_regions(engine, admin_id)
    if asked is not None:
        found = next((r for r in choices if r.slug == asked), None)
        if found is None:
            raise NotVisible(asked)
        return found
    return choices[0] if len(choices) == 1 else None


def region_sites(engine: Engine, region: RegionRef) -> list[tuple[str, str, str]]:
    """The region's sites as (slug, name, time zone), by name."""
    with engine.connect() as conn:
        rows = conn.execute(
            select(sites.c.slug, sites.c.name, sites.c.timezone).where(
                sites.c.region_id == region.id
            )
        ).all()
    return sorted(
        ((r.slug, r.name, r.timezone) for r in rows), key=lambda r: (r[1].casefold(), r[0])
    )


def main_zone(zones: Iterable[str]) -> str:
    """The time zone most of the sites use (the first by name on a tie): the region's
    day, for its report and its clock."""
    counts: dict[str, int] = {}
    for zone in zones:
        counts[zone] = counts.get(zone, 0) + 1
    return min(counts, key=lambda z: (-counts[z], z)) if counts else "Europe/Paris"


# -------------------------------------------------------------------------- overview
def overview(
    engine: Engine, region: RegionRef, site_slug: str | None = None, clock: Clock = _now
) -> Overview:
    """The region's sites (or the one named) with today's figures."""
    now = clock()
    with engine.connect() as conn:
        query = select(
            sites.c.id,
            sites.c.slug,
            sites.c.name,
            sites.c.timezone,
            sites.c.last_seen_at,
            sites.c.status,
            sites.c.status_at,
        ).where(sites.c.region_id == region.id)
        if site_slug is not None:
            query = query.where(sites.c.slug == site_slug)
        rows = conn.execute(query).all()
        if site_slug is not None and not rows:
            raise NotVisible(site_slug)
        partner_rows = conn.execute(
            select(partners.c.slug, partners.c.name).where(partners.c.region_id == region.id)
        ).all()
        by_zone: dict[str, list[uuid.UUID]] = {}
        for row in rows:
            by_zone.setdefault(row.timezone, []).append(row.id)
        counts: dict[uuid.UUID, list[tuple[str | None, str | None, int]]] = {}
        failed: dict[uuid.UUID, int] = {}
        for zone, ids in by_zone.items():
            start, end = local_day(now, zone)
            scope = _scope(region.id, zone, ids if site_slug is not None else None)
            for site_id, partner, status, n in conn.execute(
                select(visits.c.site_id, visits.c.partner, visits.c.status, func.count())
                .where(
                    visits.c.site_id.in_(scope),
                    visits.c.first_at >= start,
                    visits.c.first_at < end,
                )
                .group_by(visits.c.site_id, visits.c.partner, visits.c.status)
            ):
                counts.setdefault(site_id, []).append((partner, status, n))
            for site_id, n in conn.execute(
                select(events.c.site_id, func.count())
                .where(
                    events.c.site_id.in_(scope),
                    events.c.at >= start,
                    events.c.at < end,
                    events.c.type == event_types.SESSION_ENDED,
                    events.c.data["state"].as_string() == FAILED_STATE,
                )
                .group_by(events.c.site_id)
            ):
                failed[site_id] = n
        # RDV Service Public's appointments from today on that map to no site.
        aside = rdv_intake.aside_count(conn, region.id, local_day(now, main_zone(by_zone))[0])
        not_applied = rdv_inbox.failed_count(conn, region.id)
    views = [_site_view(row, now, counts.get(row.id, []), failed.get(row.id, 0)) for row in rows]
    views.sort(key=lambda v: (v.name.casefold(), v.slug))
    known = sorted(
        (partner_ref(p.slug, p.name) for p in partner_rows),
        key=lambda p: (p.name.casefold(), p.slug),
    )
    seen = {slug for view in views for slug in view.visits_by_partner}
    known += [partner_ref(slug, slug) for slug in sorted(seen - {p.slug for p in known})]
    result = Overview(region, now, views, known)
    result.totals = _totals(views)
    result.totals["appointments_aside"] = aside
    result.totals["deliveries_not_applied"] = not_applied
    return result


def _scope(region_id: uuid.UUID, zone: str, ids: list[uuid.UUID] | None) -> Any:
    """The sites of one time zone: by id for one site, else as a subquery (300 ids
    would make 300 bind parameters)."""
    if ids is not None:
        return ids
    return select(sites.c.id).where(sites.c.region_id == region_id, sites.c.timezone == zone)


def local_day(now: datetime, zone: str) -> tuple[datetime, datetime]:
    """[start, end) of the local day of `now` in `zone`, as aware datetimes."""
    tz = ZoneInfo(zone)
    day = now.astimezone(tz).date()
    return (
        datetime.combine(day, time(0), tz),
        datetime.combine(day + timedelta(days=1), time(0), tz),
    )


def _site_view(
    row: Any, now: datetime, counts: list[tuple[str | None, str | None, int]], failed: int
) -> SiteView:
    status = row.status if isinstance(row.status, dict) else None
    by_partner: dict[str, int] = {}
    projected = dict.fromkeys(LIVE, 0)
    for partner, state, n in counts:
        key = partner or "?"
        by_partner[key] = by_partner.get(key, 0) + n
        if state in projected:
            projected[state] += n
    start, _end = local_day(now, row.timezone)
    made_today = row.status_at is not None and row.status_at >= start and status is not None
    queue = projected
    if made_today and status is not None:
        said = status.get("queue") or {}
        queue = {state: int(said.get(state, 0)) for state in LIVE}
    kiosks = [
        Kiosk(
            str(k.get("id", "?")),
            str(k.get("state", "unknown")),
            tuple(str(p) for p in k.get("problems", ())),
            _parse_time(k.get("checked_at")),
        )
        for k in (status or {}).get("kiosks", ())
    ]
    seen = row.last_seen_at
    return SiteView(
        id=row.id,
        slug=row.slug,
        name=row.name,
        timezone=row.timezone,
        last_seen_at=seen,
        online=seen is not None and now - seen <= ONLINE_WITHIN,
        status_at=row.status_at,
        app_version=(status or {}).get("app_version"),
        kiosks=sorted(kiosks, key=lambda k: k.id),
        queue=queue,
        queue_from_status=made_today,
        visits_by_partner=dict(sorted(by_partner.items())),
        failed_sessions=failed,
    )


def _parse_time(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        return None


def _totals(views: Iterable[SiteView]) -> dict[str, Any]:
    views = list(views)
    by_partner: dict[str, int] = {}
    queue = dict.fromkeys(LIVE, 0)
    kiosks = dict.fromkeys(KIOSK_STATES, 0)
    for view in views:
        for slug, n in view.visits_by_partner.items():
            by_partner[slug] = by_partner.get(slug, 0) + n
        for state in LIVE:
            queue[state] += view.queue.get(state, 0)
        for state, n in view.kiosk_counts.items():
            kiosks[state] = kiosks.get(state, 0) + n
    return {
        "sites": len(views),
        "online": sum(v.online for v in views),
        "queue": queue,
        "kiosks": kiosks,
        "visits_by_partner": by_partner,
        "visits_today": sum(by_partner.values()),
        "failed_sessions": sum(v.failed_sessions for v in views),
    }
