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

import bisect
import json
import math
import re
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
from .i18n import _, get_language
from .models import Need, Outcome
from .store import Store

FAILED_STATE = "failed"
QUALITIES = ("good", "degraded", "poor")
ANSWERS = ("good", "ok", "bad")  # session_satisfaction.answer: the kiosk's three faces
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
                    start=format_date(self.start), end=format_date(self.end)
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


_ISO_DATE = re.compile(r"(\d{4})-(\d{1,2})-(\d{1,2})", re.ASCII)
_DAY_FIRST_DATE = re.compile(r"(\d{1,2})[/.-](\d{1,2})[/.-](\d{4}|\d{2})", re.ASCII)


def parse_date(text: str, what: str = "date") -> date:
    """A calendar day typed by staff: DD/MM/YYYY (also D/M/YYYY, DD/MM/YY, with `/`, `.` or
    `-`) as French staff write it, or ISO YYYY-MM-DD. The one date parser of the reports:
    `pvp report --from/--to` and the reports screen both use it."""
    cleaned = text.strip()
    parts: tuple[int, int, int] | None = None
    if match := _ISO_DATE.fullmatch(cleaned):
        year, month, day = (int(g) for g in match.groups())
        parts = (year, month, day)
    elif match := _DAY_FIRST_DATE.fullmatch(cleaned):
        day, month, year = (int(g) for g in match.groups())
        parts = (2000 + year if len(match.group(3)) == 2 else year, month, day)
    if parts is not None:
        try:
            return date(*parts)
        except ValueError:
            pass  # 31/02, month 13, year 0: not a day of the calendar
    raise PvpError(
        "bad_date",
        _(
            '{what}: "{text}" is not a date; write it as DD/MM/YYYY (31/03/2026) '
            "or YYYY-MM-DD (2026-03-31)."
        ).format(what=what, text=text),
    )


def format_date(day: date) -> str:
    """A day as the period fields show it: 31/03/2026 in French, 2026-03-31 otherwise.
    `parse_date` reads both back. File names and JSON stay ISO (sortable)."""
    return day.strftime("%d/%m/%Y") if get_language() == "fr" else day.isoformat()


def format_short_date(day: date) -> str:
    """A day without its year, next to full dates: 31/03 in French, 03-31 otherwise."""
    return day.strftime("%d/%m") if get_language() == "fr" else day.strftime("%m-%d")


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
    # The kiosk's three faces after the call (session_satisfaction): answer -> visits
    satisfaction: dict[str, int] = field(default_factory=lambda: dict.fromkeys(ANSWERS, 0))
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

    @property
    def satisfaction_answers(self) -> int:
        """Visits whose visitor touched a face after the call (one answer per session)."""
        return sum(self.satisfaction.values())

    @property
    def satisfaction_share(self) -> float | None:
        """Percent of the video sessions the visitor answered the kiosk's question after;
        None without sessions. The kiosk asks only after a call the agent joined, so a
        failed call lowers it too."""
        if not self.sessions:
            return None
        return min(100.0, self.satisfaction_answers / self.sessions * 100)


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
    daily: dict[date, dict[str, int]]  # local day -> partner -> visits (current period only)
    hourly: list[int]  # 24 local hours -> check-ins (current period only)
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


def bucket_label(index: int) -> str:
    low, high = WAIT_BUCKETS[index]
    return f"{low}-{high}" if high is not None else f"{low}+"


# ------------------------------------------------------------------------------ report
def activity_report(store: Store, config: Config, period: Period) -> ActivityReport:
    """The site's activity over `period`, with the previous period of the same length."""
    refresh_summaries(store)
    with store.snapshot() as db:
        current = _period_figures(db.conn, config, period)
        previous = _period_figures(db.conn, config, period.previous(), charts=False)
    return ActivityReport(config.site.id, config.site.name, current, previous)


# The event log, summarised once per visit: `report_visits` (one row per visit) and
# `report_sessions` (its session and document events, grouped). A summary is a pure
# function of its visit's events; the log is append-only, so each refresh recomputes only
# the visits with events past the last seq summarised. These tables are a cache: dropping
# them only makes the next report rebuild them.
SUMMARY_VERSION = 5  # 5: the kiosk's satisfaction answers in report_labels

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
        wait_ms INTEGER,
        interview_ms INTEGER,
        outcome TEXT,
        final TEXT NOT NULL,
        cat INTEGER NOT NULL  -- origin, kind, final state and outcome as one small number
    )""",
    # Covering: a period's rows are read from the index alone, in arrival order.
    """CREATE INDEX IF NOT EXISTS report_visits_arrived ON report_visits(site_id, arrived,
        partner, cat, wait_ms, interview_ms, needs)""",
    """CREATE TABLE IF NOT EXISTS report_sessions (
        visit_id TEXT NOT NULL,
        site_id TEXT NOT NULL,
        arrived TEXT NOT NULL,
        partner TEXT NOT NULL,
        kiosk TEXT NOT NULL,
        sessions INTEGER NOT NULL,
        failed INTEGER NOT NULL,
        seconds REAL NOT NULL,
        reconnects REAL NOT NULL,
        good INTEGER NOT NULL,
        degraded INTEGER NOT NULL,
        poor INTEGER NOT NULL,
        incidents INTEGER NOT NULL,
        scanned INTEGER NOT NULL,
        pages_scanned REAL NOT NULL,
        printed INTEGER NOT NULL,
        pages_printed REAL NOT NULL
    )""",
    """CREATE INDEX IF NOT EXISTS report_sessions_arrived ON report_sessions(site_id, arrived,
        partner, kiosk, sessions, failed, seconds, reconnects, good, degraded, poor, incidents,
        scanned, pages_scanned, printed, pages_printed)""",
    # Failure reasons and incident kinds (few rows).
    """CREATE TABLE IF NOT EXISTS report_labels (
        visit_id TEXT NOT NULL,
        site_id TEXT NOT NULL,
        arrived TEXT NOT NULL,
        partner TEXT NOT NULL,
        kiosk TEXT NOT NULL,
        what TEXT NOT NULL,
        label TEXT NOT NULL,
        n INTEGER NOT NULL
    )""",
    """CREATE INDEX IF NOT EXISTS report_labels_arrived ON report_labels(site_id, arrived)""",
    """CREATE INDEX IF NOT EXISTS report_labels_visit ON report_labels(visit_id)""",
    """CREATE INDEX IF NOT EXISTS report_sessions_visit ON report_sessions(visit_id)""",
)

_CHANGED_CREATED = """
    SELECT c.visit_id AS visit_id, c.site_id AS site_id, c.type AS origin, c.at AS arrived,
           json_extract(c.data, '$.partner') AS partner,
           json_extract(c.data, '$.kind') AS kind,
           -- a transferred-in visit's needs are the visitor's, copied on the visit row
           COALESCE(json_extract(c.data, '$.needs'),
                    (SELECT v.needs FROM visits v WHERE v.id = c.visit_id)) AS needs
    FROM report_changed x CROSS JOIN events c ON c.visit_id = x.visit_id
    WHERE c.type IN ('checked_in', 'transferred_in')
"""

# What the event log says about each changed visit, in one row.
_SUMMARISE_VISITS = f"""
INSERT INTO report_visits (visit_id, site_id, arrived, origin, partner, kind, needs, wait_ms,
                           interview_ms, outcome, final, cat)
SELECT *,
       (origin IS 'transferred_in') * 1000 + (kind IS 'appointment') * 100
       + CASE final WHEN 'done' THEN 10 WHEN 'transferred' THEN 20 WHEN 'no_show' THEN 30
                    WHEN 'cancelled' THEN 40 WHEN 'closed_overnight' THEN 50 ELSE 0 END
       + CASE outcome WHEN 'resolved' THEN 1 WHEN 'follow_up' THEN 2 WHEN 'redirected' THEN 3
                      WHEN 'technical_failure' THEN 4 ELSE 0 END
FROM (
SELECT visit_id, site_id, arrived, origin, partner, kind,
       CASE WHEN needs IS NULL OR needs = '[]' THEN NULL ELSE needs END,
       CAST(ROUND((julianday(first_called) - julianday(arrived)) * 86400000) AS INTEGER),
       CASE WHEN finished IS NOT NULL AND last_started IS NOT NULL
            THEN CAST(ROUND((julianday(finished) - julianday(last_started)) * 86400000)
                      AS INTEGER) END,
       outcome,
       CASE WHEN finished IS NOT NULL THEN 'done'
            WHEN transferred THEN 'transferred'
            WHEN cancelled AND cancelled_from = 'no_show' THEN 'no_show'
            WHEN cancelled THEN 'cancelled'
            WHEN no_show_seq IS NOT NULL AND (back_seq IS NULL OR no_show_seq > back_seq)
                 THEN 'no_show'
            WHEN closed_overnight THEN 'closed_overnight'
            ELSE 'open' END AS final
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
)
"""

# Their session and document events, one row each, with the kiosk they happened at.
_SESSION_EVENTS = f"""
SELECT created.visit_id AS visit_id, created.site_id AS site_id, created.arrived AS arrived,
       created.partner AS partner,
       COALESCE(json_extract(e.data, '$.kiosk'),
                (SELECT json_extract(s.data, '$.kiosk') FROM events s
                 WHERE s.visit_id = e.visit_id AND s.type = 'session_started' AND s.seq < e.seq
                 ORDER BY s.seq DESC LIMIT 1),
                '?') AS kiosk,
       e.type AS type, e.data AS data
FROM ({_CHANGED_CREATED}) AS created CROSS JOIN events e ON e.visit_id = created.visit_id
WHERE e.type IN ('{ev.SESSION_STARTED}', '{ev.SESSION_ENDED}', '{ev.SESSION_INCIDENT}',
                 '{ev.SESSION_SATISFACTION}', '{ev.DOCUMENT_CAPTURED}', '{ev.DOCUMENT_PRINTED}')
"""

# ... summed per visit and kiosk.
_SUMMARISE_SESSIONS = f"""
INSERT INTO report_sessions (visit_id, site_id, arrived, partner, kiosk, sessions, failed,
    seconds, reconnects, good, degraded, poor, incidents, scanned, pages_scanned, printed,
    pages_printed)
SELECT visit_id, site_id, arrived, partner, kiosk,
    SUM(type = '{ev.SESSION_STARTED}'),
    SUM(type = '{ev.SESSION_ENDED}' AND json_extract(data, '$.state') = '{FAILED_STATE}'),
    TOTAL(CASE WHEN type = '{ev.SESSION_ENDED}'
               THEN json_extract(data, '$.seconds_in_call') END),
    TOTAL(CASE WHEN type = '{ev.SESSION_ENDED}' THEN json_extract(data, '$.reconnects') END),
    SUM(type = '{ev.SESSION_ENDED}' AND json_extract(data, '$.worst_quality') = 'good'),
    SUM(type = '{ev.SESSION_ENDED}' AND json_extract(data, '$.worst_quality') = 'degraded'),
    SUM(type = '{ev.SESSION_ENDED}' AND json_extract(data, '$.worst_quality') = 'poor'),
    SUM(type = '{ev.SESSION_INCIDENT}'),
    SUM(type = '{ev.DOCUMENT_CAPTURED}'),
    TOTAL(CASE WHEN type = '{ev.DOCUMENT_CAPTURED}' THEN json_extract(data, '$.pages') END),
    SUM(type = '{ev.DOCUMENT_PRINTED}'),
    TOTAL(CASE WHEN type = '{ev.DOCUMENT_PRINTED}'
               THEN COALESCE(json_extract(data, '$.pages'), 0)
                    * COALESCE(json_extract(data, '$.copies'), 1) END)
FROM ({_SESSION_EVENTS})
GROUP BY visit_id, kiosk
"""

_SUMMARISE_LABELS = f"""
INSERT INTO report_labels (visit_id, site_id, arrived, partner, kiosk, what, label, n)
SELECT visit_id, site_id, arrived, partner, kiosk,
       CASE WHEN type = '{ev.SESSION_ENDED}' THEN 'reason'
            WHEN type = '{ev.SESSION_SATISFACTION}' THEN 'satisfaction'
            ELSE 'incident' END,
       COALESCE(CASE WHEN type = '{ev.SESSION_ENDED}' THEN json_extract(data, '$.reason')
                     WHEN type = '{ev.SESSION_SATISFACTION}' THEN json_extract(data, '$.answer')
                     ELSE json_extract(data, '$.kind') END, 'unknown'),
       COUNT(*)
FROM ({_SESSION_EVENTS})
WHERE type = '{ev.SESSION_INCIDENT}'
   OR type = '{ev.SESSION_SATISFACTION}'
   OR (type = '{ev.SESSION_ENDED}' AND json_extract(data, '$.state') = '{FAILED_STATE}')
GROUP BY 1, 5, 6, 7
"""


# Events per transaction: ~7 ms of write lock each here (20,000 held it ~150 ms: check-ins
# waited), and no slower in total.
SUMMARY_CHUNK = 1_000


def refresh_summaries(store: Store, chunk: int | None = None) -> int:
    """Bring the per-visit summaries up to the end of the event log; returns how many
    visit summaries were (re)computed (0 when nothing changed since the last report).

    The log is taken in chunks of `chunk` (SUMMARY_CHUNK) events, one short write
    transaction each, so that building the summaries of a large database never holds
    the other pvp processes' writes for long: after a chunk, every visit with an event
    in it has been summarised from all its events, and the high-water seq moves to the
    chunk's end. (A store no other process uses may take its whole log at once: faster.)
    """
    summarised = 0
    while True:
        top = store.query("SELECT COALESCE(MAX(seq), 0) AS top FROM events")[0]["top"]
        try:
            rows = store.query("SELECT key, value FROM report_state")
        except sqlite3.OperationalError:  # no summary yet
            rows = []
        state = {r["key"]: r["value"] for r in rows}
        if state.get("version") == SUMMARY_VERSION and state.get("seq") == top:
            return summarised
        with store.transaction() as db:
            summarised += _summarise_chunk(db.conn, chunk or SUMMARY_CHUNK)


def _summarise_chunk(conn: sqlite3.Connection, chunk: int) -> int:
    conn.execute(_SUMMARY_SCHEMA[0])
    state = {k: v for k, v in conn.execute("SELECT key, value FROM report_state")}
    done = state.get("seq", 0) if state.get("version") == SUMMARY_VERSION else 0
    if done == 0:  # first report, or summaries of another shape: start afresh
        for table in ("report_visits", "report_sessions", "report_labels"):
            conn.execute(f"DROP TABLE IF EXISTS {table}")
    for statement in _SUMMARY_SCHEMA[1:]:
        conn.execute(statement)
    top = conn.execute("SELECT COALESCE(MAX(seq), 0) FROM events").fetchone()[0]
    upto = min(top, done + chunk)
    conn.execute("CREATE TEMP TABLE IF NOT EXISTS report_changed (visit_id TEXT PRIMARY KEY)")
    conn.execute("DELETE FROM report_changed")
    conn.execute(
        "INSERT OR IGNORE INTO report_changed "
        "SELECT visit_id FROM events WHERE seq > ? AND seq <= ?",
        [done, upto],
    )
    changed = int(conn.execute("SELECT COUNT(*) FROM report_changed").fetchone()[0])
    for table in ("report_visits", "report_sessions", "report_labels"):
        conn.execute(f"DELETE FROM {table} WHERE visit_id IN (SELECT visit_id FROM report_changed)")
    conn.execute(_SUMMARISE_VISITS)
    conn.execute(_SUMMARISE_SESSIONS)
    conn.execute(_SUMMARISE_LABELS)
    conn.execute("DELETE FROM report_changed")
    conn.executemany(
        "INSERT OR REPLACE INTO report_state (key, value) VALUES (?, ?)",
        [("version", SUMMARY_VERSION), ("seq", upto)],
    )
    return changed


_IN_PERIOD = "site_id = :site AND arrived >= :start AND arrived < :end"

# The period's visits counted by partner and category, with their durations as text
# lists (whole milliseconds): one small sort, far cheaper than one row per visit.
_PERIOD_COUNTS = f"""
SELECT partner, cat, COUNT(*), group_concat(wait_ms), group_concat(interview_ms)
FROM report_visits WHERE {_IN_PERIOD} GROUP BY 1, 2
"""

_PERIOD_NEEDS = f"""
SELECT partner, cat, needs, COUNT(*) FROM report_visits
WHERE {_IN_PERIOD} AND needs IS NOT NULL GROUP BY 1, 2, 3
"""

# Arrivals per UTC hour (or minute, where the site's offset is not whole hours).
_PERIOD_ARRIVALS = f"""
SELECT substr(arrived, 1, :key), partner, cat < 1000, COUNT(*) FROM report_visits
WHERE {_IN_PERIOD} GROUP BY 1, 2, 3
"""

_PERIOD_SESSIONS = f"""
SELECT partner, kiosk, SUM(sessions), SUM(failed), SUM(seconds), SUM(reconnects), SUM(good),
       SUM(degraded), SUM(poor), SUM(incidents), SUM(scanned), SUM(pages_scanned),
       SUM(printed), SUM(pages_printed)
FROM report_sessions WHERE {_IN_PERIOD}
GROUP BY 1, 2
"""

_PERIOD_LABELS = f"""
SELECT partner, kiosk, what, label, SUM(n) FROM report_labels WHERE {_IN_PERIOD}
GROUP BY 1, 2, 3, 4
"""


_FINALS = ("open", "done", "transferred", "no_show", "cancelled", "closed_overnight")
_OUTCOMES = (None, "resolved", "follow_up", "redirected", "technical_failure")


def _decode(cat: int) -> tuple[bool, bool, str, str | None]:
    """(transferred in, appointment, final state, outcome) from a summary's `cat`."""
    origin, rest = divmod(cat, 1000)
    kind, rest = divmod(rest, 100)
    final, outcome = divmod(rest, 10)
    return bool(origin), bool(kind), _FINALS[final], _OUTCOMES[outcome]


def _whole_hours(tz: ZoneInfo, period: Period) -> bool:
    """True when the site's UTC offset is whole hours over the period (then a UTC hour
    maps to one local hour)."""
    moments = [datetime.combine(d, time(12), tz) for d in (period.start, period.end)]
    moments += [datetime.combine(date(period.start.year, m, 1), time(12), tz) for m in (1, 7)]
    return all((m.utcoffset() or timedelta()).total_seconds() % 3600 == 0 for m in moments)


def _wait_histogram(ordered: list[float]) -> list[int]:
    """Counts per WAIT_BUCKETS entry (negative waits in the first) of sorted waits."""
    edges = [bisect.bisect_left(ordered, low * 60) for low, _high in WAIT_BUCKETS[1:]]
    bounds = [0, *edges, len(ordered)]
    return [bounds[i + 1] - bounds[i] for i in range(len(WAIT_BUCKETS))]


class _Acc:
    """Collects one partner's (or the site's) durations."""

    def __init__(self, figures: Figures) -> None:
        self.figures = figures
        self.waits: list[float] = []
        self.interviews: list[float] = []


def _period_figures(
    conn: Any, config: Config, period: Period, charts: bool = True
) -> PeriodFigures:
    """The figures of one period; without `charts`, no per-day or per-hour counts (the
    previous period is only compared figure by figure)."""
    tz = config.site.timezone
    start, end = period.bounds(tz)
    params: dict[str, Any] = {"site": config.site.id, "start": start, "end": end}
    names = {p.id: p.name for p in config.partners}
    accs: dict[str, _Acc] = {
        p.id: _Acc(Figures(partner_id=p.id, name=p.name)) for p in config.partners
    }
    total = _Acc(Figures(partner_id="", name=_("Total")))
    failure = Outcome.TECHNICAL_FAILURE.value
    valid_needs = {n.value for n in Need}

    def acc_of(partner: str) -> _Acc:
        acc = accs.get(partner)
        if acc is None:  # a partner no longer offered: still counted, under its name
            known = config.partner(partner)  # a retired one keeps it (effective_config)
            name = known.name if known is not None else partner
            acc = accs[partner] = _Acc(Figures(partner_id=partner, name=name))
        return acc

    for partner, cat, n, waits, interviews in conn.execute(_PERIOD_COUNTS, params):
        acc = acc_of(partner)
        f, t = acc.figures, total.figures
        transferred_in, appointment, final, outcome = _decode(cat)
        f.visits += n
        if not transferred_in:
            t.visits += n
            if appointment:
                f.appointments += n
                t.appointments += n
            else:
                f.walk_ins += n
                t.walk_ins += n
        else:
            f.transfers_in += n
            t.transfers_in += n
        for target in (f, t):
            if final == "done":
                target.served += n
                if outcome is not None:
                    target.outcomes[outcome] += n
                if outcome == failure:
                    target.technical_failures += n
            elif final == "transferred":
                target.transfers_out += n
            elif final == "no_show":
                target.no_shows += n
            elif final == "cancelled":
                target.cancellations += n
            elif final == "closed_overnight":
                target.closed_overnight += n
            else:
                target.open += n
        if waits:
            acc.waits += [int(ms) / 1000 for ms in waits.split(",")]
        if interviews:
            acc.interviews += [int(ms) / 1000 for ms in interviews.split(",")]

    for partner, cat, needs_json, n in conn.execute(_PERIOD_NEEDS, params):
        _origin, _kind, final, outcome = _decode(cat)
        if final == "transferred":  # the needs travel with the visitor
            continue
        met = final == "done" and outcome != failure
        f, t = acc_of(partner).figures, total.figures
        for need in json.loads(needs_json):
            if need in valid_needs:
                for target in (f, t):
                    target.needs_requested[need] += n
                    if met:
                        target.needs_met[need] += n

    daily: dict[date, dict[str, int]] = {d: {} for d in period.each_day()} if charts else {}
    hourly = [0] * 24
    params["key"] = 13 if _whole_hours(tz, period) else 16
    arrivals = conn.execute(_PERIOD_ARRIVALS, params) if charts else ()
    suffix = ":00:00+00:00" if params["key"] == 13 else ":00+00:00"
    local_of: dict[str, datetime] = {}
    for key, partner, checked_in, n in arrivals:
        local = local_of.get(key)
        if local is None:
            local = local_of[key] = datetime.fromisoformat(key + suffix).astimezone(tz)
        counts = daily.setdefault(local.date(), {})
        counts[partner] = counts.get(partner, 0) + n
        if checked_in:
            hourly[local.hour] += n

    kiosks: dict[str, KioskFigures] = {}
    for row in conn.execute(_PERIOD_SESSIONS, params):
        partner, kiosk_id, sessions, failed, seconds, reconnects, *quality = row[:9]
        incidents, scanned, pages_scanned, printed, pages_printed = row[9:]
        f, t = acc_of(partner).figures, total.figures
        kiosk = kiosks.setdefault(str(kiosk_id), KioskFigures(kiosk=str(kiosk_id)))
        kiosk.sessions += sessions
        kiosk.failed_sessions += failed
        kiosk.seconds_in_call += seconds
        kiosk.reconnects += int(reconnects)
        for level, n in zip(QUALITIES, quality, strict=True):
            kiosk.quality[level] += n
        kiosk.incidents += incidents
        kiosk.documents_scanned += scanned
        kiosk.documents_printed += printed
        for target in (f, t):
            target.sessions += sessions
            target.failed_sessions += failed
            target.documents_scanned += scanned
            target.pages_scanned += int(pages_scanned)
            target.documents_printed += printed
            target.pages_printed += int(pages_printed)
    for partner, kiosk_id, what, label, n in conn.execute(_PERIOD_LABELS, params):
        if what == "reason":
            for target in (acc_of(partner).figures, total.figures):
                target.failure_reasons[label] = target.failure_reasons.get(label, 0) + n
        elif what == "satisfaction":
            if label in ANSWERS:
                for target in (acc_of(partner).figures, total.figures):
                    target.satisfaction[label] += n
        else:
            kiosk = kiosks.setdefault(str(kiosk_id), KioskFigures(kiosk=str(kiosk_id)))
            kiosk.incident_kinds[label] = kiosk.incident_kinds.get(label, 0) + n

    for acc in accs.values():
        total.waits += acc.waits
        total.interviews += acc.interviews
    for acc in (*accs.values(), total):
        acc.waits.sort()
        acc.interviews.sort()
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
        wait_histogram=_wait_histogram(total.waits),
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
            "satisfaction": dict(f.satisfaction),
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
