"""Fixtures of the kiosk session tests: a session config for headless Chromium and the
local room, a SessionManager with its event log (chromium, far_end: tests/support)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from kiosk_bridge.session.config import PartnerRooms, SessionConfig, Timeouts
from kiosk_bridge.session.manager import SessionManager
from tests.bridge_session.harness import EventLog

LOCAL_PARTNER = PartnerRooms("caf", "C", ("127.0.0.1", "localhost"), "query:name")


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


@pytest.fixture
async def manager(session_config: SessionConfig) -> AsyncIterator[tuple[SessionManager, EventLog]]:
    log = EventLog()
    mgr = SessionManager(session_config, log)
    try:
        yield mgr, log
    finally:
        await mgr.close()
