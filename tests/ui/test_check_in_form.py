"""Pilot tests of the check-in form: an error goes away as soon as its field is corrected
(without laying the form out again on every key), and times are read as people write
them."""

from __future__ import annotations

from typing import Any

from textual.widgets import Input, Label, Select

from pvp_tui.ui.app import PvpApp
from pvp_tui.ui.screens.check_in import CheckInForm
from pvp_tui.ui.screens.queue import QueueScreen
from pvp_tui.ui.widgets.tick import Tick
from tests.support.desk_morning import settle

SIZE = (80, 24)


def error(form: CheckInForm, field: str) -> str:
    label = form.query_one(f"#{field}-error", Label)
    text = str(label.content)
    assert label.has_class("-shown") == bool(text), field  # shown exactly when it says something
    return text


def count_updates(form: CheckInForm) -> dict[str, int]:
    """Count each error label's updates (an update lays the form out again)."""
    counts: dict[str, int] = {}
    for field in ("name", "partner", "appointment", "phone", "note"):
        label = form.query_one(f"#{field}-error", Label)
        counts[field] = 0

        def update(*args: Any, _label: Label = label, _field: str = field, **kw: Any) -> None:
            counts[_field] += 1
            Label.update(_label, *args, **kw)

        label.update = update  # type: ignore[method-assign]
    return counts


async def open_wrong_form(pilot: Any, app: PvpApp) -> CheckInForm:
    """The form saved with every field wrong: name empty, no partner, time 9h75, phone
    with 14 digits."""
    await settle(pilot)
    await pilot.press("f2")
    form = app.screen
    assert isinstance(form, CheckInForm)
    form.query_one("#appointment", Input).value = "9h75"
    form.query_one("#phone", Input).value = "06 12 34 56 78 90 12"
    await pilot.press("ctrl+s")
    await pilot.pause()
    assert app.screen is form
    assert all(error(form, f) for f in ("name", "partner", "appointment", "phone"))
    assert form.query_one("#name", Input).has_focus
    return form


async def test_typing_in_a_field_clears_its_error_only(app: PvpApp) -> None:
    async with app.run_test(size=SIZE) as pilot:
        form = await open_wrong_form(pilot, app)
        updates = count_updates(form)
        await pilot.press(*"Mme Test")
        await pilot.pause()
        assert error(form, "name") == ""
        assert updates["name"] == 1  # cleared once, not once per key
        assert all(error(form, f) for f in ("partner", "appointment", "phone"))
        # The phone: editing it clears its error, whatever is typed so far.
        form.query_one("#phone", Input).focus()
        await pilot.press("backspace")
        await pilot.pause()
        assert error(form, "phone") == ""
        await pilot.press(*["backspace"] * 5)
        await pilot.pause()
        assert updates["phone"] == 1
        # Nothing else was laid out again.
        assert updates == {"name": 1, "partner": 0, "appointment": 0, "phone": 1, "note": 0}
        assert error(form, "partner") and error(form, "appointment")


async def test_choosing_a_partner_and_ticking_clear_their_errors(app: PvpApp) -> None:
    async with app.run_test(size=SIZE) as pilot:
        form = await open_wrong_form(pilot, app)
        updates = count_updates(form)
        select = form.query_one("#partner", Select)
        select.focus()
        await pilot.press("enter", "down", "enter")  # blank, then the first partner
        await pilot.pause()
        assert select.value == "caf"
        assert error(form, "partner") == ""
        assert error(form, "appointment")
        # Unticking "yes, at" (no appointment after all) clears the time's error.
        tick = form.query_one("#has-appointment", Tick)
        assert tick.value
        await pilot.click("#has-appointment")
        await pilot.pause()
        assert not tick.value
        assert error(form, "appointment") == ""
        assert updates == {"name": 0, "partner": 1, "appointment": 1, "phone": 0, "note": 0}
        # Still checked at ctrl+s: the time is still wrong, and so are the others.
        form.query_one("#has-appointment", Tick).value = True
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert "HH:MM" in error(form, "appointment")
        assert error(form, "name") and error(form, "phone")
        assert error(form, "partner") == ""


async def test_a_corrected_form_saves_with_9h_read_as_09_00(app: PvpApp) -> None:
    async with app.run_test(size=SIZE) as pilot:
        form = await open_wrong_form(pilot, app)
        before = len(app.desk.visits_of_day())
        await pilot.press(*"M. Neuf")
        form.query_one("#partner", Select).value = "caf"
        appointment = form.query_one("#appointment", Input)
        appointment.focus()
        await pilot.press("end", "backspace", "backspace")  # 9h75 -> 9h
        await pilot.pause()
        assert appointment.value == "9h"
        assert error(form, "appointment") == ""
        await pilot.press("tab")  # leaving the field shows the time as it is read
        await pilot.pause()
        assert appointment.value == "09:00"
        phone = form.query_one("#phone", Input)
        phone.value = "+33 6 12 34 56 78"
        await pilot.pause()
        assert error(form, "phone") == ""
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert isinstance(app.screen, QueueScreen)
        visits = app.desk.visits_of_day()
        assert len(visits) == before + 1
        new = next(v for v in visits if v.name == "M. Neuf")
        assert new.appointment_at is not None
        local = new.appointment_at.astimezone(app.desk.config.site.timezone)
        assert (local.hour, local.minute) == (9, 0)
        assert new.phone == "+33 6 12 34 56 78"


async def test_a_time_typed_without_leaving_the_field_is_read_too(app: PvpApp) -> None:
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("f2", *"Mme Midi")
        form = app.screen
        assert isinstance(form, CheckInForm)
        form.query_one("#partner", Select).value = "caf"
        form.query_one("#appointment", Input).focus()
        await pilot.press(*"14 h 30", "ctrl+s")  # saved from inside the field
        await settle(pilot)
        assert isinstance(app.screen, QueueScreen)
        new = next(v for v in app.desk.visits_of_day() if v.name == "Mme Midi")
        assert new.appointment_at is not None
        local = new.appointment_at.astimezone(app.desk.config.site.timezone)
        assert (local.hour, local.minute) == (14, 30)
