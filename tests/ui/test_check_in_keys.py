"""Pilot tests of the check-in form's short ways: F3 saves then calls (the queue's F3,
with its question when the kiosk is busy), and the time typed on the "yes, at" tick."""

from __future__ import annotations

from pathlib import Path

from textual.widgets import Input

from pvp_tui.core.models import Status
from pvp_tui.ui.screens.check_in import CheckInForm
from pvp_tui.ui.screens.dialogs import ConfirmDialog
from pvp_tui.ui.screens.queue import QueueScreen
from pvp_tui.ui.widgets.tick import Tick
from tests.support.desk_morning import make_app, settle

SIZE = (80, 24)


async def test_f3_in_the_form_saves_then_calls_her(tmp_path: Path) -> None:
    app = make_app(tmp_path / "pvp.db", seed=False)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("f2", *"Marie", "tab", "c", "tab", *"1005")
        form = app.screen
        assert isinstance(form, CheckInForm)
        assert form.query_one("#appointment", Input).value == "1005"
        assert form.query_one("#has-appointment", Tick).value is True
        await pilot.press("f3")
        await settle(pilot)
        assert isinstance(app.screen, QueueScreen)
        (visit,) = app.desk.visits_of_day()
        assert (visit.ticket, visit.status, visit.name) == ("C-001", Status.CALLED, "Marie")
        assert visit.appointment_at is not None


async def test_f3_in_the_form_asks_first_when_the_kiosk_is_busy(tmp_path: Path) -> None:
    app = make_app(tmp_path / "pvp.db")  # the morning: Mme Roussel is in her interview
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        before = {v.id for v in app.desk.visits_of_day()}
        await pilot.press("f2", *"Luc", "tab", "c", "f3")
        await settle(pilot)
        assert isinstance(app.screen, ConfirmDialog)  # saved; the call is asked about
        await pilot.press("n")
        await settle(pilot)
        (new,) = [v for v in app.desk.visits_of_day() if v.id not in before]
        assert new.name == "Luc" and new.status is Status.WAITING
