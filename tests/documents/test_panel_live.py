"""The documents panel in Pilot against a real pvp-bridge, SANE's test backend and cupsd."""

from __future__ import annotations

import io
import os
from datetime import timedelta
from pathlib import Path

import pikepdf
from textual.widgets import Checkbox, Input, OptionList, Select

from pvp_tui.core import events
from pvp_tui.core.kiosks import KioskLinks
from pvp_tui.core.models import Outcome
from pvp_tui.ui.app import PvpApp
from pvp_tui.ui.screens.documents.screen import DocumentsScreen
from pvp_tui.ui.screens.documents.thumbs import PageThumb
from tests.documents.conftest import Lab
from tests.support.bridge_daemons import BridgeProcess, Ippe
from tests.support.documents_site import PARIS_10AM, make_desk, site_config, visitor_at_kiosk
from tests.support.kiosk_app import make_app, until
from tests.support.said import said

# A slow feeder: small reads with a pause after each (test backend options).
SLOW = {"read_limit": True, "read_limit_size": 16384, "read_delay": True,
        "read_delay_duration": 20000}  # fmt: skip


def doc_events(desk, visit_id: str) -> list[tuple[str, dict]]:  # type: ignore[no-untyped-def]
    return [
        (e["type"], e["data"]) for e in desk.events(visit_id) if e["type"].startswith("document_")
    ]


def spool_files(bridge: BridgeProcess) -> list[Path]:
    """Every file in the bridge's spool but its print-job records (no page in them).
    os.walk, not rglob: the bridge renames and removes folders while this looks (a
    document being deleted), and a folder gone mid-walk is simply not there."""
    return [
        Path(folder) / name
        for folder, _dirs, names in os.walk(bridge.spool)
        if Path(folder).name != "state"
        for name in names
    ]


async def open_panel(pilot, app) -> DocumentsScreen:  # type: ignore[no-untyped-def]
    link = next(iter(app.kiosks))
    await until(pilot, lambda: link.state.online and link.state.scanners, "kiosk online")
    await until(pilot, lambda: app.loads > 0, "queue read")
    await pilot.press("f6")
    await until(pilot, lambda: isinstance(app.screen, DocumentsScreen), "documents panel")
    screen = app.screen
    assert isinstance(screen, DocumentsScreen)
    await until(pilot, lambda: screen.loaded, "documents read")
    return screen


async def set_scan(pilot, screen: DocumentsScreen, pages: int, dpi: int = 75) -> None:  # type: ignore[no-untyped-def]
    screen.query_one("#resolution", Select).value = dpi
    screen.query_one("#mode", Select).value = "gray"
    screen.query_one("#max-pages", Input).value = str(pages)
    await pilot.pause()


async def test_scan_three_pages_see_them_print_them_then_finish_leaves_nothing(
    lab: Lab, bridge: BridgeProcess, tmp_path: Path
) -> None:
    desk = make_desk(tmp_path / "pvp.db", site_config(bridge))
    visit_id = visitor_at_kiosk(desk)
    app = make_app(desk)
    async with app.run_test(size=(100, 32)) as pilot:
        badge = app.queue_screen.query_one("#badge-kiosk-kiosk-1")
        screen = await open_panel(pilot, app)
        assert "Borne 1 prête" in str(badge.render())
        await set_scan(pilot, screen, 3)
        await pilot.press("f6")
        await until(pilot, lambda: not screen.scanning and len(screen.docs) == 1, "scan done")
        assert screen.pages_on_screen() == 3
        assert len(screen.query(PageThumb)) == 3
        doc = screen.docs[0]
        assert doc.pages == 3 and len(doc.sha256) == 64 and doc.kiosk == "kiosk-1"
        # Type and consent are recorded (consent starts off).
        assert screen.query_one("#consent", Checkbox).value is False
        screen.query_one("#doc-type", Select).value = "payslip"
        screen.query_one("#consent", Checkbox).value = True
        await until(
            pilot,
            lambda: screen.docs[0].consent and screen.docs[0].type == "payslip",
            "type and consent saved",
        )
        # Print on the cups-pdf queue (the bridge's default printer).
        assert screen.query_one("#printer", Select).value == "pvp-pdf"
        await pilot.press("f7")
        await until(pilot, lambda: screen.docs[0].printed == 1, "print completed", timeout=60)
        assert "terminée" in str(screen.query_one("#print-status").render())
        await until(pilot, lambda: bool(lab.pdfs_since(doc.id)), "cups-pdf output", timeout=20)
        pdf = lab.pdfs_since(doc.id)[0]
        with pikepdf.open(io.BytesIO(pdf.read_bytes())) as printed:
            assert len(printed.pages) == 3
        assert spool_files(bridge)  # the pages are on the kiosk during the visit
        # Back to the queue, finish the visit: its documents leave the kiosk.
        await pilot.press("escape")
        await until(pilot, lambda: not isinstance(app.screen, DocumentsScreen), "queue")
        app.perform(lambda: desk.finish(visit_id, Outcome.RESOLVED), "{ticket}")
        await until(pilot, lambda: not spool_files(bridge), "spool emptied", timeout=20)
        await until(
            pilot,
            lambda: any(t == events.DOCUMENT_PURGED for t, _ in doc_events(desk, visit_id)),
            "purge recorded",
        )
        # said once the purge is recorded: wait for the notice rather than race it
        await until(
            pilot,
            lambda: any("C-001 : 1 document supprimé de la borne." in t for t in said(app)),
            "the purge said",
        )
    kinds = [t for t, _ in doc_events(desk, visit_id)]
    assert kinds[0] == events.DOCUMENT_CAPTURED
    assert events.DOCUMENT_PRINTED in kinds and kinds[-1] == events.DOCUMENT_PURGED
    # No visitor name in any document event; no image on the staff PC.
    assert all("Durand" not in str(d) for _, d in doc_events(desk, visit_id))
    assert not list(tmp_path.rglob("*.png")) and not list(tmp_path.rglob("*.pdf"))


async def test_jam_keeps_the_captured_page_and_retry_appends(
    lab: Lab, bridge: BridgeProcess, tmp_path: Path
) -> None:
    desk = make_desk(tmp_path / "pvp.db", site_config(bridge))
    visitor_at_kiosk(desk)
    app = make_app(desk)
    async with app.run_test(size=(100, 32)) as pilot:
        screen = await open_panel(pilot, app)
        await set_scan(pilot, screen, 1)
        await pilot.press("f6")
        await until(pilot, lambda: not screen.scanning and len(screen.docs) == 1, "first page")
        first = screen.docs[0]
        # The feeder jams on the next sheet (SANE test backend's error injection).
        kiosk = screen.link.kiosk
        kiosk.scan_options["read_return_value"] = "SANE_STATUS_JAMMED"
        await pilot.press("plus")
        await until(
            pilot,
            lambda: not screen.scanning and screen.query_one("#scan-error-row").display,
            "jam shown",
        )
        error = str(screen.query_one("#scan-error").render())
        assert "Bourrage" in error and "F6" in error
        assert screen.scans.f6_document() == first.id  # the retry continues the kept document
        assert screen.docs[0].pages == 1 and screen.pages_on_screen() == 1
        # Paper freed: F6 retries, the first page is still there.
        kiosk.scan_options.clear()
        await pilot.press("f6")
        await until(pilot, lambda: not screen.scanning and screen.docs[0].pages == 2, "retry")
        assert screen.docs[0].id == first.id and len(screen.docs) == 1
        assert not screen.query_one("#scan-error-row").display
        assert screen.pages_on_screen() == 2
        assert screen.thumbs[first.id][0] is not None


async def test_bridge_restart_mid_visit_reconnects_and_lists_documents(
    lab: Lab, bridge: BridgeProcess, tmp_path: Path
) -> None:
    desk = make_desk(tmp_path / "pvp.db", site_config(bridge))
    visit_id = visitor_at_kiosk(desk)
    app = make_app(desk)
    async with app.run_test(size=(100, 32)) as pilot:
        screen = await open_panel(pilot, app)
        await set_scan(pilot, screen, 2)
        await pilot.press("f6")
        await until(pilot, lambda: not screen.scanning and len(screen.docs) == 1, "scan")
        link = screen.link
        connects = link.state.connects
        bridge.kill()
        await until(pilot, lambda: not link.state.online, "link down")
        badge = app.queue_screen.query_one("#badge-kiosk-kiosk-1")
        assert "injoignable" in str(badge.render())
        # While it is down, F7 answers at once with what to do.
        await pilot.press("f7")
        await until(
            pilot,
            lambda: "ne répond pas" in str(screen.query_one("#print-status").render()),
            "unreachable message",
            timeout=5,
        )
        bridge.start()
        await until(pilot, lambda: link.state.online and link.state.connects > connects, "back")
        # Leave and come back: the visit's documents are listed again, thumbnails included.
        await pilot.press("escape")
        await pilot.press("f6")
        await until(
            pilot,
            lambda: isinstance(app.screen, DocumentsScreen) and app.screen.loaded,
            "panel again",
        )
        again = app.screen
        assert isinstance(again, DocumentsScreen)
        assert [d.pages for d in again.docs] == [2]
        await until(pilot, lambda: again.pages_on_screen() == 2, "thumbnails fetched again")
        assert "Borne 1 : en ligne" in str(again.query_one("#doc-header").render())
        assert again.query_one("#doc-list", OptionList).option_count == 1
        # Back to waiting keeps the papers; cancelling the visit takes them off the kiosk.
        await pilot.press("escape")
        desk.back_to_waiting(visit_id)
        assert spool_files(bridge)
        app.perform(lambda: desk.cancel(visit_id), "{ticket}")
        await until(pilot, lambda: not spool_files(bridge), "spool emptied after cancel")


async def test_escape_during_a_scan_stops_it_and_keeps_the_pages(
    lab: Lab, bridge: BridgeProcess, tmp_path: Path
) -> None:
    desk = make_desk(tmp_path / "pvp.db", site_config(bridge))
    visitor_at_kiosk(desk)
    desk.config.kiosks[0].scan_options.update(SLOW)
    app = make_app(desk)
    async with app.run_test(size=(100, 32)) as pilot:
        screen = await open_panel(pilot, app)
        await set_scan(pilot, screen, 8)
        await pilot.press("f6")
        await until(pilot, lambda: screen.pages_on_screen() >= 1, "first page")
        await pilot.press("escape")
        await until(pilot, lambda: not screen.scanning, "scan stopped")
        assert app.screen is screen  # still on the panel, with the pages kept
        (doc,) = screen.docs
        assert 1 <= doc.pages < 8
        info = await screen.link.request("documents.get", {"document": doc.id})
        assert info["document"]["pages"] == doc.pages
        assert "conservée" in str(screen.query_one("#scan-status").render())
        await pilot.press("escape")
        await until(pilot, lambda: app.screen is not screen, "back to the queue")


async def test_page_edits_delete_rotate_reorder_rescan(
    lab: Lab, bridge: BridgeProcess, tmp_path: Path
) -> None:
    desk = make_desk(tmp_path / "pvp.db", site_config(bridge))
    visit_id = visitor_at_kiosk(desk)
    app = make_app(desk)
    async with app.run_test(size=(100, 32)) as pilot:
        screen = await open_panel(pilot, app)
        await set_scan(pilot, screen, 3)
        await pilot.press("f6")
        await until(pilot, lambda: not screen.scanning and len(screen.docs) == 1, "scan")
        doc_id = screen.docs[0].id
        shas = [screen.docs[0].sha256]
        screen.query_one("#pages").focus()
        # Page 2 turned a quarter: the thumbnail turns too, the PDF changes.
        await pilot.press("right", "r")
        await until(pilot, lambda: screen.docs[0].sha256 not in shas, "rotated")
        shas.append(screen.docs[0].sha256)
        thumb = screen.thumbs[doc_id][1]
        assert thumb is not None
        # Page 2 moved before page 1.
        await pilot.press("left_square_bracket")
        await until(pilot, lambda: screen.docs[0].sha256 not in shas, "moved")
        shas.append(screen.docs[0].sha256)
        assert screen.thumbs[doc_id][0] is thumb
        # The last page deleted.
        await pilot.press("right", "right", "delete")
        await until(pilot, lambda: screen.docs[0].pages == 2, "deleted")
        assert screen.pages_on_screen() == 2
        # Page 1 scanned again on the flatbed, in place.
        await pilot.press("left", "left", "n")
        await until(
            pilot, lambda: not screen.scanning and screen.docs[0].sha256 != shas[-1], "rescanned"
        )
        await until(pilot, lambda: screen.docs[0].pages == 2, "still two pages")
        info = await screen.link.request("documents.get", {"document": doc_id})
        assert info["document"]["pages"] == 2 and info["sha256"] == screen.docs[0].sha256
    updates = [d for t, d in doc_events(desk, visit_id) if t == events.DOCUMENT_UPDATED]
    assert len(updates) >= 4 and all("sha256" in d for d in updates)


async def test_printer_trouble_is_said_next_to_print_with_a_retry(
    lab: Lab, bridge: BridgeProcess, tmp_path: Path
) -> None:
    desk = make_desk(tmp_path / "pvp.db", site_config(bridge))
    visitor_at_kiosk(desk)
    app = make_app(desk)
    async with app.run_test(size=(100, 32)) as pilot:
        screen = await open_panel(pilot, app)
        await set_scan(pilot, screen, 1)
        await pilot.press("f6")
        await until(pilot, lambda: not screen.scanning and len(screen.docs) == 1, "scan")
        screen.query_one("#printer", Select).value = "pvp-paused"
        await pilot.press("f7")
        status = screen.query_one("#print-status")
        await until(pilot, lambda: "en pause" in str(status.render()), "paused printer said")
        assert "cupsenable" in str(status.render()) and "F7" in str(status.render())
        assert screen.query_one("#print-retry").display
        # The printer is resumed on the kiosk; the retry prints.
        lab.cups.run("cupsenable", "pvp-paused")
        try:
            await pilot.click("#print-retry")
            await until(pilot, lambda: screen.docs[0].printed == 1, "printed after retry")
            assert not screen.query_one("#print-retry").display
        finally:
            lab.cups.run("cupsdisable", "pvp-paused")


async def test_visit_left_open_overnight_is_cleaned_at_next_start(
    lab: Lab, bridge: BridgeProcess, tmp_path: Path
) -> None:
    config = site_config(bridge)
    desk = make_desk(tmp_path / "pvp.db", config)
    visit_id = visitor_at_kiosk(desk)
    app = make_app(desk)
    async with app.run_test(size=(100, 32)) as pilot:
        screen = await open_panel(pilot, app)
        await set_scan(pilot, screen, 2)
        await pilot.press("f6")
        await until(pilot, lambda: not screen.scanning and len(screen.docs) == 1, "scan")
    assert spool_files(bridge)  # the app closed with the visit still open
    # Next morning: pvp starts, closes yesterday's visit, its papers leave the kiosk.
    next_day = make_desk(tmp_path / "pvp.db", config, PARIS_10AM + timedelta(days=1))
    assert next_day.start_of_day().closed_overnight == 1
    app = make_app(next_day)
    async with app.run_test(size=(100, 32)) as pilot:
        await until(pilot, lambda: not spool_files(bridge), "spool emptied at start")
        await until(
            pilot,
            lambda: any(t == events.DOCUMENT_PURGED for t, _ in doc_events(next_day, visit_id)),
            "purge recorded",
        )


async def test_a_print_that_ends_after_the_panel_closed_is_still_recorded(
    lab: Lab, bridge: BridgeProcess, tmp_path: Path
) -> None:
    desk = make_desk(tmp_path / "pvp.db", site_config(bridge))
    visit_id = visitor_at_kiosk(desk)
    app = make_app(desk)
    async with app.run_test(size=(100, 32)) as pilot:
        screen = await open_panel(pilot, app)
        await set_scan(pilot, screen, 1)
        await pilot.press("f6")
        await until(pilot, lambda: not screen.scanning and len(screen.docs) == 1, "scan")
        await pilot.press("f7")
        await until(pilot, lambda: screen.job is not None, "job accepted")
        await pilot.press("escape")
        await until(
            pilot,
            lambda: any(t == events.DOCUMENT_PRINTED for t, _ in doc_events(desk, visit_id)),
            "printed recorded",
            timeout=60,
        )
    printed = [d for t, d in doc_events(desk, visit_id) if t == events.DOCUMENT_PRINTED]
    assert len(printed) == 1 and printed[0]["printer"] == "pvp-pdf" and printed[0]["pages"] == 1


async def test_paper_out_says_what_to_do_then_the_job_ends(
    lab: Lab, ippe: Ippe, bridge: BridgeProcess, tmp_path: Path
) -> None:
    desk = make_desk(tmp_path / "pvp.db", site_config(bridge))
    visit_id = visitor_at_kiosk(desk)
    app = make_app(desk)
    ippe.set_mode("paperout")
    try:
        async with app.run_test(size=(100, 32)) as pilot:
            screen = await open_panel(pilot, app)
            await set_scan(pilot, screen, 1)
            await pilot.press("f6")
            await until(pilot, lambda: not screen.scanning and len(screen.docs) == 1, "scan")
            await until(pilot, lambda: "pvp-ippe" in str(screen.link.state.printers), "queue")
            screen.query_one("#printer", Select).value = "pvp-ippe"
            await pilot.press("f7")
            status = screen.query_one("#print-status")
            await until(pilot, lambda: "plus de papier" in str(status.render()), "paper out")
            assert "Remettez du papier dans le bac 1" in str(status.render())
            ippe.set_mode("ok")  # paper loaded: the job goes on by itself
            await until(pilot, lambda: "terminée" in str(status.render()), "printed", timeout=60)
            await until(
                pilot,
                lambda: any(t == events.DOCUMENT_PRINTED for t, _ in doc_events(desk, visit_id)),
                "printed recorded",
            )
    finally:
        ippe.set_mode("ok")


async def test_a_visit_finished_by_another_pvp_frees_the_kiosk(
    lab: Lab, bridge: BridgeProcess, tmp_path: Path
) -> None:
    config = site_config(bridge)
    desk = make_desk(tmp_path / "pvp.db", config)
    visit_id = visitor_at_kiosk(desk)
    app = PvpApp(
        desk, tick_seconds=None, kiosks=KioskLinks(config.kiosks, max_backoff=0.5)
    )  # watches the database for other processes' commits
    async with app.run_test(size=(100, 32)) as pilot:
        screen = await open_panel(pilot, app)
        await set_scan(pilot, screen, 1)
        await pilot.press("f6")
        await until(pilot, lambda: not screen.scanning and len(screen.docs) == 1, "scan")
        await pilot.press("escape")
        # Another pvp (its own connection to the same file) finishes the visit.
        other = make_desk(tmp_path / "pvp.db", config)
        other.finish(visit_id, Outcome.RESOLVED)
        await until(pilot, lambda: not spool_files(bridge), "spool emptied")
