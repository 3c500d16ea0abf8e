"""The reports screen: a period picker, the report's tables and three terminal charts.

Every figure comes from `pvp_tui.core.reports.activity_report`, laid out by
`pvp_tui.core.exports.report_tables`: the same tables `pvp report` prints and exports.
The report is computed in a thread worker; the charts are plain block bars (plotext) that
stay readable at 80x24 over SSH.
"""

from __future__ import annotations

import math
import textwrap
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import ClassVar

import platformdirs
from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal
from textual.content import Content
from textual.message import Message
from textual.screen import Screen
from textual.widgets import (
    Button,
    DataTable,
    Footer,
    Input,
    Label,
    Static,
    TabbedContent,
    TabPane,
    Tabs,
)
from textual_plotext import PlotextPlot

from ...core.errors import PvpError
from ...core.exports import (
    TEXT,
    Table,
    format_cell,
    report_tables,
    to_csv,
    to_xlsx,
    write_atomically,
)
from ...core.frontdesk import FrontDesk
from ...core.i18n import N_, _
from ...core.reports import (
    ActivityReport,
    Period,
    Series,
    activity_report,
    format_date,
    format_short_date,
    hours_series,
    parse_date,
    visits_series,
    waits_series,
)
from .. import styles
from ..actions import localize
from ..widgets.status_line import StatusLine

DAY, WEEK, MONTH, RANGE = "day", "week", "month", "range"
TABLE_TABS = ("summary", "partners", "kiosks", "failures", "needs")
# plotext's names of the ANSI colours (its "orange" is ANSI yellow), and Textual's names for
# the same ones in the legend: the terminal's palette draws both alike.
COLORS = ("blue", "green", "orange", "cyan", "red", "magenta")
LEGEND_COLORS = ("ansi_blue", "ansi_green", "ansi_yellow", "ansi_cyan", "ansi_red", "ansi_magenta")


def header_width(label: str, cells: int) -> int:
    """A column's width: its cells', and its header on at most two lines, cut between
    words ('Transferts' over 'reçus'), so more columns show on 80 columns."""
    width = max(cells, *(len(word) for word in label.split()))
    while len(textwrap.wrap(label, width, break_on_hyphens=False)) > 2:
        width += 1
    return width


@dataclass
class ReportReady(Message):
    report: ActivityReport


@dataclass
class ReportFailed(Message):
    text: str


class ReportsScreen(Screen[None]):
    """F2/F3/F4 pick a day, week or month around the shown one; F5/F6 move a period
    back or forward; the two date fields choose any range (Enter applies)."""

    DEFAULT_CSS = styles.default_css("reports.tcss")

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("f2", "pick('day')", N_("Day"), id="report-day"),
        Binding("f3", "pick('week')", N_("Week"), id="report-week"),
        Binding("f4", "pick('month')", N_("Month"), id="report-month"),
        Binding("f5", "shift(-1)", N_("Previous"), id="report-previous"),
        Binding("f6", "shift(1)", N_("Next"), id="report-next"),
        Binding("f7", "export", N_("Export"), id="report-export"),
        Binding("f8", "next_tab", N_("Next tab"), id="report-next-tab"),
        Binding("escape,f12", "close", N_("Back"), id="report-close"),
    ]

    def __init__(
        self,
        desk: FrontDesk,
        period: Period | None = None,
        kind: str = MONTH,
        export_dir: Path | None = None,
    ) -> None:
        super().__init__()
        localize(self)
        self.desk = desk
        self.kind = kind
        self.period = period or Period.month(desk.today())
        self.export_dir = export_dir
        self.report: ActivityReport | None = None
        self.loads = 0  # completed reports (tests wait on it)

    # ------------------------------------------------------------------ layout
    def compose(self) -> ComposeResult:
        yield Static(
            _("Activity report · {site}").format(site=self.desk.config.site.name),
            id="report-title",
            markup=False,
        )
        with Horizontal(id="period-bar"):
            yield Button("◀", id="previous", compact=True, tooltip=_("Previous period (F5)"))
            yield Label(_("From"))
            yield Input(format_date(self.period.start), id="from", compact=True, max_length=10)
            yield Label(_("to"))
            yield Input(format_date(self.period.end), id="to", compact=True, max_length=10)
            yield Button("▶", id="next", compact=True, tooltip=_("Next period (F6)"))
            yield Static("", id="period-info", markup=False)
        with TabbedContent(id="report-tabs"):
            with TabPane(_("Summary"), id="tab-summary"):
                yield DataTable(id="table-summary", cursor_type="row", zebra_stripes=True)
            with TabPane(_("Partners"), id="tab-partners"):
                yield DataTable(
                    id="table-partners", cursor_type="row", zebra_stripes=True, fixed_columns=1
                )
                yield Static(id="table-partners-note", classes="legend")  # why total > visitors
            with TabPane(_("Per day"), id="tab-daily"):
                yield PlotextPlot(id="plot-daily")
                yield Static(id="plot-daily-legend", classes="legend")
            with TabPane(_("Waits"), id="tab-waits"):
                yield PlotextPlot(id="plot-waits")
                yield Static(id="plot-waits-legend", classes="legend")
            with TabPane(_("Hours"), id="tab-hours"):
                yield PlotextPlot(id="plot-hours")
                yield Static(id="plot-hours-legend", classes="legend")
            with TabPane(_("Kiosks"), id="tab-kiosks"):
                yield DataTable(id="table-kiosks", cursor_type="row", fixed_columns=1)
            with TabPane(_("Failures"), id="tab-failures"):
                yield DataTable(id="table-failures", cursor_type="row")
            with TabPane(_("Needs"), id="tab-needs"):
                yield DataTable(id="table-needs", cursor_type="row")
        # Every key of this screen on one line at 80 columns. No ^p hint: the palette holds
        # the queue's actions, not this screen's (ctrl+p still opens it).
        yield StatusLine()
        yield Footer(compact=True, show_command_palette=False)

    def on_mount(self) -> None:
        # The tabs first: ← → move between them at once (Tab goes on to the table).
        self.query_one("#report-tabs Tabs").focus()
        self.load()

    def action_next_tab(self) -> None:
        tabs = self.query_one("#report-tabs Tabs", Tabs)
        tabs.action_next_tab()

    # ------------------------------------------------------------------ period
    def action_pick(self, kind: str) -> None:
        around = self.period.end if self.period.end <= self.desk.today() else self.desk.today()
        self.kind = kind
        self.set_period(
            {DAY: Period.day, WEEK: Period.week, MONTH: Period.month}[kind](around), kind
        )

    def action_shift(self, step: int) -> None:
        p = self.period
        if self.kind == MONTH:
            anchor = p.start.replace(day=1)
            moved = (
                Period.month(date.fromordinal(anchor.toordinal() - 1))
                if step < 0
                else Period.month(date.fromordinal(p.end.toordinal() + 1))
            )
        elif step < 0:
            moved = p.previous()
        else:
            moved = Period(
                date.fromordinal(p.end.toordinal() + 1),
                date.fromordinal(p.end.toordinal() + p.days),
            )
        self.set_period(moved, self.kind)

    def set_period(self, period: Period, kind: str) -> None:
        self.period, self.kind = period, kind
        self.query_one("#from", Input).value = format_date(period.start)
        self.query_one("#to", Input).value = format_date(period.end)
        self.load()

    @on(Button.Pressed, "#previous")
    def _previous(self) -> None:
        self.action_shift(-1)

    @on(Button.Pressed, "#next")
    def _next(self) -> None:
        self.action_shift(1)

    @on(Input.Submitted)
    def _range_entered(self) -> None:
        try:
            period = Period(
                parse_date(self.query_one("#from", Input).value, _("From")),
                parse_date(self.query_one("#to", Input).value, _("to")),
            )
        except PvpError as exc:
            self.notify(exc.message, severity="warning", markup=False)
            return
        self.set_period(period, RANGE)

    def action_close(self) -> None:
        self.app.pop_screen()

    # ------------------------------------------------------------------ reading
    def load(self) -> None:
        self.query_one("#period-info", Static).update(_("computing…"))
        self._compute(self.period)

    @work(thread=True, exclusive=True, exit_on_error=False, group="report")
    def _compute(self, period: Period) -> None:
        try:
            report = activity_report(self.desk.store, self.desk.config, period)
        except PvpError as exc:
            self.post_message(ReportFailed(exc.message))
        else:
            self.post_message(ReportReady(report))

    @on(ReportFailed)
    def _failed(self, message: ReportFailed) -> None:
        self.query_one("#period-info", Static).update(message.text)
        self.notify(message.text, severity="error", markup=False)

    @on(ReportReady)
    def _ready(self, message: ReportReady) -> None:
        report = message.report
        if report.period != self.period:
            return  # an older request finished late
        self.report = report
        prev = report.previous.period
        self.query_one("#period-info", Static).update(
            _("{days} d. · vs {start} → {end}").format(
                days=report.period.days,
                start=format_short_date(prev.start),
                end=format_short_date(prev.end),
            )
        )
        for table in report_tables(report):
            if table.key in TABLE_TABS:
                self._fill(self.query_one(f"#table-{table.key}", DataTable), table)
            for note in self.query(f"#table-{table.key}-note").results(Static):
                note.update(table.note or "")
                note.display = bool(table.note)
        self._chart("#plot-daily", _("Visits per day by partner"), visits_series(report.current))
        self._chart(
            "#plot-waits", _("Wait before the call (minutes)"), waits_series(report.current)
        )
        self._chart("#plot-hours", _("Check-ins by hour"), hours_series(report.current))
        self.loads += 1

    def _fill(self, widget: DataTable[Text], table: Table) -> None:
        cells = [
            [format_cell(v, table.kind(r, c), empty="—") for c, v in enumerate(row)]
            for r, row in enumerate(table.rows)
        ]
        widget.clear(columns=True)
        longest = [
            max((len(row[c]) for row in cells), default=0) for c in range(len(table.columns))
        ]
        widths = [
            max(len(column.label), n) for column, n in zip(table.columns, longest, strict=True)
        ]
        # A table wider than the screen: headers on two lines, so more columns show.
        if sum(widths) + 2 * len(widths) > self.app.size.width - 1:
            widths = [
                header_width(column.label, n)
                for column, n in zip(table.columns, longest, strict=True)
            ]
        two_lines = any(
            width < len(column.label) for width, column in zip(widths, table.columns, strict=True)
        )
        widget.header_height = 2 if two_lines else 1
        for c, (column, width) in enumerate(zip(table.columns, widths, strict=True)):
            widget.add_column(column.label, width=width, key=str(c))
        for r, row in enumerate(cells):
            widget.add_row(
                *(
                    Text(cell, end="")
                    if table.kind(r, c) == TEXT
                    else Text(cell, justify="right", no_wrap=True, end="")
                    for c, cell in enumerate(row)
                )
            )

    def _chart(self, selector: str, title: str, series: Series) -> None:
        widget = self.query_one(selector, PlotextPlot)
        plt = widget.plt
        plt.clear_figure()
        plt.title(title)
        totals = [sum(col) for col in zip(*(v for _n, v in series.stacks), strict=True)]
        highest = max(totals, default=0)
        if highest == 0:
            plt.title(title + " — " + _("nothing in this period"))
            widget.refresh()
            return
        step = max(1, math.ceil(highest / 5))  # whole numbers: these are counts
        plt.yticks(list(range(0, highest + 1, step)))
        plt.ylim(0, highest)
        positions = list(range(1, len(series.labels) + 1))
        running = [0] * len(positions)
        heights = []
        for _name, values in series.stacks:
            running = [a + b for a, b in zip(running, values, strict=True)]
            heights.append(running)
        # One bar per day and stack, drawn from the top of the stack down: each covers the
        # ones under it (plotext's own stacked bars misplace segments in narrow terminals).
        for index in reversed(range(len(heights))):
            for i, value in enumerate(series.stacks[index][1]):
                if value:
                    plt.bar(
                        [positions[i]],
                        [heights[index][i]],
                        color=COLORS[index],
                        marker="sd",
                        width=0.7,
                    )
        plt.xlim(0.5, len(positions) + 0.5)
        every = max(1, math.ceil(len(positions) / 10))
        ticks = positions[::every]
        plt.xticks([float(p) for p in ticks], [series.labels[p - 1] for p in ticks])
        widget.refresh()
        legend = self.query_one(f"{selector}-legend", Static)
        legend.display = len(series.stacks) > 1
        # The legend under the chart: inside it, plotext would hide the bars.
        legend.update(
            Content.assemble(
                *(
                    part
                    for i, (name, _values) in enumerate(series.stacks)
                    for part in (("■ ", LEGEND_COLORS[i]), name + "  ")
                )
            )
        )

    # ------------------------------------------------------------------ export
    def action_export(self) -> None:
        if self.report is None:
            return
        self._export(self.report)

    @work(thread=True, exclusive=True, exit_on_error=False, group="export")
    def _export(self, report: ActivityReport) -> None:
        folder = self.export_dir or platformdirs.user_documents_path()
        stem = f"rapport-{report.period.start.isoformat()}-{report.period.end.isoformat()}"
        try:
            folder.mkdir(parents=True, exist_ok=True)
            write_atomically(folder / f"{stem}.xlsx", to_xlsx(report))
            write_atomically(folder / f"{stem}.csv", to_csv(report))
        except (PvpError, OSError) as exc:
            text = exc.message if isinstance(exc, PvpError) else str(exc)
            self.app.call_from_thread(self.notify, text, severity="error", markup=False)
            return
        self.app.call_from_thread(
            self.notify,
            _("Exported to {folder}: {stem}.xlsx and {stem}.csv").format(folder=folder, stem=stem),
            markup=False,
        )
