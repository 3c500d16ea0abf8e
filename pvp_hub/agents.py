"""What an agent sees: today's visits of their partner at their sites.

The scope is in the SQL itself (the agent's region, partner and sites are joined into
every query, never filtered afterwards), so no code path can hand an agent another
partner's or another site's visit. No web framework here: `web.agent` draws it.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, Connection, Engine, and_, case, exists, or_, select, update

from .database import write_transaction
from .directory import record_change
from .rooms import KIND as ROOM_KIND
from .schema import agent_sites, agents, events, partners, sites, visit_rooms, visits

Clock = Callable[[], datetime]
ACTIVE = ("waiting", "called", "in_session")
# The events that say where a visit is: its needs (check-in) and its kiosk's call.
_DETAIL_EVENTS = ("checked_in", "session_started", "session_ended")


def _now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class AgentSite:
    slug: str
    name: str
    timezone: str


@dataclass(frozen=True)
class AgentVisit:
    id: uuid.UUID
    ticket: str | None
    site: AgentSite
    status: str | None  # a pvp_tui.core.models.Status value
    since: datetime  # UTC: when it took this status (or arrived)
    visitor_name: str | None  # only when the visitor agreed, and only on that day
    first_at: datetime | None = None  # arrival (UTC)
    needs: tuple[str, ...] = ()  # pvp_tui.core.models.Need values, from the check-in
    kiosk: str | None = None  # the kiosk of the last video session
    in_room: bool = False  # that session started and has not ended
    has_room: bool = False  # the hub made the visit's room
    agent_opened_at: datetime | None = None
    waited_minutes: int = 0  # from arrival to the call's start (or now, still waiting)

    @property
    def local_since(self) -> datetime:
        return self.since.astimezone(ZoneInfo(self.site.timezone))

    @property
    def active(self) -> bool:
        """Waiting, called, or at the kiosk: the agent's "mes visiteurs"."""
        return self.status in ACTIVE


@dataclass(frozen=True)
class AgentDay:
    partner_slug: str
    partner_name: str
    sites: list[AgentSite]
    visits: list[AgentVisit]


def _agent_is(agent_id: uuid.UUID) -> ColumnElement[bool]:
    """The live agent, joined to the rows it may see: its region's sites, all of them or
    its own list."""
    own_site = exists().where(
        agent_sites.c.agent_id == agents.c.id, agent_sites.c.site_id == sites.c.id
    )
    return and_(
        agents.c.id == agent_id,
        agents.c.disabled_at.is_(None),
        agents.c.region_id == sites.c.region_id,
        or_(agents.c.all_sites, own_site),
    )


def _local_day(zone: str, now: datetime) -> tuple[datetime, datetime]:
    """The site's own day around `now`: from its midnight to the next (DST included)."""
    tz = ZoneInfo(zone)
    day = now.astimezone(tz).date()
    start = datetime.combine(day, time(0), tz)
    return start, datetime.combine(day + timedelta(days=1), time(0), tz)


def today(engine: Engine, agent_id: uuid.UUID, clock: Clock = _now) -> AgentDay | None:
    """The agent's partner, sites and today's visits (each site's own local day), or None
    when the agent is unknown or disabled."""
    now = clock()
    with engine.connect() as conn:
        partner = conn.execute(
            select(partners.c.slug, partners.c.name)
            .join(agents, agents.c.partner_id == partners.c.id)
            .where(agents.c.id == agent_id, agents.c.disabled_at.is_(None))
        ).first()
        if partner is None:
            return None
        own = [
            AgentSite(r.slug, r.name, r.timezone)
            for r in conn.execute(
                select(sites.c.slug, sites.c.name, sites.c.timezone)
                .join(agents, _agent_is(agent_id))
                .order_by(sites.c.name, sites.c.slug)
            )
        ]
        if not own:
            return AgentDay(partner.slug, partner.name, [], [])
        # One window per time zone (a region has one or two), not one per site.
        windows = []
        for zone in sorted({s.timezone for s in own}):
            start, end = _local_day(zone, now)
            windows.append(
                and_(sites.c.timezone == zone, visits.c.first_at >= start, visits.c.first_at < end)
            )
        # A name past its erase time is hidden even before the purge has run.
        name = case((visits.c.name_erase_at > now, visits.c.visitor_name), else_=None)
        rows = conn.execute(
            select(
                visits.c.id,
                visits.c.ticket,
                visits.c.status,
                visits.c.status_at,
                visits.c.first_at,
                name.label("visitor_name"),
                visit_rooms.c.visit_id.label("room"),
                visit_rooms.c.agent_opened_at,
                sites.c.slug,
                sites.c.name,
                sites.c.timezone,
            )
            .join(sites, sites.c.id == visits.c.site_id)
            .join(agents, _agent_is(agent_id))
            .join(
                partners,
                and_(partners.c.id == agents.c.partner_id, partners.c.slug == visits.c.partner),
            )
            .outerjoin(visit_rooms, visit_rooms.c.visit_id == visits.c.id)
            .where(or_(*windows))
            .order_by(sites.c.name, sites.c.slug, visits.c.first_at, visits.c.id)
        ).all()
        details = _details(conn, [r.id for r in rows if r.status in ACTIVE])
    return AgentDay(
        partner.slug,
        partner.name,
        own,
        [_visit(r, details.get(r.id), now) for r in rows],
    )


@dataclass
class _Detail:
    needs: tuple[str, ...] = ()
    kiosk: str | None = None
    in_room: bool = False
    started_at: datetime | None = None  # the first call's start: the wait's end


def _details(conn: Connection, ids: list[uuid.UUID]) -> dict[uuid.UUID, _Detail]:
    """Needs, kiosk and call of the visits still active, from their events (in the order
    they happened), in one query by the events' visit index."""
    found: dict[uuid.UUID, _Detail] = {}
    for start in range(0, len(ids), 500):
        rows = conn.execute(
            select(events.c.visit_id, events.c.type, events.c.data)
            .where(events.c.visit_id.in_(ids[start : start + 500]))
            .where(events.c.type.in_(_DETAIL_EVENTS))
            .order_by(events.c.visit_id, events.c.at)
        )
        for visit_id, kind, data in rows:
            detail = found.setdefault(visit_id, _Detail())
            data = data if isinstance(data, dict) else {}
            if kind == "checked_in":
                needs = data.get("needs")
                if isinstance(needs, list):
                    detail.needs = tuple(str(n) for n in needs)
            elif kind == "session_started":
                kiosk = data.get("kiosk")
                detail.kiosk = str(kiosk) if kiosk else detail.kiosk
                detail.in_room = True
            else:
                detail.in_room = False
    return found


def _visit(r: Any, detail: _Detail | None, now: datetime) -> AgentVisit:
    detail = detail or _Detail()
    # The wait ends when the interview starts (in session), else it is still running.
    end = (r.status_at or now) if r.status == "in_session" else now
    waited = max(0, int((end - r.first_at).total_seconds() // 60))
    return AgentVisit(
        r.id,
        r.ticket,
        AgentSite(r.slug, r.name, r.timezone),
        r.status,
        r.status_at or r.first_at,
        r.visitor_name,
        first_at=r.first_at,
        needs=detail.needs,
        kiosk=detail.kiosk,
        in_room=detail.in_room,
        has_room=r.room is not None,
        agent_opened_at=r.agent_opened_at,
        waited_minutes=waited,
    )


def room_url(
    engine: Engine, agent_id: uuid.UUID, visit_id: uuid.UUID, clock: Clock = _now
) -> str | None:
    """The room of a visit the agent may see (their partner, their sites, today), its
    opening recorded (the first time); None for any other visit, existing or not."""
    now = clock()
    with write_transaction(engine) as conn:
        row = conn.execute(
            select(
                visit_rooms.c.url,
                visit_rooms.c.agent_opened_at,
                visits.c.first_at,
                visits.c.site_id,
                sites.c.region_id,
                sites.c.timezone,
            )
            .select_from(visit_rooms)
            .join(visits, visits.c.id == visit_rooms.c.visit_id)
            .join(sites, sites.c.id == visits.c.site_id)
            .join(agents, _agent_is(agent_id))
            .join(
                partners,
                and_(partners.c.id == agents.c.partner_id, partners.c.slug == visits.c.partner),
            )
            .where(visit_rooms.c.visit_id == visit_id)
        ).first()
        if row is None:
            return None
        start, end = _local_day(row.timezone, now)
        if not start <= row.first_at < end:  # the page shows today's visits only
            return None
        if row.agent_opened_at is None:
            conn.execute(
                update(visit_rooms)
                .where(visit_rooms.c.visit_id == visit_id)
                .values(agent_opened_at=now)
            )
            # The site learns it in its pull (kind "room": when, never the address).
            record_change(conn, row.region_id, ROOM_KIND, visit_id, site_id=row.site_id)
    return str(row.url)
