"""The per-visit summaries behind the report follow the event log exactly: refreshed
incrementally as events arrive (including events on visits already summarised), the
figures equal those of a rebuild from the whole log and the known answers."""

from __future__ import annotations

import json
from datetime import date, timedelta
from pathlib import Path

import pytest

from pvp_tui.core import reports
from pvp_tui.core.config import load_config
from pvp_tui.core.reports import Period, activity_report, refresh_summaries, report_to_dict
from pvp_tui.core.store import Store

from .expected import expected
from .history import History
from .test_figures import check_period

FIRST = date(2026, 2, 2)


def test_incremental_refresh_equals_a_rebuild(tmp_path: Path) -> None:
    store = Store(tmp_path / "s.db", create=True)
    h = History(store, load_config(None), seed=11)
    h.build(FIRST, 20)
    # Left open at the end of the 20th day: the next start closes it (a later event on a
    # visit that is already summarised).
    last = FIRST + timedelta(days=20)
    rec = h.check_in(h.local(last, 16, 30), "caf")
    h.call(rec, h.local(last, 16, 40))
    period = Period(FIRST, FIRST + timedelta(days=40))
    before = activity_report(store, h.config, period)
    assert before.current.total.open == 1
    assert refresh_summaries(store) == 0  # nothing new

    h.build(last + timedelta(days=1), 20)  # its first step closes the open visit
    assert rec.final == "closed_overnight"
    after = activity_report(store, h.config, period)
    assert after.current.total.open == 0
    assert after.current.total.closed_overnight > before.current.total.closed_overnight
    partners = [p.id for p in h.config.partners]
    want = expected(h.ledger, period.start, period.end, h.config.site.timezone, partners)
    check_period(after.current, want, partners)

    with store.transaction() as db:
        db.conn.execute("DROP TABLE report_visits")
        db.conn.execute("DROP TABLE report_sessions")
        db.conn.execute("DROP TABLE report_state")
    rebuilt = activity_report(store, h.config, period)
    assert json.dumps(report_to_dict(rebuilt)) == json.dumps(report_to_dict(after))
    store.close()


def test_only_changed_visits_are_summarised_again(tmp_path: Path) -> None:
    store = Store(tmp_path / "s.db", create=True)
    h = History(store, load_config(None), seed=3)
    h.build(FIRST, 5, per_day=(3, 3))
    total = len(h.ledger)
    assert refresh_summaries(store) == total
    assert refresh_summaries(store) == 0
    day = FIRST + timedelta(days=6)
    rec = h.check_in(h.local(day, 9, 0), "msa")
    h.call(rec, h.local(day, 9, 10))
    assert refresh_summaries(store) == 1
    h.raw_event(rec.visit_id, "document_captured", h.local(day, 9, 20), {"kiosk": "k", "pages": 1})
    assert refresh_summaries(store) == 1
    report = activity_report(store, h.config, Period.day(day))
    assert report.current.total.documents_scanned == 1
    assert report.current.total.wait_median_s == 600.0
    with store.transaction() as db:  # a new summary version rebuilds everything
        db.conn.execute("UPDATE report_state SET value = 0 WHERE key = 'version'")
    assert refresh_summaries(store) == total + 1
    store.close()


def test_small_chunks_give_the_same_figures(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Built in chunks of 13 events (a visit's events straddle chunks), the summaries give
    the same report as built in one go."""
    store = Store(tmp_path / "s.db", create=True)
    h = History(store, load_config(None), seed=5)
    h.build(FIRST, 15)
    period = Period(FIRST, FIRST + timedelta(days=15))
    whole = report_to_dict(activity_report(store, h.config, period))
    with store.transaction() as db:
        db.conn.execute("DROP TABLE report_state")
    monkeypatch.setattr(reports, "SUMMARY_CHUNK", 13)
    events = store.query("SELECT COUNT(*) AS n FROM events")[0]["n"]
    assert refresh_summaries(store) > len(h.ledger)  # visits straddling chunks, twice
    assert events > 13 * 20
    assert report_to_dict(activity_report(store, h.config, period)) == whole
    store.close()
