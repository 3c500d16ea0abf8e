"""The "Borne" view (k) against a real pvp-bridge with its screen (headless Chromium): the
kiosk's screen drawn in the terminal, refreshed, its page reloaded and its browser
restarted from the desk; nothing shown while a call runs."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from kiosk_bridge.client import BridgeClient
from pvp_tui.ui.screens.kiosk_view import KioskPicture, KioskView
from pvp_tui.ui.screens.session import SessionScreen
from tests.support.bridge_daemons import BridgeProcess
from tests.support.farend import FarEnd
from tests.support.kiosk_app import make_app, until

from .conftest import BRIDGE_CONFIG, called_visitor, make_desk, site_config

SCREEN = """
[screen]
enabled = true
site_name = "Maison des services de Leyme"
"""
KIOSK_BLUE = "rgb(11,29,58)"  # the kiosk page's background (#0b1d3a)


@pytest.fixture
def screen_bridge(chromium: str, tmp_path: Path) -> Iterator[BridgeProcess]:
    env = {"CUPS_SERVER": "127.0.0.1:9", "SANE_CONFIG_DIR": str(tmp_path)}
    config = BRIDGE_CONFIG.format(chromium=chromium, profiles=tmp_path / "profiles") + SCREEN
    proc = BridgeProcess(tmp_path / "bridge", env, config=config)
    try:
        proc.start()
        yield proc
    finally:
        proc.stop()


def colours(picture: KioskPicture) -> set[str]:
    """The background colours of the half blocks drawn on screen."""
    found = set()
    for y in range(picture.content_size.height):
        for segment in picture.render_line(y):
            if segment.style is not None and segment.style.bgcolor is not None:
                c = segment.style.bgcolor.triplet
                if c is not None:
                    found.add(f"rgb({c.red},{c.green},{c.blue})")
    return found


async def test_the_kiosk_screen_seen_from_the_desk(
    screen_bridge: BridgeProcess, far_end: FarEnd, tmp_path: Path
) -> None:
    bridge = screen_bridge
    room = far_end.room_url("x").split("?")[0]
    config = site_config(url=bridge.url, token=bridge.token_file, room_url=room)
    desk = make_desk(tmp_path / "pvp.db", config)
    visit_id = called_visitor(desk)
    app = make_app(desk)
    async with (
        BridgeClient(bridge.url, bridge.token) as kiosk,
        app.run_test(size=(100, 34)) as pilot,
    ):
        link = app.kiosks["kiosk-1"]
        await until(pilot, lambda: link.state.online and app.loads > 0, "the link and queue")
        await pilot.press("k")
        await until(pilot, lambda: isinstance(app.screen, KioskView), "the kiosk view")
        view = app.screen
        assert isinstance(view, KioskView)
        await until(pilot, lambda: view.pictures >= 1, "a picture", timeout=20)
        picture = view.query_one(KioskPicture)
        assert picture.image is not None and picture.image.width == 480
        assert KIOSK_BLUE in colours(picture)  # the kiosk's page, drawn in half blocks
        status = str(view.query_one("#kiosk-status").content)
        assert "page d'accueil" in status
        await pilot.press("r")
        await until(pilot, lambda: view.pictures >= 2, "a new picture")

        before = (await kiosk.request("kiosk.status"))["restarts"]
        await pilot.press("ctrl+b")
        await until(pilot, lambda: app.screen.id == "confirm-dialog", "the confirmation")
        await pilot.press("o")
        await until(pilot, lambda: view.pictures >= 3, "the picture after the restart", 30)
        assert (await kiosk.request("kiosk.status"))["restarts"] == before + 1
        await pilot.press("l")
        await until(pilot, lambda: view.pictures >= 4, "the picture after the reload", 30)

        await pilot.press("escape")
        await pilot.press("f5")  # a call: the kiosk's screen is the visitor's and the agent's
        await until(pilot, lambda: isinstance(app.screen, SessionScreen), "the session view")
        live = app.sessions.tracker.for_visit(visit_id)
        assert live is not None
        await until(pilot, lambda: live.state == "in_call", "in_call", timeout=30)
        await pilot.press("escape", "k")
        await until(pilot, lambda: isinstance(app.screen, KioskView), "the kiosk view again")
        view = app.screen
        assert isinstance(view, KioskView)
        picture = view.query_one(KioskPicture)
        await until(pilot, lambda: "se parlent" in picture.message, "the refusal", timeout=20)
        assert picture.image is None and view.pictures == 0
        assert KIOSK_BLUE not in colours(picture)
