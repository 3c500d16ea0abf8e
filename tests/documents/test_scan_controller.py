"""The documents panel's scan, as plain Python: its states, what F6 may start, and the rule
that a scan stays 'scanning' until its document is recorded."""

from __future__ import annotations

import pytest

from pvp_tui.ui.screens.documents.scan import ScanController, ScanState


def started(append_to: str | None = None, expected: int = 3) -> ScanController[str]:
    scan: ScanController[str] = ScanController()
    assert scan.start(append_to, expected)
    return scan


def test_a_new_panel_is_idle_and_f6_starts_a_new_document() -> None:
    scan: ScanController[str] = ScanController()
    assert scan.state is ScanState.IDLE
    assert not scan.scanning
    assert scan.f6_document() is None
    assert scan.live == []


def test_pages_arrive_in_their_sheets_while_scanning() -> None:
    scan = started()
    assert scan.state is ScanState.SCANNING and scan.scanning
    assert scan.page(1, "p1") == 1
    assert scan.state is ScanState.PAGES and scan.scanning
    assert scan.page(3, "p3") == 3  # a sheet skipped: its place waits for it
    assert scan.live == ["p1", None, "p3"]
    assert scan.page(None, "p4") == 4  # no sheet number: the next one
    assert scan.live == ["p1", None, "p3", "p4"]


def test_the_scan_stays_scanning_until_its_document_is_recorded() -> None:
    scan = started()
    scan.page(1, "p1")
    scan.succeeded()  # the bridge replied: the document is not recorded yet
    assert scan.scanning
    assert not scan.start(None, 1), "F6 must not start another scan before the record"
    assert scan.live == ["p1"]
    scan.recorded()
    assert scan.state is ScanState.RECORDED and not scan.scanning
    assert scan.start(None, 1)
    assert scan.live == [] and scan.state is ScanState.SCANNING


def test_a_refused_start_changes_nothing() -> None:
    scan = started(append_to="doc-1", expected=5)
    scan.page(1, "p1")
    assert not scan.start("doc-2", 1)
    assert (scan.target, scan.expected_pages, scan.live) == ("doc-1", 5, ["p1"])


def test_after_a_retryable_failure_f6_continues_the_kept_document() -> None:
    scan = started()
    scan.page(1, "p1")
    scan.failed("doc-kept", retryable=True)
    assert scan.scanning  # its kept pages are being recorded
    scan.recorded()
    assert scan.state is ScanState.FAILED and not scan.scanning
    assert scan.f6_document() == "doc-kept"
    assert scan.start(scan.f6_document(), 3)
    assert scan.target == "doc-kept"
    scan.succeeded()
    scan.recorded()
    assert scan.f6_document() is None  # done: F6 starts a new document again


@pytest.mark.parametrize("kept", [None, "doc-kept"])
def test_after_a_final_failure_f6_starts_a_new_document(kept: str | None) -> None:
    scan = started()
    scan.failed(kept, retryable=False)
    scan.recorded()
    assert scan.state is ScanState.FAILED
    assert scan.f6_document() is None


def test_a_scan_whose_record_broke_ends_failed_and_another_may_start() -> None:
    scan = started()
    scan.page(1, "p1")
    scan.recorded()  # recording raised before the reply was judged: the scan is over
    assert scan.state is ScanState.FAILED and not scan.scanning
    assert scan.start(None, 1)


def test_pages_after_the_scan_are_ignored() -> None:
    scan = started()
    scan.page(1, "p1")
    scan.succeeded()
    scan.recorded()
    assert scan.page(2, "late") is None
    assert scan.live == ["p1"] and scan.state is ScanState.RECORDED


def test_the_progress_total_is_what_was_asked_or_more_while_the_feeder_goes_on() -> None:
    scan = started(expected=3)
    assert scan.total(0, 0.0) == 3
    assert scan.total(2, 0.5) == 3
    assert scan.total(3, 0.0) == 4  # a fourth sheet is being read
    assert scan.total(3, 1.0) == 3
    one = started(expected=1)
    assert one.total(1, 1.0) == 1
