"""The real `pvp` left open alone through the night, on the test clock (PVP_TEST_CLOCK,
never faketime): after the site's midnight its screen is what a fresh start shows at that
time, on the same database (yesterday's waiting and kiosk visits closed overnight,
"Aujourd'hui" empty). Read with capture-pane; the header's clock (HH:MM) is left out of
the comparison, as two starts a few seconds apart may show different minutes."""

from __future__ import annotations

import re
import time
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from pvp_common.testclock import spec
from pvp_tui.core import events
from pvp_tui.core.clock import fixed_clock
from pvp_tui.core.config import load_config
from pvp_tui.core.frontdesk import CheckIn, FrontDesk
from pvp_tui.core.store import Store
from tests.support.terminals import PVP, db_rows, in_terminal, tmux

from .conftest import Site

pytestmark = pytest.mark.timeout(120)

PARIS = ZoneInfo("Europe/Paris")
EVE = datetime(2026, 12, 7, 23, 58, 30, tzinfo=PARIS)  # a Monday
SPEED = 6.0  # the last 90 s of the day in 15 real seconds; a tick every 10 s
WIDTH, HEIGHT = 120, 40
CLOCK = re.compile(r"\b\d\d:\d\d\b")


def seed_evening(site: Site) -> None:
    """One visit served, one left at the kiosk, two left waiting: at 18:58 that day."""
    store = Store(site.db)
    desk = FrontDesk(store, load_config(site.config), fixed_clock(EVE.replace(hour=18)))
    try:
        served, kiosk = (desk.check_in(CheckIn("caf", n)) for n in ("Mme Adam", "M. Blanc"))
        desk.call(served.ticket)
        desk.start(served.ticket)
        desk.finish(served.ticket, "resolved")
        desk.call(kiosk.ticket)
        desk.start(kiosk.ticket)
        desk.check_in(CheckIn("cpam", "Mme Caron"))
        desk.check_in(CheckIn("caf", "M. Denis", priority=True))
    finally:
        store.close()


def without_clock(screen: str) -> str:
    """The screen with the header's clock blanked (the first line that shows one)."""
    lines = screen.splitlines()
    for index, line in enumerate(lines):
        if CLOCK.search(line):
            lines[index] = CLOCK.sub("--:--", line)
            break
    return "\n".join(lines)


def header_clock(screen: str) -> str:
    found = CLOCK.search(screen)
    return found.group(0) if found else ""


def test_the_app_alone_through_midnight_shows_a_fresh_start_s_screen(site: Site) -> None:
    seed_evening(site)
    env = {**site.env(), "PVP_TEST_CLOCK": spec(EVE, SPEED, time.time())}
    with tmux() as term:
        app = term.new_session(in_terminal([PVP]), env, width=WIDTH, height=HEIGHT)
        evening = term.wait_for(
            app, lambda s: "M. Denis" in s and "Mme Caron" in s, what="the evening's queue"
        )
        assert header_clock(evening) in ("23:58", "23:59"), evening
        assert "M. Blanc" in evening and "C-001  résolu" in evening  # at the kiosk, served

        # Nobody acts: the app's own timer (or its minute's tick) starts the new day.
        night = term.wait_for(
            app,
            lambda s: not any(ticket in s for ticket in ("C-001", "C-002", "C-003", "A-001")),
            timeout=45,
            what="the new day, with nobody acting",
        )
        assert header_clock(night).startswith("00:"), night
        time.sleep(1.0)  # a last repaint, then the screen holds still
        night = term.screen(app)

        fresh = term.new_window(in_terminal([PVP]), env)
        morning = term.wait_for(fresh, "En attente (0)", what="a fresh start's queue")
        time.sleep(1.0)
        morning = term.screen(fresh)
        term.run("kill-pane", "-t", fresh)

    assert without_clock(night) == without_clock(morning)
    statuses = db_rows(site.db, "SELECT ticket, status FROM visits ORDER BY ticket")
    assert sorted(s for _t, s in statuses) == ["cancelled", "cancelled", "cancelled", "done"]
    closed = db_rows(
        site.db, f"SELECT count(*) FROM events WHERE type = '{events.CLOSED_OVERNIGHT}'"
    )
    assert closed == [(3,)]  # each once: the fresh start found nothing left to close
