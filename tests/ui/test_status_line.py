"""Messages go to the status line above the keys: it covers no list ('En attente', 'Au
kiosque', 'Aujourd'hui') nor a dialog; a passing message goes after a few seconds, an
error that needs an action stays until read (a key, once it has been seen)."""

from __future__ import annotations

import asyncio

import pytest
from textual.geometry import Region
from textual.widgets._toast import Toast

from pvp_tui.ui.app import PvpApp
from pvp_tui.ui.screens.dialogs import OutcomeDialog
from pvp_tui.ui.widgets import status_line
from pvp_tui.ui.widgets.status_line import StatusLine
from tests.support.desk_morning import settle
from tests.support.said import said, said_in_full

SIZE = (80, 24)


@pytest.fixture(autouse=True)
def quick(monkeypatch: pytest.MonkeyPatch) -> None:
    # Short enough for a quick test, long enough that a loaded machine still sees the
    # message before it goes (the checks below wait for what they expect, within bounds).
    monkeypatch.setattr(status_line, "PASSING", {"information": 1.5, "warning": 1.5})
    monkeypatch.setattr(status_line, "SEEN_AFTER", 0.2)


async def until_text(app: PvpApp, expected: str, timeout: float = 10.0) -> None:
    for _ in range(int(timeout / 0.05)):
        if text(app) == expected:
            return
        await asyncio.sleep(0.05)
    assert text(app) == expected


def line(app: PvpApp) -> StatusLine:
    return app.screen.query_one(StatusLine)


def text(app: PvpApp) -> str:
    return str(line(app).content)


def overlaps(a: Region, b: Region) -> bool:
    return a.overlaps(b)


async def test_an_action_is_said_on_the_line_above_the_keys_over_no_list(app: PvpApp) -> None:
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        lists = [app.queue_screen.query_one(f"#{i}").region for i in ("waiting", "at-kiosk")]
        lists.append(app.queue_screen.query_one("#today").region)
        await pilot.press("f3", "o")  # call the next visitor (yes, though the kiosk is busy)
        await settle(pilot)
        assert any("appelé" in s for s in said(app)), said(app)
        where = line(app).region
        assert where.y == SIZE[1] - 2 and where.width == SIZE[0]  # just above the footer
        assert not any(overlaps(where, region) for region in lists)
        assert all(
            region == app.queue_screen.query_one(f"#{w}").region
            for w, region in zip(("waiting", "at-kiosk", "today"), lists, strict=True)
        )  # nothing moved
        assert not app.screen.query(Toast)  # no toast anywhere
        await until_text(app, "")  # a passing message goes


async def test_an_error_stays_until_read_and_a_notice_does_not_push_it_away(
    app: PvpApp,
) -> None:
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        app.notify("Impossible de démarrer la visio : la borne ne répond pas.", severity="error")
        await pilot.press("down")  # typed before it could be read: it stays
        await pilot.pause()
        assert "ne répond pas" in text(app) and line(app).has_class("-error")
        await asyncio.sleep(2.0)  # longer than a passing message
        await pilot.pause()
        assert "ne répond pas" in text(app)
        app.notify("C-003 appelé (CAF).")  # a passing message, then the error again
        await pilot.pause()
        assert text(app) == "C-003 appelé (CAF)."
        for _ in range(200):  # the passing message goes, the error comes back
            await asyncio.sleep(0.05)
            if "ne répond pas" in text(app):
                break
        assert "ne répond pas" in text(app)
        await pilot.press("up")  # seen, then a key: read
        await pilot.pause()
        assert text(app) == ""
        assert [s.severity for s in said_in_full(app)][-2:] == ["error", "information"]


async def test_a_long_error_takes_more_lines_and_still_covers_nothing(app: PvpApp) -> None:
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        waiting = app.queue_screen.query_one("#waiting")
        app.notify("Impossible de démarrer la visio. " * 5, severity="error")
        await pilot.pause()
        await pilot.pause()
        where = line(app).region
        assert where.height > 1 and where.bottom == SIZE[1] - 1
        assert not overlaps(where, waiting.region)
        assert not overlaps(where, app.queue_screen.query_one("#today").region)


async def test_a_message_is_never_drawn_over_a_dialog(
    app: PvpApp, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(status_line, "PASSING", {"information": 30.0, "warning": 30.0})
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        app.push_screen(OutcomeDialog("A-001"))
        await pilot.pause()
        app.notify("Sélectionnez d'abord un visiteur.", severity="warning")
        await pilot.pause()
        dialog = app.screen.query_one(".dialog").region
        assert isinstance(app.screen, OutcomeDialog)
        assert text(app) == "Sélectionnez d'abord un visiteur."
        assert not overlaps(line(app).region, dialog)
        await pilot.press("escape")
        await pilot.pause()
        assert text(app) == "Sélectionnez d'abord un visiteur."  # the queue's line says it too
