"""Time source. The app and the CLI take a clock so tests and snapshots can fix time."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, time, timedelta

from pvp_common.testclock import TestClock, TestClockError, from_environ

from .errors import PvpError

Clock = Callable[[], datetime]


def system_clock() -> datetime:
    return datetime.now(UTC)


def site_clock() -> Clock:
    """The clock `pvp` runs on: the system's, or the test clock `PVP_TEST_CLOCK` asks for
    (`pvp_common.testclock`; soaks compress a week into minutes with it). The one place
    the app and its commands read that variable: a value it cannot read is refused."""
    try:
        clock = from_environ()
    except TestClockError as exc:
        raise PvpError("bad_test_clock", str(exc)) from None
    return system_clock if clock is None else clock


def test_clock_warning(clock: Clock) -> str | None:
    """The warning line to log at start when `clock` is a test clock."""
    return clock.describe() if isinstance(clock, TestClock) else None


def real_seconds(clock: Clock, seconds: float) -> float:
    """How long `seconds` of `clock` last in real time: a timer waiting for a moment on
    the clock (the site's midnight, the next minute) waits this long."""
    return clock.real_seconds(seconds) if isinstance(clock, TestClock) else seconds


def fixed_clock(at: datetime) -> Clock:
    """A clock frozen at `at` (made UTC-aware)."""
    frozen = at.astimezone(UTC)
    return lambda: frozen


def elapsed_minutes(start: datetime, now: datetime) -> int:
    """Whole minutes gone since `start`, as a clock counts them (never negative): what the
    screen's "waited" column and `pvp queue` both show."""
    return max(0, int((now - start).total_seconds() // 60))


def to_iso(moment: datetime) -> str:
    """Timestamps are stored as UTC ISO 8601 with milliseconds: they sort as text."""
    return moment.astimezone(UTC).isoformat(timespec="milliseconds")


def from_iso(text: str) -> datetime:
    return datetime.fromisoformat(text)


def seconds_until(moment: datetime, now: datetime) -> float:
    """Seconds from `now` to `moment`, as they pass (through UTC). Two datetimes sharing a
    zoneinfo zone subtract as wall clocks: across a DST change that is an hour off."""
    return (moment.astimezone(UTC) - now.astimezone(UTC)).total_seconds()


def next_local_midnight(local: datetime) -> datetime:
    """When the day after `local`'s begins, in `local`'s own time zone (the site's).

    The site's day (`FrontDesk.today`) changes then: a DST day lasts 23 or 25 hours, so
    the moment is computed as a local time, never as `local` plus hours. Where the clocks
    jump forward at midnight itself, the day begins at the end of the gap (01:00); where
    they fall back at midnight, at the second pass. Always after `local`.
    """
    tz = local.tzinfo
    midnight = datetime.combine(local.date() + timedelta(days=1), time(0), tzinfo=tz)
    # A midnight in a gap maps (fold=0, the offset before the change) onto the gap's end.
    begins = midnight.astimezone(UTC)
    if begins <= local.astimezone(UTC):  # fallen back at midnight: the day begins again
        begins = midnight.replace(fold=1).astimezone(UTC)
    return begins.astimezone(tz)
