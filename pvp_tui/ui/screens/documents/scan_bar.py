"""The documents panel's scan bar: the scan's options, its progress, what stopped it."""

from __future__ import annotations

import time
from typing import Any

from textual import on
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.widgets import Button, Input, ProgressBar, Select, Static

from ....core.i18n import _
from .status import say

RESOLUTIONS = (75, 150, 200, 300, 600)
PAGES = 10  # the feeder's page count until staff choose another
AGAIN = 1.0  # seconds: digits typed closer than this add up ("12" pages)


class ScanBar(Vertical):
    """Source, mode, resolution, pages, Scan; then the progress; then the error, Retry."""

    class Requested(Message):
        """Scan pressed (a new document), or Retry (the document a failed scan kept)."""

        def __init__(self, retry: bool) -> None:
            super().__init__()
            self.retry = retry

    def __init__(self, pages: int | None = None) -> None:
        """`pages`: the feeder's page count to show (the last one scanned with)."""
        super().__init__(id="scan-bar")
        self._pages = pages or PAGES
        self._typed = ""
        self._typed_at = 0.0

    def compose(self) -> ComposeResult:
        with Horizontal(id="scan-options", classes="doc-row"):
            yield Select(
                [(_("Feeder"), "adf"), (_("Flatbed"), "flatbed")],
                value="adf",
                allow_blank=False,
                compact=True,
                id="source",
            )
            yield Select(
                [(_("Colour"), "color"), (_("Grey"), "gray")],
                value="color",
                allow_blank=False,
                compact=True,
                id="mode",
            )
            yield Select(
                [(f"{r} dpi", r) for r in RESOLUTIONS],
                value=300,
                allow_blank=False,
                compact=True,
                id="resolution",
            )
            yield Static(_("pages"), classes="doc-label")
            yield Input(
                str(self._pages), restrict=r"[0-9]*", max_length=3, compact=True, id="max-pages"
            )
            yield Button(_("Scan") + " F6", id="scan-button", compact=True)
        with Horizontal(id="scan-progress-row", classes="doc-row"):
            yield ProgressBar(total=1, show_eta=False, show_percentage=False, id="scan-progress")
            yield Static("", id="scan-status", markup=False)
        with Horizontal(id="scan-error-row", classes="doc-row"):
            yield Static("", id="scan-error", markup=False)
            yield Button(_("Retry") + " F6", id="scan-retry", compact=True, variant="warning")

    def on_mount(self) -> None:
        self.query_one("#scan-error-row").display = False

    def settings(self) -> dict[str, Any]:
        """The scan's parameters chosen here (one page on the flatbed)."""
        source = self.query_one("#source", Select).value
        pages_text = self.query_one("#max-pages", Input).value or "1"
        max_pages = max(1, min(int(pages_text), 100)) if source == "adf" else 1
        return {
            "source": source,
            "mode": self.query_one("#mode", Select).value,
            "resolution": self.query_one("#resolution", Select).value,
            "max_pages": max_pages,
        }

    def type_pages(self, digit: str) -> None:
        """A digit typed on the panel: the feeder's page count ("3"; "1" then "2" within a
        second: 12). More than one page means the feeder."""
        now = time.monotonic()
        typed = (self._typed if now - self._typed_at < AGAIN else "") + digit
        self._typed_at = now
        typed = typed.lstrip("0") if len(typed) <= 3 else digit.lstrip("0")
        self._typed = typed
        if not typed:
            return
        pages = min(int(typed), 100)
        self.query_one("#max-pages", Input).value = str(pages)
        source: Select[str] = self.query_one("#source", Select)
        if pages > 1 and source.value != "adf":
            source.value = "adf"

    def say(self, text: str, level: str) -> None:
        say(self.query_one("#scan-status", Static), text, level)

    def progress(self, done: float, total: int) -> None:
        self.query_one("#scan-progress", ProgressBar).update(total=total, progress=done)

    def error(self, text: str | None) -> None:
        """Show what stopped the scan (with Retry), or nothing."""
        row = self.query_one("#scan-error-row")
        row.display = bool(text)
        if text:
            say(self.query_one("#scan-error", Static), text)

    @on(Button.Pressed, "#scan-button")
    def _scan_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        self.post_message(self.Requested(retry=False))

    @on(Button.Pressed, "#scan-retry")
    def _retry_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        self.post_message(self.Requested(retry=True))
