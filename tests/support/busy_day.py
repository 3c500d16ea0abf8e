"""Another desk's busy day while the app stays open: each visit checked in, called,
started and finished by a second `FrontDesk` on the same database, the app told of each
commit as its change feed would tell it (the UI memory test and bench_app_memory.py).

The clocks move 20 seconds a step from the desk morning's 10:00 (desk_morning.py), so a
visit takes 80 seconds and 300 of them end before 17:00 on the same Tuesday.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from textual.pilot import Pilot

from pvp_tui.core.frontdesk import CheckIn, FrontDesk
from pvp_tui.core.models import Outcome
from pvp_tui.ui.app import PvpApp
from pvp_tui.ui.messages import DataChanged
from tests.support.desk_morning import TEN_AM, set_time, settle

PARTNERS = ("caf", "cpam", "france-travail", "dgfip")  # open all of a Tuesday
STEP = timedelta(seconds=20)


def step_time(visit: int, step: int) -> datetime:
    """When step `step` (0-3) of visit `visit` (from 0) happens."""
    return TEN_AM + STEP * (4 * visit + step + 1)


def one_visit(desk: FrontDesk, visit: int, step: int, state: dict[str, str]) -> None:
    """Step `step` of visit `visit` at the other desk: check in, call, start, finish."""
    set_time(desk, step_time(visit, step))
    if step == 0:
        partner = PARTNERS[visit % len(PARTNERS)]
        state["ticket"] = desk.check_in(CheckIn(partner, f"Visiteur {visit:03d}")).ticket
    elif step == 1:
        desk.call(state["ticket"])
    elif step == 2:
        desk.start(state["ticket"])
    else:
        desk.finish(state["ticket"], Outcome.RESOLVED)


def run_visits(desk: FrontDesk, first: int, count: int) -> None:
    """Visits `first` .. `first + count - 1` at the other desk, with no app watching."""
    state: dict[str, str] = {}
    for visit in range(first, first + count):
        for step in range(4):
            one_visit(desk, visit, step, state)


async def run_visits_seen(pilot: Pilot[object], other: FrontDesk, first: int, count: int) -> None:
    """The same visits while the app is open: after each commit the app reads the queue
    and draws it (its clock follows the other desk's)."""
    app = pilot.app
    assert isinstance(app, PvpApp)
    state: dict[str, str] = {}
    for visit in range(first, first + count):
        for step in range(4):
            one_visit(other, visit, step, state)
            set_time(app.desk, step_time(visit, step))
            app.post_message(DataChanged())  # what the ChangeWatcher posts
            await settle(pilot)
