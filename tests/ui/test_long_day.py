"""The app stays open all day: what it has shown must not stay behind in memory.

DataTable keys every render it caches by the table's update count, which each change
moves on; without `VisitTable` dropping them, every change another desk makes leaves the
renders of rows long gone in the caches (13.8 MiB traced after 60 visits at 120x40,
against 1 MiB with the fix: docs/memory.md).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from textual.cache import LRUCache
from textual.widgets.data_table import RowKey

from pvp_tui.ui.messages import load_queue_state
from pvp_tui.ui.widgets.status_line import BOARDS, SAID_KEPT
from pvp_tui.ui.widgets.visit_table import VisitTable
from tests.support.busy_day import run_visits_seen
from tests.support.desk_morning import make_app, make_desk, settle

VISITS = 40
SIZE = (100, 30)


def cached(cache: LRUCache[Any, Any]) -> list[Any]:
    """The keys of one of DataTable's caches (an LRUCache is not iterable)."""
    return list(cache.keys())


def stale_renders(table: VisitTable) -> list[tuple[str, Any]]:
    """Cached renders made before the table's last change, or of a row no longer in it."""
    now = table._update_count
    rows = set(table.rows) | {table._header_row_key}
    stale: list[tuple[str, Any]] = []
    for key in cached(table._cell_render_cache):  # (row, column, ..., update count, ...)
        if key[6] != now or key[0] not in rows:
            stale.append(("cell", key))
    for key in cached(table._row_render_cache):  # (row, line, ..., update count, ...)
        if key[8] != now or key[0] not in rows:
            stale.append(("row", key))
    for key in cached(table._line_cache):  # (y, x1, x2, ..., update count, ...)
        if key[9] != now:
            stale.append(("line", key))
    for key in cached(table._row_renderable_cache):  # (update count, row index)
        if key[0] != now:
            stale.append(("renderables", key))
    return stale


def rows_named(table: VisitTable, stale: list[tuple[str, Any]]) -> set[RowKey]:
    return {key[0] for kind, key in stale if kind in ("cell", "row") and key[0] not in table.rows}


async def test_a_day_of_visits_at_another_desk_leaves_no_render_behind(tmp_path: Path) -> None:
    db = tmp_path / "pvp.db"
    app = make_app(db)
    other = make_desk(db)
    try:
        async with app.run_test(size=SIZE) as pilot:
            await settle(pilot)
            await run_visits_seen(pilot, other, 0, VISITS)
            await pilot.pause()
            tables = list(app.queue_screen.query(VisitTable))
            assert [t.id for t in tables] == ["waiting", "at-kiosk", "today-list"]
            today = tables[2]
            assert today.row_count >= VISITS  # the finished visits are all listed
            for table in tables:
                assert table._update_count > VISITS  # each change reached the table
                stale = stale_renders(table)
                gone = rows_named(table, stale)
                assert not gone, f"{table.id}: renders kept of {len(gone)} rows gone"
                assert not stale, f"{table.id}: {len(stale)} renders of earlier updates kept"
                # What is left is what is on screen: a cell per column of each row shown.
                cells = len(table._cell_render_cache)
                assert cells <= (table.size.height + 1) * (len(table.columns) + 1)
    finally:
        other.store.close()


async def test_the_status_line_keeps_its_last_messages_only(tmp_path: Path) -> None:
    app = make_app(tmp_path / "pvp.db")
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        for n in range(SAID_KEPT + 50):
            app.notify(f"message {n}")
        await pilot.pause()
        said = [s.text for s in BOARDS[app].said]
        assert len(said) == SAID_KEPT
        assert said[-1] == f"message {SAID_KEPT + 49}"


async def test_a_read_that_ends_after_the_app_closed_is_dropped(tmp_path: Path) -> None:
    """A queue read still running when the app quits lands after its screens are gone (a
    fast test clock's minute ticks made it happen at every exit): nothing to show, no
    traceback."""
    app = make_app(tmp_path / "pvp.db")
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        state = load_queue_state(app.desk)
    assert not app.screen_stack
    loads = app.loads
    app.show_read(state)  # IndexError before: the queue screen was read off an empty stack
    assert app.loads == loads + 1
