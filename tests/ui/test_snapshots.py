"""Snapshots of the main screens in French at 80x24 and 120x40, on a fixed morning
(tests/support/desk_morning.py: fixed clock, fixed data, no animation, no cursor blink)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from textual.pilot import Pilot
from textual.widgets import Input

from tests.support.desk_morning import make_app, settle

SIZES = [(80, 24), (120, 40)]


async def _still(pilot: Pilot[Any]) -> None:
    await settle(pilot)
    for field in pilot.app.screen.query(Input):
        field.cursor_blink = False
    await pilot.pause()


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_queue_screen(snap_compare: Any, tmp_path: Path, size: tuple[int, int]) -> None:
    assert snap_compare(make_app(tmp_path / "pvp.db"), terminal_size=size, run_before=_still)


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_check_in_form_with_errors(
    snap_compare: Any, tmp_path: Path, size: tuple[int, int]
) -> None:
    async def wrong_form(pilot: Pilot[Any]) -> None:
        await settle(pilot)
        # name left empty, no partner, appointment "9h75", phone "abc"
        await pilot.press("f2", "tab", "tab", "space", "tab", *"9h75")
        await pilot.press(*["tab"] * 8, *"abc", "ctrl+s")
        await _still(pilot)

    assert snap_compare(make_app(tmp_path / "pvp.db"), terminal_size=size, run_before=wrong_form)


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_help_screen(snap_compare: Any, tmp_path: Path, size: tuple[int, int]) -> None:
    async def help_open(pilot: Pilot[Any]) -> None:
        await settle(pilot)
        await pilot.press("f1")
        await _still(pilot)

    assert snap_compare(make_app(tmp_path / "pvp.db"), terminal_size=size, run_before=help_open)


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_privacy_mode(snap_compare: Any, tmp_path: Path, size: tuple[int, int]) -> None:
    app = make_app(tmp_path / "pvp.db", privacy=True)
    assert snap_compare(app, terminal_size=size, run_before=_still)
