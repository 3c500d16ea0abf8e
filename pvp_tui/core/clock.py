"""Time source. The app and the CLI take a clock so tests and snapshots can fix time."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

Clock = Callable[[], datetime]


def system_clock() -> datetime:
    return datetime.now(UTC)


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
