"""Each way a session fails, for real, with its reason; the browser is always cleaned up."""

from __future__ import annotations

import asyncio
import socket
from dataclasses import replace

import pytest

from kiosk_bridge.session.config import RoomRefused, SessionConfig
from kiosk_bridge.session.manager import SessionManager
from tests.bridge_session.harness import EventLog, assert_browser_gone, with_timeouts
from tests.support.farend import FarEnd


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def run_until_failed(
    config: SessionConfig, url: str, ticket: str = "C-040"
) -> tuple[dict[str, object], EventLog]:
    log = EventLog()
    mgr = SessionManager(config, log)
    try:
        await mgr.start(url, ticket)
        browser = mgr.browser
        failed = await log.wait_state("failed", timeout=30)
        await log.wait_state("idle")
        if browser is not None:
            assert_browser_gone(browser.pgid, browser.profile)
        return failed, log
    finally:
        await mgr.close()


async def test_agent_never_came(session_config: SessionConfig) -> None:
    config = with_timeouts(session_config, agent=2)
    async with FarEnd(auto_join=False) as far:
        failed, log = await run_until_failed(config, far.room_url("C-041"), "C-041")
    assert failed["reason"] == "agent_never_came"
    assert "waiting_agent" in log.states() and "in_call" not in log.states()
    assert failed["message"]["en"].startswith("The agent did not join")


async def test_page_unreachable_after_retries(session_config: SessionConfig) -> None:
    config = with_timeouts(session_config, page=3)
    failed, _ = await run_until_failed(config, f"http://127.0.0.1:{closed_port()}/room")
    assert failed["reason"] == "page_unreachable"
    assert "ERR_CONNECTION_REFUSED" in str(failed["detail"])
    assert float(failed["elapsed_s"]) >= 2  # retried before giving up


async def test_page_not_found_fails_at_once(session_config: SessionConfig) -> None:
    async with FarEnd() as far:
        url = f"http://127.0.0.1:{far.port}/no-such-room"
        failed, _ = await run_until_failed(session_config, url)
    assert failed["reason"] == "page_unreachable"
    assert failed["detail"] == "HTTP 404"


async def test_no_camera_or_microphone(session_config: SessionConfig) -> None:
    # Without Chromium's fake devices this machine has no camera: getUserMedia fails.
    config = replace(session_config, fake_media=False)
    async with FarEnd() as far:
        failed, _ = await run_until_failed(config, far.room_url("C-043"), "C-043")
    assert failed["reason"] == "no_media_device"
    assert failed["detail"] == "NotFoundError"


async def test_browser_missing(session_config: SessionConfig, tmp_path: object) -> None:
    config = replace(session_config, chromium="/nonexistent/chromium")
    log = EventLog()
    mgr = SessionManager(config, log)
    try:
        status = await mgr.start("http://127.0.0.1:9/room", "C-044")
        assert status["state"] == "failed" and status["reason"] == "browser_not_found"
        await log.wait_state("idle")
    finally:
        await mgr.close()


async def test_one_session_per_kiosk(
    manager: tuple[SessionManager, EventLog], far_end: FarEnd
) -> None:
    mgr, log = manager
    await mgr.start(far_end.room_url("C-050"), "C-050")
    with pytest.raises(RoomRefused) as refused:
        await mgr.start(far_end.room_url("C-051"), "C-051")
    assert refused.value.code == "session_busy"
    assert refused.value.params == {"ticket": "C-050"}
    await log.wait_state("in_call")
    assert far_end.names == ["C-050"]


@pytest.mark.parametrize(
    ("url", "name", "code"),
    [
        ("http://127.0.0.1:9/room", "Jean Dupont", "invalid_display_name"),
        ("http://127.0.0.1:9/room", "c-007", "invalid_display_name"),
        ("http://127.0.0.1:9/room", "X-007", "unknown_partner"),
        ("http://example.org/room", "C-007", "invalid_room_url"),
        ("https://evil.example/room", "C-007", "room_not_allowed"),
        ("javascript:alert(1)", "C-007", "invalid_room_url"),
    ],
)
async def test_refused_requests_start_no_browser(
    manager: tuple[SessionManager, EventLog], url: str, name: str, code: str
) -> None:
    mgr, log = manager
    with pytest.raises(RoomRefused) as refused:
        await mgr.start(url, name)
    assert refused.value.code == code
    assert mgr.browser is None and log.events == []


async def _attach(mgr: SessionManager) -> str:
    """A DevTools session of our own on the kiosk's page (as a fault injector)."""
    assert mgr.browser is not None and mgr.browser.cdp is not None
    cdp = mgr.browser.cdp
    targets = await cdp.send("Target.getTargets")
    page = next(t for t in targets["targetInfos"] if t["type"] == "page")
    attached = await cdp.send(
        "Target.attachToTarget", {"targetId": page["targetId"], "flatten": True}
    )
    return str(attached["sessionId"])


async def test_page_renderer_crash(
    manager: tuple[SessionManager, EventLog], far_end: FarEnd
) -> None:
    mgr, log = manager
    await mgr.start(far_end.room_url("C-045"), "C-045")
    await log.wait_state("in_call")
    browser = mgr.browser
    assert browser is not None and browser.cdp is not None
    session = await _attach(mgr)
    await browser.cdp.send("Runtime.evaluate", {"expression": "1"}, session)
    crash = asyncio.ensure_future(browser.cdp.send("Page.crash", {}, session))
    failed = await log.wait_state("failed")
    assert (failed["reason"], failed["detail"]) == ("browser_crashed", "page crashed")
    crash.cancel()
    await log.wait_state("idle")
    assert_browser_gone(browser.pgid, browser.profile)


async def test_hung_page_is_not_responding(session_config: SessionConfig, far_end: FarEnd) -> None:
    log = EventLog()
    mgr = SessionManager(with_timeouts(session_config, unresponsive=3), log)
    await mgr.start(far_end.room_url("C-046"), "C-046")
    await log.wait_state("in_call")
    assert mgr.browser is not None and mgr.browser.cdp is not None
    session = await _attach(mgr)
    hang = asyncio.ensure_future(
        mgr.browser.cdp.send("Runtime.evaluate", {"expression": "for (;;) {}"}, session, 60)
    )
    try:
        failed = await log.wait_state("failed", timeout=30)
        assert failed["reason"] == "page_not_responding"
        assert failed["detail"].startswith("no answer for")
    finally:
        hang.cancel()
        await mgr.close()
