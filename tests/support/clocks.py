"""The core and CLI tests' clock: a fixed Monday morning in Paris that a test moves on."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

PARIS = ZoneInfo("Europe/Paris")
# A Monday: MSA (Monday 09:00-12:00) is open at 10:00, closed at 14:00.
MONDAY_10 = datetime(2026, 11, 30, 10, 0, tzinfo=PARIS)


class MovableClock:
    """A fixed clock that a test moves forward."""

    def __init__(self, at: datetime) -> None:
        self.at = at

    def __call__(self) -> datetime:
        return self.at

    def advance(self, **delta: float) -> None:
        self.at += timedelta(**delta)
