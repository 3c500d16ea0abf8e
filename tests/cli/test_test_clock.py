"""The real `pvp` on PVP_TEST_CLOCK: what it stores follows that clock, it says so on
stderr, and a value it cannot read stops it with one line before anything is written."""

from __future__ import annotations

import time
from datetime import datetime
from zoneinfo import ZoneInfo

from pvp_common.testclock import spec
from tests.cli.conftest import Pvp

PARIS = ZoneInfo("Europe/Paris")


def test_a_check_in_on_the_test_clock_is_stored_at_that_clock_s_time(pvp: Pvp) -> None:
    eve = datetime(2026, 12, 7, 23, 59, 50, tzinfo=PARIS)
    pvp.env["PVP_TEST_CLOCK"] = spec(eve, 1, time.time())  # real speed: a few seconds on
    done = pvp("checkin", "--partner", "caf", "--name", "Mme Horloge")
    assert done.code == 0, done.err
    assert "warning: PVP_TEST_CLOCK is set" in done.err
    [(day, arrived)] = pvp.rows("SELECT day, arrived_at FROM visits")
    at = datetime.fromisoformat(str(arrived)).astimezone(PARIS)
    assert eve <= at < eve.replace(hour=23, minute=59, second=59, microsecond=999_999)
    assert day == "2026-12-07"

    # Three desks later, the same spec: past midnight, the new day's first ticket.
    pvp.env["PVP_TEST_CLOCK"] = spec(eve, 1, time.time() - 30)
    done = pvp("checkin", "--partner", "caf", "--name", "M. Minuit")
    assert done.code == 0, done.err
    days = [row[0] for row in pvp.rows("SELECT day FROM visits ORDER BY arrived_at")]
    assert days == ["2026-12-07", "2026-12-08"]
    assert "C-001" in done.out  # tickets start again at 001


def test_an_unreadable_test_clock_stops_pvp_in_one_line_and_writes_nothing(pvp: Pvp) -> None:
    assert pvp("queue").code == 0  # the database exists
    before = pvp.counts()
    pvp.env["PVP_TEST_CLOCK"] = "2026-12-07 23:59@600"
    done = pvp("checkin", "--partner", "caf", "--name", "Mme Horloge")
    assert done.code == 2
    assert done.err.count("\n") == 1 and done.err.startswith("pvp: PVP_TEST_CLOCK=")
    assert "START needs its UTC offset" in done.err and "unset it" in done.err
    assert pvp.counts() == before
    assert "Mme Horloge" not in done.err
