"""The visitor's answer on the kiosk's screen reaches the visit: a real pvp-bridge with its
screen (headless Chromium), the staff app starting and finishing the call, a finger on a
face after the call; the answer lands on the visit as session_satisfaction, once."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from pvp_tui.core import events as ev
from pvp_tui.core.frontdesk import CheckIn
from pvp_tui.core.models import Outcome, Status
from pvp_tui.ui.screens.session import SessionScreen
from tests.bridge_session.peek import Peek
from tests.support.bridge_daemons import BridgeProcess
from tests.support.farend import FarEnd
from tests.support.kiosk_app import make_app, until

from .conftest import BRIDGE_CONFIG, called_visitor, make_desk, session_events, site_config

SCREEN = """
[screen]
enabled = true
site_name = "Maison des services de Leyme"
after_call_seconds = 120
"""


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


async def test_a_touch_on_the_kiosk_after_the_call_is_recorded_on_the_visit(
    screen_bridge: BridgeProcess, far_end: FarEnd, tmp_path: Path
) -> None:
    bridge = screen_bridge
    room = far_end.room_url("x").split("?")[0]
    config = site_config(url=bridge.url, token=bridge.token_file, room_url=room)
    desk = make_desk(tmp_path / "pvp.db", config)
    visit_id = called_visitor(desk)
    app = make_app(desk)
    kiosk = await Peek.open(tmp_path / "profiles")
    try:
        async with app.run_test(size=(100, 30)) as pilot:
            link = app.kiosks["kiosk-1"]
            await until(pilot, lambda: link.state.online and app.loads > 0, "the link and queue")
            await pilot.press("f5")
            await until(pilot, lambda: isinstance(app.screen, SessionScreen), "the session view")
            live = app.sessions.tracker.for_visit(visit_id)
            assert live is not None
            await until(pilot, lambda: live.state == "in_call", "in_call", timeout=30)
            await pilot.press("escape")
            await pilot.press("f8")  # the visit finished from the desk ends its call
            await until(pilot, lambda: app.screen.id == "outcome-dialog", "the outcome dialog")
            await pilot.click(f"#outcome-{Outcome.RESOLVED.value}")
            await until(pilot, lambda: live.state == "ended", "the call ended with the visit")

            await kiosk.wait_view("thanks")
            await kiosk.touch('[data-answer="ok"]')
            await kiosk.wait_view("documents")

            def recorded() -> bool:
                return ev.SESSION_SATISFACTION in dict(session_events(desk, visit_id))

            await until(pilot, recorded, "the answer on the visit", timeout=20)
            await kiosk.touch('[data-answer="good"]')  # the page moved on: no second answer
            await app.sessions.flush()
    finally:
        await kiosk.close()

    rows = session_events(desk, visit_id)
    answers = [d for t, d in rows if t == ev.SESSION_SATISFACTION]
    started = dict(rows)[ev.SESSION_STARTED]
    assert answers == [{"kiosk": "kiosk-1", "session": started["session"], "answer": "ok"}]
    assert "Durand" not in json.dumps(rows)


async def test_calling_a_visitor_prepares_the_kiosk_and_no_show_returns_it_to_idle(
    screen_bridge: BridgeProcess, far_end: FarEnd, tmp_path: Path
) -> None:
    bridge = screen_bridge
    room = far_end.room_url("x").split("?")[0]
    config = site_config(url=bridge.url, token=bridge.token_file, room_url=room)
    desk = make_desk(tmp_path / "pvp.db", config)
    visit = desk.check_in(CheckIn("caf", "Mme Durand"))
    app = make_app(desk)
    kiosk = await Peek.open(tmp_path / "profiles")
    try:
        async with app.run_test(size=(100, 30)) as pilot:
            link = app.kiosks["kiosk-1"]
            await until(pilot, lambda: link.state.online and app.loads > 0, "the link and queue")
            await kiosk.wait_view("idle")
            await pilot.press("f3")  # call the next visitor to the kiosk
            await until(pilot, lambda: desk.get(visit.id).status is Status.CALLED, "called")
            await kiosk.wait_view("preparing")
            text = await kiosk.text()
            assert visit.ticket in text and "Votre conseiller CAF va vous rejoindre" in text
            assert "Durand" not in await kiosk.eval("document.documentElement.outerHTML")

            app.queue_screen.follow(desk.get(visit.id))
            await pilot.press("n")  # absent: the kiosk is free again
            await until(pilot, lambda: desk.get(visit.id).status is Status.NO_SHOW, "no-show")
            await kiosk.wait_view("idle")
    finally:
        await kiosk.close()
