"""The real thing: headless Chromium with fake media in a local room with an aiortc agent."""

from __future__ import annotations

import os
import signal

from kiosk_bridge.session.manager import SessionManager
from tests.bridge_session.harness import EventLog, assert_browser_gone
from tests.support.farend import FarEnd


async def test_call_from_waiting_to_in_call_then_agent_leaves(
    manager: tuple[SessionManager, EventLog],
) -> None:
    mgr, log = manager
    async with FarEnd(auto_join=False) as far:
        status = await mgr.start(far.room_url("C-007"), "C-007")
        assert status["state"] == "connecting"
        assert status["room_host"] == "127.0.0.1" and status["partner"] == "caf"
        browser = mgr.browser
        assert browser is not None
        await log.wait_state("waiting_agent")
        assert far.names == ["C-007"]  # the ticket reached the room, nothing else
        assert "in_call" not in log.states()

        await far.join()
        joined = await log.wait_state("in_call")
        assert joined["agent_joined_at"] is not None
        stats = await log.wait_stats(3)
        last = stats[-1]
        assert last["state"] == "in_call"
        assert last["rtt_ms"] is not None and last["rtt_ms"] < 100
        assert last["fps"] and last["fps"] > 10
        assert last["width"] == 320 and last["height"] == 240
        assert last["in_kbps"] and last["in_kbps"] > 20
        assert last["loss_pct"] == 0
        assert last["quality"] == "good"

        await far.leave()
        ended = await log.wait_state("ended")
        assert ended["reason"] == "far_end_left"
        await log.wait_state("idle")
    assert log.states() == ["launching", "connecting", "waiting_agent", "in_call", "ended", "idle"]
    assert_browser_gone(browser.pgid, browser.profile)
    assert mgr.status()["last"]["reason"] == "far_end_left"


async def test_chromium_killed_fails_and_leaves_nothing(
    manager: tuple[SessionManager, EventLog], far_end: FarEnd
) -> None:
    mgr, log = manager
    await mgr.start(far_end.room_url("C-012"), "C-012")
    await log.wait_state("in_call")
    browser = mgr.browser
    assert browser is not None
    os.kill(browser.pid, signal.SIGKILL)
    failed = await log.wait_state("failed")
    assert failed["reason"] == "browser_crashed"
    assert failed["message"]["fr"]
    await log.wait_state("idle")
    assert_browser_gone(browser.pgid, browser.profile)


async def test_room_in_a_cross_origin_iframe_is_watched_too(
    manager: tuple[SessionManager, EventLog], far_end: FarEnd
) -> None:
    """Platforms run media in iframes of another site: the tracker must get in there."""
    mgr, log = manager
    await mgr.start(far_end.outer_url("C-008", frame_host="localhost"), "C-008")
    await log.wait_state("in_call")
    stats = await log.wait_stats(2)
    assert stats[-1]["fps"] and stats[-1]["width"] == 320
    assert far_end.names == ["C-008"]
    await mgr.end()
    assert log.states()[-2:] == ["ended", "idle"]


async def test_platform_hangs_up_the_call(
    manager: tuple[SessionManager, EventLog], far_end: FarEnd
) -> None:
    """The platform's own signalling ends the call: the page closes its connection."""
    mgr, log = manager
    await mgr.start(far_end.room_url("C-009"), "C-009")
    await log.wait_state("in_call")
    await far_end.leave(say_bye=True)
    ended = await log.wait_state("ended")
    assert ended["reason"] in ("call_closed", "far_end_left")
