"""The report's figures against known answers, figure by figure.

The six-month history is built through the real FrontDesk API; the expected figures come
from the history's own ledger (tests/reports/expected.py), not from the report code.
"""

from __future__ import annotations

from datetime import date

import pytest

from pvp_tui.core.reports import (
    ANSWERS,
    WAIT_BUCKETS,
    ActivityReport,
    Figures,
    Period,
    activity_report,
)

from .conftest import DAYS, FIRST_DAY, Built
from .expected import NEEDS, OUTCOMES, Expected, ExpectedPeriod, expected, middle, ninetieth

PERIODS = {
    "six months": Period(FIRST_DAY, date(2026, 7, 4)),
    "a month": Period.month(date(2026, 3, 17)),  # holds the DST change (29 March)
    "a week": Period.week(date(2026, 3, 26)),  # Monday 23 to Sunday 29 March
    "a day": Period.day(date(2026, 5, 12)),
    "odd range": Period(date(2026, 2, 3), date(2026, 4, 20)),
}


def check_figures(got: Figures, want: Expected, who: str) -> None:
    pairs = {
        "visits": (got.visits, want.visits),
        "walk_ins": (got.walk_ins, want.walk_ins),
        "appointments": (got.appointments, want.appointments),
        "transfers_in": (got.transfers_in, want.transfers_in),
        "transfers_out": (got.transfers_out, want.transfers_out),
        "no_shows": (got.no_shows, want.no_shows),
        "cancellations": (got.cancellations, want.cancellations),
        "closed_overnight": (got.closed_overnight, want.closed_overnight),
        "served": (got.served, want.served),
        "open": (got.open, want.open),
        "wait_median_s": (got.wait_median_s, middle(want.waits)),
        "wait_p90_s": (got.wait_p90_s, ninetieth(want.waits)),
        "interview_median_s": (got.interview_median_s, middle(want.interviews)),
        "technical_failures": (got.technical_failures, want.technical_failures),
        "sessions": (got.sessions, want.sessions),
        "failed_sessions": (got.failed_sessions, want.failed_sessions),
        "failure_reasons": (got.failure_reasons, dict(want.failure_reasons)),
        "satisfaction": (got.satisfaction, {a: want.satisfaction[a] for a in ANSWERS}),
        "satisfaction_share": (
            got.satisfaction_share,
            sum(want.satisfaction.values()) / want.sessions * 100 if want.sessions else None,
        ),
        "documents_scanned": (got.documents_scanned, want.documents_scanned),
        "pages_scanned": (got.pages_scanned, want.pages_scanned),
        "documents_printed": (got.documents_printed, want.documents_printed),
        "pages_printed": (got.pages_printed, want.pages_printed),
    }
    for outcome in OUTCOMES:
        pairs[f"outcome {outcome}"] = (got.outcomes[outcome], want.outcomes[outcome])
    for need in NEEDS:
        pairs[f"need {need}"] = (got.needs_requested[need], want.needs_requested[need])
        pairs[f"need met {need}"] = (got.needs_met[need], want.needs_met[need])
    wrong = {k: v for k, v in pairs.items() if v[0] != v[1]}
    assert not wrong, f"{who}: (report, expected) differ: {wrong}"


def check_period(report_part, want: ExpectedPeriod, partners: list[str]) -> None:
    check_figures(report_part.total, want.total, "total")
    for pid in partners:
        figures = report_part.partner(pid)
        assert figures is not None
        check_figures(figures, want.partners[pid], pid)
    got_kiosks = {k.kiosk: k for k in report_part.kiosks}
    assert set(got_kiosks) == set(want.kiosks)
    for name, k in want.kiosks.items():
        g = got_kiosks[name]
        assert (g.sessions, g.failed_sessions, g.seconds_in_call, g.reconnects) == (
            k.sessions,
            k.failed,
            k.seconds,
            k.reconnects,
        ), name
        assert g.incidents == sum(k.incidents.values()), name
        assert g.incident_kinds == dict(k.incidents), name
        assert g.quality == {q: k.quality[q] for q in ("good", "degraded", "poor")}, name
        assert (g.documents_scanned, g.documents_printed) == (k.scanned, k.printed), name


@pytest.mark.parametrize("name", list(PERIODS))
def test_figures_match_the_ledger(history: Built, name: str) -> None:
    period = PERIODS[name]
    tz = history.config.site.timezone
    partners = [p.id for p in history.config.partners]
    report = activity_report(history.store, history.config, period)
    want = expected(history.ledger, period.start, period.end, tz, partners)
    assert want.total.visits > 0 or name == "a day"
    check_period(report.current, want, partners)
    assert {d: dict(c) for d, c in want.daily.items()} == {
        d: c for d, c in report.current.daily.items()
    }
    assert report.current.hourly == want.hourly
    assert report.current.wait_histogram == want.histogram
    assert len(report.current.wait_histogram) == len(WAIT_BUCKETS)
    # The previous period of the same length, figure by figure too.
    previous = period.previous()
    assert previous.days == period.days and previous.end < period.start
    check_period(
        report.previous,
        expected(history.ledger, previous.start, previous.end, tz, partners),
        partners,
    )


def test_the_history_has_every_story(history: Built) -> None:
    """The generated history holds what the figures must get right."""
    finals = {r.final for r in history.ledger}
    assert finals >= {"done", "transferred", "no_show", "cancelled", "closed_overnight"}
    assert any(r.origin == "transferred_in" for r in history.ledger)
    assert any(len(r.sessions) == 2 and r.sessions[0].failed for r in history.ledger)
    assert len(history.ledger) > 300
    assert DAYS >= 180


def test_totals_add_up(history: Built) -> None:
    report: ActivityReport = activity_report(history.store, history.config, PERIODS["six months"])
    total, partners = report.current.total, report.current.partners
    assert total.visits == total.walk_ins + total.appointments
    assert sum(p.visits for p in partners) == total.visits + total.transfers_in
    for p in [*partners, total]:
        closed = p.served + p.transfers_out + p.no_shows + p.cancellations + p.closed_overnight
        assert closed + p.open == p.visits + (total.transfers_in if p is total else 0)
    assert sum(report.current.hourly) == total.visits
    assert sum(sum(c.values()) for c in report.current.daily.values()) == sum(
        p.visits for p in partners
    )
