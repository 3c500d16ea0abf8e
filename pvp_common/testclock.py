"""The test clock: `PVP_TEST_CLOCK`, a compressed time for soaks and end-to-end tests.

One spec read the same way by the staff app (`pvp_tui.core.clock.site_clock`, which every
front desk of `pvp` uses) and the kiosk bridge (`kiosk_bridge.clock`), so that separate
processes given the same value share one time::

    PVP_TEST_CLOCK=START[@SPEED[@SINCE]]

- START: the instant the clock shows first, ISO 8601 with its UTC offset
  (``2026-12-07T06:00:00+01:00``);
- SPEED: how many clock seconds pass each real second (default 1; 600: a day in 144 s);
- SINCE: the real Unix time at which the clock shows START (default: when the process
  reads the variable). Processes given the same SINCE agree to the millisecond.

Never faketime (LD_PRELOAD): it stalls the threads that sleep (the change feed's). The
name says what it is; a process that runs on it logs a warning line at start; a value it
cannot read stops the process with one line saying what is wrong.
"""

from __future__ import annotations

import os
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

ENV = "PVP_TEST_CLOCK"
EXAMPLE = "2026-12-07T06:00:00+01:00@600"


class TestClockError(ValueError):
    """A `PVP_TEST_CLOCK` that cannot be read: its text is the one line to show."""

    __test__ = False  # not a pytest test class


@dataclass(frozen=True)
class TestClock:
    """Time that starts at `start` when the real clock reads `since`, `speed` times fast."""

    __test__ = False  # not a pytest test class

    start: datetime
    speed: float
    since: float

    def timestamp(self) -> float:
        """Unix seconds on this clock (as `time.time()` counts them)."""
        return self.start.timestamp() + (time.time() - self.since) * self.speed

    def __call__(self) -> datetime:
        """The time now on this clock, UTC-aware (a `pvp_tui.core.clock.Clock`)."""
        return datetime.fromtimestamp(self.timestamp(), UTC)

    def real_seconds(self, seconds: float) -> float:
        """How long `seconds` of this clock last in real time (for timers)."""
        return seconds / self.speed

    def describe(self) -> str:
        """The warning line a process logs at start when it runs on this clock."""
        return (
            f"{ENV} is set: this process runs on a test clock that started at "
            f"{self.start.isoformat()} and goes {self.speed:g} times as fast as real time. "
            f"Never set {ENV} on a site's computer: unset it and restart."
        )


def parse(text: str, *, now: float | None = None) -> TestClock:
    """Read a `PVP_TEST_CLOCK` value; `now` is the real time used when SINCE is left out."""
    parts = text.strip().split("@")
    if not parts[0] or len(parts) > 3:
        raise TestClockError(_bad(text, "expected START[@SPEED[@SINCE]]"))
    try:
        start = datetime.fromisoformat(parts[0])
    except ValueError:
        raise TestClockError(_bad(text, f"START {parts[0]!r} is not an ISO 8601 time")) from None
    if start.tzinfo is None or start.utcoffset() is None:
        raise TestClockError(_bad(text, "START needs its UTC offset (+01:00 or Z)"))
    speed = 1.0
    if len(parts) > 1:
        speed = _number(text, "SPEED", parts[1])
        if not 0 < speed <= 1_000_000:
            raise TestClockError(_bad(text, "SPEED must be above 0 and at most 1000000"))
    since = time.time() if now is None else now
    if len(parts) > 2:
        since = _number(text, "SINCE", parts[2])
    return TestClock(start=start, speed=speed, since=since)


def from_environ(environ: Mapping[str, str] | None = None) -> TestClock | None:
    """The test clock `PVP_TEST_CLOCK` asks for, or None (the system's clock) when unset."""
    text = (os.environ if environ is None else environ).get(ENV, "")
    if not text.strip():
        return None
    return parse(text)


def spec(start: datetime, speed: float, since: float) -> str:
    """The `PVP_TEST_CLOCK` value for this clock (tests and benchmarks build it here)."""
    return f"{start.isoformat()}@{speed:g}@{since:.6f}"


def _number(text: str, name: str, value: str) -> float:
    try:
        number = float(value)
    except ValueError:
        raise TestClockError(_bad(text, f"{name} {value!r} is not a number")) from None
    if number != number or number in (float("inf"), float("-inf")):
        raise TestClockError(_bad(text, f"{name} {value!r} is not a number"))
    return number


def _bad(text: str, why: str) -> str:
    return (
        f"{ENV}={text!r} cannot be read: {why} (e.g. {EXAMPLE}). "
        f"It is for tests only: unset it to run on the system's clock."
    )
