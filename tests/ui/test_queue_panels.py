"""The queue's panels show a read from plain data, in a bare app: no PvpApp, no services."""

from __future__ import annotations

from pathlib import Path

from textual.app import App, ComposeResult

from pvp_tui.ui.messages import QueueState, load_queue_state
from pvp_tui.ui.screens.queue_panels import KioskList, TodayPanel, View, WaitingList
from pvp_tui.ui.widgets.visit_table import VisitTable
from tests.support.desk_morning import make_desk, seed_morning


class Panels(App[None]):
    def compose(self) -> ComposeResult:
        yield WaitingList()
        yield KioskList()
        yield TodayPanel()


def show(app: Panels, state: QueueState, view: View) -> None:
    waiting, kiosk = app.query_one(WaitingList), app.query_one(KioskList)
    waiting.prepare(state.waiting, view)
    kiosk.prepare(state.active, view)
    waiting.show()
    kiosk.show()
    app.query_one(TodayPanel).show(state.summary, view, width=44, max_lines=3)


async def test_each_panel_shows_its_part_of_a_read(tmp_path: Path) -> None:
    desk = make_desk(tmp_path / "pvp.db")
    seed_morning(desk)
    state = load_queue_state(desk)
    app = Panels()
    async with app.run_test(size=(120, 40)) as pilot:
        view = View(desk.config, privacy=False, now=state.now, compact=False)
        show(app, state, view)
        await pilot.pause()
        waiting = app.query_one(WaitingList)
        assert waiting.visit_ids == [e.visit.id for e in state.waiting]
        assert waiting.border_title == f"En attente ({len(state.waiting)})"
        assert app.query_one(KioskList).visit_ids == [v.id for v in state.active]
        finished = app.query_one("#today-list", VisitTable)
        assert finished.visit_ids == [v.id for v in state.summary.finished]
        names = [str(waiting.get_row_at(i)[2]) for i in range(waiting.row_count)]
        assert "Mme Durand" in names

        show(app, state, View(desk.config, privacy=True, now=state.now, compact=False))
        await pilot.pause()
        names = [str(waiting.get_row_at(i)[2]) for i in range(waiting.row_count)]
        assert "Mme Durand" not in names


async def test_notes_too_long_for_their_column_take_their_compact_words(tmp_path: Path) -> None:
    desk = make_desk(tmp_path / "pvp.db")
    seed_morning(desk)
    state = load_queue_state(desk)
    app = Panels()
    async with app.run_test(size=(120, 40)):
        waiting = app.query_one(WaitingList)
        wants = waiting.prepare(state.waiting, View(desk.config, False, state.now, False))
        assert waiting.fit_notes(wants["flags"]) is None  # all of them fit
        shorter = waiting.fit_notes(wants["flags"] - 1)
        assert shorter is not None and shorter < wants["flags"]
