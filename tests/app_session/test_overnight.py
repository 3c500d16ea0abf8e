"""A video call still running at the site's midnight, the app left open: the start of
the new day closes its visit and the call ends with it, as when staff finish the visit;
the morning's screen is then a fresh start's. A real pvp-bridge with headless Chromium
and the local room with its agent."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from textual.widgets import Static

from pvp_tui.core import events as ev
from pvp_tui.core.frontdesk import FrontDesk
from pvp_tui.core.kiosks import KioskLinks
from pvp_tui.core.models import Status
from pvp_tui.core.store import Store
from pvp_tui.ui.app import PvpApp
from pvp_tui.ui.screens.session import SessionScreen
from tests.support.bridge_daemons import BridgeProcess
from tests.support.farend import FarEnd
from tests.support.kiosk_app import make_app, until
from tests.ui.test_midnight import screen

from .conftest import Clock, called_visitor, make_desk, session_events, site_config

AFTER_MIDNIGHT = datetime.fromisoformat("2026-03-11T00:00:30+01:00")
MORNING = datetime.fromisoformat("2026-03-11T08:30:00+01:00")
SIZE = (120, 40)


def seen(app: PvpApp) -> dict[str, Any]:
    """The lists, the 'Today' panel and the kiosk's call badge."""
    badges = app.queue_screen.query("#badge-call-kiosk-1")
    call = str(badges.first(Static).content) if badges else None
    return {**screen(app), "call badge": call}


@pytest.mark.parametrize("first", ["this app", "another desk"])
async def test_a_call_running_at_midnight_ends_with_its_visit(
    bridge: BridgeProcess, far_end: FarEnd, tmp_path: Path, first: str
) -> None:
    """`first`: who starts the new day (and closes the visit): this app, or another desk
    a few seconds before it (this app's start of day then finds nothing to close)."""
    room = far_end.room_url("x").split("?")[0]
    config = site_config(url=bridge.url, token=bridge.token_file, room_url=room)
    db = tmp_path / "pvp.db"
    desk = make_desk(db, config)
    visit_id = called_visitor(desk)
    app = make_app(desk)
    async with app.run_test(size=SIZE) as pilot:
        link = app.kiosks["kiosk-1"]
        await until(pilot, lambda: link.state.online and app.loads > 0, "the link and queue")
        await pilot.press("f5")
        await until(pilot, lambda: isinstance(app.screen, SessionScreen), "the session view")
        live = app.sessions.tracker.for_visit(visit_id)
        assert live is not None
        await until(pilot, lambda: live.state == "in_call", "in_call", timeout=30)
        await pilot.press("escape")  # back to the queue; nobody touches the app again
        assert desk.get(visit_id).status is Status.IN_SESSION

        assert isinstance(desk.clock, Clock)
        if first == "another desk":
            other = FrontDesk(Store(db), config, Clock(AFTER_MIDNIGHT), actor="other")
            assert other.start_of_day().closed_overnight == 1
            other.store.close()
        desk.clock.at = AFTER_MIDNIGHT
        app.refresh_queue()  # what the midnight timer does (test_midnight.py times it)
        await until(pilot, lambda: live.state == "ended", "the call ended", timeout=30)
        await app.sessions.flush()
        await until(pilot, lambda: not app.queue_screen.query("#badge-call-kiosk-1"), "badge")
        await until(pilot, lambda: not any(w.is_running for w in app.workers), "workers")
        night = seen(app)

    assert desk.get(visit_id).status is Status.CANCELLED
    types = [e["type"] for e in desk.events(visit_id)]
    assert types.count(ev.CLOSED_OVERNIGHT) == 1
    ended = dict(session_events(desk, visit_id))[ev.SESSION_ENDED]
    assert ended["reason"] == "ended_by_staff" and ended["state"] == "ended"
    assert night["waiting"] == night["kiosk"] == night["finished"] == []
    assert night["call badge"] is None

    # A fresh start in the morning, its kiosk link up, shows the same screen.
    morning = FrontDesk(Store(db), config, Clock(MORNING), actor="test")
    assert morning.start_of_day().closed_overnight == 0
    fresh = PvpApp(
        morning,
        watch_changes=False,
        tick_seconds=None,
        kiosks=KioskLinks(config.kiosks, max_backoff=0.5),
    )
    async with fresh.run_test(size=SIZE) as pilot:
        link = fresh.kiosks["kiosk-1"]
        await until(pilot, lambda: link.state.online and fresh.loads > 0, "the link and queue")
        await until(pilot, lambda: not any(w.is_running for w in fresh.workers), "workers")
        assert seen(fresh) == night
