"""A site's or the whole region's activity report, by the rules of `pvp report`.

The hub holds each site's event log as the site wrote it. The visits that entered a
queue in the period or in the period before it (which the report compares with) are
read with all their events, in the order they happened, and handed to
`pvp_tui.core.report_store.report_from_events`, which writes them into a throw-away
site store and runs the site's own `activity_report` on it: the figures cannot differ
from a site's own report of the same events. No web framework in it.

A region's report is the report of one imaginary site holding every site's visits: its
id and name are the region's, its time zone the one most of its sites use, and each
kiosk is named after its site ("leyme/kiosque-1"), as two sites may both have a
"kiosque-1".
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Connection, Engine, select

from pvp_tui.core import events as event_types
from pvp_tui.core.config import Config, Partner, Site
from pvp_tui.core.report_store import LoggedEvent, report_from_events
from pvp_tui.core.reports import ActivityReport, Period

from .region import NotVisible, RegionRef, main_zone
from .schema import events, partners, sites

ENTRIES = (event_types.CHECKED_IN, event_types.TRANSFERRED_IN)
STREAM_ROWS = 2_000  # rows fetched at a time: a region's month is never all in memory
MAX_TRANSFER_HOPS = 10
_COLUMNS = (
    events.c.id,
    events.c.visit_id,
    events.c.site_id,
    events.c.at,
    events.c.type,
    events.c.data,
)


def report(
    engine: Engine, region: RegionRef, period: Period, site_slug: str | None = None
) -> ActivityReport:
    """The activity report of the region's site `site_slug`, or of the whole region."""
    with engine.connect() as conn:
        rows = conn.execute(
            select(sites.c.id, sites.c.slug, sites.c.name, sites.c.timezone).where(
                sites.c.region_id == region.id
            )
        ).all()
        if site_slug is not None:
            rows = [r for r in rows if r.slug == site_slug]
            if not rows:
                raise NotVisible(site_slug)
            site = Site(rows[0].slug, rows[0].name, ZoneInfo(rows[0].timezone))
        else:
            zone = main_zone(r.timezone for r in rows)
            site = Site(region.slug, region.name, ZoneInfo(zone))
        config = Config(site=site, partners=region_partners(conn, region), source="pvp-hub")
        slugs = {r.id: r.slug for r in rows}
        # The whole region by a subquery (300 sites would be 300 bind parameters).
        scope: Any = list(slugs)
        if site_slug is None:
            scope = select(sites.c.id).where(sites.c.region_id == region.id)
        logged = _logged_events(conn, slugs, scope, period, site.timezone, rename=site_slug is None)
        return report_from_events(logged, config, period)


def region_partners(conn: Connection, region: RegionRef) -> tuple[Partner, ...]:
    """The region's partners as a site config lists them, ordered by name (only their
    id and name matter to a report)."""
    rows = conn.execute(
        select(
            partners.c.slug, partners.c.name, partners.c.prefix, partners.c.interview_minutes
        ).where(partners.c.region_id == region.id)
    ).all()
    found = [Partner(r.slug, r.name, r.prefix, r.interview_minutes) for r in rows]
    return tuple(sorted(found, key=lambda p: (p.name.casefold(), p.id)))


def _logged_events(
    conn: Connection,
    slugs: dict[uuid.UUID, str],
    scope: Any,
    period: Period,
    zone: ZoneInfo,
    rename: bool,
) -> Iterator[LoggedEvent]:
    """The events of the visits that entered a queue from the previous period's first
    day to the period's last (local days in `zone`), by time; first, the entries of
    the visits they were transferred from that entered before (their needs travel)."""
    begin, finish = Period(period.previous().start, period.end).bounds(zone)
    start, end = datetime.fromisoformat(begin), datetime.fromisoformat(finish)
    in_scope = events.c.site_id.in_(scope)
    entered = select(events.c.visit_id).where(
        in_scope, events.c.type.in_(ENTRIES), events.c.at >= start, events.c.at < end
    )
    earlier = _earlier_entries(conn, in_scope, start, end)
    for row in earlier:
        yield _logged(row, slugs, rename)
    stream = conn.execute(
        select(*_COLUMNS)
        .where(events.c.visit_id.in_(entered))
        .order_by(events.c.at, events.c.received_at, events.c.id),
        execution_options={"yield_per": STREAM_ROWS},
    )
    for row in stream:
        yield _logged(row, slugs, rename)


def _earlier_entries(conn: Connection, in_scope: Any, start: datetime, end: datetime) -> list[Any]:
    """The entry events of visits, entered before `start`, that a visit entered in
    [start, end) was transferred from (a transfer across midnight), following chains."""
    transfers = conn.execute(
        select(events.c.data).where(
            in_scope,
            events.c.type == event_types.TRANSFERRED_IN,
            events.c.at >= start,
            events.c.at < end,
        )
    ).scalars()
    wanted = {_visit_id(data.get("from_visit")) for data in transfers} - {None}
    found: list[Any] = []
    for _hop in range(MAX_TRANSFER_HOPS):
        if not wanted:
            break
        rows = conn.execute(
            select(*_COLUMNS).where(
                in_scope,
                events.c.visit_id.in_(list(wanted)),
                events.c.type.in_(ENTRIES),
                events.c.at < start,
            )
        ).all()
        found += rows
        wanted = {
            _visit_id(r.data.get("from_visit")) for r in rows if r.type != event_types.CHECKED_IN
        } - {None}
    return sorted(found, key=lambda r: (r.at, str(r.id)))


def _visit_id(value: Any) -> uuid.UUID | None:
    try:
        return uuid.UUID(str(value))
    except ValueError:
        return None


def _logged(row: Any, slugs: dict[uuid.UUID, str], rename: bool) -> LoggedEvent:
    data = row.data
    if rename and "kiosk" in data:
        data = {**data, "kiosk": f"{slugs[row.site_id]}/{data['kiosk']}"}
    return LoggedEvent(str(row.id), str(row.visit_id), row.at, row.type, data)
