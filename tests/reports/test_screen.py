"""The reports screen: it shows the core report's tables, its period picker moves the
period, its export writes the core's files; snapshots at 80x24 and 120x40."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import pytest
from textual.pilot import Pilot
from textual.widgets import DataTable, Footer, Input, Static, TabbedContent
from textual.widgets._footer import FooterKey

from pvp_tui.core import i18n
from pvp_tui.core.exports import format_cell, report_tables, to_csv
from pvp_tui.core.reports import Period, activity_report
from pvp_tui.ui.screens.reports import ReportsScreen, header_width
from tests.support.said import said

from .conftest import Built
from .report_app import ReportApp

JUNE = Period.month(date(2026, 6, 10))


@pytest.fixture(autouse=True)
def _no_animation(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TEXTUAL_ANIMATIONS", "none")


async def loaded(pilot: Pilot[Any]) -> ReportsScreen:
    """Wait until the screen shows the report of the period it is set to."""
    for _ in range(300):
        screen = pilot.app.screen
        if (
            isinstance(screen, ReportsScreen)
            and screen.report is not None
            and screen.report.period == screen.period
        ):
            await pilot.pause()
            return screen
        await pilot.pause(0.02)
    raise AssertionError("the report never showed")


def shown(screen: ReportsScreen, key: str) -> list[list[str]]:
    table = screen.query_one(f"#table-{key}", DataTable)
    return [[str(cell).strip() for cell in table.get_row_at(r)] for r in range(table.row_count)]


async def test_the_screen_shows_the_core_tables(history: Built) -> None:
    app = ReportApp(history.store, history.config, JUNE)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await loaded(pilot)
        report = activity_report(history.store, history.config, JUNE)
        for table in report_tables(report):
            if table.key not in ("summary", "partners", "kiosks", "failures", "needs"):
                continue
            assert shown(screen, table.key) == [
                [format_cell(v, table.kind(r, c), empty="—") for c, v in enumerate(row)]
                for r, row in enumerate(table.rows)
            ], table.key
        summary = shown(screen, "summary")
        assert summary[0][:3] == [
            "Visiteurs",
            str(report.current.total.visits),
            str(report.previous.total.visits),
        ]


async def test_the_period_picker(history: Built) -> None:
    app = ReportApp(history.store, history.config, JUNE)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await loaded(pilot)
        await pilot.press("f2")  # the day: today (the clock says 2026-07-04)
        screen = await loaded(pilot)
        assert screen.period == Period.day(date(2026, 6, 30))  # the shown month's last day
        await pilot.press("f5")
        screen = await loaded(pilot)
        assert screen.period == Period.day(date(2026, 6, 29))
        assert screen.query_one("#from", Input).value == "29/06/2026"
        await pilot.press("f3")
        screen = await loaded(pilot)
        assert screen.period == Period(date(2026, 6, 29), date(2026, 7, 5))
        await pilot.press("f4")  # the month around the week's end, or today
        screen = await loaded(pilot)
        assert screen.period == Period.month(date(2026, 7, 1))
        await pilot.press("f6")
        screen = await loaded(pilot)
        assert screen.period == Period.month(date(2026, 8, 1))
        await pilot.press("f5", "f5", "f5")
        screen = await loaded(pilot)
        assert screen.period == Period.month(date(2026, 5, 1))
        day_table = activity_report(history.store, history.config, screen.period)
        assert shown(screen, "summary")[0][1] == str(day_table.current.total.visits)

        screen.query_one("#from", Input).value = "2026-02-03"
        screen.query_one("#to", Input).value = "2026-04-20"
        screen.query_one("#to", Input).focus()
        await pilot.press("enter")
        screen = await loaded(pilot)
        assert screen.period == Period(date(2026, 2, 3), date(2026, 4, 20))
        await pilot.press("f5")
        screen = await loaded(pilot)
        assert screen.period == Period(date(2026, 2, 3), date(2026, 4, 20)).previous()

        # As staff write dates: day first, a short year; the fields show them back in full.
        screen.query_one("#from", Input).value = "3/2/26"
        screen.query_one("#to", Input).value = " 20.04.2026 "
        screen.query_one("#from", Input).focus()
        await pilot.press("enter")
        screen = await loaded(pilot)
        assert screen.period == Period(date(2026, 2, 3), date(2026, 4, 20))
        assert screen.query_one("#from", Input).value == "03/02/2026"
        assert screen.query_one("#to", Input).value == "20/04/2026"

        screen.query_one("#to", Input).value = "31/02/2026"
        screen.query_one("#to", Input).focus()
        await pilot.press("enter")
        await pilot.pause()
        assert screen.period == Period(date(2026, 2, 3), date(2026, 4, 20))
        assert any("JJ/MM/AAAA" in text for text in said(app))


async def test_english_dates_are_iso(history: Built) -> None:
    i18n.set_language("en")
    app = ReportApp(history.store, history.config, JUNE)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await loaded(pilot)
        assert screen.query_one("#from", Input).value == "2026-06-01"
        assert screen.query_one("#to", Input).value == "2026-06-30"
        assert "vs 05-02 → 05-31" in str(screen.query_one("#period-info", Static).render())
        screen.query_one("#to", Input).value = "15/06/2026"  # day first is read in English too
        screen.query_one("#to", Input).focus()
        await pilot.press("enter")
        screen = await loaded(pilot)
        assert screen.period == Period(date(2026, 6, 1), date(2026, 6, 15))
        assert screen.query_one("#to", Input).value == "2026-06-15"


async def test_every_key_shows_in_the_footer_at_80_columns(history: Built) -> None:
    app = ReportApp(history.store, history.config, JUNE)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await loaded(pilot)
        footer = screen.query_one(Footer)
        keys = list(footer.query(FooterKey))
        assert len(keys) == 8  # F2..F8 and Esc
        assert all(key.region.right <= 80 and key.region.width > 0 for key in keys)
        assert keys[-1].region.right <= 80
        texts = [str(key.render()) for key in keys]
        assert texts[-1].endswith("Retour"), texts


async def test_export_from_the_screen(history: Built, tmp_path: Path) -> None:
    app = ReportApp(history.store, history.config, JUNE)
    app.export_dir = tmp_path
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await loaded(pilot)
        screen.export_dir = tmp_path
        await pilot.press("f7")
        target = tmp_path / "rapport-2026-06-01-2026-06-30.csv"
        for _ in range(200):
            if target.exists() and target.with_suffix(".xlsx").exists():
                break
            await pilot.pause(0.02)
        await pilot.pause(0.1)
        report = activity_report(history.store, history.config, JUNE)
        assert target.read_bytes() == to_csv(report)
        assert target.with_suffix(".xlsx").stat().st_size > 0
        await pilot.press("escape")
        await pilot.pause()
        assert not isinstance(app.screen, ReportsScreen)


def _still(tab: str | None = None):
    async def run_before(pilot: Pilot[Any]) -> None:
        screen = await loaded(pilot)
        for field in screen.query(Input):
            field.cursor_blink = False
        if tab:
            screen.query_one("#report-tabs").active = tab  # type: ignore[attr-defined]
        await pilot.pause()
        await pilot.pause()

    return run_before


# The bar charts look the same larger: 80x24 is the size that matters for them.
SNAPSHOTS = [(tab, (80, 24)) for tab in ("summary", "partners", "daily", "waits", "hours")]
SNAPSHOTS += [(tab, (120, 40)) for tab in ("summary", "partners", "daily")]


@pytest.mark.parametrize(
    ("tab", "size"), SNAPSHOTS, ids=[f"{t}-{w}x{h}" for t, (w, h) in SNAPSHOTS]
)
def test_snapshot(snap_compare: Any, history: Built, tab: str, size: tuple[int, int]) -> None:
    app = ReportApp(history.store, history.config, JUNE)
    assert snap_compare(app, terminal_size=size, run_before=_still(f"tab-{tab}"))


async def test_f12_opens_the_reports_from_the_app(history: Built) -> None:
    from pvp_tui.core.clock import fixed_clock
    from pvp_tui.core.frontdesk import FrontDesk
    from pvp_tui.ui.app import PvpApp

    from .report_app import NOW

    desk = FrontDesk(history.store, history.config, clock=fixed_clock(NOW), actor="test")
    app = PvpApp(desk, watch_changes=False, tick_seconds=None)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        await pilot.press("f12")
        screen = await loaded(pilot)
        assert screen.period == Period.month(date(2026, 7, 4))
        expected = activity_report(history.store, history.config, screen.period)
        assert shown(screen, "summary")[0][1] == str(expected.current.total.visits)
        await pilot.press("escape")
        await pilot.pause()
        assert not isinstance(app.screen, ReportsScreen)


async def test_arrows_move_between_tabs_at_once_and_f8_too(history: Built) -> None:
    app = ReportApp(history.store, history.config, JUNE)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await loaded(pilot)
        tabs = screen.query_one("#report-tabs", TabbedContent)
        assert tabs.active == "tab-summary"
        await pilot.press("right")  # no Tab presses first
        await pilot.pause()
        assert tabs.active == "tab-partners"
        await pilot.press("f8")
        await pilot.pause()
        assert tabs.active == "tab-daily"
        keys = {k.key_display: k.description for k in screen.query_one(Footer).query(FooterKey)}
        assert keys["f8"] == "Onglet"


def test_a_header_goes_on_two_lines_between_words() -> None:
    assert header_width("Transferts reçus", 1) == len("Transferts")
    assert header_width("Sans rendez-vous", 2) == len("rendez-vous")  # not at the hyphen
    assert header_width("Visites", 3) == len("Visites")
    assert header_width("Non clos le jour même", 1) == len("Non clos le")
    assert header_width("Absents", 12) == 12  # the cells are wider


async def test_at_80_columns_no_header_of_the_partners_is_cut(history: Built) -> None:
    app = ReportApp(history.store, history.config, JUNE)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await loaded(pilot)
        table = screen.query_one("#table-partners", DataTable)
        assert table.header_height == 2
        for column in table.columns.values():
            label = column.label.plain
            assert all(len(word) <= column.width for word in label.split()), label
