"""The session view against a real pvp-bridge process, headless Chromium with fake media
and the local room with its aiortc agent: F5 from a called visitor, live figures, the
agent leaving, the records on the visit; and a kiosk that is down."""

from __future__ import annotations

import json
from pathlib import Path

from textual.widgets import Button, Static

from pvp_tui.core import events as ev
from pvp_tui.core.models import Outcome, Status
from pvp_tui.ui.screens.session import SessionScreen
from tests.support.bridge_daemons import BridgeProcess
from tests.support.farend import FarEnd
from tests.support.kiosk_app import make_app, until
from tests.support.said import said

from .conftest import (
    called_visitor,
    down_kiosk_config,
    make_desk,
    session_events,
    site_config,
)


def text_of(screen: SessionScreen, selector: str) -> str:
    return str(screen.query_one(selector, Static).content)


async def test_start_watch_agent_leaves_and_fall_back(
    bridge: BridgeProcess, far_end: FarEnd, tmp_path: Path
) -> None:
    room = far_end.room_url("x").split("?")[0]  # the app's room; the bridge adds ?name=
    config = site_config(url=bridge.url, token=bridge.token_file, room_url=room)
    desk = make_desk(tmp_path / "pvp.db", config)
    visit_id = called_visitor(desk)
    app = make_app(desk)
    async with app.run_test(size=(100, 30)) as pilot:
        link = app.kiosks["kiosk-1"]
        await until(pilot, lambda: link.state.online and app.loads > 0, "the link and queue")
        await pilot.press("f5")  # the only visitor at the kiosk: no need to select
        await until(pilot, lambda: isinstance(app.screen, SessionScreen), "the session view")
        screen = app.screen
        assert isinstance(screen, SessionScreen)
        live = app.sessions.tracker.for_visit(visit_id)
        assert live is not None
        await until(pilot, lambda: live.state == "in_call", "in_call", timeout=30)
        await until(
            pilot,
            lambda: any(s.get("rtt_ms") is not None for s in live.stats) and len(live.stats) >= 2,
            "real stats",
        )
        await pilot.pause()
        assert "visio en cours" in text_of(screen, "#session-clock")
        assert text_of(screen, "#quality-badge") == "● bonne"
        assert text_of(screen, "#value-rtt").endswith(" ms")
        assert text_of(screen, "#value-rate").endswith("b/s")
        assert text_of(screen, "#session-title") == "C-001 · CAF · Mme Durand"
        assert desk.get(visit_id).status is Status.IN_SESSION  # the interview started
        assert far_end.names == ["C-001"]  # the ticket reached the room, never the name

        await far_end.leave()
        await until(pilot, lambda: live.state == "ended", "ended", timeout=20)
        await pilot.pause()
        assert "L'agent a quitté la visio." in text_of(screen, "#session-alert")

        first_session = live.session
        await pilot.press("f9")  # retry: the same visit, a new session
        await until(
            pilot,
            lambda: (
                (again := app.sessions.tracker.for_visit(visit_id)) is not None
                and again is not live
                and again.state == "in_call"
            ),
            f"the retried call in call {said(app)}",
        )
        retried = app.sessions.tracker.for_visit(visit_id)
        assert retried is not None and retried.session != first_session
        assert far_end.names == ["C-001", "C-001"]

        await pilot.press("f10")  # fall back to the phone: the running call ends
        await until(pilot, lambda: app.screen.id == "fallback-dialog", "the fallback dialog")
        await pilot.click("#fallback_phone")
        await until(pilot, lambda: retried.acknowledged and not retried.running, "the fallback")
        await app.sessions.flush()

    # a quality change is recorded when the loaded test machine makes the call poor: not
    # what this test is about
    recorded = [e for e in session_events(desk, visit_id) if e[0] != ev.SESSION_QUALITY]
    kinds = [kind for kind, _data in recorded]
    assert kinds == [
        ev.SESSION_STARTED,
        ev.SESSION_AGENT_JOINED,
        ev.SESSION_ENDED,
        ev.SESSION_STARTED,
        ev.SESSION_AGENT_JOINED,
        ev.SESSION_ENDED,
        ev.SESSION_INCIDENT,
    ], kinds
    first, second = recorded[:3], recorded[3:]
    assert first[0][1] == {
        "kiosk": "kiosk-1",
        "partner": "caf",
        "room_host": "127.0.0.1",
        "session": first_session,
    }
    ended = first[2][1]
    assert ended["state"] == "ended" and ended["reason"] == "far_end_left"
    assert ended["worst_quality"] in ("good", "degraded", "poor")
    assert ended["reconnects"] == 0 and ended["seconds_in_call"] >= 0
    assert second[0][1]["session"] == retried.session
    assert second[2][1]["reason"] == "ended_by_staff"
    assert second[3][1] == {
        "kiosk": "kiosk-1",
        "session": retried.session,
        "kind": "fallback_phone",
    }
    assert "Durand" not in json.dumps(recorded)


async def test_finishing_the_visit_ends_its_call(
    bridge: BridgeProcess, far_end: FarEnd, tmp_path: Path
) -> None:
    room = far_end.room_url("x").split("?")[0]
    config = site_config(url=bridge.url, token=bridge.token_file, room_url=room)
    desk = make_desk(tmp_path / "pvp.db", config)
    visit_id = called_visitor(desk)
    app = make_app(desk)
    async with app.run_test(size=(100, 30)) as pilot:
        link = app.kiosks["kiosk-1"]
        await until(pilot, lambda: link.state.online and app.loads > 0, "the link and queue")
        await pilot.press("f5")
        await until(pilot, lambda: isinstance(app.screen, SessionScreen), "the session view")
        live = app.sessions.tracker.for_visit(visit_id)
        assert live is not None
        await until(pilot, lambda: live.state == "in_call", "in_call", timeout=30)
        badge = app.queue_screen.query_one("#badge-call-kiosk-1", Static)
        await until(pilot, lambda: str(badge.content) == "● visio C-001 en cours", "badge")

        await pilot.press("escape")  # back to the queue: the call goes on
        await pilot.press("f8")
        await until(pilot, lambda: app.screen.id == "outcome-dialog", "the outcome dialog")
        await pilot.click(f"#outcome-{Outcome.RESOLVED.value}")
        await until(pilot, lambda: live.state == "ended", "the call ended with the visit")
        await app.sessions.flush()
        await until(pilot, lambda: not app.queue_screen.query("#badge-call-kiosk-1"), "badge")

    ended = dict(session_events(desk, visit_id))[ev.SESSION_ENDED]
    assert ended["reason"] == "ended_by_staff" and ended["state"] == "ended"
    assert desk.get(visit_id).status is Status.DONE


async def test_kiosk_down_says_what_to_do_and_writes_nothing(tmp_path: Path) -> None:
    desk = make_desk(tmp_path / "pvp.db", down_kiosk_config(tmp_path))
    visit_id = called_visitor(desk)
    before = desk.events(visit_id)
    app = make_app(desk)
    async with app.run_test(size=(100, 30)) as pilot:
        link = app.kiosks["kiosk-1"]
        await until(
            pilot, lambda: link.state.link == "offline" and app.loads > 0, "link down, queue read"
        )
        await pilot.press("f5")
        await until(pilot, lambda: bool(said(app)), "a message")
        await app.workers.wait_for_complete()
        messages = said(app)
        assert any("ne répond pas" in m and "F5" in m for m in messages), messages
        assert not isinstance(app.screen, SessionScreen)
        assert app.sessions.tracker.for_visit(visit_id) is None
        assert not app.queue_screen.query("#badge-call-kiosk-1")
    assert desk.events(visit_id) == before  # nothing written
    assert desk.get(visit_id).status is Status.CALLED


async def test_bridge_refusal_is_shown_and_nothing_is_written(
    bridge: BridgeProcess, tmp_path: Path
) -> None:
    """The app allows localhost, the bridge only 127.0.0.1: the bridge's word wins."""
    config = site_config(
        url=bridge.url,
        token=bridge.token_file,
        room_url="http://localhost:9/room",
        room_domains=("localhost",),
    )
    desk = make_desk(tmp_path / "pvp.db", config)
    visit_id = called_visitor(desk)
    before = desk.events(visit_id)
    app = make_app(desk)
    async with app.run_test(size=(100, 30)) as pilot:
        link = app.kiosks["kiosk-1"]
        await until(pilot, lambda: link.state.online and app.loads > 0, "the link and queue")
        await pilot.press("f5")
        await until(pilot, lambda: bool(said(app)), "a message")
        messages = said(app)
        assert any("refuse la visio de localhost pour caf" in m for m in messages), messages
        assert not isinstance(app.screen, SessionScreen)
        assert not app.screen.query(Button)  # no dialog left open either
    assert desk.events(visit_id) == before
    assert desk.get(visit_id).status is Status.CALLED


async def test_a_call_running_when_pvp_restarts_is_followed_again(
    bridge: BridgeProcess, far_end: FarEnd, tmp_path: Path
) -> None:
    room = far_end.room_url("x").split("?")[0]
    config = site_config(url=bridge.url, token=bridge.token_file, room_url=room)
    desk = make_desk(tmp_path / "pvp.db", config)
    visit_id = called_visitor(desk)
    app = make_app(desk)
    async with app.run_test(size=(100, 30)) as pilot:
        link = app.kiosks["kiosk-1"]
        await until(pilot, lambda: link.state.online and app.loads > 0, "the link and queue")
        await pilot.press("f5")
        await until(
            pilot,
            lambda: (
                (live := app.sessions.tracker.for_visit(visit_id)) is not None
                and live.state == "in_call"
            ),
            "in_call",
        )
    # pvp quit: the visitor's call goes on at the kiosk. A new pvp follows it again.
    again = make_app(desk)
    async with again.run_test(size=(100, 30)) as pilot:
        await until(
            pilot,
            lambda: (
                (live := again.sessions.tracker.get("kiosk-1")) is not None
                and live.state == "in_call"
            ),
            "the running call adopted",
        )
        await far_end.leave()
        await until(
            pilot, lambda: "ended" in again.sessions.tracker.sessions["kiosk-1"].recorded, "end"
        )
        await again.sessions.flush()
    kinds = [kind for kind, _data in session_events(desk, visit_id)]
    assert kinds == [ev.SESSION_STARTED, ev.SESSION_AGENT_JOINED, ev.SESSION_ENDED]
