"""Reading the hub's pages in tests: the figures by the data attributes the templates
put on them (a row's `data-site`, `data-kiosk` or `data-partner`, a cell's `data-k`),
and the report's tables (`data-table`) as rows of text."""

from __future__ import annotations

from html.parser import HTMLParser

ROW_KEYS = ("data-site", "data-kiosk", "data-partner")


class _Reader(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.cells: dict[str, dict[str, str]] = {}
        self.tables: dict[str, list[list[str]]] = {}
        self._row: str | None = None
        self._cell: str | None = None
        self._text: list[str] = []
        self._table: str | None = None
        self._table_row: list[str] | None = None
        self._in_td = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        if tag == "tr":
            self._row = next((f"{k}={found[k]}" for k in ROW_KEYS if k in found), self._row)
            if self._table is not None:
                self._table_row = []
        if tag == "table" and found.get("data-table"):
            self._table = str(found["data-table"])
            self.tables[self._table] = []
        if "data-k" in found:
            self._cell = str(found["data-k"])
            self._text = []
        if tag in ("td", "th") and self._table is not None:
            self._in_td = True
            self._td_text: list[str] = []

    def handle_endtag(self, tag: str) -> None:
        if tag in ("td", "th", "strong") and self._cell is not None:
            row = self._row or ""
            self.cells.setdefault(row, {})[self._cell] = " ".join("".join(self._text).split())
            self._cell = None
        if tag in ("td", "th") and self._in_td and self._table_row is not None:
            self._table_row.append(" ".join("".join(self._td_text).split()))
            self._in_td = False
        if tag == "tr":
            if self._table is not None and self._table_row is not None:
                self.tables[self._table].append(self._table_row)
            self._table_row = None
            self._row = None
        if tag == "table":
            self._table = None

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._text.append(data)
        if self._in_td:
            self._td_text.append(data)


def cells(html: str) -> dict[str, dict[str, str]]:
    """{"data-site=leyme": {"waiting": "4", ...}, "data-kiosk=k1": {...}, ...}"""
    reader = _Reader()
    reader.feed(html)
    return reader.cells


def tables(html: str) -> dict[str, list[list[str]]]:
    """{"summary": [[header cells], [row cells], ...], ...}"""
    reader = _Reader()
    reader.feed(html)
    return reader.tables
