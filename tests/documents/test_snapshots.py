"""Snapshots of the documents panel (French, fixed clock, half-block thumbnails of SANE's
test pattern, no animation). The scans come from a real pvp-bridge."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from textual.pilot import Pilot
from textual.widgets import Input, Select

from pvp_tui.core.config import parse_config
from pvp_tui.ui.screens.documents.screen import DocumentsScreen
from tests.documents.conftest import Lab
from tests.support.bridge_daemons import BridgeProcess, free_port
from tests.support.documents_site import SITE, make_desk, site_config, visitor_at_kiosk
from tests.support.kiosk_app import make_app, until

PATTERN = {"test_picture": "Color pattern"}


async def _panel(pilot: Pilot[Any], pages: int, *, online: bool = True) -> DocumentsScreen:
    app: Any = pilot.app
    link = next(iter(app.kiosks))
    if online:
        await until(pilot, lambda: link.state.online and link.state.printers, "kiosk online")
    else:
        await until(pilot, lambda: link.state.link == "offline", "kiosk offline")
    await until(pilot, lambda: app.loads > 0, "queue read")
    await pilot.press("f6")
    await until(pilot, lambda: isinstance(app.screen, DocumentsScreen), "panel")
    screen = app.screen
    await until(pilot, lambda: screen.loaded, "documents read")
    screen.query_one("#resolution", Select).value = 75
    screen.query_one("#max-pages", Input).value = str(pages)
    await pilot.pause()
    return screen  # type: ignore[no-any-return]


async def _still(pilot: Pilot[Any]) -> None:
    await pilot.app.workers.wait_for_complete()
    await pilot.pause()
    await pilot.pause()


@pytest.mark.parametrize("size", [(80, 24), (120, 40)], ids=lambda s: f"{s[0]}x{s[1]}")
def test_three_pages_scanned(
    snap_compare: Any, lab: Lab, bridge: BridgeProcess, tmp_path: Path, size: tuple[int, int]
) -> None:
    desk = make_desk(tmp_path / "pvp.db", site_config(bridge))
    visitor_at_kiosk(desk)
    desk.config.kiosks[0].scan_options.update(PATTERN)

    async def scanned(pilot: Pilot[Any]) -> None:
        screen = await _panel(pilot, 3)
        await pilot.press("f6")
        await until(pilot, lambda: not screen.scanning and len(screen.docs) == 1, "scan")
        await until(pilot, lambda: screen.pages_on_screen() == 3, "thumbnails")
        screen.query_one("#pages").focus()
        await pilot.press("right")
        await _still(pilot)

    assert snap_compare(make_app(desk), terminal_size=size, run_before=scanned)


def test_jam_with_kept_page_and_retry(
    snap_compare: Any, lab: Lab, bridge: BridgeProcess, tmp_path: Path
) -> None:
    desk = make_desk(tmp_path / "pvp.db", site_config(bridge))
    visitor_at_kiosk(desk)
    options = desk.config.kiosks[0].scan_options
    options.update(PATTERN)

    async def jammed(pilot: Pilot[Any]) -> None:
        screen = await _panel(pilot, 1)
        await pilot.press("f6")
        await until(pilot, lambda: not screen.scanning and len(screen.docs) == 1, "first page")
        options["read_return_value"] = "SANE_STATUS_JAMMED"
        await pilot.press("plus")
        await until(
            pilot,
            lambda: not screen.scanning and screen.query_one("#scan-error-row").display,
            "jam",
        )
        await _still(pilot)

    assert snap_compare(make_app(desk), terminal_size=(80, 24), run_before=jammed)


def test_kiosk_unreachable(snap_compare: Any, tmp_path: Path) -> None:
    token = tmp_path / "token"
    token.write_text("x" * 43)
    text = SITE.format(url=f"ws://127.0.0.1:{free_port()}/v1", token=token)
    desk = make_desk(tmp_path / "pvp.db", parse_config(text, source="<test>"))
    visitor_at_kiosk(desk)

    async def down(pilot: Pilot[Any]) -> None:
        screen = await _panel(pilot, 2, online=False)
        await pilot.press("f6")  # says what to do, right away
        await until(pilot, lambda: screen.query_one("#scan-error-row").display, "message")
        await _still(pilot)

    assert snap_compare(make_app(desk), terminal_size=(80, 24), run_before=down)
