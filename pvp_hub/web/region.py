"""The region's pages for its admins: the overview of every site, one site, and the
activity report (HTML, CSV, XLSX) of a site or of the whole region.

An admin of one region sees only that region: any other region or site is the same 404
as a page that does not exist. An admin of every region picks one (`?region=slug`, kept
in every link). The figures come from `pvp_hub.region` and `pvp_hub.region_report`;
this module only reads the request and lays them out.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Annotated, Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from pvp_tui.core import exports, i18n
from pvp_tui.core.errors import PvpError
from pvp_tui.core.i18n import _, ngettext
from pvp_tui.core.reports import ActivityReport, Period, format_date, parse_date

from .. import people, region_report
from .. import region as region_view
from ..region import NotVisible, Overview, RegionRef, SiteView
from .render import error_page, language_of, page
from .sessions import NotYours, require_admin

router = APIRouter(include_in_schema=False)
Admin = Annotated[people.Session, Depends(require_admin)]
REFRESH_SECONDS = 60
DOWNLOADS = region_report.FORMATS
# The columns of the report's "By partner" table shown on the page (the downloads have
# them all): partner, visits, transfers out, no-shows, cancellations, served, median
# wait, median interview, video sessions, failed sessions, the kiosk's satisfaction
# answers (yes, a little, no, share answered), change.
PARTNER_COLUMNS = (0, 1, 5, 6, 7, 9, 10, 12, 17, 18, 19, 20, 21, 22, 28)


async def _region(request: Request, session: people.Session) -> RegionRef | None:
    asked = request.query_params.get("region")
    try:
        return await run_in_threadpool(
            region_view.region_for, request.app.state.engine, session.person.id, asked
        )
    except NotVisible:
        raise NotYours() from None


def _link(path: str, region: RegionRef, picked: bool, **params: str | None) -> str:
    """A link within the region's pages: `?region=` kept for an admin of every region."""
    query = {"region": region.slug} if picked else {}
    query |= {k: v for k, v in params.items() if v is not None}
    return path + ("?" + urlencode(query) if query else "")


async def _pick(request: Request, session: people.Session) -> Response:
    regions = await run_in_threadpool(
        region_view.visible_regions, request.app.state.engine, session.person.id
    )
    return page(request, "region_pick.html", regions=regions, session=session)


# ------------------------------------------------------------------------- overview
@router.get("/region")
async def overview_page(request: Request, session: Admin) -> Response:
    region = await _region(request, session)
    if region is None:
        return await _pick(request, session)
    data = await run_in_threadpool(region_view.overview, request.app.state.engine, region)
    picked = "region" in request.query_params
    with i18n.using_language(language_of(request)):
        rows = [_site_words(site, data.now) for site in data.sites]
    partners = [p for p in data.partners if data.totals["visits_by_partner"].get(p.slug)]
    return page(
        request,
        "region.html",
        headers={"Refresh": str(REFRESH_SECONDS)},
        session=session,
        region=region,
        data=data,
        rows=rows,
        partners=partners,
        link=lambda path, **params: _link(path, region, picked, **params),
        now_words=_clock(data.now, _zone_of(data)),
        kiosk_words=kiosk_state_words,
    )


@router.get("/region/sites/{slug}")
async def site_page(request: Request, slug: str, session: Admin) -> Response:
    region = await _region(request, session)
    if region is None:
        return await _pick(request, session)
    try:
        data = await run_in_threadpool(
            region_view.overview, request.app.state.engine, region, slug[:32]
        )
    except NotVisible:
        raise NotYours() from None
    site = data.sites[0]
    picked = "region" in request.query_params
    with i18n.using_language(language_of(request)):
        words = _site_words(site, data.now)
        kiosks = [
            {
                "id": k.id,
                "state": k.state,
                "state_words": kiosk_state_words(k.state),
                "problems": k.problems,
                "checked": _when(k.checked_at, data.now, ZoneInfo(site.timezone)),
            }
            for k in site.kiosks
        ]
    return page(
        request,
        "region_site.html",
        headers={"Refresh": str(REFRESH_SECONDS)},
        session=session,
        region=region,
        data=data,
        site=site,
        row=words,
        kiosks=kiosks,
        link=lambda path, **params: _link(path, region, picked, **params),
    )


@dataclass
class SiteWords:
    site: SiteView
    seen: str  # "en ligne" / "hors ligne depuis …" / "jamais"
    seen_class: str  # ok / bad / muted
    queue_source: str  # where the queue's counts come from, and how old they are
    kiosks: list[tuple[str, str, int]]  # (state, its words, count) of the kiosks, worst first
    status_age: str


def _site_words(site: SiteView, now: datetime) -> SiteWords:
    zone = ZoneInfo(site.timezone)
    if site.last_seen_at is None:
        seen, seen_class = _("never synced"), "muted"
    elif site.online:
        seen, seen_class = _("online"), "ok"
    else:
        seen = _("offline since {when} ({ago})").format(
            when=_when(site.last_seen_at, now, zone), ago=_ago(now - site.last_seen_at)
        )
        seen_class = "bad"
    status_age = _ago(now - site.status_at) if site.status_at else ""
    if site.queue_from_status:
        source = _("as the site said {ago}").format(ago=status_age)
    else:
        source = _("from the visits the hub received today")
    counts = site.kiosk_counts
    kiosks = [
        (state, kiosk_state_words(state, counts[state]), counts[state])
        for state in ("down", "degraded", "unknown", "ok")
        if counts.get(state)
    ]
    return SiteWords(site, seen, seen_class, source, kiosks, status_age)


def kiosk_state_words(state: str, count: int = 1) -> str:
    if state == "ok":
        return ngettext("working", "working", count)
    if state == "degraded":
        return ngettext("degraded", "degraded", count)
    if state == "down":
        return ngettext("out of order", "out of order", count)
    return ngettext("state unknown", "state unknown", count)


def _when(moment: datetime | None, now: datetime, zone: ZoneInfo) -> str:
    """A moment in the site's time: its time today, else its day and time."""
    if moment is None:
        return "—"
    local = moment.astimezone(zone)
    if local.date() == now.astimezone(zone).date():
        return local.strftime("%H:%M")
    return _("{day} at {time}").format(day=format_date(local.date()), time=local.strftime("%H:%M"))


def _ago(delta: timedelta) -> str:
    seconds = max(0, int(delta.total_seconds()))
    if seconds < 60:
        return _("just now")
    minutes = seconds // 60
    if minutes < 60:
        return _("{minutes} min ago").format(minutes=minutes)
    hours, minutes = divmod(minutes, 60)
    if hours < 48:
        return _("{hours} h {minutes:02d} ago").format(hours=hours, minutes=minutes)
    days = hours // 24
    return ngettext("{days} day ago", "{days} days ago", days).format(days=days)


def _zone_of(data: Overview) -> ZoneInfo:
    return ZoneInfo(region_view.main_zone(s.timezone for s in data.sites))


def _clock(now: datetime, zone: ZoneInfo) -> str:
    local = now.astimezone(zone)
    return f"{format_date(local.date())} {local:%H:%M}"


# --------------------------------------------------------------------------- report
@router.get("/region/rapport")
async def report_page(
    request: Request,
    session: Admin,
    du: str | None = None,
    au: str | None = None,
    site: str | None = None,
    format: str | None = None,
) -> Response:
    # No length limits by the framework: its refusal would be JSON, not a page. A long
    # date is not a date (its message shows the start of it); a long site is nobody's.
    du, au = (_cut(value) for value in (du, au))
    region = await _region(request, session)
    if region is None:
        return await _pick(request, session)
    engine = request.app.state.engine
    language = language_of(request)
    picked = "region" in request.query_params
    site = site or None
    listed = await run_in_threadpool(region_view.region_sites, engine, region)
    if site is not None and site not in {slug for slug, _name, _zone in listed}:
        raise NotYours()
    sites = [(slug, name) for slug, name, _zone in listed]
    # "Today" is the site's, or the region's (the zone most of its sites use).
    zones = [zone for slug, _name, zone in listed if site is None or slug == site]
    zone = ZoneInfo(region_view.main_zone(zones))
    with i18n.using_language(language):
        try:
            period = _period(du, au, datetime.now(zone).date())
        except PvpError as problem:
            return _report_form(
                request, session, region, picked, sites, du, au, site, problem.message
            )
        if format is not None and format not in DOWNLOADS:
            message = _("Unknown format {format}. Choose one of: {known}.").format(
                format=format, known=", ".join(DOWNLOADS)
            )
            return error_page(request, 400, message)

    reports: region_report.Reports = request.app.state.reports
    try:
        report, download = await reports.make(region, period, site, language, format)
    except NotVisible:
        raise NotYours() from None
    except region_report.ReportsUnavailable:
        with i18n.using_language(language):
            message = _("The report could not be made this time. Try again in a moment.")
        return error_page(request, 503, message, {"Retry-After": "5"})
    if download is not None and format is not None:
        name = f"rapport-{site or 'region-' + region.slug}-{period.start}-{period.end}.{format}"
        return Response(
            download,
            media_type=DOWNLOADS[format][0],
            headers={
                "Content-Disposition": f'attachment; filename="{name}"',
                "Cache-Control": "no-store",
                "X-Content-Type-Options": "nosniff",
            },
        )
    return _report_form(
        request,
        session,
        region,
        picked,
        sites,
        du,
        au,
        site,
        None,
        report=report,
        tables=_report_tables(report),
        period=period,
    )


def _cut(value: str | None, limit: int = 40) -> str | None:
    return value if value is None or len(value) <= limit else value[:limit] + "…"


def _period(du: str | None, au: str | None, today: date) -> Period:
    """The period asked, as `pvp report` reads it: without dates, this month up to
    today; each date DD/MM/YYYY or YYYY-MM-DD."""
    start = parse_date(du, _("From")) if du else today.replace(day=1)
    end = parse_date(au, _("to")) if au else max(today, start)
    return Period(start, end)


def _report_tables(report: ActivityReport) -> list[dict[str, Any]]:
    """The report's main tables, laid out as the exports lay them out, as text cells."""
    shown = []
    for table in exports.report_tables(report):
        if table.key not in ("summary", "partners", "failures", "kiosks"):
            continue
        columns = list(range(len(table.columns)))
        if table.key == "partners":
            columns = [c for c in PARTNER_COLUMNS if c < len(table.columns)]
        shown.append(
            {
                "key": table.key,
                "title": table.title,
                "note": table.note,
                "headers": [
                    (table.columns[c].label, table.columns[c].kind != exports.TEXT) for c in columns
                ],
                "rows": [
                    [
                        (
                            exports.format_cell(row[c], table.kind(r, c), empty="—"),
                            table.columns[c].kind != exports.TEXT,
                        )
                        for c in columns
                    ]
                    for r, row in enumerate(table.rows)
                ],
            }
        )
    return shown


def _report_form(
    request: Request,
    session: people.Session,
    region: RegionRef,
    picked: bool,
    sites: list[tuple[str, str]],
    du: str | None,
    au: str | None,
    site: str | None,
    problem: str | None,
    **shown: Any,
) -> Response:
    period: Period | None = shown.get("period")
    # The form shows the period read (in the reader's way of writing dates), or what was
    # typed when it could not be read, to be corrected.
    du_value, au_value = du or "", au or ""
    if period is not None:
        with i18n.using_language(language_of(request)):
            du_value, au_value = format_date(period.start), format_date(period.end)
    downloads = {}
    if period is not None:
        for fmt in DOWNLOADS:
            downloads[fmt] = _link(
                "/region/rapport",
                region,
                picked,
                du=format_date(period.start),
                au=format_date(period.end),
                site=site,
                format=fmt,
            )
    site_name = next((name for slug, name in sites if slug == site), None)
    return page(
        request,
        "region_report.html",
        400 if problem else 200,
        session=session,
        region=region,
        picked=picked,
        sites=sites,
        site=site,
        site_name=site_name,
        du=du_value,
        au=au_value,
        problem=problem,
        downloads=downloads,
        link=lambda path, **params: _link(path, region, picked, **params),
        report=shown.get("report"),
        tables=shown.get("tables", []),
        period=period,
        previous=period.previous() if period else None,
        format_date=format_date,
    )
