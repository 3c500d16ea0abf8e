"""The front desk's rules: tickets, transitions, call order, transfer, estimates."""

from __future__ import annotations

import re
from datetime import datetime, timedelta

import pytest

from pvp_tui.core import events, frontdesk
from pvp_tui.core.errors import PvpError
from pvp_tui.core.frontdesk import CheckIn, FrontDesk, validate_check_in
from pvp_tui.core.models import ALLOWED_FROM, Kind, Need, Outcome, Status, Visit
from pvp_tui.core.store import Store
from pvp_tui.core.words import wrong_state_hint
from tests.support.clocks import PARIS, MovableClock

from .conftest import check_in, counts

TICKET_RE = re.compile(r"^[A-Z]{1,3}-\d{3}$")


# ------------------------------------------------------------------------------ tickets
def test_tickets_are_prefix_and_daily_sequence_per_partner(desk: FrontDesk) -> None:
    tickets = [check_in(desk, partner).ticket for partner in ("caf", "caf", "cpam", "caf")]
    assert tickets == ["C-001", "C-002", "A-001", "C-003"]
    assert all(TICKET_RE.match(t) for t in tickets)


def test_tickets_restart_each_local_day(desk: FrontDesk, clock: MovableClock) -> None:
    clock.at = datetime(2026, 11, 30, 23, 58, tzinfo=PARIS)
    monday = [check_in(desk).ticket, check_in(desk).ticket]
    clock.at = datetime(2026, 12, 1, 0, 1, tzinfo=PARIS)  # 23:01 UTC, but Tuesday in Paris
    tuesday = check_in(desk, name="Paul")
    assert monday == ["C-001", "C-002"]
    assert tuesday.ticket == "C-001"
    assert tuesday.day == "2026-12-01"
    # A ticket names today's visit first.
    assert desk.find("c-001").id == tuesday.id


def test_ticket_of_a_transfer_follows_the_target_partner_sequence(desk: FrontDesk) -> None:
    check_in(desk, "cpam")
    moved = desk.transfer(check_in(desk, "caf").ticket, "cpam")
    assert moved.ticket == "A-002"


# -------------------------------------------------------------------------- transitions
def _reach(desk: FrontDesk, status: Status) -> Visit:
    """A CAF visit in the given status; returns it (by its own id)."""
    visit = check_in(desk)
    steps = {
        Status.WAITING: [],
        Status.CALLED: [desk.call],
        Status.IN_SESSION: [desk.call, desk.start],
        Status.DONE: [desk.call, desk.start, lambda ref: desk.finish(ref, Outcome.RESOLVED)],
        Status.NO_SHOW: [desk.no_show],
        Status.CANCELLED: [desk.cancel],
        Status.TRANSFERRED: [lambda ref: desk.transfer(ref, "cpam")],
    }[status]
    for step in steps:
        step(visit.id)
    reached = desk.get(visit.id)
    assert reached.status is status
    return reached


TARGET = {
    "call": Status.CALLED,
    "start": Status.IN_SESSION,
    "finish": Status.DONE,
    "no_show": Status.NO_SHOW,
    "cancel": Status.CANCELLED,
    "transfer": Status.TRANSFERRED,
    "back_to_waiting": Status.WAITING,
}
EVENT = {
    "call": events.CALLED,
    "start": events.STARTED,
    "finish": events.FINISHED,
    "no_show": events.NO_SHOW,
    "cancel": events.CANCELLED,
    "transfer": events.TRANSFERRED,
    "back_to_waiting": events.BACK_TO_WAITING,
}


def _act(desk: FrontDesk, action: str, ref: str) -> None:
    run = {
        "call": desk.call,
        "start": desk.start,
        "finish": lambda r: desk.finish(r, "follow_up"),
        "no_show": desk.no_show,
        "cancel": desk.cancel,
        "transfer": lambda r: desk.transfer(r, "france-travail"),
        "back_to_waiting": desk.back_to_waiting,
    }[action]
    run(ref)


def test_the_transition_table_covers_every_action() -> None:
    assert set(TARGET) == set(ALLOWED_FROM) - {"edit_note"}
    assert ALLOWED_FROM["edit_note"] == frozenset(Status)


@pytest.mark.parametrize("action", sorted(TARGET))
@pytest.mark.parametrize("status", list(Status), ids=lambda s: s.value)
def test_every_transition_is_allowed_or_refused_by_the_table(
    desk: FrontDesk, store: Store, action: str, status: Status
) -> None:
    visit = _reach(desk, status)
    before = counts(store)
    if status in ALLOWED_FROM[action]:
        _act(desk, action, visit.id)
        after = desk.get(visit.id)
        assert after.status is TARGET[action]
        last = desk.events(visit.id)[-1]
        assert last["type"] == EVENT[action]
        assert last["data"]["from"] == status.value
        assert last["data"]["to"] == TARGET[action].value
    else:
        with pytest.raises(PvpError) as refused:
            _act(desk, action, visit.id)
        assert refused.value.code == "wrong_state"
        assert visit.ticket in refused.value.message
        # Every refusal says what to do instead.
        hint = wrong_state_hint(action, status.value)
        assert hint, f"no hint for {action} on a {status.value} visit"
        assert refused.value.message.endswith(" " + hint)
        assert desk.get(visit.id) == visit
        assert counts(store) == before


def test_finish_records_the_outcome_and_refuses_an_unknown_one(
    desk: FrontDesk, store: Store
) -> None:
    visit = _reach(desk, Status.IN_SESSION)
    before = counts(store)
    with pytest.raises(PvpError) as refused:
        desk.finish(visit.ticket, "happy")
    assert refused.value.code == "bad_outcome"
    assert counts(store) == before
    done = desk.finish(visit.ticket, "redirected")
    assert done.outcome is Outcome.REDIRECTED
    assert done.ended_at is not None


def test_back_to_waiting_keeps_the_arrival_and_clears_the_call(
    desk: FrontDesk, clock: MovableClock
) -> None:
    visit = check_in(desk)
    clock.advance(minutes=5)
    desk.call(visit.ticket)
    back = desk.back_to_waiting(visit.ticket)
    assert back.arrived_at == visit.arrived_at
    assert back.called_at is None


def test_unknown_ticket_is_refused(desk: FrontDesk, store: Store) -> None:
    check_in(desk)
    before = counts(store)
    with pytest.raises(PvpError) as refused:
        desk.start("Z-999")
    assert refused.value.code == "unknown_ticket"
    assert "Z-999" in refused.value.message
    assert counts(store) == before


@pytest.mark.parametrize(
    ("form", "field"),
    [
        (CheckIn("nope", "Marie"), "partner"),
        (CheckIn("", "Marie"), "partner"),
        (CheckIn("caf", "   "), "name"),
        (CheckIn("caf", "x" * 81), "name"),
        (CheckIn("caf", "Marie\nDupont"), "name"),
        (CheckIn("caf", "Marie\x1b[2J"), "name"),
        (CheckIn("caf", "Marie", appointment="25:00"), "appointment"),
        (CheckIn("caf", "Marie", appointment="10h6"), "appointment"),
        (CheckIn("caf", "Marie", phone="call me"), "phone"),
        (CheckIn("caf", "Marie", note="n" * 501), "note"),
    ],
)
def test_a_bad_check_in_is_refused_and_changes_nothing(
    desk: FrontDesk, store: Store, form: CheckIn, field: str
) -> None:
    assert set(validate_check_in(form, desk.config)) == {field}
    before = counts(store)
    with pytest.raises(PvpError) as refused:
        desk.check_in(form)
    assert refused.value.code == "invalid_check_in"
    assert counts(store) == before


def test_check_in_keeps_kind_slot_priority_and_needs(desk: FrontDesk) -> None:
    visit = desk.check_in(
        CheckIn(
            "caf",
            " Marie ",
            appointment="10h30",
            priority=True,
            needs=(Need.SIGHT, Need.SIGN_LANGUAGE),
            phone="06 12 34 56 78",
        )
    )
    assert visit.kind is Kind.APPOINTMENT
    assert visit.appointment_at == datetime(2026, 11, 30, 10, 30, tzinfo=PARIS)
    assert visit.priority
    assert set(visit.needs) == {Need.SIGHT, Need.SIGN_LANGUAGE}
    assert visit.name == "Marie"
    data = desk.events(visit.id)[0]["data"]
    assert data["ticket"] == visit.ticket
    assert "Marie" not in str(data) and "06 12" not in str(data)


# ---------------------------------------------------------------------------- call order
def _arrive(desk: FrontDesk, clock: MovableClock, at: str, partner: str, **kw: object) -> str:
    hour, minute = (int(x) for x in at.split(":"))
    clock.at = clock.at.replace(hour=hour, minute=minute)
    return check_in(desk, partner, name=f"{partner} {at}", **kw).ticket


def test_call_next_order(desk: FrontDesk, clock: MovableClock) -> None:
    walk_1 = _arrive(desk, clock, "09:00", "caf")
    early = _arrive(desk, clock, "09:05", "cpam", appointment="11:30")
    priority = _arrive(desk, clock, "09:10", "france-travail", priority=True)
    walk_2 = _arrive(desk, clock, "09:15", "cpam")
    due = _arrive(desk, clock, "09:20", "caf", appointment="10:00")
    due_soon = _arrive(desk, clock, "09:25", "france-travail", appointment="10:05")  # grace
    late_priority = _arrive(desk, clock, "09:30", "caf", priority=True)
    clock.at = clock.at.replace(hour=10, minute=0)
    expected = [due, due_soon, priority, late_priority, walk_1, walk_2, early]
    assert [entry.visit.ticket for entry in desk.queue()] == expected
    assert [entry.position for entry in desk.queue()] == list(range(1, 8))
    called = [desk.call_next().ticket for _ in expected]
    assert called == expected


def test_call_next_skips_partners_without_a_permanence_open_now(
    desk: FrontDesk, store: Store, clock: MovableClock
) -> None:
    msa = _arrive(desk, clock, "13:00", "msa")  # MSA: Monday 09:00-12:00 only
    caf = _arrive(desk, clock, "13:30", "caf")
    clock.at = clock.at.replace(hour=14)
    first, second = desk.queue()  # who can be called now first, though they came later
    assert (first.visit.ticket, first.eligible, first.position) == (caf, True, 1)
    assert (second.visit.ticket, second.eligible, second.estimate) == (msa, False, None)
    assert second.opens_at == datetime(2026, 12, 7, 9, 0, tzinfo=PARIS)
    assert desk.call_next().ticket == caf
    before = counts(store)
    with pytest.raises(PvpError) as refused:
        desk.call_next()
    assert refused.value.code == "nothing_to_call"
    assert counts(store) == before
    # Staff may still call them by ticket (they know the agent is there).
    assert desk.call(msa).status is Status.CALLED


def test_an_open_partner_in_the_morning_is_eligible(desk: FrontDesk, clock: MovableClock) -> None:
    msa = _arrive(desk, clock, "09:30", "msa")
    assert desk.call_next().ticket == msa


# ------------------------------------------------------------------------------ transfer
def test_transfer_keeps_arrival_and_details_and_logs_the_event_pair(
    desk: FrontDesk, clock: MovableClock
) -> None:
    original = _arrive(desk, clock, "09:00", "caf", phone="0612345678", note="dossier RSA")
    other = _arrive(desk, clock, "09:30", "cpam")
    clock.at = clock.at.replace(hour=10)
    old = desk.find(original)
    desk.call(original)
    moved = desk.transfer(original, "cpam")
    closed = desk.get(old.id)
    assert closed.status is Status.TRANSFERRED
    assert closed.ended_at == clock.at
    assert moved.status is Status.WAITING
    assert moved.partner_id == "cpam"
    assert moved.arrived_at == old.arrived_at
    assert moved.transferred_from == old.id
    assert (moved.name, moved.phone, moved.note) == (old.name, old.phone, old.note)
    out = desk.events(old.id)[-1]
    assert out["type"] == events.TRANSFERRED
    assert out["data"]["to_visit"] == moved.id
    assert out["data"]["to_ticket"] == moved.ticket
    assert out["data"]["to_partner"] == "cpam"
    (into,) = desk.events(moved.id)
    assert into["type"] == events.TRANSFERRED_IN
    assert into["data"]["from_visit"] == old.id
    assert into["data"]["from_ticket"] == original
    # The visitor keeps their place: ahead of the CPAM walk-in who arrived later.
    assert [e.visit.ticket for e in desk.queue()] == [moved.ticket, other]


def test_transfer_to_an_unknown_or_the_same_partner_is_refused(
    desk: FrontDesk, store: Store
) -> None:
    visit = check_in(desk)
    before = counts(store)
    for partner, code in (("nope", "unknown_partner"), ("caf", "same_partner")):
        with pytest.raises(PvpError) as refused:
            desk.transfer(visit.ticket, partner)
        assert refused.value.code == code
    assert counts(store) == before


# ----------------------------------------------------------------------------- estimates
def _serve(desk: FrontDesk, clock: MovableClock, partner: str, minutes: float) -> None:
    visit = check_in(desk, partner)
    desk.call(visit.ticket)
    desk.start(visit.ticket)
    clock.advance(minutes=minutes)
    desk.finish(visit.ticket, "resolved")


def test_medians_use_the_config_until_min_history_then_learn(
    desk: FrontDesk, clock: MovableClock
) -> None:
    assert desk.medians()["caf"] == 20.0  # interview_minutes
    _serve(desk, clock, "caf", 10)
    _serve(desk, clock, "caf", 14)
    assert desk.medians()["caf"] == 20.0  # 2 < min_history = 3
    _serve(desk, clock, "caf", 12)
    assert desk.medians()["caf"] == 12.0
    assert desk.medians()["cpam"] == 30.0  # no history of its own


def test_estimated_waits_follow_the_kiosk_and_the_medians(
    desk: FrontDesk, clock: MovableClock
) -> None:
    for minutes in (10, 12, 14):
        _serve(desk, clock, "caf", minutes)
    busy = check_in(desk, "cpam")
    desk.call(busy.ticket)
    desk.start(busy.ticket)
    clock.advance(minutes=5)
    for partner in ("caf", "caf", "cpam"):
        check_in(desk, partner)
        clock.advance(minutes=1)
    # One kiosk: CPAM in session for 8 of its 30 minutes, then 12 min per CAF visit.
    waits = [entry.estimate for entry in desk.queue()]
    assert waits == [timedelta(minutes=22), timedelta(minutes=34), timedelta(minutes=46)]
    for entry in desk.queue():
        data = entry.to_json(PARIS)
        assert data["estimate_minutes"] == round(entry.estimate.total_seconds() / 60)
        assert data["position"] == entry.position
        assert data["eligible"] is True


def test_a_closed_partner_gets_no_estimate_and_takes_no_kiosk_time(
    desk: FrontDesk, clock: MovableClock
) -> None:
    clock.at = clock.at.replace(hour=14)
    check_in(desk, "msa")
    clock.advance(minutes=1)
    check_in(desk, "caf")
    caf, msa = desk.queue()  # the one who can be called now first
    assert msa.estimate is None and not msa.eligible
    assert caf.estimate == timedelta(0)


def test_only_todays_visits_can_be_acted_on(desk: FrontDesk, clock: MovableClock) -> None:
    visit = check_in(desk)
    desk.no_show(visit.ticket)
    clock.advance(days=1)
    with pytest.raises(PvpError) as refused:
        desk.back_to_waiting(visit.id)
    assert refused.value.code == "past_visit"


def test_medians_learn_from_recent_interviews_only(
    desk: FrontDesk, clock: MovableClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(frontdesk, "MEDIAN_SAMPLES", 3)
    for minutes in (10, 10, 10):
        _serve(desk, clock, "caf", minutes)
    assert desk.medians()["caf"] == 10.0
    for minutes in (30, 31, 32):
        _serve(desk, clock, "caf", minutes)
    assert desk.medians()["caf"] == 31.0  # the last three
    clock.advance(days=desk.config.site.history_days + 1)
    assert desk.medians()["caf"] == 20.0  # all too old: the configured length again
