"""A DataTable of visits keyed by visit id, updated incrementally.

`sync` compares the wanted rows with what is on screen: rows that left are removed, new
rows added, changed cells updated one by one, and the rows re-sorted only when the order
changed. Nothing is rebuilt, so a refresh of 300 rows costs almost nothing when little
changed, and nothing is repainted when nothing changed.

Each cell is fitted to its column's width (`format.fit`): a text too long ends in '…',
and a cell given as choices (a partner's name, then its short name) shows the first that
fits. When a column's width changes, the cells whose fitted text changed are repainted.

A table open all day must not grow with what it has shown: DataTable's render caches
(lines, rows, cells, row renderables) key every entry by the table's update count, which
every change moves on, so each change leaves the previous renders unreachable yet kept
(up to 13,000 entries a table, bounded only by their LRU sizes). `render_lines` drops
them once the count has moved: the caches hold the renders of what is on screen now.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

from rich.text import Text
from textual.binding import Binding, BindingType
from textual.coordinate import Coordinate
from textual.geometry import Region
from textual.strip import Strip
from textual.widgets import DataTable
from textual.widgets.data_table import ColumnKey, RowKey

from ..format import fit


class RowId(str):
    """The first cell of each row: shown as text, carries the visit id for sorting."""

    __slots__ = ("visit_id",)
    visit_id: str

    def __new__(cls, text: str, visit_id: str) -> RowId:
        cell = super().__new__(cls, text)
        cell.visit_id = visit_id
        return cell


# A cell: its text, or choices from the longest to the shortest (see `format.fit`).
Cell = str | tuple[str, ...]
# visit id, cells (first cell shown in the first column). Cells are shown as plain text,
# never as markup: a visitor's name such as "[/b]" must neither style nor break the table.
Row = tuple[str, tuple[Cell, ...]]


class VisitTable(DataTable[Any]):
    # A row list: Home and End go to the first and last visitor (DataTable's own Home and
    # End scroll sideways, which a list this wide never needs).
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("home", "scroll_top", show=False),
        Binding("end", "scroll_bottom", show=False),
    ]

    def __init__(self, columns: Sequence[tuple[str, str, int | None]], **kwargs: Any) -> None:
        super().__init__(cursor_type="row", zebra_stripes=False, **kwargs)
        self._column_spec = columns
        self._hidden: frozenset[str] = frozenset()  # column keys not shown (never the first)
        self._widths = {key: width for key, _label, width in columns}
        self._labels = {key: label for key, label, _width in columns}
        self._cells: dict[str, tuple[Cell, ...]] = {}
        self._order: list[str] = []
        self.changes = 0  # cells/rows touched by the last sync (tests and benchmarks read it)
        self._rendered_update = 0  # the update count the render caches were filled for

    def on_mount(self) -> None:
        self._ensure_columns()

    def render_lines(self, crop: Region) -> list[Strip]:
        if self._update_count != self._rendered_update:
            self._drop_stale_renders()
        return super().render_lines(crop)

    def _drop_stale_renders(self) -> None:
        """Empty the render caches filled before the last change (no key of theirs can
        match again: each holds the update count it was made for)."""
        self._rendered_update = self._update_count
        self._row_render_cache.clear()
        self._cell_render_cache.clear()
        self._row_renderable_cache.clear()
        self._line_cache.clear()

    def _ensure_columns(self) -> None:
        # A first read may arrive before this table's Mount event: columns come first.
        if not self.columns:
            for key, _label, _width in self._column_spec:
                if key not in self._hidden:
                    self.add_column(self._labels[key], key=key, width=self._widths[key])

    def _fitted(self, cells: tuple[Cell, ...]) -> list[str]:
        """The texts a row shows, each fitted to its column (hidden columns included)."""
        return [
            fit(cell, self._widths[key])
            for (key, _l, _w), cell in zip(self._column_spec, cells, strict=True)
        ]

    def _shown(self, cells: tuple[Cell, ...]) -> list[str]:
        return [
            text
            for (key, _l, _w), text in zip(self._column_spec, self._fitted(cells), strict=True)
            if key not in self._hidden
        ]

    def hide_columns(self, keys: frozenset[str]) -> None:
        """Show every column but these (a narrow terminal drops what it can spare)."""
        if keys == self._hidden:
            return
        self._hidden = keys
        if not self.columns:
            return
        selected = self.selected_id
        self.clear(columns=True)
        self._ensure_columns()
        for visit_id in self._order:
            self._add(visit_id, self._cells[visit_id])
        if selected in self._cells:
            self.move_cursor(row=self.get_row_index(selected), animate=False)

    def _add(self, visit_id: str, cells: tuple[Cell, ...]) -> None:
        first, *rest = self._shown(cells)
        self.add_row(RowId(first, visit_id), *(Text(cell) for cell in rest), key=visit_id)

    @property
    def visit_ids(self) -> list[str]:
        """The visits on screen, in display order."""
        return list(self._order)

    @property
    def selected_id(self) -> str | None:
        if not self.row_count:
            return None
        try:
            return str(self.coordinate_to_cell_key(self.cursor_coordinate).row_key.value)
        except Exception:
            return None

    def set_column_widths(self, widths: dict[str, int]) -> None:
        old_widths = dict(self._widths)
        changed = False
        for key, width in widths.items():
            self._widths[key] = width
            column = self.columns.get(key)  # type: ignore[call-overload]
            if column is not None and column.width != width:
                column.width = width
                changed = True
        if not changed:
            return
        self._require_update_dimensions = True
        self.refresh()
        column_keys = [key for key, _label, _width in self._column_spec]
        for visit_id, cells in self._cells.items():
            for key, cell in zip(column_keys, cells, strict=True):
                if key in self._hidden or old_widths[key] == self._widths[key]:
                    continue
                now = fit(cell, self._widths[key])
                if fit(cell, old_widths[key]) != now:
                    self._update_one_cell(visit_id, key, self._cell(visit_id, key, now))

    def set_labels(self, labels: dict[str, str]) -> None:
        """Column headers that change with the width (a narrow terminal's short ones)."""
        self._labels.update(labels)
        changed = False
        for key, label in labels.items():
            column = self.columns.get(key)  # type: ignore[call-overload]
            if column is not None and column.label.plain != label:
                column.label = Text(label)
                changed = True
        if changed:
            self._update_count += 1
            self._require_update_dimensions = True
            self.refresh()

    def _cell(self, visit_id: str, column_key: str, text: str) -> str | Text:
        first = self._column_spec[0][0]
        return RowId(text, visit_id) if column_key == first else Text(text)

    def _update_one_cell(self, visit_id: str, column_key: str, value: str | Text) -> None:
        """DataTable.update_cell, repainting that cell only.

        update_cell repaints the whole table: over SSH the minute tick (the 'waited'
        column) then costs kilobytes for a few changed characters. Same data update and
        cache invalidation as update_cell (Textual is pinned), then one cell's region.
        """
        row_key, col_key = RowKey(visit_id), ColumnKey(column_key)
        row = self._row_locations.get(row_key)
        column = self._column_locations.get(col_key)
        if row is None or column is None:
            self.update_cell(visit_id, column_key, value)  # raises CellDoesNotExist
            return
        self._data[row_key][col_key] = value
        self._update_count += 1
        self.refresh_coordinate(Coordinate(row, column))

    def sync(self, rows: Sequence[Row]) -> int:
        """Make the table show `rows` in this order; returns how many things changed."""
        self._ensure_columns()
        selected = self.selected_id
        wanted = {visit_id: cells for visit_id, cells in rows}
        column_keys = [key for key, _label, _width in self._column_spec]
        changes = 0
        added: list[str] = []
        for visit_id in [v for v in self._cells if v not in wanted]:
            self.remove_row(visit_id)
            del self._cells[visit_id]
            changes += 1
        for visit_id, cells in rows:
            old = self._cells.get(visit_id)
            if old is None:
                self._add(visit_id, cells)
                added.append(visit_id)
                changes += 1
            elif old != cells:
                shown = zip(self._fitted(old), self._fitted(cells), strict=True)
                for index, (before, after) in enumerate(shown):
                    key = column_keys[index]
                    if before != after and key not in self._hidden:
                        self._update_one_cell(visit_id, key, self._cell(visit_id, key, after))
                        changes += 1
            self._cells[visit_id] = cells
        order = [visit_id for visit_id, _cells in rows]
        on_screen = [v for v in self._order if v in wanted] + added
        if order != on_screen:
            position = {visit_id: index for index, visit_id in enumerate(order)}
            self.sort(column_keys[0], key=lambda cell: position[cell.visit_id])
            changes += 1
        self._order = order
        if changes and selected in wanted:
            index = self.get_row_index(selected)
            if index != self.cursor_row:
                self.move_cursor(row=index, animate=False)
        self.changes = changes
        return changes
