"""The session view without a bridge: its clock runs only while it is on screen, and its
alerts say what happened and what to do."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from textual.widgets import Static

from pvp_tui.core.sessions import LiveSession
from pvp_tui.ui.screens.session import FallbackDialog, SessionScreen, alert
from tests.support.desk_morning import make_app, settle

from .recorded import recorded_call, until_in_call
from .test_view_snapshots import Monotonic


def live_session(state: str, **changes: Any) -> LiveSession:
    live = LiveSession("kiosk-1", "v", "C-001", "caf", session="s", state=state)
    for key, value in changes.items():
        setattr(live, key, value)
    return live


def test_alerts_say_what_happened_then_what_to_do() -> None:
    assert alert(None, True) is None
    assert alert(live_session("in_call"), True) is None
    text, level = alert(live_session("reconnecting"), True) or ("", "")
    assert level == "error" and text.startswith("Connexion perdue") and "F9" in text
    text, level = alert(live_session("in_call"), False) or ("", "")
    assert level == "error" and text.startswith("La borne ne répond plus")
    poor = live_session("in_call", quality="poor", quality_reasons=("loss", "rtt"))
    text, level = alert(poor, True) or ("", "")
    assert level == "error" and text.startswith("Qualité faible (pertes, délai)")
    fair = live_session("in_call", quality="degraded", quality_reasons=("fps",))
    assert (alert(fair, True) or ("", ""))[1] == "warn"
    gone = live_session("failed", message={"fr": "Le navigateur a planté.", "en": "x"})
    text, level = alert(gone, True) or ("", "")
    assert level == "error" and text.startswith("Le navigateur a planté.\nF9 relance")
    assert alert(live_session("ended"), True) == (
        "La visio est terminée.\nTerminez la visite (F8 dans la file) ou F9 pour relancer "
        "la visio.",
        "info",
    )


async def test_the_clock_ticks_only_while_the_view_is_on_screen(tmp_path: Path) -> None:
    app = make_app(tmp_path / "pvp.db")
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        visit = next(v for v in app.desk.active() if v.ticket == "A-001")
        clock = Monotonic()
        tracker = app.sessions.tracker
        tracker.monotonic = clock
        tracker.begin("kiosk-1", visit)
        for event, data in until_in_call(recorded_call(visit.ticket)):
            tracker.feed("kiosk-1", event, data)
        screen = SessionScreen(app.services, visit, monotonic=clock)
        await app.push_screen(screen)
        await pilot.pause()
        timer = screen._timer
        assert timer is not None and timer._active.is_set()
        shown = str(screen.query_one("#session-clock", Static).content)
        clock.now += 61
        await pilot.pause(1.2)
        ticked = str(screen.query_one("#session-clock", Static).content)
        assert ticked != shown and ticked.startswith("visio en cours 0:01:")

        await app.push_screen(FallbackDialog(visit.ticket))  # covered: no ticking
        await pilot.pause()
        assert not timer._active.is_set()
        app.pop_screen()
        await pilot.pause()
        assert timer._active.is_set()

        screen.dismiss(None)  # back to the queue: the view and its timer are gone
        await pilot.pause()
        assert app.screen is app.queue_screen
        live = tracker.get("kiosk-1")
        assert live is not None
        live.state = "ended"
        await app.push_screen(SessionScreen(app.services, visit, monotonic=clock))
        await pilot.pause()
        assert isinstance(app.screen, SessionScreen) and app.screen._timer is not None
        assert not app.screen._timer._active.is_set()  # nothing moves after the end
