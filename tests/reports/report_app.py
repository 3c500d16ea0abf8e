"""A small app around the reports screen, for Pilot and snapshot tests."""

from __future__ import annotations

from datetime import UTC, datetime

from textual.app import App
from textual.notifications import SeverityLevel

from pvp_tui.core.clock import fixed_clock
from pvp_tui.core.config import Config
from pvp_tui.core.frontdesk import FrontDesk
from pvp_tui.core.reports import Period
from pvp_tui.core.store import Store
from pvp_tui.ui.screens.reports import ReportsScreen
from pvp_tui.ui.widgets.status_line import MessageBoard

NOW = datetime(2026, 7, 4, 13, 0, tzinfo=UTC)


class ReportApp(App[None]):
    ENABLE_COMMAND_PALETTE = False

    def __init__(self, store: Store, config: Config, period: Period | None = None) -> None:
        super().__init__()
        self.desk = FrontDesk(store, config, clock=fixed_clock(NOW), actor="test")
        self.period = period
        self.board = MessageBoard(self)  # the screen's status line, as in the staff app

    def notify(
        self,
        message: str,
        *,
        title: str = "",
        severity: SeverityLevel = "information",
        timeout: float | None = None,
        markup: bool = True,
    ) -> None:
        self.board.notify(message, severity)

    def on_mount(self) -> None:
        self.push_screen(ReportsScreen(self.desk, self.period))
