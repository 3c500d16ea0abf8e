"""Activity reports: what the site did over a period, computed from the visit event log.

One function, `activity_report`, feeds the reports screen, `pvp report` and every export,
so their figures are always identical. Definitions (see docs/reports.md):

- A visit belongs to the period in which it entered a partner's queue (its `checked_in`
  or `transferred_in` event, day boundaries in the site's time zone), together with
  everything that happened to it afterwards.
- Per partner, a transfer closes one visit (`transfers_out` for the first partner) and
  opens another (`transfers_in` for the second). The total counts each visitor once:
  total visits = check-ins.
- Wait = first `called` - entry into the queue; interview = `finished` - last `started`.
  Median: the middle value (mean of the two middle ones); p90: nearest rank.
- No-show: the last word on the visit is `no_show` (or it was cancelled from no_show).
  A visit left open at the end of its day and closed at the next start
  (`closed_overnight`) counts apart, neither as served nor as cancelled.
- Accessibility needs are counted on visits that were not transferred (the needs travel
  with the visitor); a need is met when its visit finished with an outcome other than a
  technical failure.
- Sessions and documents come from the `session_*` and `document_*` events; a session
  failed when its `session_ended` data says `state: failed`.

Figures are computed in SQL down to one row per visit, so a year of a busy site stays
well under a second. Visitor names and phones (table visitor_details) are never read.
"""

from __future__ import annotations

import json
import math
import sqlite3
import statistics
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from . import events as ev
from .clock import to_iso
from .config import Config
from .errors import PvpError
from .i18n import _
from .models import Need, Outcome
from .store import Store

FAILED_STATE = "failed"
QUALITIES = ("good", "degraded", "poor")
# Wait distribution buckets, in minutes: [low, high).
WAIT_BUCKETS: tuple[tuple[int, int | None], ...] = (
    (0, 5),
    (5, 10),
    (10, 15),
    (15, 20),
    (20, 30),
    (30, 45),
    (45, 60),
    (60, None),
)
MAX_DAYS = 3700  # ten years: beyond this a typo in a date is more likely than a wish


# ----------------------------------------------------------------------------- periods
@dataclass(frozen=True)
class Period:
    """Local calendar days from `start` to `end`, both included."""

    start: date
    end: date

    def __post_init__(self) -> None:
        if self.end < self.start:
            raise PvpError(
                "bad_period",
                _("The period ends ({end}) before it starts ({start}).").format(
                    start=self.start.isoformat(), end=self.end.isoformat()
                ),
            )
        if self.days > MAX_DAYS:
            raise PvpError(
                "bad_period",
                _("The period is too long ({days} days): choose at most ten years.").format(
                    days=self.days
                ),
            )

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1

    def previous(self) -> Period:
        """The period of the same length just before this one."""
        return Period(self.start - timedelta(days=self.days), self.start - timedelta(days=1))

    def bounds(self, tz: ZoneInfo) -> tuple[str, str]:
        """UTC ISO bounds [start, end) of the local days, as stored in the event log."""
        begin = datetime.combine(self.start, time(0), tz)
        finish = datetime.combine(self.end + timedelta(days=1), time(0), tz)
        return to_iso(begin), to_iso(finish)

    def each_day(self) -> Iterable[date]:
        for offset in range(self.days):
            yield self.start + timedelta(days=offset)

    @classmethod
    def day(cls, when: date) -> Period:
        return cls(when, when)

    @classmethod
    def week(cls, when: date) -> Period:
        monday = when - timedelta(days=when.weekday())
        return cls(monday, monday + timedelta(days=6))

    @classmethod
    def month(cls, when: date) -> Period:
        first = when.replace(day=1)
        following = (first + timedelta(days=32)).replace(day=1)
        return cls(first, following - timedelta(days=1))

    @classmethod
    def parse(cls, start: str, end: str) -> Period:
        return cls(parse_date(start, "--from"), parse_date(end, "--to"))


def parse_date(text: str, what: str = "date") -> date:
    try:
        return date.fromisoformat(text.strip())
    except ValueError:
        raise PvpError(
            "bad_date",
            _("{what}: {text!r} is not a date; write it as YYYY-MM-DD, e.g. 2026-03-31.").format(
                what=what, text=text
            ),
        ) from None


# ----------------------------------------------------------------------------- figures
@dataclass
class Figures:
    """The figures of one partner, or of the whole site (partner_id "")."""

    partner_id: str
    name: str
    visits: int = 0
    walk_ins: int = 0
    appointments: int = 0
    transfers_in: int = 0
    transfers_out: int = 0
    no_shows: int = 0
    cancellations: int = 0
    served: int = 0
    open: int = 0  # still waiting, called or in session when the report was made
    closed_overnight: int = 0  # left open at the end of their day, closed the next start
    wait_median_s: float | None = None
    wait_p90_s: float | None = None
    interview_median_s: float | None = None
    outcomes: dict[str, int] = field(default_factory=lambda: {o.value: 0 for o in Outcome})
    technical_failures: int = 0  # visits finished with the outcome "technical failure"
    sessions: int = 0
    failed_sessions: int = 0
    failure_reasons: dict[str, int] = field(default_factory=dict)
    documents_scanned: int = 0
    pages_scanned: int = 0
    documents_printed: int = 0
    pages_printed: int = 0
    needs_requested: dict[str, int] = field(default_factory=lambda: {n.value: 0 for n in Need})
    needs_met: dict[str, int] = field(default_factory=lambda: {n.value: 0 for n in Need})

    @property
    def transfers(self) -> int:
        return self.transfers_out

    @property
    def needs_requested_total(self) -> int:
        return sum(self.needs_requested.values())

    @property
    def needs_met_total(self) -> int:
        return sum(self.needs_met.values())


@dataclass
class KioskFigures:
    kiosk: str
    sessions: int = 0
    failed_sessions: int = 0
    seconds_in_call: float = 0.0
    reconnects: int = 0
    incidents: int = 0
    incident_kinds: dict[str, int] = field(default_factory=dict)
    quality: dict[str, int] = field(default_factory=lambda: dict.fromkeys(QUALITIES, 0))
    documents_scanned: int = 0
    documents_printed: int = 0

    @property
    def worst_quality(self) -> str | None:
        for level in reversed(QUALITIES):
            if self.quality.get(level):
                return level
        return None


@dataclass
class PeriodFigures:
    period: Period
    total: Figures
    partners: list[Figures]
    kiosks: list[KioskFigures]
    daily: dict[date, dict[str, int]]  # local day -> partner -> visits entering the queue
    hourly: list[int]  # 24 local hours -> check-ins
    wait_histogram: list[int]  # one count per WAIT_BUCKETS entry

    def partner(self, partner_id: str) -> Figures | None:
        return next((f for f in self.partners if f.partner_id == partner_id), None)


@dataclass
class ActivityReport:
    site_id: str
    site_name: str
    current: PeriodFigures
    previous: PeriodFigures

    @property
    def period(self) -> Period:
        return self.current.period


def change_percent(current: float | None, previous: float | None) -> float | None:
    """Relative change in percent; None when there is nothing to compare with."""
    if current is None or previous is None or previous == 0:
        return None
    return (current - previous) / previous * 100


def median(values: list[float]) -> float | None:
    return float(statistics.median(values)) if values else None


def p90(values: list[float]) -> float | None:
    """Nearest-rank 90th percentile: the smallest value >= 90 % of the values."""
    if not values:
        return None
    ordered = sorted(values)
    return float(ordered[max(0, math.ceil(0.9 * len(ordered)) - 1)])


def wait_bucket(seconds: float) -> int:
    minutes = seconds / 60
    for index, (low, high) in enumerate(WAIT_BUCKETS):
        if minutes >= low and (high is None or minutes < high):
            return index
    return 0  # a negative wait (clock set back): counted in the first bucket


def bucket_label(index: int) -> str:
    low, high = WAIT_BUCKETS[index]
    return f"{low}-{high}" if high is not None else f"{low}+"


# ------------------------------------------------------------------------------ report
def activity_report(store: Store, config: Config, period: Period) -> ActivityReport:
    """The site's activity over `period`, with the previous period of the same length."""
    refresh_summaries(store)
    with store.snapshot() as db:
        current = _period_figures(db.conn, config, period)
        previous = _period_figures(db.conn, config, period.previous())
    return ActivityReport(config.site.id, config.site.name, current, previous)


# The event log, summarised once per visit: `report_visits` (one row per visit) and
# `report_sessions` (its session and document events, grouped). A summary is a pure
# function of its visit's events; the log is append-only, so each refresh recomputes only
# the visits with events past the last seq summarised. These tables are a cache: dropping
# them only makes the next report rebuild them.
SUMMARY_VERSION = 1

_SUMMARY_SCHEMA = (
    """CREATE TABLE IF NOT EXISTS report_state (key TEXT PRIMARY KEY, value INTEGER NOT NULL)""",
    """CREATE TABLE IF NOT EXISTS report_visits (
        visit_id TEXT PRIMARY KEY,
        site_id TEXT NOT NULL,
        arrived TEXT NOT NULL,
        origin TEXT NOT NULL,
        partner TEXT NOT NULL,
        kind TEXT,
        needs TEXT,
        wait_s REAL,
        interview_s REAL,
        outcome TEXT,
        final TEXT NOT NULL
    )""",
    """CREATE INDEX IF NOT EXISTS report_visits_arrived ON report_visits(site_id, arrived)""",
    """CREATE TABLE IF NOT EXISTS report_sessions (
        visit_id TEXT NOT NULL,
        site_id TEXT NOT NULL,
        arrived TEXT NOT NULL,
        partner TEXT NOT NULL,
        kiosk TEXT NOT NULL,
        type TEXT NOT NULL,
        state TEXT,
        reason TEXT,
        quality TEXT,
        incident TEXT,
        n INTEGER NOT NULL,
        seconds REAL NOT NULL,
        reconnects REAL NOT NULL,
        pages REAL NOT NULL,
        printed_pages REAL NOT NULL
    )""",
    """CREATE INDEX IF NOT EXISTS report_sessions_arrived ON report_sessions(site_id, arrived)""",
    """CREATE INDEX IF NOT EXISTS report_sessions_visit ON report_sessions(visit_id)""",
)

_CHANGED_CREATED = """
    SELECT c.visit_id AS visit_id, c.site_id AS site_id, c.type AS origin, c.at AS arrived,
           json_extract(c.data, '$.partner') AS partner,
           json_extract(c.data, '$.kind') AS kind,
           -- a transferred-in visit's needs are the visitor's, copied on the visit row
           COALESCE(json_extract(c.data, '$.needs'),
                    (SELECT v.needs FROM visits v WHERE v.id = c.visit_id)) AS needs
    FROM report_changed x JOIN events c ON c.visit_id = x.visit_id
    WHERE c.type IN ('checked_in', 'transferred_in')
"""

# What the event log says about each changed visit, in one row.
_SUMMARISE_VISITS = f"""
INSERT INTO report_visits (visit_id, site_id, arrived, origin, partner, kind, needs, wait_s,
                           interview_s, outcome, final)
SELECT visit_id, site_id, arrived, origin, partner, kind,
       CASE WHEN needs IS NULL OR needs = '[]' THEN NULL ELSE needs END,
       ROUND((julianday(first_called) - julianday(arrived)) * 86400, 3),
       CASE WHEN finished IS NOT NULL AND last_started IS NOT NULL
            THEN ROUND((julianday(finished) - julianday(last_started)) * 86400, 3) END,
       outcome,
       CASE WHEN finished IS NOT NULL THEN 'done'
            WHEN transferred THEN 'transferred'
            WHEN cancelled AND cancelled_from = 'no_show' THEN 'no_show'
            WHEN cancelled THEN 'cancelled'
            WHEN no_show_seq IS NOT NULL AND (back_seq IS NULL OR no_show_seq > back_seq)
                 THEN 'no_show'
            WHEN closed_overnight THEN 'closed_overnight'
            ELSE 'open' END
FROM (
    SELECT created.*,
           MIN(CASE WHEN e.type = 'called' THEN e.at END) AS first_called,
           MAX(CASE WHEN e.type = 'started' THEN e.at END) AS last_started,
           MAX(CASE WHEN e.type = 'finished' THEN e.at END) AS finished,
           MAX(CASE WHEN e.type = 'finished' THEN json_extract(e.data, '$.outcome') END)
               AS outcome,
           MAX(e.type = 'cancelled') AS cancelled,
           MAX(CASE WHEN e.type = 'cancelled' THEN json_extract(e.data, '$.from') END)
               AS cancelled_from,
           MAX(e.type = 'transferred') AS transferred,
           MAX(e.type = 'closed_overnight') AS closed_overnight,
           MAX(CASE WHEN e.type = 'no_show' THEN e.seq END) AS no_show_seq,
           MAX(CASE WHEN e.type = 'back_to_waiting' THEN e.seq END) AS back_seq
    FROM ({_CHANGED_CREATED}) AS created
    LEFT JOIN events e ON e.visit_id = created.visit_id
         AND e.type IN ('called', 'started', 'finished', 'cancelled', 'transferred', 'no_show',
                        'back_to_waiting', 'closed_overnight')
    GROUP BY created.visit_id
)
"""

# Their session and document events, grouped per visit and kiosk.
_SUMMARISE_SESSIONS = f"""
INSERT INTO report_sessions (visit_id, site_id, arrived, partner, kiosk, type, state, reason,
                             quality, incident, n, seconds, reconnects, pages, printed_pages)
SELECT created.visit_id, created.site_id, created.arrived, created.partner,
       COALESCE(json_extract(e.data, '$.kiosk'),
                (SELECT json_extract(s.data, '$.kiosk') FROM events s
                 WHERE s.visit_id = e.visit_id AND s.type = 'session_started' AND s.seq < e.seq
                 ORDER BY s.seq DESC LIMIT 1),
                '?') AS kiosk,
       e.type AS type,
       json_extract(e.data, '$.state') AS state,
       json_extract(e.data, '$.reason') AS reason,
       json_extract(e.data, '$.worst_quality') AS quality,
       json_extract(e.data, '$.kind') AS incident,
       COUNT(*),
       TOTAL(json_extract(e.data, '$.seconds_in_call')),
       TOTAL(json_extract(e.data, '$.reconnects')),
       TOTAL(json_extract(e.data, '$.pages')),
       TOTAL(COALESCE(json_extract(e.data, '$.pages'), 0)
             * COALESCE(json_extract(e.data, '$.copies'), 1))
FROM ({_CHANGED_CREATED}) AS created JOIN events e ON e.visit_id = created.visit_id
WHERE e.type IN ('{ev.SESSION_STARTED}', '{ev.SESSION_ENDED}', '{ev.SESSION_INCIDENT}',
                 '{ev.DOCUMENT_CAPTURED}', '{ev.DOCUMENT_PRINTED}')
GROUP BY created.visit_id, 5, 6, 7, 8, 9, 10
"""


def refresh_summaries(store: Store) -> int:
    """Bring the per-visit summaries up to the end of the event log; returns how many
    visits were summarised again (0 when nothing changed since the last report)."""
    top = store.query("SELECT COALESCE(MAX(seq), 0) AS top FROM events")[0]["top"]
    try:
        state = {r["key"]: r["value"] for r in store.query("SELECT key, value FROM report_state")}
    except sqlite3.OperationalError:  # no summary yet
        state = {}
    if state.get("version") == SUMMARY_VERSION and state.get("seq") == top:
        return 0
    with store.transaction() as db:
        conn = db.conn
        for statement in _SUMMARY_SCHEMA:
            conn.execute(statement)
        state = {k: v for k, v in conn.execute("SELECT key, value FROM report_state")}
        done = state.get("seq", 0) if state.get("version") == SUMMARY_VERSION else 0
        if done == 0:
            conn.execute("DELETE FROM report_visits")
            conn.execute("DELETE FROM report_sessions")
        top = conn.execute("SELECT COALESCE(MAX(seq), 0) FROM events").fetchone()[0]
        conn.execute("CREATE TEMP TABLE IF NOT EXISTS report_changed (visit_id TEXT PRIMARY KEY)")
        conn.execute("DELETE FROM report_changed")
        conn.execute(
            "INSERT OR IGNORE INTO report_changed SELECT visit_id FROM events WHERE seq > ?",
            [done],
        )
        changed = conn.execute("SELECT COUNT(*) FROM report_changed").fetchone()[0]
        if done:
            for table in ("report_visits", "report_sessions"):
                conn.execute(
                    f"DELETE FROM {table} WHERE visit_id IN (SELECT visit_id FROM report_changed)"
                )
        conn.execute(_SUMMARISE_VISITS)
        conn.execute(_SUMMARISE_SESSIONS)
        conn.execute("DELETE FROM report_changed")
        conn.executemany(
            "INSERT OR REPLACE INTO report_state (key, value) VALUES (?, ?)",
            [("version", SUMMARY_VERSION), ("seq", top)],
        )
    return int(changed)


_PERIOD_VISITS = """
SELECT partner, origin, arrived, kind, needs, wait_s, interview_s, outcome, final
FROM report_visits WHERE site_id = :site AND arrived >= :start AND arrived < :end
"""

_PERIOD_SESSIONS = """
SELECT partner, kiosk, type, state, reason, quality, incident, SUM(n), SUM(seconds),
       SUM(reconnects), SUM(pages), SUM(printed_pages)
FROM report_sessions WHERE site_id = :site AND arrived >= :start AND arrived < :end
GROUP BY 1, 2, 3, 4, 5, 6, 7
"""


class _Acc:
    """Collects one partner's (or the site's) durations while rows stream by."""

    def __init__(self, figures: Figures) -> None:
        self.figures = figures
        self.waits: list[float] = []
        self.interviews: list[float] = []


def _period_figures(conn: Any, config: Config, period: Period) -> PeriodFigures:
    tz = config.site.timezone
    start, end = period.bounds(tz)
    params = {"site": config.site.id, "start": start, "end": end}
    names = {p.id: p.name for p in config.partners}
    accs: dict[str, _Acc] = {
        p.id: _Acc(Figures(partner_id=p.id, name=p.name)) for p in config.partners
    }
    total = _Acc(Figures(partner_id="", name=_("Total")))
    daily: dict[date, dict[str, int]] = {d: {} for d in period.each_day()}
    hourly = [0] * 24
    histogram = [0] * len(WAIT_BUCKETS)
    parse = datetime.fromisoformat
    valid_outcomes = {o.value for o in Outcome}
    valid_needs = {n.value for n in Need}
    local_of: dict[str, datetime] = {}  # arrivals share their minute: convert each once
    failure = Outcome.TECHNICAL_FAILURE.value

    for partner, origin, arrived, kind, needs_json, wait, interview, outcome, final in conn.execute(
        _PERIOD_VISITS, params
    ):
        acc = accs.get(partner)
        if acc is None:  # a partner since removed from the config: still counted
            acc = accs[partner] = _Acc(Figures(partner_id=partner, name=partner))
        f, t = acc.figures, total.figures
        minute = arrived[:16]
        local = local_of.get(minute)
        if local is None:
            local = local_of[minute] = parse(arrived).astimezone(tz)
        f.visits += 1
        day_counts = daily.setdefault(local.date(), {})
        day_counts[partner] = day_counts.get(partner, 0) + 1
        if origin == ev.CHECKED_IN:
            t.visits += 1
            hourly[local.hour] += 1
            if kind == "appointment":
                f.appointments += 1
                t.appointments += 1
            else:
                f.walk_ins += 1
                t.walk_ins += 1
        else:
            f.transfers_in += 1
            t.transfers_in += 1
        if wait is not None:
            acc.waits.append(wait)
            total.waits.append(wait)
            histogram[wait_bucket(wait)] += 1
        if interview is not None:
            acc.interviews.append(interview)
            total.interviews.append(interview)
        if final == "done":
            f.served += 1
            t.served += 1
            if outcome in valid_outcomes:
                f.outcomes[outcome] += 1
                t.outcomes[outcome] += 1
            if outcome == failure:
                f.technical_failures += 1
                t.technical_failures += 1
        elif final == "transferred":
            f.transfers_out += 1
            t.transfers_out += 1
        elif final == "no_show":
            f.no_shows += 1
            t.no_shows += 1
        elif final == "cancelled":
            f.cancellations += 1
            t.cancellations += 1
        elif final == "closed_overnight":
            f.closed_overnight += 1
            t.closed_overnight += 1
        else:
            f.open += 1
            t.open += 1
        if needs_json and final != "transferred":
            met = final == "done" and outcome != failure
            for need in json.loads(needs_json):
                if need in valid_needs:
                    f.needs_requested[need] += 1
                    t.needs_requested[need] += 1
                    if met:
                        f.needs_met[need] += 1
                        t.needs_met[need] += 1

    kiosks: dict[str, KioskFigures] = {}
    for row in conn.execute(_PERIOD_SESSIONS, params):
        (partner, kiosk_id, kind, state, reason, quality, incident, n, seconds, reconnects) = row[
            :10
        ]
        pages, printed_pages = int(row[10]), int(row[11])
        acc = accs.get(partner)
        if acc is None:
            acc = accs[partner] = _Acc(Figures(partner_id=partner, name=partner))
        f, t = acc.figures, total.figures
        kiosk = kiosks.setdefault(str(kiosk_id), KioskFigures(kiosk=str(kiosk_id)))
        if kind == ev.SESSION_STARTED:
            kiosk.sessions += n
            f.sessions += n
            t.sessions += n
        elif kind == ev.SESSION_ENDED:
            kiosk.seconds_in_call += seconds
            kiosk.reconnects += int(reconnects)
            if quality in kiosk.quality:
                kiosk.quality[quality] += n
            if state == FAILED_STATE:
                kiosk.failed_sessions += n
                label = str(reason or "unknown")
                for target in (f, t):
                    target.failed_sessions += n
                    target.failure_reasons[label] = target.failure_reasons.get(label, 0) + n
        elif kind == ev.SESSION_INCIDENT:
            kiosk.incidents += n
            label = str(incident or "unknown")
            kiosk.incident_kinds[label] = kiosk.incident_kinds.get(label, 0) + n
        elif kind == ev.DOCUMENT_CAPTURED:
            kiosk.documents_scanned += n
            for target in (f, t):
                target.documents_scanned += n
                target.pages_scanned += pages
        elif kind == ev.DOCUMENT_PRINTED:
            kiosk.documents_printed += n
            for target in (f, t):
                target.documents_printed += n
                target.pages_printed += printed_pages

    for acc in (*accs.values(), total):
        acc.figures.wait_median_s = median(acc.waits)
        acc.figures.wait_p90_s = p90(acc.waits)
        acc.figures.interview_median_s = median(acc.interviews)
        acc.figures.failure_reasons = dict(sorted(acc.figures.failure_reasons.items()))
    for kiosk in kiosks.values():
        kiosk.incident_kinds = dict(sorted(kiosk.incident_kinds.items()))
    partners = [accs[p.id].figures for p in config.partners]
    partners += [acc.figures for pid, acc in accs.items() if pid not in names]
    return PeriodFigures(
        period=period,
        total=total.figures,
        partners=partners,
        kiosks=sorted(kiosks.values(), key=lambda k: k.kiosk),
        daily=dict(sorted(daily.items())),
        hourly=hourly,
        wait_histogram=histogram,
    )


# ----------------------------------------------------------------- machine-readable
def report_to_dict(report: ActivityReport) -> dict[str, Any]:
    """The whole report as JSON-ready data (what `pvp report --format json` prints)."""

    def figures(f: Figures) -> dict[str, Any]:
        return {
            "partner": f.partner_id or None,
            "name": f.name,
            "visits": f.visits,
            "walk_ins": f.walk_ins,
            "appointments": f.appointments,
            "transfers_in": f.transfers_in,
            "transfers_out": f.transfers_out,
            "no_shows": f.no_shows,
            "cancellations": f.cancellations,
            "served": f.served,
            "open": f.open,
            "closed_overnight": f.closed_overnight,
            "wait_median_seconds": f.wait_median_s,
            "wait_p90_seconds": f.wait_p90_s,
            "interview_median_seconds": f.interview_median_s,
            "outcomes": dict(f.outcomes),
            "technical_failures": f.technical_failures,
            "sessions": f.sessions,
            "failed_sessions": f.failed_sessions,
            "failure_reasons": dict(f.failure_reasons),
            "documents_scanned": f.documents_scanned,
            "pages_scanned": f.pages_scanned,
            "documents_printed": f.documents_printed,
            "pages_printed": f.pages_printed,
            "needs_requested": dict(f.needs_requested),
            "needs_met": dict(f.needs_met),
        }

    def period_figures(p: PeriodFigures, charts: bool) -> dict[str, Any]:
        data: dict[str, Any] = {
            "from": p.period.start.isoformat(),
            "to": p.period.end.isoformat(),
            "days": p.period.days,
            "total": figures(p.total),
            "partners": [figures(f) for f in p.partners],
            "kiosks": [
                {
                    "kiosk": k.kiosk,
                    "sessions": k.sessions,
                    "failed_sessions": k.failed_sessions,
                    "seconds_in_call": k.seconds_in_call,
                    "reconnects": k.reconnects,
                    "incidents": k.incidents,
                    "incident_kinds": dict(k.incident_kinds),
                    "quality": dict(k.quality),
                    "worst_quality": k.worst_quality,
                    "documents_scanned": k.documents_scanned,
                    "documents_printed": k.documents_printed,
                }
                for k in p.kiosks
            ],
        }
        if charts:
            data["daily"] = {d.isoformat(): dict(c) for d, c in p.daily.items()}
            data["hourly"] = list(p.hourly)
            data["wait_histogram"] = {bucket_label(i): n for i, n in enumerate(p.wait_histogram)}
        return data

    return {
        "site": report.site_id,
        "site_name": report.site_name,
        "generated_from": "event log",
        "current": period_figures(report.current, charts=True),
        "previous": period_figures(report.previous, charts=False),
    }


# ---------------------------------------------------------------------- chart series
@dataclass(frozen=True)
class Series:
    """Bars for a chart: one label per bar, one stack of values per name."""

    labels: list[str]
    stacks: list[tuple[str, list[int]]]


def visits_series(figures: PeriodFigures, top: int = 4, max_bars: int = 31) -> Series:
    """Visits over time by partner: per day, or per week or month on long periods; the
    `top` busiest partners by name and the others together, so a chart stays readable."""
    days = list(figures.daily)
    if len(days) <= max_bars:
        keys = list(days)
        key_of = {d: d for d in days}
        labels = [d.strftime("%d/%m") for d in keys]
    elif len(days) <= max_bars * 7:
        key_of = {d: d - timedelta(days=d.weekday()) for d in days}
        keys = sorted(set(key_of.values()))
        labels = [d.strftime("%d/%m") for d in keys]
    else:
        key_of = {d: d.replace(day=1) for d in days}
        keys = sorted(set(key_of.values()))
        labels = [d.strftime("%m/%y") for d in keys]
    index = {key: i for i, key in enumerate(keys)}
    ranked = sorted(
        (f for f in figures.partners if f.visits), key=lambda f: (-f.visits, f.partner_id)
    )
    named = [f.partner_id for f in ranked[:top]]
    names = {f.partner_id: f.name for f in figures.partners}
    stacks: dict[str, list[int]] = {pid: [0] * len(keys) for pid in named}
    others = [0] * len(keys)
    for day, counts in figures.daily.items():
        slot = index[key_of[day]]
        for pid, n in counts.items():
            stacks.get(pid, others)[slot] += n
    result = [(names.get(pid, pid), stacks[pid]) for pid in named]
    if any(others):
        result.append((_("Others"), others))
    return Series(labels, result)


def hours_series(figures: PeriodFigures) -> Series:
    """Check-ins per local hour, over the opening hours (those with any check-in)."""
    used = [h for h, n in enumerate(figures.hourly) if n] or list(range(9, 18))
    hours = range(min(used), max(used) + 1)
    return Series([f"{h}h" for h in hours], [(_("Check-ins"), [figures.hourly[h] for h in hours])])


def waits_series(figures: PeriodFigures) -> Series:
    labels = [bucket_label(i) for i in range(len(WAIT_BUCKETS))]
    return Series(labels, [(_("Visits"), list(figures.wait_histogram))])
