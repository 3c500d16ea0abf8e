"""The queue screen says what an action did in the core's words (pvp_tui.core.words),
the very line the CLI prints for it."""

from __future__ import annotations

from pvp_tui.core.frontdesk import done_words
from pvp_tui.core.models import Status
from pvp_tui.ui.app import PvpApp
from pvp_tui.ui.widgets.visit_table import VisitTable
from tests.support.desk_morning import settle
from tests.support.said import said

SIZE = (80, 24)


def notes(app: PvpApp) -> list[str]:
    return said(app)


async def select_row(pilot, app: PvpApp, table_id: str, ticket: str) -> None:  # type: ignore[no-untyped-def]
    table = app.queue_screen.query_one(f"#{table_id}", VisitTable)
    table.focus()
    rows = [str(table.get_row_at(i)[0]) for i in range(table.row_count)]
    table.move_cursor(row=rows.index(ticket))
    await pilot.pause()


async def test_no_show_and_back_to_waiting_say_what_the_cli_says(app: PvpApp) -> None:
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await select_row(pilot, app, "waiting", "M-001")
        await pilot.press("c", "o")  # yes, even though the kiosk is busy
        await settle(pilot)
        assert notes(app)[-1] == "M-001 appelé (MSA)."
        await select_row(pilot, app, "at-kiosk", "M-001")
        await pilot.press("n")
        await settle(pilot)
        assert app.desk.find("M-001").status is Status.NO_SHOW
        # Word for word what `pvp noshow M-001` prints (see tests/cli/test_cli.py).
        assert notes(app)[-1] == "M-001 : marqué absent."
        assert notes(app)[-1] == done_words(app.desk.config, "no_show", app.desk.find("M-001"))
        await select_row(pilot, app, "today-list", "M-001")
        await pilot.press("b")
        await settle(pilot)
        assert notes(app)[-1] == "M-001 : remis en attente."
