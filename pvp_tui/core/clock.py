"""Time source. The app and the CLI take a clock so tests and snapshots can fix time."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, time, timedelta

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
