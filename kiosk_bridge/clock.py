"""The bridge's wall clock: the system's, or the test clock `PVP_TEST_CLOCK` asks for.

The spec lives in `pvp_common.testclock` (the staff app reads the same variable the same
way, so a soak's desk app and bridge share one compressed time). Read once, by `setup`
at start (`kiosk_bridge.cli`); what follows it: the spool's documents (created, edited,
kept until the site's midnight or their retention). CUPS's job times stay real.
"""

from __future__ import annotations

import time

from pvp_common.testclock import TestClock, from_environ

_test_clock: TestClock | None = None


def setup() -> TestClock | None:
    """Read `PVP_TEST_CLOCK` (raises `TestClockError`, one line, when unreadable)."""
    global _test_clock
    _test_clock = from_environ()
    return _test_clock


def now() -> float:
    """Unix seconds now, as `time.time()` counts them, on the bridge's clock."""
    return time.time() if _test_clock is None else _test_clock.timestamp()
