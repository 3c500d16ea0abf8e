"""A fixed front-desk morning for the UI tests and snapshots: a tmp database, the demo
site and a clock that only moves when a test moves it (Tuesday 10 March 2026, Paris)."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from textual.pilot import Pilot

from pvp_tui.core.config import load_config
from pvp_tui.core.frontdesk import CheckIn, FrontDesk
from pvp_tui.core.models import Need, Outcome
from pvp_tui.core.store import Store
from pvp_tui.ui.app import PvpApp

PARIS = ZoneInfo("Europe/Paris")
TEN_AM = datetime(2026, 3, 10, 10, 0, tzinfo=PARIS)  # a Tuesday: CAF open, MSA closed


class SettableClock:
    def __init__(self, at: datetime) -> None:
        self.at = at

    def __call__(self) -> datetime:
        return self.at


def make_desk(db_path: Path, at: datetime = TEN_AM) -> FrontDesk:
    return FrontDesk(
        Store(db_path, create=True), load_config(None), SettableClock(at), actor="test"
    )


def set_time(desk: FrontDesk, at: datetime) -> None:
    assert isinstance(desk.clock, SettableClock)
    desk.clock.at = at


def seed_morning(desk: FrontDesk) -> None:
    """Two visits done, one at the kiosk, five waiting (one for a closed partner)."""
    day = TEN_AM.replace(hour=8, minute=50)

    def at(minutes: int) -> None:
        set_time(desk, day + timedelta(minutes=minutes))

    at(0)
    first = desk.check_in(CheckIn("caf", "Mme Ferrand"))
    at(5)
    second = desk.check_in(CheckIn("france-travail", "M. Gaillard"))
    at(10)
    desk.call(first.ticket)
    desk.start(first.ticket)
    at(30)
    desk.finish(first.ticket, Outcome.RESOLVED)
    desk.call(second.ticket)
    at(32)
    desk.no_show(second.ticket)
    at(40)
    third = desk.check_in(CheckIn("cpam", "Mme Roussel", needs=(Need.REDUCED_MOBILITY,)))
    at(45)
    desk.check_in(CheckIn("caf", "Mme Durand", appointment="10:30"))
    at(48)
    desk.check_in(CheckIn("france-travail", "M. Bellec", needs=(Need.SIGN_LANGUAGE,)))
    at(52)
    desk.check_in(CheckIn("msa", "Mme Sanchez", note="dossier retraite agricole"))
    at(55)
    desk.check_in(CheckIn("caf", "M. Roux", priority=True, phone="06 12 34 56 78"))
    at(60)
    desk.call(third.ticket)
    desk.start(third.ticket)
    at(62)
    desk.check_in(CheckIn("dgfip", "M. Lefèvre"))
    at(70)  # 10:00


def make_app(db_path: Path, *, privacy: bool = False, seed: bool = True) -> PvpApp:
    desk = make_desk(db_path)
    if seed:
        seed_morning(desk)
    app = PvpApp(desk, privacy=privacy, watch_changes=False, tick_seconds=None)
    # TEXTUAL_ANIMATIONS is read when textual is first imported, maybe by another test
    # module: set the level on the app itself so snapshots never catch a moving frame.
    app.animation_level = "none"
    return app


async def settle(pilot: Pilot[object]) -> None:
    """Wait until every worker finished and the queue on screen is the latest read."""
    app = pilot.app
    assert isinstance(app, PvpApp)
    for _ in range(100):
        await app.workers.wait_for_complete()
        await pilot.pause()
        if not app._loading and not any(w.is_running for w in app.workers):
            return
    raise AssertionError("the app kept working")
