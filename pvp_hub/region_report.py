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

import asyncio
import contextlib
import json
import logging
import multiprocessing
import os
import signal
import threading
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Connection, Engine, Text, bindparam, cast, func, literal_column, select
from sqlalchemy.engine import make_url

from pvp_tui.core import events as event_types
from pvp_tui.core import exports, i18n
from pvp_tui.core.clock import to_iso
from pvp_tui.core.config import Config, Partner, Site
from pvp_tui.core.report_store import LoggedEvent, report_from_events
from pvp_tui.core.reports import ActivityReport, Period

from .database import make_engine, run_on_driver
from .region import NotVisible, RegionRef, main_zone
from .schema import events, partners, sites

log = logging.getLogger(__name__)

ENTRIES = (event_types.CHECKED_IN, event_types.TRANSFERRED_IN)
REPORTS_AT_ONCE = 2
# The downloads: format → (media type, the site's own export of a report).
FORMATS: dict[str, tuple[str, Callable[[ActivityReport], bytes]]] = {
    "csv": ("text/csv; charset=utf-8", exports.to_csv),
    "xlsx": ("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", exports.to_xlsx),
}
# A child process makes this many reports, then a fresh one takes its place: a region's
# month read into memory is handed back to the system for sure.
REPORTS_PER_CHILD = 10
CHILD_NICENESS = 10  # below the serving process: the sites' sync comes first
_TURNS = threading.BoundedSemaphore(REPORTS_AT_ONCE)
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
    """The activity report of the region's site `site_slug`, or of the whole region.
    At most REPORTS_AT_ONCE are made at a time by a process; others wait their turn (a
    region's month takes seconds of CPU that the sites' sync needs too)."""
    with _TURNS, engine.connect() as conn:
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
        logged = _logged_events(
            conn, slugs, scope, region.id, period, site.timezone, rename=site_slug is None
        )
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
    region_id: uuid.UUID,
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
    for row in _earlier_entries(conn, in_scope, start, end):
        yield _logged(row, slugs, rename)
    # Most of a report's time is here: the rows as the driver gives them (no type
    # conversion by SQLAlchemy), as text on PostgreSQL too (ids, `to_iso`'s time), the
    # data as JSON text that goes into the site store as it is, a server-side cursor.
    sqlite = conn.dialect.name == "sqlite"
    region_wide = not isinstance(scope, list)
    statement = _STREAMS[(conn.dialect.name == "postgresql", region_wide)]
    params: dict[str, Any] = {"start": start, "end": end}
    params |= {"region": region_id} if region_wide else {"site": next(iter(slugs))}
    names = {(key.hex if sqlite else str(key)): slug for key, slug in slugs.items()}
    cursor = run_on_driver(conn, statement, params, stream=True)
    try:
        while rows := cursor.fetchmany(STREAM_ROWS):
            for event_id, visit_id, site_id, at, kind, data in rows:
                if rename and '"kiosk"' in data:
                    details = json.loads(data)
                    details["kiosk"] = f"{names[site_id]}/{details['kiosk']}"
                    data = json.dumps(details)
                if sqlite:
                    visit_id, at = _dashed(visit_id), _sqlite_iso(at)
                yield LoggedEvent(event_id, visit_id, at, kind, data)
    finally:
        cursor.close()


def _stream(scope: Any, postgresql: bool) -> Any:
    """The events of the visits of `scope` that entered a queue in [start, end)."""
    entries: list[Any] = [literal_column(f"'{kind}'") for kind in ENTRIES]  # no bind
    entered = select(events.c.visit_id).where(
        scope,
        events.c.type.in_(entries),
        events.c.at >= bindparam("start"),
        events.c.at < bindparam("end"),
    )
    columns: tuple[Any, ...] = (events.c.id, events.c.visit_id, events.c.site_id, events.c.at)
    if postgresql:  # as text, as SQLite gives them: psycopg's types cost more than the SQL
        utc = func.timezone(literal_column("'UTC'"), events.c.at)
        columns = (
            *(cast(column, Text) for column in columns[:3]),
            func.to_char(utc, literal_column(f"'{_TO_ISO}'")),
        )
    return (
        select(*columns, events.c.type, cast(events.c.data, Text))
        .where(events.c.visit_id.in_(entered))
        .order_by(events.c.at, events.c.received_at, events.c.id)
    )


_TO_ISO = 'YYYY-MM-DD"T"HH24:MI:SS.MS"+00:00"'  # what to_iso writes, in PostgreSQL's words
_IN_SITE = events.c.site_id == bindparam("site")
_IN_REGION = events.c.site_id.in_(
    select(sites.c.id).where(sites.c.region_id == bindparam("region"))
)
# Built once (run_on_driver caches their SQL by identity): (PostgreSQL?, whole region?)
_STREAMS = {
    (postgresql, region_wide): _stream(_IN_REGION if region_wide else _IN_SITE, postgresql)
    for postgresql in (False, True)
    for region_wide in (False, True)
}


def _dashed(hex32: str) -> str:
    """A UUID as SQLite keeps it (32 hex digits) written as sites write it."""
    h = hex32
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def _sqlite_iso(stored: str) -> str:
    """A time as SQLAlchemy keeps it on SQLite (naive UTC, 'YYYY-MM-DD HH:MM:SS.ffffff'),
    written as a site store keeps it (`to_iso`: milliseconds, '+00:00')."""
    if len(stored) == 26 and stored[10] == " ":
        return f"{stored[:10]}T{stored[11:23]}+00:00"
    return to_iso(datetime.fromisoformat(stored).replace(tzinfo=UTC))


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


# -- reports made apart from the serving process --------------------------------------------


class ReportsUnavailable(Exception):
    """A report's child process died (killed, out of memory): try again."""


_CHILD_ENGINES: dict[str, Engine] = {}


def _child_start() -> None:
    """In each report process: a lower priority, and Ctrl+C left to the hub."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    with contextlib.suppress(OSError):  # not allowed here: the report still runs
        os.nice(CHILD_NICENESS)


def _child_report(
    url: str, region: RegionRef, period: Period, site_slug: str | None, language: str,
    download: str | None,
) -> tuple[ActivityReport, bytes | None]:  # fmt: skip
    """In a report process: the report, and its download's bytes if one was asked."""
    engine = _CHILD_ENGINES.get(url)
    if engine is None:
        engine = _CHILD_ENGINES[url] = make_engine(url, pool_size=1)
    with i18n.using_language(language):
        made = report(engine, region, period, site_slug)
        return made, FORMATS[download][1](made) if download is not None else None


def shareable(url: str) -> bool:
    """Whether other processes can open the database at `url` (an in-memory SQLite
    database lives in its process only)."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        return True
    return bool(parsed.database) and parsed.database != ":memory:" and "mode=memory" not in url


class Reports:
    """Where the hub's pages make reports. A region's month is seconds of CPU: made in
    the serving process, it would hold the GIL from the sites' sync requests. So they run
    in at most `processes` child processes (spawned, at a lower priority, each opening its
    own connection); `processes=0`, or a database other processes cannot open, makes them
    in the serving process's thread pool instead (at most REPORTS_AT_ONCE at a time)."""

    def __init__(self, engine: Engine, url: str, processes: int = REPORTS_AT_ONCE) -> None:
        self._engine = engine
        self._url = url
        self.processes = processes if shareable(url) else 0
        self._pool: ProcessPoolExecutor | None = None
        self._lock = threading.Lock()

    def _executor(self) -> ProcessPoolExecutor:
        with self._lock:
            if self._pool is None:
                self._pool = ProcessPoolExecutor(
                    max_workers=self.processes,
                    mp_context=multiprocessing.get_context("spawn"),
                    initializer=_child_start,
                    max_tasks_per_child=REPORTS_PER_CHILD,
                )
            return self._pool

    async def make(
        self, region: RegionRef, period: Period, site_slug: str | None, language: str,
        download: str | None = None,
    ) -> tuple[ActivityReport, bytes | None]:  # fmt: skip
        """The report (NotVisible for a site not in the region), and the bytes of the
        `download` format if one is asked."""
        loop = asyncio.get_running_loop()
        if self.processes == 0:

            def here() -> tuple[ActivityReport, bytes | None]:
                with i18n.using_language(language):
                    made = report(self._engine, region, period, site_slug)
                    return made, FORMATS[download][1](made) if download is not None else None

            return await loop.run_in_executor(None, here)
        pool = self._executor()
        args = (self._url, region, period, site_slug, language, download)
        try:
            return await loop.run_in_executor(pool, _child_report, *args)
        except BrokenProcessPool:
            log.error("a report process died; the next report starts a new one")
            with self._lock:
                if self._pool is pool:
                    self._pool = None
            pool.shutdown(wait=False, cancel_futures=True)
            raise ReportsUnavailable from None

    def close(self) -> None:
        with self._lock:
            pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)
