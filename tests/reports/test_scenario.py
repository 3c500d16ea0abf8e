"""One hand-made day with its answers worked out by hand: a visit transferred between
partners, a no-show, a video call that failed and was retried, a visitor who arrived
just after midnight (local time, still the previous day in UTC), one still waiting."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import pytest

from pvp_tui.core import i18n
from pvp_tui.core.config import load_config
from pvp_tui.core.errors import PvpError
from pvp_tui.core.exports import SHARE, format_cell, report_tables, to_csv
from pvp_tui.core.reports import Period, activity_report, change_percent, p90
from pvp_tui.core.store import Store

from .history import History

DAY = date(2026, 3, 10)  # a Tuesday, UTC+1 in Paris


@pytest.fixture(scope="module")
def day_report(tmp_path_factory: pytest.TempPathFactory):
    store = Store(tmp_path_factory.mktemp("day") / "day.db", create=True)
    h = History(store, load_config(None))
    t = h.local
    a = h.check_in(t(DAY, 9, 0), "caf", needs=("reduced_mobility",))
    h.call(a, t(DAY, 9, 12))
    h.start(a, t(DAY, 9, 13))
    b = h.transfer(a, t(DAY, 9, 20), "cpam")
    h.call(b, t(DAY, 9, 30))
    h.start(b, t(DAY, 9, 31))
    h.session(b, t(DAY, 9, 31, 10), 1000, "kiosque-1")
    # The visitor touched a face on the kiosk after the call (kiosk.satisfaction).
    h.raw_event(
        b.visit_id,
        "session_satisfaction",
        t(DAY, 9, 49),
        {"kiosk": "kiosque-1", "session": "s-b", "answer": "good"},
    )
    h.finish(b, t(DAY, 9, 51), "resolved")

    c = h.check_in(t(DAY, 9, 55), "cpam", appointment=True)
    h.call(c, t(DAY, 10, 5))
    h.no_show(c, t(DAY, 10, 10))

    d = h.check_in(t(DAY, 10, 0), "msa")
    h.call(d, t(DAY, 10, 4))
    h.start(d, t(DAY, 10, 5))
    after = h.session(
        d,
        t(DAY, 10, 5, 10),
        120,
        "kiosque-2",
        failed=True,
        reason="connection_lost",
        quality="poor",
        reconnects=2,
        incident="call_lost",
        incident_has_kiosk=False,
    )
    after = h.session(d, after, 900, "kiosque-2", quality="degraded")
    h.raw_event(d.visit_id, "session_satisfaction", after, {"kiosk": "kiosque-2", "answer": "bad"})
    h.raw_event(d.visit_id, "document_captured", after, {"kiosk": "kiosque-2", "pages": 3})
    h.raw_event(d.visit_id, "document_captured", after, {"kiosk": "kiosque-2", "pages": 1})
    h.raw_event(
        d.visit_id,
        "document_printed",
        after + timedelta(seconds=5),
        {"kiosk": "kiosque-2", "pages": 2, "copies": 2},
    )
    h.finish(d, t(DAY, 10, 35), "follow_up")

    e = h.check_in(t(DAY, 0, 30), "caf")  # 23:30 UTC on the 9th
    h.cancel(e, t(DAY, 0, 40))

    h.check_in(t(DAY, 16, 0), "caf")  # still waiting when the report is made
    report = activity_report(store, h.config, Period.day(DAY))
    yield store, h.config, report
    store.close()


def test_totals_of_the_day(day_report) -> None:
    _store, _config, report = day_report
    t = report.current.total
    assert (t.visits, t.walk_ins, t.appointments) == (5, 4, 1)
    assert (t.transfers_out, t.transfers_in) == (1, 1)
    assert (t.no_shows, t.cancellations, t.served, t.open) == (1, 1, 2, 1)
    # waits 12, 10, 10 and 4 minutes; interviews 20 and 30 minutes
    assert (t.wait_median_s, t.wait_p90_s) == (600.0, 720.0)
    assert t.interview_median_s == 1500.0
    assert t.outcomes == {"resolved": 1, "follow_up": 1, "redirected": 0, "technical_failure": 0}
    assert (t.sessions, t.failed_sessions, t.failure_reasons) == (3, 1, {"connection_lost": 1})
    assert t.satisfaction == {"good": 1, "ok": 0, "bad": 1}
    assert (t.documents_scanned, t.pages_scanned) == (2, 4)
    assert (t.documents_printed, t.pages_printed) == (1, 4)
    # The need travelled with the transferred visitor: counted once, on the served visit.
    assert t.needs_requested["reduced_mobility"] == 1
    assert t.needs_met["reduced_mobility"] == 1
    assert sum(t.needs_requested.values()) == 1


def test_partners_of_the_day(day_report) -> None:
    _store, _config, report = day_report
    caf, cpam, msa = (report.current.partner(p) for p in ("caf", "cpam", "msa"))
    assert caf is not None and cpam is not None and msa is not None
    assert (caf.visits, caf.transfers_out, caf.cancellations, caf.open) == (3, 1, 1, 1)
    assert (caf.wait_median_s, caf.interview_median_s, caf.served) == (720.0, None, 0)
    assert (cpam.visits, cpam.transfers_in, cpam.appointments, cpam.no_shows) == (2, 1, 1, 1)
    assert (cpam.satisfaction["good"], msa.satisfaction["bad"], caf.satisfaction) == (
        1,
        1,
        {"good": 0, "ok": 0, "bad": 0},
    )
    assert (cpam.wait_median_s, cpam.interview_median_s, cpam.served) == (600.0, 1200.0, 1)
    assert cpam.needs_met["reduced_mobility"] == 1 and caf.needs_requested_total == 0
    assert (msa.visits, msa.served, msa.wait_median_s, msa.interview_median_s) == (
        1,
        1,
        240.0,
        1800.0,
    )
    assert (msa.sessions, msa.failed_sessions, msa.outcomes["follow_up"]) == (2, 1, 1)
    assert report.current.daily == {DAY: {"caf": 3, "cpam": 2, "msa": 1}}
    hours = {h: n for h, n in enumerate(report.current.hourly) if n}
    assert hours == {0: 1, 9: 2, 10: 1, 16: 1}


def test_satisfaction_in_the_tables(day_report) -> None:
    """Yes/a little/no and the share of video sessions answered, per partner and in total,
    in the summary and the partner table (the screen's, the exports' and the hub's)."""
    _store, _config, report = day_report
    tables = {t.key: t for t in report_tables(report)}
    summary = {row[0]: row[1] for row in tables["summary"].rows}
    # 2 answers (cpam yes, msa no) after 3 video sessions (cpam 1, msa 2, one failed)
    assert [summary[k] for k in ("Aidé : oui", "Aidé : un peu", "Aidé : non")] == [1, 0, 1]
    assert summary["Réponses après la visio (%)"] == pytest.approx(200 / 3)
    partners = tables["partners"]
    labels = [c.label for c in partners.columns]
    first = labels.index("Aidé : oui")
    assert labels[first : first + 4] == [
        "Aidé : oui",
        "Aidé : un peu",
        "Aidé : non",
        "Réponses après la visio (%)",
    ]
    assert partners.columns[first + 3].kind == SHARE
    shown = {row[0]: row[first : first + 4] for row in partners.rows}
    assert shown["CAF"] == [0, 0, 0, None]  # no video session: no share
    assert shown["Assurance Maladie"] == [1, 0, 0, 100.0]
    assert shown["MSA"] == [0, 0, 1, 50.0]
    assert shown["Total"][:3] == [1, 0, 1]
    row = partners.rows[-1]
    assert format_cell(row[first + 3], SHARE) == "66,7"  # unsigned, decimal comma
    assert partners.note is not None
    assert "2 réponses anonymes pour 3 visios." in partners.note
    assert "Réponses après la visio (%)" in to_csv(report).decode("utf-8-sig")
    with i18n.using_language("en"):
        note = next(t for t in report_tables(report) if t.key == "partners").note
    assert note is not None and "2 anonymous answers for 3 video sessions." in note


def test_kiosks_of_the_day(day_report) -> None:
    _store, _config, report = day_report
    k1, k2 = report.current.kiosks
    assert (k1.kiosk, k1.sessions, k1.seconds_in_call, k1.quality["good"]) == (
        "kiosque-1",
        1,
        1000.0,
        1,
    )
    assert (k2.kiosk, k2.sessions, k2.failed_sessions, k2.seconds_in_call) == (
        "kiosque-2",
        2,
        1,
        1020.0,
    )
    # The incident did not name its kiosk: it is the kiosk of the session it followed.
    assert (k2.reconnects, k2.incidents, k2.incident_kinds) == (2, 1, {"call_lost": 1})
    assert (k2.quality, k2.worst_quality) == ({"good": 0, "degraded": 1, "poor": 1}, "poor")
    assert (k2.documents_scanned, k2.documents_printed) == (2, 1)


def test_local_day_boundaries_and_previous_period(day_report) -> None:
    store, config, report = day_report
    assert report.previous.period == Period.day(DAY - timedelta(days=1))
    assert report.previous.total.visits == 0  # 00:30 in Paris is still the 10th
    before = activity_report(store, config, Period.day(DAY - timedelta(days=1)))
    assert before.current.total.visits == 0
    week = activity_report(store, config, Period.week(DAY))
    assert week.current.total.visits == 5 and week.current.period.start == date(2026, 3, 9)
    assert change_percent(5, 4) == 25.0 and change_percent(5, 0) is None


def test_periods() -> None:
    assert Period.week(date(2026, 3, 11)) == Period(date(2026, 3, 9), date(2026, 3, 15))
    assert Period.month(date(2028, 2, 10)) == Period(date(2028, 2, 1), date(2028, 2, 29))
    assert Period.month(date(2026, 12, 31)).end == date(2026, 12, 31)
    assert Period(date(2026, 3, 1), date(2026, 3, 31)).previous() == Period(
        date(2026, 1, 29), date(2026, 2, 28)
    )
    # The day of the DST change is 23 hours long.
    tz = load_config(None).site.timezone
    assert Period.day(date(2026, 3, 29)).bounds(tz) == (
        "2026-03-28T23:00:00.000+00:00",
        "2026-03-29T22:00:00.000+00:00",
    )
    assert p90([1.0]) == 1.0 and p90(list(map(float, range(1, 11)))) == 9.0


@pytest.mark.parametrize(
    ("start", "end", "code"),
    [
        ("2026-03-31", "2026-03-01", "bad_period"),
        ("31/02/2026", "2026-04-01", "bad_date"),
        ("2026-02-30", "2026-03-01", "bad_date"),
        ("1990-01-01", "2026-01-01", "bad_period"),
    ],
)
def test_bad_periods_say_what_to_do(start: str, end: str, code: str) -> None:
    with pytest.raises(PvpError) as caught:
        Period.parse(start, end)
    assert caught.value.code == code
    assert "AAAA-MM-JJ" in caught.value.message or "période" in caught.value.message


def test_reports_never_read_visitor_details(tmp_path: Path) -> None:
    """The report runs with the table of names and phones made unreadable."""
    store = Store(tmp_path / "p.db", create=True)
    h = History(store, load_config(None))
    rec = h.check_in(h.local(DAY, 9, 0), "caf", name="Secret", phone="0611223344")
    h.call(rec, h.local(DAY, 9, 5))
    store.conn.execute("ALTER TABLE visitor_details RENAME TO hidden_details")
    report = activity_report(store, h.config, Period.day(DAY))
    assert report.current.total.visits == 1 and report.current.total.wait_median_s == 300.0
    store.close()
