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
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, Engine, and_, case, exists, or_, select

from .schema import agent_sites, agents, partners, sites, visits

Clock = Callable[[], datetime]


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

    @property
    def local_since(self) -> datetime:
        return self.since.astimezone(ZoneInfo(self.site.timezone))


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
            .where(or_(*windows))
            .order_by(sites.c.name, sites.c.slug, visits.c.first_at, visits.c.id)
        ).all()
    return AgentDay(
        partner.slug,
        partner.name,
        own,
        [
            AgentVisit(
                r.id,
                r.ticket,
                AgentSite(r.slug, r.name, r.timezone),
                r.status,
                r.status_at or r.first_at,
                r.visitor_name,
            )
            for r in rows
        ],
    )
