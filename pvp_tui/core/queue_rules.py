"""Queue order, eligibility and wait estimates: pure functions over visits.

The waiting list is shown in the order "call next" follows, so both come from
`order_queue`: appointments due now first, then priority walk-ins, then walk-ins by
arrival, then appointments not yet due; a visitor whose partner has no permanence open
now stays in place but cannot be called next.
"""

from __future__ import annotations

import heapq
import statistics
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from .config import Config
from .models import Kind, Visit


@dataclass(frozen=True)
class QueueEntry:
    visit: Visit
    position: int
    eligible: bool
    opens_at: datetime | None  # local time the partner's next permanence opens, if closed
    estimate: timedelta | None  # None when the partner is closed now
    group: int  # 0 appointment due, 1 priority, 2 walk-in, 3 appointment not yet due

    @property
    def appointment_due(self) -> bool:
        return self.group == 0

    def to_json(self) -> dict[str, object]:
        """The visit's public shape plus its place in the queue (`pvp queue --json`)."""
        return {
            **self.visit.to_json(),
            "position": self.position,
            "eligible": self.eligible,
            "estimate_minutes": (
                None if self.estimate is None else round(self.estimate.total_seconds() / 60)
            ),
            "opens_at": self.opens_at.isoformat(timespec="minutes") if self.opens_at else None,
        }


def _group(visit: Visit, now: datetime, grace: timedelta) -> int:
    if visit.kind is Kind.APPOINTMENT and visit.appointment_at is not None:
        return 0 if visit.appointment_at <= now + grace else 3
    return 1 if visit.priority else 2


def sort_key(visit: Visit, now: datetime, grace: timedelta) -> tuple[int, datetime, str]:
    group = _group(visit, now, grace)
    anchor = visit.appointment_at if group in (0, 3) and visit.appointment_at else visit.arrived_at
    return (group, anchor, visit.ticket)


def order_queue(
    waiting: Iterable[Visit],
    config: Config,
    now: datetime,
    medians: Mapping[str, float],
    busy_until: Sequence[datetime] = (),
) -> list[QueueEntry]:
    """Waiting visits in call order, each with eligibility and an estimated wait.

    `medians` gives the expected interview length in minutes per partner;
    `busy_until` gives, for each kiosk busy now, when it is expected to be free.
    """
    grace = timedelta(minutes=config.site.appointment_grace_minutes)
    local_now = now.astimezone(config.site.timezone)
    ordered = sorted(waiting, key=lambda v: sort_key(v, now, grace))
    kiosks = sorted(max(now, t) for t in busy_until)[: config.site.kiosk_count]
    kiosks += [now] * (config.site.kiosk_count - len(kiosks))
    heapq.heapify(kiosks)
    # Per partner, once: open now, or when it opens next (None: unknown or never).
    hours: dict[str, tuple[bool, datetime | None]] = {}
    for partner in config.partners:
        is_open = partner.is_open(local_now)
        hours[partner.id] = (is_open, None if is_open else partner.next_opening(local_now))
    entries = []
    for position, visit in enumerate(ordered, start=1):
        is_open, opens_at = hours.get(visit.partner_id, (False, None))
        estimate = None
        if is_open:
            free_at = heapq.heappop(kiosks)
            estimate = free_at - now
            length = timedelta(minutes=medians.get(visit.partner_id, 20.0))
            heapq.heappush(kiosks, free_at + length)
        entries.append(
            QueueEntry(visit, position, is_open, opens_at, estimate, _group(visit, now, grace))
        )
    return entries


def next_to_call(entries: Sequence[QueueEntry]) -> QueueEntry | None:
    return next((entry for entry in entries if entry.eligible), None)


def learned_median(durations_minutes: Sequence[float], configured: int, min_history: int) -> float:
    """The median interview length once there is enough history, else the configured one."""
    if len(durations_minutes) >= min_history:
        return float(statistics.median(durations_minutes))
    return float(configured)
