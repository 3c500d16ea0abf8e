"""Queue order, eligibility and wait estimates: pure functions over visits.

The waiting list is shown in the order "call next" follows, so both come from
`order_queue`: appointments due now first, then priority walk-ins, then walk-ins by
arrival, then appointments not yet due; a visitor whose partner has no permanence open
now stays in place but cannot be called next.

Appointments. An appointment is due from `appointment_grace_minutes` before its slot
and is then called before any walk-in, in slot order. This holds only for a visitor who
checked in no later than `appointment_late_minutes` after the slot: one who arrived later
than that is queued as a walk-in from their arrival (a priority one among the priority
walk-ins), still flagged with the slot so staff see it. The rule compares the arrival with
the slot, never with the current time: waiting long does not lose the appointment's
place, arriving late does.

Estimates. One simulation over the kiosks (each free now, or when its interview is
expected to end) hands them out in call order, each visit keeping its kiosk for its
partner's median interview length. An appointment not yet due is planned at its slot: it
takes the first kiosk that frees at or after the slot, ahead of the walk-ins still
waiting then, while kiosks that free earlier go to those walk-ins. Its estimate is thus
max(time until the slot, time until a kiosk is expected free then); walk-ins after it
wait for the kiosk time it takes. A visit whose partner is closed now gets no estimate
and takes no kiosk time.
"""

from __future__ import annotations

import heapq
from collections import deque
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, tzinfo

from .config import Config
from .i18n import _
from .models import Kind, Visit, iso_local


@dataclass(frozen=True)
class QueueEntry:
    visit: Visit
    position: int
    eligible: bool
    opens_at: datetime | None  # local time the partner's next permanence opens, if closed
    estimate: timedelta | None  # None when the partner is closed now
    group: int  # 0 appointment due, 1 priority, 2 walk-in, 3 appointment not yet due
    late_appointment: bool = False  # arrived too late for the slot: queued as a walk-in

    @property
    def estimate_minutes(self) -> int | None:
        """The estimate in whole minutes (rounded), as every view shows it."""
        if self.estimate is None:
            return None
        return max(0, round(self.estimate.total_seconds() / 60))

    def wait_words(self, now: datetime, tz: tzinfo) -> str | None:
        """The expected wait as the screen and `pvp queue` say it: 'now', '~N min', or
        for an appointment not yet due the time it should start ('at about 13:05', so it
        does not read as a wait longer than those listed above it); None when closed."""
        if self.estimate is None:
            return None
        if self.group == 3:
            # the start itself rounded, not now + rounded minutes: a visit planned at its
            # 10:30 slot reads 10:30 whatever the second of `now`
            start = (now + self.estimate + timedelta(seconds=30)).astimezone(tz)
            return _("at about {time}").format(time=start.strftime("%H:%M"))
        minutes = self.estimate_minutes or 0
        return _("now") if minutes < 1 else _("~{n} min").format(n=minutes)

    @property
    def appointment_due(self) -> bool:
        return self.group == 0

    def to_json(self, tz: tzinfo) -> dict[str, object]:
        """The visit's public shape plus its place in the queue (`pvp queue --json`)."""
        return {
            **self.visit.to_json(tz),
            "position": self.position,
            "eligible": self.eligible,
            "estimate_minutes": (self.estimate_minutes),
            "opens_at": iso_local(self.opens_at, tz),
            "late_appointment": self.late_appointment,
        }


def arrived_too_late(visit: Visit, late: timedelta) -> bool:
    """True for an appointment checked in more than `late` after its slot."""
    return (
        visit.kind is Kind.APPOINTMENT
        and visit.appointment_at is not None
        and visit.arrived_at > visit.appointment_at + late
    )


def _group(visit: Visit, now: datetime, grace: timedelta, late: timedelta) -> int:
    if (
        visit.kind is Kind.APPOINTMENT
        and visit.appointment_at is not None
        and not arrived_too_late(visit, late)
    ):
        return 0 if visit.appointment_at <= now + grace else 3
    return 1 if visit.priority else 2


def sort_key(
    visit: Visit, now: datetime, grace: timedelta, late: timedelta
) -> tuple[int, datetime, str]:
    group = _group(visit, now, grace, late)
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
    late = timedelta(minutes=config.site.appointment_late_minutes)
    local_now = now.astimezone(config.site.timezone)
    # Per partner, once: open now, or when it opens next (None: unknown or never).
    hours: dict[str, tuple[bool, datetime | None]] = {}
    for partner in config.partners:
        is_open = partner.is_open(local_now)
        hours[partner.id] = (is_open, None if is_open else partner.next_opening(local_now))
    # Who can be called now comes first, in call order; the others after, soonest open
    # first (a visitor transferred to a partner closed until Tuesday is not first all day).
    never = datetime.max.replace(tzinfo=local_now.tzinfo)

    def order(v: Visit) -> tuple[bool, datetime, tuple[int, datetime, str]]:
        is_open, opens_at = hours.get(v.partner_id, (False, None))
        return (
            not is_open,
            opens_at or never,  # None while open: only the closed ones are ordered by it
            sort_key(v, now, grace, late),
        )

    keyed = [
        (key[2], v) for key, v in sorted(((order(v), v) for v in waiting), key=lambda kv: kv[0])
    ]
    # The visits that take kiosk time (partner open now), in call order.
    served = [(key[0], v) for key, v in keyed if hours.get(v.partner_id, (False, None))[0]]
    estimates = _simulate(served, config.site.kiosk_count, now, medians, busy_until)
    entries = []
    for position, (key, visit) in enumerate(keyed, start=1):
        is_open, opens_at = hours.get(visit.partner_id, (False, None))
        entries.append(
            QueueEntry(
                visit,
                position,
                is_open,
                opens_at,
                estimates.get(visit.id),
                key[0],
                arrived_too_late(visit, late),
            )
        )
    return entries


def _simulate(
    served: Sequence[tuple[int, Visit]],
    kiosk_count: int,
    now: datetime,
    medians: Mapping[str, float],
    busy_until: Sequence[datetime],
) -> dict[str, timedelta]:
    """Each visit's expected wait (the module docstring's rule), by visit id."""
    kiosks = sorted(max(now, t) for t in busy_until)[:kiosk_count]
    kiosks += [now] * (kiosk_count - len(kiosks))
    heapq.heapify(kiosks)
    estimates: dict[str, timedelta] = {}

    def take(visit: Visit, not_before: datetime) -> None:
        start = max(heapq.heappop(kiosks), not_before)
        estimates[visit.id] = start - now
        length = timedelta(minutes=medians.get(visit.partner_id, 20.0))
        heapq.heappush(kiosks, start + length)

    # Not yet due, in slot order (the call order already sorts them by slot).
    planned = deque(v for group, v in served if group == 3)
    for group, visit in served:
        if group == 3:
            continue
        while planned and _slot(planned[0]) <= kiosks[0]:
            take(planned.popleft(), now)
        take(visit, now)
    while planned:
        visit = planned.popleft()
        take(visit, _slot(visit))
    return estimates


def _slot(visit: Visit) -> datetime:
    assert visit.appointment_at is not None  # group 3 is an appointment with a slot
    return visit.appointment_at


def next_to_call(entries: Sequence[QueueEntry]) -> QueueEntry | None:
    return next((entry for entry in entries if entry.eligible), None)


def learned_median(durations_minutes: Sequence[float], configured: int, min_history: int) -> float:
    """The median interview length once there is enough history, else the configured one."""
    if len(durations_minutes) >= min_history and durations_minutes:
        # statistics.median's definition, without importing it (decimal, fractions: ~5 ms)
        ordered = sorted(durations_minutes)
        middle = len(ordered) // 2
        if len(ordered) % 2:
            return float(ordered[middle])
        return (ordered[middle - 1] + ordered[middle]) / 2
    return float(configured)
