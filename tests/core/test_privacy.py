"""Personal data: erased on the retention schedule, leaving anonymous visits; visits left
open overnight are closed at start."""

from __future__ import annotations

import dataclasses
from datetime import datetime, time, timedelta

import pytest

from pvp_tui.core import events
from pvp_tui.core.config import Config
from pvp_tui.core.errors import PvpError
from pvp_tui.core.frontdesk import Erasure, FrontDesk
from pvp_tui.core.models import Status
from pvp_tui.core.store import Store
from tests.support.clocks import PARIS, MovableClock

from .conftest import check_in


def _finished(desk: FrontDesk, name: str = "Marie Dupont") -> str:
    visit = check_in(desk, name=name, phone="06 12 34 56 78", note="dossier RSA")
    desk.call(visit.ticket)
    desk.start(visit.ticket)
    desk.finish(visit.ticket, "resolved")
    return visit.id


def _all_text(store: Store) -> str:
    """Everything the database holds, as text (to look for a name)."""
    return repr(
        [store.query(f"SELECT * FROM {t}") for t in ("visits", "visitor_details", "events")]
    )


def test_default_retention_keeps_names_until_the_end_of_the_next_day(
    desk: FrontDesk, store: Store, clock: MovableClock
) -> None:
    visit_id = _finished(desk)
    clock.at = datetime(2026, 12, 1, 23, 59, tzinfo=PARIS)  # the next day, still kept
    assert desk.purge_personal_data().erased == 0
    assert desk.get(visit_id).name == "Marie Dupont"
    clock.at = datetime(2026, 12, 2, 0, 0, 30, tzinfo=PARIS)  # the day after: erased
    assert desk.purge_personal_data().erased == 1
    visit = desk.get(visit_id)
    assert (visit.name, visit.phone, visit.note) == (None, None, "")
    assert visit.status is Status.DONE and visit.outcome is not None  # statistics stay
    assert desk.events(visit_id)[-1]["type"] == events.PERSONAL_DATA_ERASED
    assert "Marie" not in _all_text(store) and "RSA" not in _all_text(store)
    assert "06 12" not in _all_text(store)
    assert desk.purge_personal_data().erased == 0  # idempotent


@pytest.mark.parametrize(("retention", "erased_on"), [(0, 1), (1, 2), (7, 8)])
def test_retention_days_from_the_config(
    store: Store, config: Config, clock: MovableClock, retention: int, erased_on: int
) -> None:
    site = dataclasses.replace(config.site, retention_days=retention)
    desk = FrontDesk(store, dataclasses.replace(config, site=site), clock=clock, actor="t")
    visit_id = _finished(desk)
    day = clock.at.date()
    clock.at = datetime.combine(day + timedelta(days=erased_on - 1), time(23, 59), PARIS)
    assert desk.purge_personal_data().erased == 0
    clock.at = datetime.combine(day + timedelta(days=erased_on), time(0, 1), PARIS)
    assert desk.purge_personal_data().erased == 1
    assert desk.get(visit_id).name is None


def test_todays_and_open_visits_keep_their_names(desk: FrontDesk, clock: MovableClock) -> None:
    waiting = check_in(desk, name="Paul")
    clock.advance(days=3)
    today = check_in(desk, name="Jeanne")
    assert desk.purge_personal_data().erased == 0  # Paul's visit is still open
    assert desk.get(waiting.id).name == "Paul"
    assert desk.get(today.id).name == "Jeanne"


def test_start_of_day_closes_visits_left_open_then_erases_them(
    desk: FrontDesk, store: Store, clock: MovableClock
) -> None:
    waiting = check_in(desk, name="Paul")
    called = check_in(desk, name="Zoé")
    desk.call(called.ticket)
    in_session = check_in(desk, name="Luc")
    desk.call(in_session.ticket)
    desk.start(in_session.ticket)
    no_show = check_in(desk, name="Léa")
    desk.no_show(no_show.ticket)
    clock.advance(days=1)
    today = check_in(desk, name="Jeanne")
    done = desk.start_of_day()
    assert done.closed_overnight == 3
    assert done.erased == 0  # yesterday's names are kept until the end of today
    for visit in (waiting, called, in_session):
        closed = desk.get(visit.id)
        assert closed.status is Status.CANCELLED
        last = desk.events(visit.id)[-1]
        assert last["type"] == events.CLOSED_OVERNIGHT
        assert last["data"]["from"] == visit_status(desk, visit.id)
    assert desk.get(no_show.id).status is Status.NO_SHOW
    assert desk.get(today.id).status is Status.WAITING
    assert [e.visit.id for e in desk.queue()] == [today.id]
    clock.advance(days=1)
    assert desk.start_of_day().erased == 4
    assert desk.start_of_day().erased == 0
    assert desk.get(today.id).name == "Jeanne"
    for name in ("Paul", "Zoé", "Luc", "Léa"):
        assert name not in _all_text(store)


def visit_status(desk: FrontDesk, visit_id: str) -> str:
    """The status the visit had before it was closed overnight (from its log)."""
    before = [e for e in desk.events(visit_id) if e["type"] != events.CLOSED_OVERNIGHT]
    return str(before[-1]["data"].get("to", "waiting"))


def test_closed_overnight_visits_teach_no_interview_length(
    desk: FrontDesk, clock: MovableClock
) -> None:
    for _ in range(3):
        visit = check_in(desk)
        desk.call(visit.ticket)
        desk.start(visit.ticket)
    clock.advance(days=1)
    desk.start_of_day()
    assert desk.medians()["caf"] == 20.0


def test_a_note_cannot_be_added_once_erased(desk: FrontDesk, clock: MovableClock) -> None:
    visit_id = _finished(desk)
    clock.advance(days=2)
    desk.purge_personal_data()
    with pytest.raises(PvpError) as refused:
        desk.set_note(visit_id, "rappeler")
    assert refused.value.code == "purged"


def test_a_note_edit_logs_its_length_not_its_text(desk: FrontDesk) -> None:
    visit = check_in(desk)
    desk.set_note(visit.ticket, "  allocation logement  ")
    assert desk.get(visit.id).note == "allocation logement"
    last = desk.events(visit.id)[-1]
    assert last["type"] == events.NOTE_EDITED
    assert last["data"] == {"length": len("allocation logement")}


def test_a_purge_rolled_back_erases_nothing_and_leaves_nothing_pending(
    desk: FrontDesk, store: Store, clock: MovableClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    visit_id = _finished(desk)
    clock.advance(days=2)

    def fail(*_args: object) -> None:
        raise RuntimeError("disk full")

    monkeypatch.setattr(desk, "append_event", fail)  # after the DELETE, before COMMIT
    with pytest.raises(RuntimeError):
        desk.purge_personal_data()
    assert desk.get(visit_id).name == "Marie Dupont"
    assert store.query("SELECT id FROM pending_erasure") == []
    monkeypatch.undo()
    assert desk.purge_personal_data() == Erasure(erased=1, complete=True)
    assert store.query("SELECT id FROM pending_erasure") == []
