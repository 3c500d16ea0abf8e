"""Fixtures for the video-session tests: real headless Chromium, a local room, its agent."""

from __future__ import annotations

import asyncio
import shutil
import time
from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from kiosk_bridge.session.browser import group_members
from kiosk_bridge.session.config import PartnerRooms, SessionConfig, Timeouts
from kiosk_bridge.session.manager import SessionManager
from tests.session.farend import FarEnd

LOCAL_PARTNER = PartnerRooms("caf", "C", ("127.0.0.1", "localhost"), "query:name")


@pytest.fixture(scope="session")
def chromium() -> str:
    path = shutil.which("chromium")
    assert path, "chromium is not installed: run scripts/bootstrap.sh (it installs it)"
    return path


@pytest.fixture
def session_config(chromium: str, tmp_path: Path) -> SessionConfig:
    return SessionConfig(
        chromium=chromium,
        headless=True,
        fake_media=True,
        profile_dir=tmp_path / "profiles",
        stats_interval=1.0,
        timeouts=Timeouts(launch=20, page=10, agent=60, reconnect=10, media=1),
        partners=(LOCAL_PARTNER,),
    )


class EventLog:
    """Collects a manager's events; waits on them without sleeping blindly."""

    def __init__(self) -> None:
        self.events: list[tuple[str, dict[str, Any]]] = []
        self._changed = asyncio.Event()

    async def __call__(self, name: str, data: dict[str, Any]) -> None:
        self.events.append((name, data))
        self._changed.set()

    def states(self) -> list[str]:
        return [d["state"] for n, d in self.events if n == "session.state"]

    def stats(self) -> list[dict[str, Any]]:
        return [d for n, d in self.events if n == "session.stats"]

    def last_state(self) -> dict[str, Any]:
        return [d for n, d in self.events if n == "session.state"][-1]

    def state_event(self, state: str) -> dict[str, Any]:
        return next(d for n, d in self.events if n == "session.state" and d["state"] == state)

    async def wait_for(self, predicate: Any, timeout: float, what: str) -> None:
        deadline = time.monotonic() + timeout
        while not predicate():
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError(f"timed out waiting for {what}; states: {self.states()}")
            self._changed.clear()
            try:
                await asyncio.wait_for(self._changed.wait(), remaining)
            except TimeoutError:
                pass

    async def wait_state(self, state: str, timeout: float = 20.0) -> dict[str, Any]:
        await self.wait_for(lambda: state in self.states(), timeout, f"state {state}")
        return self.state_event(state)

    async def wait_stats(self, count: int, timeout: float = 20.0) -> list[dict[str, Any]]:
        await self.wait_for(lambda: len(self.stats()) >= count, timeout, f"{count} stats")
        return self.stats()


@pytest.fixture
async def far_end() -> AsyncIterator[FarEnd]:
    far = FarEnd(auto_join=True)
    await far.start()
    try:
        yield far
    finally:
        await far.close()


@pytest.fixture
async def manager(session_config: SessionConfig) -> AsyncIterator[tuple[SessionManager, EventLog]]:
    log = EventLog()
    mgr = SessionManager(session_config, log)
    try:
        yield mgr, log
    finally:
        await mgr.close()


def with_timeouts(config: SessionConfig, **changes: float) -> SessionConfig:
    return replace(config, timeouts=replace(config.timeouts, **changes))


def assert_browser_gone(pgid: int, profile: Path) -> None:
    assert group_members(pgid) == [], f"browser processes left in group {pgid}"
    assert not profile.exists(), f"browser profile left behind: {profile}"
