"""The browser never outlives the session: end, bridge shutdown, SIGTERM, even SIGKILL."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import signal
import weakref
from pathlib import Path

from kiosk_bridge.session.browser import group_members, kill_group
from kiosk_bridge.session.config import SessionConfig
from kiosk_bridge.session.manager import SessionManager
from tests.bridge_session.harness import Child, EventLog, assert_browser_gone, child_spec
from tests.support.farend import FarEnd


async def test_staff_end_then_shutdown_mid_call(
    manager: tuple[SessionManager, EventLog], far_end: FarEnd
) -> None:
    mgr, log = manager
    await mgr.start(far_end.room_url("C-020"), "C-020")
    await log.wait_state("in_call")
    first = mgr.browser
    assert first is not None
    status = await mgr.end()
    assert status["state"] == "idle" and status["last"]["reason"] == "ended_by_staff"
    assert_browser_gone(first.pgid, first.profile)

    # a second call on the same kiosk, then the bridge stops in the middle of it
    await mgr.start(far_end.room_url("C-021"), "C-021")
    await log.wait_for(lambda: log.states().count("in_call") == 2, 20, "second in_call")
    second = mgr.browser
    assert second is not None and second.pgid != first.pgid
    await mgr.close()
    assert log.last_state()["state"] == "idle"
    assert [s for s in log.states() if s in ("ended", "failed")] == ["ended", "ended"]
    assert log.events[-2][1]["reason"] == "bridge_shutdown"
    assert_browser_gone(second.pgid, second.profile)


async def test_a_call_over_leaves_none_of_its_objects(
    manager: tuple[SessionManager, EventLog], far_end: FarEnd
) -> None:
    """A call's objects are cycles (session, browser, DevTools websocket, tasks): the
    manager frees them once the call is over, not the collector's oldest generation after
    hundreds of calls. The automatic collector is off here, so only the manager can."""
    mgr, log = manager
    mgr.collect_after = 0.1
    gc.collect()
    gc.disable()
    try:
        await mgr.start(far_end.room_url("C-022"), "C-022")
        await log.wait_state("in_call")
        session = weakref.ref(mgr._session)
        browser = mgr.browser
        assert browser is not None and browser.cdp is not None
        cdp = weakref.ref(browser.cdp)
        del browser
        await mgr.end()
        await mgr.flush()
        await asyncio.sleep(0.5)
        assert session() is None and cdp() is None
    finally:
        gc.enable()


async def test_sigterm_to_the_bridge_kills_its_browser(
    session_config: SessionConfig, far_end: FarEnd
) -> None:
    child = await Child.start(
        child_spec(session_config, "C-031", room_url=far_end.room_url("C-031"))
    )
    try:
        await child.state("in_call")
        info = (await child.read_until(lambda x: "browser" in x, 5, "browser"))["browser"]
        assert group_members(info["pgid"])
        child.proc.send_signal(signal.SIGTERM)
        assert await child.proc.wait() == -signal.SIGTERM
        assert_browser_gone(info["pgid"], Path(info["profile"]))
    finally:
        await child.stop()


async def test_sigkilled_bridge_browser_is_swept_at_next_start(
    session_config: SessionConfig, far_end: FarEnd
) -> None:
    child = await Child.start(
        child_spec(session_config, "C-032", room_url=far_end.room_url("C-032"))
    )
    try:
        await child.state("in_call")
        info = (await child.read_until(lambda x: "browser" in x, 5, "browser"))["browser"]
        child.proc.kill()
        await child.proc.wait()
    finally:
        await child.stop()
    # SIGKILL cannot be caught: Chromium outlived its parent...
    orphaned = group_members(info["pgid"])
    profile_left = Path(info["profile"]).exists()
    # ...until the next bridge starts and sweeps what the dead one left.
    mgr = SessionManager(session_config)
    try:
        assert orphaned, "expected the orphaned browser to be still running"
        assert profile_left
        assert_browser_gone(info["pgid"], Path(info["profile"]))
    finally:
        await mgr.close()
        # never leave a browser behind, even when this test fails
        for pid in group_members(info["pgid"]):
            with contextlib.suppress(OSError):
                if info["profile"] in Path(f"/proc/{pid}/cmdline").read_text():
                    kill_group(info["pgid"])
