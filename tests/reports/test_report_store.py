"""A report of events kept elsewhere (the hub's copy of a site's log) equals the site's
own report: the events written into a throw-away site store are read by the same rules."""

from __future__ import annotations

import json
import os
import tempfile
import time
from datetime import date, datetime
from pathlib import Path

import pytest

from pvp_tui.core.config import Config
from pvp_tui.core.exports import to_csv
from pvp_tui.core.report_store import LoggedEvent, remove_stale_scratch, report_from_events
from pvp_tui.core.reports import Period, activity_report, report_to_dict
from pvp_tui.core.store import Store

from .conftest import Built


def logged(store: Store, order: str = "seq") -> list[LoggedEvent]:
    return [
        LoggedEvent(
            row["id"],
            row["visit_id"],
            datetime.fromisoformat(row["at"]),
            row["type"],
            json.loads(row["data"]),
        )
        for row in store.query(f"SELECT * FROM events ORDER BY {order}")
    ]


@pytest.mark.parametrize(
    ("start", "end"),
    [(date(2026, 3, 2), date(2026, 3, 31)), (date(2026, 1, 5), date(2026, 7, 5))],
)
def test_the_same_events_elsewhere_make_the_same_report(
    history: Built, start: date, end: date
) -> None:
    period = Period(start, end)
    own = activity_report(history.store, history.config, period)
    elsewhere = report_from_events(logged(history.store), history.config, period)
    assert report_to_dict(elsewhere) == report_to_dict(own)
    assert to_csv(elsewhere) == to_csv(own)
    assert own.current.total.visits > 0 and own.current.total.needs_requested_total > 0


def test_time_order_is_enough_and_the_scratch_store_is_removed(
    history: Built, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """The hub has no seq: it gives the events by time, which makes the same report."""
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    period = Period(date(2026, 4, 1), date(2026, 4, 30))
    own = activity_report(history.store, history.config, period)
    by_time = report_from_events(logged(history.store, "at, id"), history.config, period)
    assert report_to_dict(by_time) == report_to_dict(own)
    assert list(tmp_path.iterdir()) == []


def test_a_transferred_visitor_keeps_their_needs(history: Built) -> None:
    """Only the first visit's check-in says the needs; the report counts them on the
    visit the visitor was transferred to, as the site does from its visit rows."""
    config: Config = history.config
    transferred_with_needs = history.store.query(
        "SELECT v.id FROM visits v JOIN visits w ON w.transferred_from = v.id WHERE v.needs != '[]'"
    )
    assert transferred_with_needs  # the history has some: the case is exercised
    period = Period(date(2026, 1, 5), date(2026, 7, 5))
    elsewhere = report_from_events(logged(history.store), config, period)
    own = activity_report(history.store, config, period)
    assert elsewhere.current.total.needs_requested == own.current.total.needs_requested
    assert elsewhere.current.total.needs_met == own.current.total.needs_met


def test_scratch_stores_left_by_a_killed_process_are_removed_later(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    old, fresh, other = (tmp_path / n for n in ("pvp-report-old", "pvp-report-new", "keep"))
    for folder in (old, fresh, other):
        folder.mkdir()
        (folder / "report.db").write_bytes(b"x")
    hours_ago = time.time() - 7 * 3600
    os.utime(old, (hours_ago, hours_ago))
    os.utime(other, (hours_ago, hours_ago))
    assert remove_stale_scratch() == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["keep", "pvp-report-new"]
