"""The queue screen's layout at 80x24 and 120x40: what must stay readable in each."""

from __future__ import annotations

from datetime import timedelta

from textual.widgets import Footer
from textual.widgets._footer import FooterKey

from pvp_tui.core.frontdesk import CheckIn
from pvp_tui.core.models import Need, Outcome
from pvp_tui.ui.app import PvpApp
from pvp_tui.ui.screens.dialogs import ConfirmDialog, HelpScreen
from pvp_tui.ui.screens.queue import WAITING_COLUMNS, column_widths
from pvp_tui.ui.widgets.visit_table import VisitTable
from tests.support.desk_morning import set_time, settle

NEEDS = (Need.SIGN_LANGUAGE, Need.REDUCED_MOBILITY)


def table(app: PvpApp, table_id: str) -> VisitTable:
    return app.queue_screen.query_one(f"#{table_id}", VisitTable)


def row_of(app: PvpApp, table_id: str, ticket: str) -> list[str]:
    t = table(app, table_id)
    rows = [[str(c) for c in t.get_row_at(i)] for i in range(t.row_count)]
    return next(r for r in rows if r[0] == ticket)


def widths(app: PvpApp, table_id: str) -> dict[str, int]:
    return {str(key.value): column.width for key, column in table(app, table_id).columns.items()}


async def test_at_80_columns_every_need_of_a_visitor_shows_in_full(app: PvpApp) -> None:
    # A priority walk-in and an appointment, each with two needs, while a partner is closed.
    walk_in = app.desk.check_in(CheckIn("cpam", "Mme Élisabeth Durand", priority=True, needs=NEEDS))
    appt = app.desk.check_in(CheckIn("caf", "M. Rivière", appointment="12:00", needs=NEEDS))
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        for visit, flags in ((walk_in, "prio LSF mob."), (appt, "LSF mob. RDV 12:00")):
            assert row_of(app, "waiting", visit.ticket)[5] == flags
            assert widths(app, "waiting")["flags"] >= len(flags)
        # The closed partner's estimate in short, whole in its column.
        estimate = row_of(app, "waiting", "M-001")[4]
        assert estimate == "fermé → mer. 9h"
        assert widths(app, "waiting")["estimate"] >= len(estimate)
        # The header "Attente" is whole; the kiosk list's name and state too.
        assert widths(app, "waiting")["waited"] >= len("Attente")
        name, state = row_of(app, "at-kiosk", "A-001")[1:]
        assert name == "Mme Roussel" and widths(app, "at-kiosk")["name"] >= len(name)
        assert widths(app, "at-kiosk")["state"] >= len(state)


async def test_at_120_columns_the_whole_words_show(app: PvpApp) -> None:
    visit = app.desk.check_in(CheckIn("cpam", "Mme Élisabeth Durand", needs=NEEDS))
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        assert row_of(app, "waiting", visit.ticket)[5] == "interp. LSF · mobilité"
        assert row_of(app, "waiting", "M-001")[4] == "fermé · mer. 09:00"
        assert row_of(app, "at-kiosk", "A-001")[1] == "Assurance Maladie"
        # The bottom panels grew with the terminal; the waiting list is still the largest.
        bottom = app.queue_screen.query_one("#bottom").size.height
        assert bottom > 8 and table(app, "waiting").size.height > bottom


def test_columns_share_the_width_and_never_exceed_it() -> None:
    headers = {"waited": "Attente", "partner": "Partenaire"}
    for narrow, space in ((True, 80 - 15), (False, 120 - 15)):
        bounds = WAITING_COLUMNS[narrow]
        for wants in ({}, {"estimate": 15, "flags": 25}, {"estimate": 18, "flags": 200}):
            got = column_widths(space, bounds, headers, wants)
            assert sum(got.values()) == space
            assert all(got[k] >= low for k, (low, _high) in bounds.items())


async def test_the_newest_finished_visit_comes_into_view(app: PvpApp) -> None:
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        finished = table(app, "today-list")
        for name in ("A", "B", "C", "D"):  # more finished visits than the list shows
            v = app.desk.check_in(CheckIn("caf", name))
            app.desk.call(v.ticket)
            app.desk.finish(v.ticket, Outcome.RESOLVED)
        app.refresh_queue()
        await settle(pilot)
        finished.move_cursor(row=finished.row_count - 1, animate=False)  # scrolled down
        await pilot.pause()
        assert finished.scroll_y > 0
        table(app, "waiting").focus()
        set_time(app.desk, app.desk.now() + timedelta(minutes=5))
        last = app.desk.check_in(CheckIn("caf", "E"))
        app.desk.call(last.ticket)
        app.desk.finish(last.ticket, Outcome.TECHNICAL_FAILURE)
        app.refresh_queue()
        await settle(pilot)
        assert finished.visit_ids[0] == last.id
        assert finished.scroll_y == 0 and finished.cursor_row == 0


async def test_help_fits_at_80x24_and_scrolls_by_keys_when_smaller(app: PvpApp) -> None:
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("f1")
        await pilot.pause()
        assert isinstance(app.screen, HelpScreen)
        keys = app.screen.query_one("#help-keys")
        assert keys.max_scroll_y == 0  # every key in view
        assert app.screen.query_one("#help").region.y >= 0
        await pilot.resize_terminal(80, 16)
        await pilot.pause()
        assert keys.max_scroll_y > 0
        await pilot.press("end")
        await pilot.pause()
        assert keys.scroll_y == keys.max_scroll_y
        await pilot.press("home")
        await pilot.pause()
        assert keys.scroll_y == 0


async def test_the_confirmation_shows_its_keys(app: PvpApp) -> None:
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("x")  # cancel the selected (first) visitor
        await pilot.pause()
        assert isinstance(app.screen, ConfirmDialog)
        footer = app.screen.query_one(Footer)
        shown = {(k.key_display, k.description) for k in footer.query(FooterKey)}
        assert ("o", "Annuler la visite") in shown and ("n", "La garder") in shown
