"""Shared by the documents and sessions Pilot tests: the app with real kiosk links, and a
wait on a condition with short polls and a clear failure."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from textual.pilot import Pilot

from pvp_tui.core.frontdesk import FrontDesk
from pvp_tui.core.kiosks import KioskLinks
from pvp_tui.ui.app import PvpApp


def make_app(desk: FrontDesk) -> PvpApp:
    links = KioskLinks(desk.config.kiosks, max_backoff=0.5)
    return PvpApp(desk, watch_changes=False, tick_seconds=None, kiosks=links)


async def until(
    pilot: Pilot[Any], check: Callable[[], bool], what: str, timeout: float = 30
) -> None:
    """Let the app run until `check()` holds (short polls, then a clear failure)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        await pilot.pause(0.05)
    raise AssertionError(f"timed out waiting for {what}")
