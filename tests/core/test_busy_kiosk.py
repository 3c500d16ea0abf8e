"""Calling a visitor when every kiosk is taken: the check and the call are one transaction."""

from __future__ import annotations

import pytest

from pvp_tui.core.config import Config
from pvp_tui.core.frontdesk import FrontDesk, KioskBusy
from pvp_tui.core.models import Status
from pvp_tui.core.store import Store
from tests.support.clocks import MovableClock

from .conftest import check_in, counts


def test_a_second_desk_is_told_the_kiosk_is_busy_and_nothing_changes(
    desk: FrontDesk, db_path: object, config: Config, clock: MovableClock
) -> None:
    first, second = check_in(desk, name="Marie"), check_in(desk, name="Paul")
    other = FrontDesk(Store(str(db_path)), config, clock=clock, actor="desk-2")
    try:
        assert desk.call_next(unless_busy=True).id == first.id
        before = counts(desk.store)
        with pytest.raises(KioskBusy) as refused:
            other.call_next(unless_busy=True)
        assert refused.value.code == "kiosk_busy"
        assert refused.value.visit.id == second.id  # who would have been called
        assert first.ticket in refused.value.message
        assert counts(desk.store) == before
        assert other.get(second.id).status is Status.WAITING
        with pytest.raises(KioskBusy):
            other.call(second.ticket, unless_busy=True)
        # Asked and answered yes: the call goes through.
        assert other.call(second.ticket).status is Status.CALLED
    finally:
        other.store.close()


def test_a_visitor_who_cannot_be_called_is_refused_for_that_first(desk: FrontDesk) -> None:
    first = check_in(desk)
    desk.call(first.ticket)
    with pytest.raises(Exception) as refused:
        desk.call(first.ticket, unless_busy=True)
    assert not isinstance(refused.value, KioskBusy)


def test_with_a_free_kiosk_unless_busy_calls(desk: FrontDesk) -> None:
    visit = check_in(desk)
    assert desk.call(visit.ticket, unless_busy=True).status is Status.CALLED
