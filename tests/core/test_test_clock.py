"""PVP_TEST_CLOCK: the compressed time soaks run the desk app and the bridge on."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from pvp_common.testclock import TestClock, TestClockError, from_environ, parse, spec
from pvp_tui.core.clock import real_seconds, site_clock, system_clock, test_clock_warning
from pvp_tui.core.errors import PvpError

START = datetime(2026, 12, 7, 23, 59, tzinfo=UTC)


def test_a_spec_with_its_real_origin_is_shared_by_every_process_reading_it() -> None:
    one = parse(spec(START, 600, 1_000.0))
    two = parse("2026-12-07T23:59:00+00:00@600@1000")
    assert one == two == TestClock(START, 600.0, 1_000.0)
    assert one.real_seconds(3600) == 6.0


def test_the_clock_runs_speed_times_as_fast_from_its_start(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr("pvp_common.testclock.time.time", lambda: 1_010.0)
    clock = parse("2026-12-07T23:59:00+00:00@6@1000")
    assert clock() == START + timedelta(seconds=60)  # 10 real seconds, 6 times as fast
    assert clock.timestamp() == START.timestamp() + 60
    assert parse("2026-12-07T23:59:00+01:00", now=1_010.0)() == START - timedelta(hours=1)


@pytest.mark.parametrize(
    ("value", "why"),
    [
        ("2026-12-07T23:59:00@600", "START needs its UTC offset"),
        ("tomorrow@600", "START 'tomorrow' is not an ISO 8601 time"),
        ("2026-12-07T23:59:00+01:00@fast", "SPEED 'fast' is not a number"),
        ("2026-12-07T23:59:00+01:00@0", "SPEED must be above 0"),
        ("2026-12-07T23:59:00+01:00@-5", "SPEED must be above 0"),
        ("2026-12-07T23:59:00+01:00@nan", "SPEED 'nan' is not a number"),
        ("2026-12-07T23:59:00+01:00@600@soon", "SINCE 'soon' is not a number"),
        ("2026-12-07T23:59:00+01:00@1@2@3", "expected START[@SPEED[@SINCE]]"),
        ("@600", "expected START[@SPEED[@SINCE]]"),
    ],
)
def test_a_value_it_cannot_read_is_refused_in_one_line_saying_what_to_do(
    value: str, why: str
) -> None:
    with pytest.raises(TestClockError) as caught:
        parse(value)
    message = str(caught.value)
    assert why in message and "\n" not in message
    assert "unset it" in message and "2026-12-07T06:00:00+01:00@600" in message


def test_the_app_runs_on_the_system_clock_unless_the_variable_is_set(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("PVP_TEST_CLOCK", raising=False)
    assert from_environ() is None
    assert site_clock() is system_clock
    assert test_clock_warning(system_clock) is None
    assert real_seconds(system_clock, 60) == 60
    monkeypatch.setenv("PVP_TEST_CLOCK", "  ")
    assert site_clock() is system_clock

    monkeypatch.setenv("PVP_TEST_CLOCK", "2026-12-07T23:59:00+01:00@300")
    clock = site_clock()
    assert isinstance(clock, TestClock)
    assert real_seconds(clock, 60) == pytest.approx(0.2)  # a tick a clock minute
    warning = test_clock_warning(clock)
    assert warning is not None and "PVP_TEST_CLOCK" in warning and "300 times" in warning

    monkeypatch.setenv("PVP_TEST_CLOCK", "2026-12-07 23:59")
    with pytest.raises(PvpError) as refused:
        site_clock()
    assert refused.value.code == "bad_test_clock"
