"""The documents panel's print bar: printer, copies, two-sided, Print; the job's state."""

from __future__ import annotations

from textual import on
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.widgets import Button, Checkbox, Input, Select, Static

from kiosk_bridge.shapes import PrinterInfo, PrintJob

from ....core.i18n import _
from ...widgets.tick import Tick
from .status import say
from .words import job_line


class PrintBar(Vertical):
    """What to print with, then how the job goes (Retry when it failed)."""

    class Requested(Message):
        """Print or Retry pressed."""

    def __init__(self) -> None:
        super().__init__(id="print-bar")

    def compose(self) -> ComposeResult:
        with Horizontal(id="print-options", classes="doc-row"):
            yield Select([], prompt=_("printer"), compact=True, id="printer")
            yield Static(_("copies"), classes="doc-label")
            yield Input("1", restrict=r"[0-9]*", max_length=2, compact=True, id="copies")
            yield Tick(_("Two-sided"), False, compact=True, id="duplex")
            yield Button(_("Print") + " F7", id="print-button", compact=True)
        with Horizontal(id="print-status-row", classes="doc-row"):
            yield Static("", id="print-status", markup=False)
            yield Button(_("Retry") + " F7", id="print-retry", compact=True, variant="warning")

    def on_mount(self) -> None:
        self.query_one("#print-retry").display = False

    def fill_printers(self, printers: list[PrinterInfo]) -> None:
        """The kiosk's printers; the one chosen stays, else the kiosk's default."""
        select: Select[str] = self.query_one("#printer", Select)
        names = [p["name"] for p in printers]
        current = select.value if select.value in names else None
        default = next(
            (p["name"] for p in printers if p.get("default")), names[0] if names else None
        )
        select.set_options([(n, n) for n in names])
        if names:
            select.value = current or default  # type: ignore[assignment]

    def printer(self) -> str | None:
        value = self.query_one("#printer", Select).value
        return value if isinstance(value, str) else None

    def copies(self) -> int:
        return max(1, min(int(self.query_one("#copies", Input).value or "1"), 99))

    def duplex(self) -> bool:
        return self.query_one("#duplex", Checkbox).value

    def say(self, text: str, level: str, *, retry: bool | None = None) -> None:
        """Show how printing goes; `retry`: show or hide Retry (None: leave it)."""
        say(self.query_one("#print-status", Static), text, level)
        if retry is not None:
            self.show_retry(retry)

    def show_retry(self, shown: bool) -> None:
        self.query_one("#print-retry").display = shown

    def job(self, job: PrintJob) -> None:
        """A print job's state, as the bridge reports it."""
        text, level = job_line(job)
        self.say(text, level, retry=level == "error")

    @on(Button.Pressed, "#print-button")
    @on(Button.Pressed, "#print-retry")
    def _pressed(self, event: Button.Pressed) -> None:
        event.stop()
        self.post_message(self.Requested())
