"""Expected report figures, computed from the history's ledger with plain code of its own
(never by calling pvp_tui.core.reports): the known answers of the report tests."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import date, timedelta
from zoneinfo import ZoneInfo

from .history import Rec

OUTCOMES = ("resolved", "follow_up", "redirected", "technical_failure")
NEEDS = (
    "sign_language",
    "transcription",
    "hearing",
    "sight",
    "reduced_mobility",
    "papers_help",
)
BUCKETS = (5, 10, 15, 20, 30, 45, 60)  # upper bounds in minutes; the last bucket is 60+


def middle(values: list[float]) -> float | None:
    if not values:
        return None
    s = sorted(values)
    n = len(s)
    return s[n // 2] if n % 2 else (s[n // 2 - 1] + s[n // 2]) / 2


def ninetieth(values: list[float]) -> float | None:
    """Nearest rank: the first value with at least 90 % of the values at or below it."""
    if not values:
        return None
    s = sorted(values)
    for i, v in enumerate(s):
        if (i + 1) * 10 >= 9 * len(s):
            return v
    return s[-1]


@dataclass
class Expected:
    visits: int = 0
    walk_ins: int = 0
    appointments: int = 0
    transfers_in: int = 0
    transfers_out: int = 0
    no_shows: int = 0
    cancellations: int = 0
    closed_overnight: int = 0
    served: int = 0
    open: int = 0
    waits: list[float] = field(default_factory=list)
    interviews: list[float] = field(default_factory=list)
    outcomes: Counter[str] = field(default_factory=Counter)
    technical_failures: int = 0
    sessions: int = 0
    failed_sessions: int = 0
    failure_reasons: Counter[str] = field(default_factory=Counter)
    satisfaction: Counter[str] = field(default_factory=Counter)
    documents_scanned: int = 0
    pages_scanned: int = 0
    documents_printed: int = 0
    pages_printed: int = 0
    needs_requested: Counter[str] = field(default_factory=Counter)
    needs_met: Counter[str] = field(default_factory=Counter)


@dataclass
class ExpectedKiosk:
    sessions: int = 0
    failed: int = 0
    seconds: float = 0
    reconnects: int = 0
    incidents: Counter[str] = field(default_factory=Counter)
    quality: Counter[str] = field(default_factory=Counter)
    scanned: int = 0
    printed: int = 0


@dataclass
class ExpectedPeriod:
    total: Expected
    partners: dict[str, Expected]
    kiosks: dict[str, ExpectedKiosk]
    daily: dict[date, Counter[str]]
    hourly: list[int]
    histogram: list[int]


def in_period(rec: Rec, start: date, end: date, tz: ZoneInfo) -> bool:
    return start <= rec.arrived.astimezone(tz).date() <= end


def expected(
    ledger: list[Rec], start: date, end: date, tz: ZoneInfo, partners: list[str]
) -> ExpectedPeriod:
    total = Expected()
    by_partner = {p: Expected() for p in partners}
    kiosks: dict[str, ExpectedKiosk] = {}
    daily: dict[date, Counter[str]] = {}
    d = start
    while d <= end:
        daily[d] = Counter()
        d += timedelta(days=1)
    hourly = [0] * 24
    histogram = [0] * (len(BUCKETS) + 1)
    for rec in ledger:
        if not in_period(rec, start, end, tz):
            continue
        local = rec.arrived.astimezone(tz)
        daily[local.date()][rec.partner] += 1
        p = by_partner[rec.partner]
        p.visits += 1
        if rec.origin == "checked_in":
            total.visits += 1
            hourly[local.hour] += 1
        for e in (p, total):
            if rec.origin == "transferred_in":
                e.transfers_in += 1
            elif rec.kind == "appointment":
                e.appointments += 1
            else:
                e.walk_ins += 1
            if rec.final == "done":
                e.served += 1
                e.outcomes[rec.outcome or ""] += 1
                if rec.outcome == "technical_failure":
                    e.technical_failures += 1
            elif rec.final == "transferred":
                e.transfers_out += 1
            elif rec.final == "no_show":
                e.no_shows += 1
            elif rec.final == "cancelled":
                e.cancellations += 1
            elif rec.final == "closed_overnight":
                e.closed_overnight += 1
            else:
                e.open += 1
            if rec.first_called is not None:
                e.waits.append((rec.first_called - rec.arrived).total_seconds())
            if rec.finished is not None and rec.last_started is not None:
                e.interviews.append((rec.finished - rec.last_started).total_seconds())
            for s in rec.sessions:
                e.sessions += 1
                if s.failed:
                    e.failed_sessions += 1
                    e.failure_reasons[s.reason] += 1
            for answer in rec.answers:
                e.satisfaction[answer] += 1
            e.documents_scanned += len(rec.scanned)
            e.pages_scanned += sum(pages for _k, pages in rec.scanned)
            e.documents_printed += len(rec.printed)
            e.pages_printed += sum(pages * copies for _k, pages, copies in rec.printed)
            if rec.final != "transferred":
                for need in rec.needs:
                    e.needs_requested[need] += 1
                    if rec.final == "done" and rec.outcome != "technical_failure":
                        e.needs_met[need] += 1
        if rec.first_called is not None:
            minutes = (rec.first_called - rec.arrived).total_seconds() / 60
            histogram[sum(1 for bound in BUCKETS if minutes >= bound)] += 1
        for s in rec.sessions:
            k = kiosks.setdefault(s.kiosk, ExpectedKiosk())
            k.sessions += 1
            k.failed += s.failed
            k.seconds += s.seconds
            k.reconnects += s.reconnects
            k.quality[s.quality] += 1
        for kiosk, kind in rec.incidents:
            kiosks.setdefault(kiosk, ExpectedKiosk()).incidents[kind] += 1
        for kiosk, _pages in rec.scanned:
            kiosks.setdefault(kiosk, ExpectedKiosk()).scanned += 1
        for kiosk, _pages, _copies in rec.printed:
            kiosks.setdefault(kiosk, ExpectedKiosk()).printed += 1
    return ExpectedPeriod(total, by_partner, kiosks, daily, hourly, histogram)
