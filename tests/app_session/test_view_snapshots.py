"""Snapshots of the session view fed with recorded bridge events (no live bridge): a good
call, the quality turning poor under network shaping, and a lost call. Fixed clocks (the
front desk's and the view's monotonic one), no animation, explicit terminal size."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from textual.pilot import Pilot

from pvp_tui.ui.app import PvpApp
from pvp_tui.ui.screens.session import SessionScreen
from tests.support.desk_morning import make_app, settle

from .recorded import failed, recorded_call, shaped_stats, until_in_call

SIZES = [(80, 24), (120, 40)]
CALL_SECONDS = 14 * 60 + 32  # what the view's clock says since the last state event


class Monotonic:
    def __init__(self) -> None:
        self.now = 5000.0

    def __call__(self) -> float:
        return self.now


def feed(app: PvpApp, events: list[tuple[str, dict[str, Any]]]) -> SessionScreen:
    """The visitor at the kiosk (A-001 in the fixed morning) and a call fed event by event."""
    visit = next(v for v in app.desk.active() if v.ticket == "A-001")
    clock = Monotonic()
    tracker = app.sessions.tracker
    tracker.monotonic = clock
    live = tracker.begin("kiosk-1", visit)
    for event, data in events:
        if "display_name" in data:
            data = {**data, "display_name": visit.ticket}
        tracker.feed("kiosk-1", event, data)
    assert live.session is not None and live.states_seen
    clock.now += CALL_SECONDS
    return SessionScreen(app.services, visit, monotonic=clock)


def runner(build: Any) -> Any:
    async def run(pilot: Pilot[Any]) -> None:
        await settle(pilot)
        app = pilot.app
        assert isinstance(app, PvpApp)
        await app.push_screen(build(app))
        await pilot.pause()
        await pilot.pause()

    return run


def good_call(app: PvpApp) -> SessionScreen:
    return feed(app, until_in_call(recorded_call("A-001")))


def poor_call(app: PvpApp) -> SessionScreen:
    events = until_in_call(recorded_call("A-001"))
    session = events[0][1]["session"]
    return feed(app, events + [("session.stats", s) for s in shaped_stats(session, 8)])


def lost_call(app: PvpApp) -> SessionScreen:
    events = until_in_call(recorded_call("A-001"))
    in_call = next(d for e, d in events if d.get("state") == "in_call" and e == "session.state")
    stats = [("session.stats", s) for s in shaped_stats(in_call["session"], 8)]
    end = failed(
        {
            **in_call,
            "reconnects": 1,
            "quality": "poor",
            "worst_quality": "poor",
            "elapsed_s": 603.0,
        },
        "connection_lost",
        "2026-03-10T09:12:03.000+00:00",
    )
    return feed(app, events + stats + [("session.state", end)])


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
@pytest.mark.parametrize("build", [good_call, poor_call, lost_call], ids=lambda f: f.__name__)
def test_session_view(snap_compare: Any, tmp_path: Path, build: Any, size: tuple[int, int]) -> None:
    app = make_app(tmp_path / "pvp.db")
    assert snap_compare(app, terminal_size=size, run_before=runner(build))
