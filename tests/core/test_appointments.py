"""Appointments in the queue (pvp_tui.core.queue_rules): on time, early, late within or
beyond the site's tolerance, and the estimated wait of an appointment not yet due.

Test site: one kiosk, grace 10 min, late tolerance 15 min; CAF 20 min, CPAM 30 min,
France Travail 15 min; every partner open all day (Monday, fixed clock).
"""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from pvp_tui.core.config import parse_config
from pvp_tui.core.frontdesk import FrontDesk
from pvp_tui.core.models import Kind, Visit
from pvp_tui.core.queue_rules import QueueEntry
from pvp_tui.core.store import Store
from tests.support.clocks import PARIS, MovableClock
from tests.support.sites import OPEN_SITE

from .conftest import check_in


def _set(clock: MovableClock, at: str) -> None:
    hour, minute = (int(x) for x in at.split(":"))
    clock.at = clock.at.replace(hour=hour, minute=minute)


def _arrive(
    desk: FrontDesk, clock: MovableClock, at: str, partner: str = "caf", **kw: object
) -> Visit:
    _set(clock, at)
    return check_in(desk, partner, name=f"{partner} {at}", **kw)


def _order(desk: FrontDesk) -> list[str]:
    return [entry.visit.ticket for entry in desk.queue()]


def _entry(desk: FrontDesk, visit: Visit) -> QueueEntry:
    return next(entry for entry in desk.queue() if entry.visit.id == visit.id)


def _minutes(entry: QueueEntry) -> float:
    assert entry.estimate is not None
    return entry.estimate.total_seconds() / 60


# --------------------------------------------------------------------------------- order
def test_an_appointment_on_time_goes_first_and_keeps_its_place_while_waiting(
    desk: FrontDesk, clock: MovableClock
) -> None:
    walk = _arrive(desk, clock, "10:40")
    priority = _arrive(desk, clock, "10:50", "cpam", priority=True)
    appt = _arrive(desk, clock, "10:55", "france-travail", appointment="11:00")
    expected = [appt.ticket, priority.ticket, walk.ticket]
    for now in ("11:00", "12:30"):  # waiting long does not lose the appointment's place
        _set(clock, now)
        assert _order(desk) == expected
        first = desk.queue()[0]
        assert first.appointment_due and not first.late_appointment
    assert [desk.call_next().ticket for _ in expected] == expected


def test_an_early_appointment_is_due_from_its_slot_minus_the_grace(
    desk: FrontDesk, clock: MovableClock
) -> None:
    appt = _arrive(desk, clock, "10:00", "cpam", appointment="11:00")
    walk = _arrive(desk, clock, "10:05")
    _set(clock, "10:49")
    assert _order(desk) == [walk.ticket, appt.ticket]
    assert desk.queue()[1].group == 3  # not yet due: after the walk-ins
    _set(clock, "10:50")  # 10 minutes of grace
    assert _order(desk) == [appt.ticket, walk.ticket]
    assert desk.call_next().ticket == appt.ticket


@pytest.mark.parametrize(("arrival", "keeps_place"), [("11:15", True), ("11:16", False)])
def test_a_late_arrival_keeps_the_appointment_place_only_within_the_tolerance(
    desk: FrontDesk, clock: MovableClock, arrival: str, keeps_place: bool
) -> None:
    walk = _arrive(desk, clock, "10:45")
    priority = _arrive(desk, clock, "10:50", "cpam", priority=True)
    appt = _arrive(desk, clock, arrival, appointment="11:00")
    _set(clock, "11:20")
    if keeps_place:
        expected = [appt.ticket, priority.ticket, walk.ticket]
    else:
        expected = [priority.ticket, walk.ticket, appt.ticket]  # a walk-in from 11:16
    assert _order(desk) == expected
    assert _entry(desk, appt).late_appointment is not keeps_place
    assert [desk.call_next().ticket for _ in expected] == expected


def test_late_beyond_the_tolerance_is_a_walk_in_from_arrival_still_flagged(
    desk: FrontDesk, clock: MovableClock
) -> None:
    before = _arrive(desk, clock, "11:30")
    priority = _arrive(desk, clock, "12:05", "cpam", priority=True)
    roux = _arrive(desk, clock, "12:10", appointment="11:00")  # M. Roux, 70 minutes late
    after = _arrive(desk, clock, "12:20", "france-travail")
    expected = [priority.ticket, before.ticket, roux.ticket, after.ticket]
    # The rule compares the arrival with the slot: the order does not change with time.
    for now in ("12:20", "15:00"):
        _set(clock, now)
        assert _order(desk) == expected
    entry = _entry(desk, roux)
    assert (entry.group, entry.appointment_due, entry.late_appointment) == (2, False, True)
    # Staff still see the slot: the visit stays an appointment at 11:00.
    assert entry.visit.kind is Kind.APPOINTMENT
    assert entry.visit.appointment_at == datetime(2026, 11, 30, 11, 0, tzinfo=PARIS)
    data = entry.to_json(PARIS)
    assert (data["kind"], data["late_appointment"]) == ("appointment", True)
    assert [desk.call_next().ticket for _ in expected] == expected


def test_a_late_priority_appointment_is_a_priority_walk_in(
    desk: FrontDesk, clock: MovableClock
) -> None:
    walk = _arrive(desk, clock, "11:30")
    late = _arrive(desk, clock, "12:00", appointment="11:00", priority=True)
    assert _order(desk) == [late.ticket, walk.ticket]
    assert _entry(desk, late).group == 1


def test_the_tolerance_is_a_site_setting(store: Store, clock: MovableClock) -> None:
    strict = parse_config(
        OPEN_SITE.replace("min_history = 3", "min_history = 3\nappointment_late_minutes = 0"),
        source="<strict site>",
    )
    assert strict.site.appointment_late_minutes == 0
    desk = FrontDesk(store, strict, clock=clock, actor="test")
    walk = _arrive(desk, clock, "10:50")
    appt = _arrive(desk, clock, "11:01", appointment="11:00")
    assert _order(desk) == [walk.ticket, appt.ticket]
    assert _entry(desk, appt).late_appointment


# ----------------------------------------------------------------------------- estimates
def test_a_future_appointment_is_estimated_at_its_slot_between_the_walk_ins(
    desk: FrontDesk, clock: MovableClock
) -> None:
    w1 = _arrive(desk, clock, "12:00")
    w2 = _arrive(desk, clock, "12:05")
    w3 = _arrive(desk, clock, "12:08")
    petit = _arrive(desk, clock, "12:10", "cpam", appointment="12:30")  # Mme Petit
    assert _order(desk) == [w1.ticket, w2.ticket, w3.ticket, petit.ticket]
    waits = {e.visit.ticket: _minutes(e) for e in desk.queue()}
    # The kiosk is free: W1 12:10-12:30; the slot takes it next (30 min); then W2, W3.
    assert waits == {w1.ticket: 0, petit.ticket: 20, w2.ticket: 50, w3.ticket: 70}


def test_a_future_appointment_alone_waits_for_its_slot(
    desk: FrontDesk, clock: MovableClock
) -> None:
    petit = _arrive(desk, clock, "12:10", "cpam", appointment="12:30")
    assert _minutes(_entry(desk, petit)) == 20


def test_a_future_appointment_waits_for_the_kiosk_busy_at_its_slot(
    desk: FrontDesk, clock: MovableClock
) -> None:
    busy = _arrive(desk, clock, "12:00", "cpam")
    desk.call(busy.ticket)
    desk.start(busy.ticket)  # 12:00 + 30 min: the kiosk is expected free at 12:30
    petit = _arrive(desk, clock, "12:10", "caf", appointment="12:25")
    walk = _arrive(desk, clock, "12:12", "france-travail")
    waits = {e.visit.ticket: _minutes(e) for e in desk.queue()}
    # The slot (12:25) has come when the kiosk frees: Mme Petit first, then the walk-in.
    assert waits == {walk.ticket: 18 + 20, petit.ticket: 18}


def test_a_walk_in_that_overruns_the_slot_delays_the_appointment(
    desk: FrontDesk, clock: MovableClock
) -> None:
    walk = _arrive(desk, clock, "12:05", "cpam")  # 30 min from 12:10: until 12:40
    petit = _arrive(desk, clock, "12:10", appointment="12:30")
    waits = {e.visit.ticket: e.estimate for e in desk.queue()}
    assert waits == {walk.ticket: timedelta(0), petit.ticket: timedelta(minutes=30)}


# ------------------------------------------------------------------------- words
def test_waits_are_said_as_now_minutes_or_for_a_later_appointment_its_time(
    desk: FrontDesk, clock: MovableClock
) -> None:
    walk = _arrive(desk, clock, "10:40")
    second = _arrive(desk, clock, "10:41", "cpam")
    later = _arrive(desk, clock, "10:42", "france-travail", appointment="12:30")
    assert _entry(desk, walk).wait_words(clock(), PARIS) == "maintenant"
    assert _entry(desk, second).wait_words(clock(), PARIS) == "~20 min"  # after the CAF 20
    # Not "~108 min", which would read as longer than the waits listed above it.
    assert _entry(desk, later).wait_words(clock(), PARIS) == "vers 12:30"


@pytest.mark.parametrize("second", [0, 20, 40, 59])
def test_an_appointment_planned_at_its_slot_reads_its_slot_at_any_second(
    desk: FrontDesk, clock: MovableClock, second: int
) -> None:
    later = _arrive(desk, clock, "10:42", appointment="12:30")
    clock.advance(seconds=second)  # the estimate is 107 min 20 s at 10:42:40: not 12:29
    assert _entry(desk, later).wait_words(clock(), PARIS) == "vers 12:30"


def test_a_late_appointment_is_shown_late(desk: FrontDesk, clock: MovableClock) -> None:
    from pvp_tui.ui import format

    late = _arrive(desk, clock, "11:20", appointment="11:00")  # 20 min > 15 tolerated
    on_time = _arrive(desk, clock, "11:21", "cpam", appointment="11:10")
    assert format.flags(_entry(desk, late).visit, PARIS, late=True) == "RDV 11:00 retard"
    assert _entry(desk, late).late_appointment
    assert not _entry(desk, on_time).late_appointment


def test_json_moments_are_local_with_offset_to_the_second(
    desk: FrontDesk, clock: MovableClock
) -> None:
    """One format for every moment a script reads: appointment, arrival, reopening."""
    _set(clock, "10:00")
    visit = check_in(desk, "caf", appointment="10:30")
    data = _entry(desk, visit).to_json(PARIS)
    assert data["appointment_at"] == "2026-11-30T10:30:00+01:00"
    assert data["arrived_at"] == "2026-11-30T10:00:00+01:00"
    _set(clock, "13:00")
    closed = check_in(desk, "msa")
    assert _entry(desk, closed).to_json(PARIS)["opens_at"] == "2026-12-07T09:00:00+01:00"
