"""The site's day changes at its local midnight: when that is (DST days of 23 and 25
hours, a zone without DST, a zone whose clocks jump at midnight), and the rollover that
closes the visits left open, done exactly once however many desks run it at midnight."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from pvp_tui.core import events
from pvp_tui.core.clock import next_local_midnight, seconds_until
from pvp_tui.core.config import Config
from pvp_tui.core.frontdesk import CheckIn, FrontDesk
from pvp_tui.core.models import Status
from pvp_tui.core.store import Store
from tests.support.clocks import MovableClock

PARIS = ZoneInfo("Europe/Paris")
TOKYO = ZoneInfo("Asia/Tokyo")  # no DST
SANTIAGO = ZoneInfo("America/Santiago")  # DST changes at midnight
HOUR = 3600.0


def test_an_ordinary_evening_ends_at_midnight() -> None:
    evening = datetime(2026, 12, 4, 23, 59, 59, 500_000, tzinfo=PARIS)
    midnight = next_local_midnight(evening)
    assert midnight == datetime(2026, 12, 5, 0, 0, tzinfo=PARIS)
    assert midnight.tzinfo is PARIS
    assert seconds_until(midnight, evening) == 0.5


def test_midnight_itself_waits_for_the_next_one() -> None:
    midnight = datetime(2026, 12, 5, 0, 0, tzinfo=PARIS)
    assert next_local_midnight(midnight) == datetime(2026, 12, 6, 0, 0, tzinfo=PARIS)


@pytest.mark.parametrize(
    ("day", "hours"),
    [
        (datetime(2026, 3, 29, tzinfo=PARIS), 23.0),  # summer time: 02:00 -> 03:00
        (datetime(2026, 10, 25, tzinfo=PARIS), 25.0),  # winter time: 03:00 -> 02:00
        (datetime(2026, 3, 28, tzinfo=PARIS), 24.0),  # the eve of a change
        (datetime(2026, 3, 29, tzinfo=TOKYO), 24.0),
        (datetime(2026, 10, 25, tzinfo=TOKYO), 24.0),
    ],
)
def test_a_day_lasts_what_the_site_s_clocks_say(day: datetime, hours: float) -> None:
    midnight = next_local_midnight(day)
    assert (midnight.date(), midnight.time()) == ((day + timedelta(days=1)).date(), day.time())
    assert seconds_until(midnight, day) == hours * HOUR


def test_from_the_afternoon_of_a_dst_day_the_wait_counts_real_hours() -> None:
    # Wall clocks say 10 h from 14:00 to 24:00; on 25 October 2026 ten hours pass, on the
    # 29 March too (the change was at 03:00): only the night's hours count differently.
    for day in (29, 25):
        month = 3 if day == 29 else 10
        afternoon = datetime(2026, month, day, 14, 0, tzinfo=PARIS)
        assert seconds_until(next_local_midnight(afternoon), afternoon) == 10 * HOUR
    night = datetime(2026, 10, 25, 1, 30, tzinfo=PARIS)  # before the hour comes again
    assert seconds_until(next_local_midnight(night), night) == 23.5 * HOUR
    night = datetime(2026, 3, 29, 1, 30, tzinfo=PARIS)  # before the hour is skipped
    assert seconds_until(next_local_midnight(night), night) == 21.5 * HOUR


def test_where_clocks_jump_at_midnight_the_day_begins_at_one() -> None:
    eve = datetime(2026, 9, 5, 12, 0, tzinfo=SANTIAGO)  # 00:00 on the 6th does not exist
    begins = next_local_midnight(eve)
    assert begins.astimezone(UTC) == datetime(2026, 9, 6, 4, 0, tzinfo=UTC)
    assert (begins.date().day, begins.hour) == (6, 1)
    assert seconds_until(begins, eve) == 12 * HOUR


def test_where_clocks_fall_back_at_midnight_the_day_begins_after_the_second_pass() -> None:
    late = datetime(2026, 4, 4, 23, 30, fold=1, tzinfo=SANTIAGO)  # the hour again
    begins = next_local_midnight(late)
    assert begins.astimezone(UTC) == datetime(2026, 4, 5, 4, 0, tzinfo=UTC)
    assert seconds_until(begins, late) == 0.5 * HOUR


def test_two_desks_at_midnight_close_yesterday_s_visits_once(
    tmp_path: Path, config: Config
) -> None:
    db = tmp_path / "pvp.db"
    evening = datetime(2026, 11, 30, 18, 0, tzinfo=PARIS)
    clock = MovableClock(evening)
    first = FrontDesk(Store(db, create=True), config, clock, actor="desk-1")
    second = FrontDesk(Store(db), config, clock, actor="desk-2")
    left = [first.check_in(CheckIn("caf", f"Visiteur {n}")) for n in range(5)]
    first.call(left[0].ticket)
    first.start(left[0].ticket)  # at the kiosk overnight
    clock.at = next_local_midnight(evening)
    results: list[int] = []
    barrier = threading.Barrier(2)

    def roll(desk: FrontDesk) -> None:
        barrier.wait()
        results.append(desk.start_of_day().closed_overnight)

    threads = [threading.Thread(target=roll, args=(d,)) for d in (first, second)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(results) == [0, 5]
    for visit in left:
        closed = [e for e in first.events(visit.id) if e["type"] == events.CLOSED_OVERNIGHT]
        assert len(closed) == 1
        assert first.get(visit.id).status is Status.CANCELLED
    assert first.queue() == [] and first.active() == []
    assert first.start_of_day().closed_overnight == 0
    assert first.check_in(CheckIn("caf", "Le premier")).ticket.endswith("-001")
