"""The desk app left open through the night: at the site's midnight, with no other desk
acting, its screen becomes what a fresh start shows the next morning (yesterday's waiting
and kiosk visits closed overnight, "Aujourd'hui" empty, tickets from 001 again)."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from textual.widgets import Static

from pvp_tui.core import events
from pvp_tui.core.clock import next_local_midnight, seconds_until
from pvp_tui.core.errors import PvpError
from pvp_tui.core.frontdesk import CheckIn, DayStart, FrontDesk
from pvp_tui.core.models import Status
from pvp_tui.core.partners import next_hours_change
from pvp_tui.ui.app import PvpApp
from pvp_tui.ui.screens.queue_panels import KioskList, TodayPanel, WaitingList
from pvp_tui.ui.widgets.visit_table import VisitTable
from tests.support.desk_morning import PARIS, make_desk, seed_morning, set_time, settle
from tests.support.said import said

SIZE = (120, 40)


def screen(app: PvpApp) -> dict[str, Any]:
    """What the staff see of the day: the lists' visits and the 'Today' panel's words."""
    waiting = app.query_one(WaitingList)
    return {
        "waiting": list(waiting.visit_ids),
        "waiting title": str(waiting.border_title),
        "kiosk": list(app.query_one(KioskList).visit_ids),
        "today": str(app.query_one("#today-summary", Static).content),
        "today title": str(app.query_one(TodayPanel).border_title),
        "finished": list(app.query_one("#today-list", VisitTable).visit_ids),
    }


def seed_evening(desk: FrontDesk, evening: datetime) -> None:
    """A DST eve: one visit served, one left at the kiosk, two left waiting."""
    set_time(desk, evening.replace(hour=16))
    served, kiosk = (desk.check_in(CheckIn("caf", n)) for n in ("Mme Adam", "M. Blanc"))
    desk.call(served.ticket)
    desk.start(served.ticket)
    desk.finish(served.ticket, "resolved")
    desk.call(kiosk.ticket)
    desk.start(kiosk.ticket)
    desk.check_in(CheckIn("cpam", "Mme Caron"))
    desk.check_in(CheckIn("caf", "M. Denis", priority=True))


async def fresh_screen(db: Path, at: datetime) -> dict[str, Any]:
    """The screen of an app started at `at` on `db` (`pvp`'s start runs the start of day)."""
    desk = make_desk(db, at=at)
    desk.start_of_day()
    app = PvpApp(desk, watch_changes=False, tick_seconds=None)
    app.animation_level = "none"
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        return screen(app)


async def wait_for_read(app: PvpApp, before: int) -> None:
    for _ in range(50):  # the timer reads half a second after midnight
        await asyncio.sleep(0.1)
        if app.loads > before:
            return
    raise AssertionError("no read after midnight")


@pytest.mark.parametrize(
    ("eve", "day_hours"),
    [
        (datetime(2026, 3, 10, 23, 59, 59, 500_000, tzinfo=PARIS), None),  # a Tuesday
        (datetime(2026, 3, 28, 23, 59, 59, 500_000, tzinfo=PARIS), 23),  # summer time
        (datetime(2026, 10, 24, 23, 59, 59, 500_000, tzinfo=PARIS), 25),  # winter time
    ],
    ids=["tuesday", "summer-time", "winter-time"],
)
async def test_the_app_alone_crosses_midnight_into_a_fresh_morning(
    tmp_path: Path, eve: datetime, day_hours: int | None
) -> None:
    db = tmp_path / "pvp.db"
    desk = make_desk(db)
    if eve.day == 10:
        seed_morning(desk)  # five waiting, one at the kiosk, two finished
    else:
        seed_evening(desk, eve)
    set_time(desk, eve)
    left_open = [e.visit.id for e in desk.queue()] + [v.id for v in desk.active()]
    assert len(left_open) >= 3
    app = PvpApp(desk, watch_changes=False, tick_seconds=3600)  # no tick: the timer reads
    app.animation_level = "none"
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        evening = screen(app)
        assert evening["waiting"] and evening["kiosk"] and evening["finished"]
        before = app.loads
        midnight = next_local_midnight(eve)
        set_time(desk, midnight + timedelta(seconds=0.5))  # nobody acts
        await wait_for_read(app, before)
        await settle(pilot)
        after_midnight = screen(app)
        # The next read is due at the next hours change or midnight, in real seconds: on
        # the DST Sundays (no permanence) the next midnight, 23 or 25 hours on.
        timer = app._hours_timer
        assert timer is not None
        now = desk.local_now()
        change = next_hours_change(desk.config, now)
        due = next_local_midnight(now)
        if change is not None and change < due:
            due = change
        assert timer._interval == pytest.approx(seconds_until(due, now) + 0.5)
        if day_hours is not None:
            assert timer._interval == pytest.approx(day_hours * 3600)

    assert after_midnight["waiting"] == [] and after_midnight["kiosk"] == []
    assert after_midnight["finished"] == []
    for visit_id in left_open:
        assert desk.get(visit_id).status is Status.CANCELLED
        closing = [e for e in desk.events(visit_id) if e["type"] == events.CLOSED_OVERNIGHT]
        assert len(closing) == 1

    # A fresh start the next morning on the same database shows the same screen.
    morning_at = midnight.replace(hour=8, minute=30)
    assert await fresh_screen(db, morning_at) == after_midnight
    morning = make_desk(db, at=morning_at)
    assert morning.start_of_day().closed_overnight == 0  # nothing left for the morning
    first = morning.check_in(CheckIn("caf", "Le premier du jour"))
    assert first.ticket.endswith("-001")


async def test_any_read_after_midnight_starts_the_new_day(tmp_path: Path) -> None:
    """The timer may fire late (a suspended PC): the minute's tick, ctrl+r or another
    desk's change read the queue, and the read itself starts the new day."""
    db = tmp_path / "pvp.db"
    desk = make_desk(db)
    seed_morning(desk)
    app = PvpApp(desk, watch_changes=False, tick_seconds=None)
    app.animation_level = "none"
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        set_time(desk, datetime(2026, 3, 11, 3, 17, tzinfo=PARIS))
        app.refresh_queue()
        await settle(pilot)
        night = screen(app)
    assert night["waiting"] == night["kiosk"] == night["finished"] == []
    assert night == await fresh_screen(db, datetime(2026, 3, 11, 8, 30, tzinfo=PARIS))


async def test_two_apps_open_at_midnight_close_each_visit_once(tmp_path: Path) -> None:
    db = tmp_path / "pvp.db"
    desk = make_desk(db)
    seed_morning(desk)
    eve = datetime(2026, 3, 10, 23, 59, 59, 500_000, tzinfo=PARIS)
    set_time(desk, eve)
    left_open = [e.visit.id for e in desk.queue()] + [v.id for v in desk.active()]
    other = make_desk(db, at=eve)
    apps = [PvpApp(d, watch_changes=True, tick_seconds=3600) for d in (desk, other)]
    for app in apps:
        app.animation_level = "none"
    async with apps[0].run_test(size=SIZE) as one, apps[1].run_test(size=SIZE) as two:
        await settle(one)
        await settle(two)
        before = [app.loads for app in apps]
        for d in (desk, other):
            set_time(d, eve + timedelta(seconds=1))
        for app, loads in zip(apps, before, strict=True):
            await wait_for_read(app, loads)
        await settle(one)
        await settle(two)
        screens = [screen(app) for app in apps]
    assert screens[0] == screens[1]
    assert screens[0]["waiting"] == screens[0]["kiosk"] == []
    for visit_id in left_open:
        closing = [e for e in desk.events(visit_id) if e["type"] == events.CLOSED_OVERNIGHT]
        assert len(closing) == 1


async def test_a_day_that_cannot_start_still_shows_the_queue_and_starts_later(
    tmp_path: Path,
) -> None:
    """The store busy (or read-only) at midnight: the app says so once, shows the queue,
    and the next read starts the day."""
    db = tmp_path / "pvp.db"
    desk = make_desk(db)
    seed_morning(desk)
    app = PvpApp(desk, watch_changes=False, tick_seconds=None)
    app.animation_level = "none"
    real = desk.start_of_day
    refusals = 0

    def busy() -> DayStart:
        nonlocal refusals
        if refusals < 2:
            refusals += 1
            raise PvpError("db_busy", "La base est occupée.")
        return real()

    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        yesterday = screen(app)
        desk.start_of_day = busy  # type: ignore[method-assign]
        set_time(desk, datetime(2026, 3, 11, 0, 0, 1, tzinfo=PARIS))
        for _ in range(2):
            app.refresh_queue()
            await settle(pilot)
            assert sorted(screen(app)["waiting"]) == sorted(yesterday["waiting"])
        assert said(app).count("La base est occupée.") == 1
        assert refusals == 2
        app.refresh_queue()
        await settle(pilot)
        assert screen(app)["waiting"] == []
