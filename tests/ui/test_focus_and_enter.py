"""The check-in form at the keyboard: Enter means "save" from every field, a tick too
(space ticks it), and the focused field stands out in 256 colours and in 16 (the
ansi-dark theme a TERM=xterm terminal gets), not by a shade of grey alone."""

from __future__ import annotations

from typing import Any

import pytest
from rich.style import Style
from textual.widget import Widget
from textual.widgets import Select

from pvp_tui.ui.app import PvpApp
from pvp_tui.ui.screens.check_in import CheckInForm
from pvp_tui.ui.screens.queue import QueueScreen
from pvp_tui.ui.widgets.tick import Tick
from tests.support.desk_morning import settle
from tests.support.said import said

SIZE = (80, 24)


async def open_form(pilot: Any, app: PvpApp) -> CheckInForm:
    await settle(pilot)
    await pilot.press("f2")
    form = app.screen
    assert isinstance(form, CheckInForm)
    return form


async def test_enter_on_a_tick_saves_and_never_unticks_it(app: PvpApp) -> None:
    async with app.run_test(size=SIZE) as pilot:
        form = await open_form(pilot, app)
        await pilot.press(*"Mme Test", "tab", "c", "tab", "tab", "tab")
        priority = form.query_one("#priority", Tick)
        assert app.focused is priority
        await pilot.press("space")  # space ticks
        assert priority.value
        await pilot.press("enter")  # saves, as from a text field
        await settle(pilot)
        assert isinstance(app.screen, QueueScreen)
        visit = next(e.visit for e in app.desk.queue() if e.visit.name == "Mme Test")
        assert visit.priority and visit.partner_id == "caf"
        assert any("enregistré" in text for text in said(app))


async def test_enter_on_an_unticked_tick_of_a_wrong_form_ticks_nothing(app: PvpApp) -> None:
    async with app.run_test(size=SIZE) as pilot:
        form = await open_form(pilot, app)
        await pilot.press("tab", "tab")  # "yes, at" (the appointment)
        tick = form.query_one("#has-appointment", Tick)
        assert app.focused is tick
        await pilot.press("enter")  # saving: the empty name is refused, the tick unchanged
        await pilot.pause()
        assert app.screen is form and not tick.value
        assert app.focused is form.query_one("#name")  # the first wrong field


async def test_enter_on_the_partner_list_still_opens_it(app: PvpApp) -> None:
    async with app.run_test(size=SIZE) as pilot:
        form = await open_form(pilot, app)
        await pilot.press("tab", "enter")
        assert form.query_one("#partner").expanded  # type: ignore[attr-defined]
        assert app.screen is form


def _look(app: PvpApp, widget: Widget) -> tuple[Style, Style]:
    """The style of the control's first text cell and of its row's label."""
    region = widget.region
    # a tick: its label, past the box; a field: past its cursor
    x = region.x + (4 if isinstance(widget, Tick) else 0 if isinstance(widget, Select) else 3)
    control = app.screen.get_style_at(x, region.y)
    label = app.screen.get_style_at(region.x - 19, region.y)
    return control, label


@pytest.mark.parametrize("theme", ["textual-dark", "ansi-dark"], ids=["256", "16"])
async def test_the_focused_field_stands_out_in_any_colours(app: PvpApp, theme: str) -> None:
    async with app.run_test(size=SIZE) as pilot:
        app.theme = theme  # what a TERM=xterm terminal gets (PvpApp.on_mount)
        form = await open_form(pilot, app)
        for field in ("name", "partner", "priority", "phone"):
            widget = form.query_one(f"#{field}")
            widget.focus()
            await pilot.pause()
            focused, focused_label = _look(app, widget)
            form.query_one("#note").focus()
            await pilot.pause()
            blurred, blurred_label = _look(app, widget)
            # not a shade: another colour for the field, reverse video for its label
            assert focused.bgcolor != blurred.bgcolor, (field, focused, blurred)
            assert focused.color != blurred.color or theme == "textual-dark", field
            if field != "priority":  # the needs' row: one label for three ticks
                assert focused_label.reverse and not blurred_label.reverse, field
            if theme == "ansi-dark" and not isinstance(widget, Tick):  # fields are boxes
                for style in (focused, blurred):
                    assert style.bgcolor is not None and not style.bgcolor.is_default, field
                    assert style.bgcolor.number is not None and style.bgcolor.number < 16
            if theme == "ansi-dark" and isinstance(widget, Tick):  # its box: grey, an X
                box = app.screen.get_style_at(widget.region.x + 1, widget.region.y)
                assert box.bgcolor is not None and not box.bgcolor.is_default
