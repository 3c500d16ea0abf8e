"""The session state machine, fed by hand (no browser): every path and every reason."""

from __future__ import annotations

from typing import Any

import pytest

from kiosk_bridge.session.config import Timeouts
from kiosk_bridge.session.machine import REASONS, SessionMachine, State

T = Timeouts(launch=20, page=30, agent=100, reconnect=20, media=5)


def started(loaded: bool = True) -> SessionMachine:
    m = SessionMachine(T)
    m.start(0)
    m.browser_ready(1)
    if loaded:
        m.page_loaded_at(2)
    return m


def pc(m: SessionMachine, now: float, pc_id: str = "f:1", **msg: Any) -> list[str]:
    return [str(t.state) for t in m.report(now, {"pc": pc_id, **msg})]


def in_call(m: SessionMachine, pc_id: str = "f:1", now: float = 3) -> None:
    pc(m, now, pc_id, t="pc", state="new")
    pc(m, now, pc_id, t="track", track=f"{pc_id}a", kind="audio", ev="added", muted=True)
    pc(m, now, pc_id, t="state", state="connected", dtls="connected")
    pc(m, now, pc_id, t="track", track=f"{pc_id}a", kind="audio", ev="unmute", muted=False)
    assert m.state is State.IN_CALL


def test_happy_path_states_in_order() -> None:
    m = SessionMachine(T)
    seen = [t.state for t in m.start(0)]
    seen += [t.state for t in m.browser_ready(0.3)]
    seen += [t.state for t in m.page_loaded_at(0.6)]
    seen += [t.state for t in m.report(0.7, {"t": "pc", "pc": "a:1", "state": "new"})]
    seen += [t.state for t in m.report(0.9, {"t": "state", "pc": "a:1", "state": "connected"})]
    assert m.state is State.WAITING_AGENT  # connected, but no remote media yet
    seen += [
        t.state
        for t in m.report(
            1.0, {"t": "track", "pc": "a:1", "track": "v", "kind": "video", "ev": "unmute"}
        )
    ]
    assert seen == ["launching", "connecting", "waiting_agent", "in_call"]
    assert m.agent_joined_at == 1.0


def test_track_already_unmuted_counts_as_media() -> None:
    m = started()
    pc(m, 3, t="pc", state="new")
    pc(m, 3, t="state", state="connected", dtls="connected")
    assert pc(m, 3, t="track", track="v", kind="video", ev="added", muted=False) == ["in_call"]


def test_media_seen_in_stats_is_a_backstop() -> None:
    m = started()
    pc(m, 3, t="pc", state="new")
    pc(m, 3, t="state", state="connected")
    assert [t.state for t in m.media_seen(4, ["f:1"])] == ["in_call"]
    assert m.media_seen(5, ["unknown"]) == []


def test_bundled_transport_closing_at_negotiation_is_not_a_hang_up() -> None:
    m = started()
    pc(m, 3, t="pc", state="new")
    pc(m, 3, t="dtls", state="closed")  # the unbundled m-line's transport
    pc(m, 3, t="dtls", state="connecting")
    pc(m, 3, t="state", state="connected", dtls="connected")
    assert pc(m, 3, t="track", track="a", kind="audio", ev="unmute", muted=False) == ["in_call"]


def test_reconnecting_and_back() -> None:
    m = started()
    in_call(m)
    assert pc(m, 10, t="state", state="disconnected", dtls="connected") == ["reconnecting"]
    assert m.reconnects == 1
    assert m.tick(25) == []  # 15 s: still trying
    assert pc(m, 26, t="state", state="connected", dtls="connected") == ["in_call"]
    assert m.agent_joined_at == 3  # the first arrival stays


def test_reconnecting_too_long_fails_with_connection_lost() -> None:
    m = started()
    in_call(m)
    pc(m, 10, t="state", state="failed", dtls="connected")
    assert m.next_deadline() == 30
    [t] = m.tick(30)
    assert (t.state, t.reason) == ("failed", "connection_lost")


def test_platform_replaces_its_connection() -> None:
    m = started()
    in_call(m, "f:1")
    assert pc(m, 10, "f:1", t="state", state="failed") == ["reconnecting"]
    pc(m, 11, "f:1", t="closed")
    in_call(m, "f:2", now=12)
    assert m.reconnects == 1


def test_far_end_closing_ends_the_call() -> None:
    m = started()
    in_call(m)
    [t] = m.report(40, {"t": "dtls", "pc": "f:1", "state": "closed"})
    assert (t.state, t.reason) == ("ended", "far_end_left")


def test_remote_tracks_all_ended_ends_the_call() -> None:
    m = started()
    in_call(m)
    pc(m, 40, t="track", track="f:1a", kind="audio", ev="ended", muted=True, live=False)
    assert (m.state, m.reason) == ("ended", "far_end_left")


def test_page_closing_its_connection_is_call_closed() -> None:
    m = started()
    in_call(m)
    pc(m, 40, t="closed")
    assert (m.state, m.reason) == ("ended", "call_closed")


def test_frame_gone_mid_call_is_page_left() -> None:
    m = started()
    in_call(m)
    [t] = m.peers_gone(40, ["f:1"])
    assert (t.state, t.reason) == ("ended", "page_left")


def test_frame_gone_before_the_agent_goes_back_to_connecting() -> None:
    m = started()
    pc(m, 3, t="pc", state="new")
    assert [t.state for t in m.peers_gone(4, ["f:1"])] == ["connecting"]


def test_agent_never_came() -> None:
    m = started()
    pc(m, 3, t="pc", state="new")
    assert m.next_deadline() == 102
    assert m.tick(101) == []
    [t] = m.tick(102)
    assert (t.state, t.reason) == ("failed", "agent_never_came")


def test_page_never_loads() -> None:
    m = started(loaded=False)
    assert m.tick(30) == []
    [t] = m.tick(31)
    assert (t.state, t.reason) == ("failed", "page_unreachable")


def test_a_page_running_code_is_reachable() -> None:
    m = started(loaded=False)
    pc(m, 3, t="pc", state="new")
    assert m.tick(40) == []  # no page timeout once the page created a connection


def test_launch_timeout() -> None:
    m = SessionMachine(T)
    m.start(0)
    [t] = m.tick(20)
    assert (t.state, t.reason) == ("failed", "browser_failed")


@pytest.mark.parametrize(
    ("error", "reason"),
    [
        ("NotFoundError", "no_media_device"),
        ("NotReadableError", "no_media_device"),
        ("NotAllowedError", "media_denied"),
    ],
)
def test_camera_errors_fail_after_the_grace(error: str, reason: str) -> None:
    m = started()
    m.report(3, {"t": "gum", "ok": False, "error": error})
    assert m.tick(7) == []
    [t] = m.tick(8)
    assert (t.state, t.reason, t.detail) == ("failed", reason, error)


def test_camera_error_then_audio_only_works() -> None:
    m = started()
    m.report(3, {"t": "gum", "ok": False, "error": "NotFoundError"})
    m.report(4, {"t": "gum", "ok": True, "audio": 1, "video": 0})
    assert m.tick(20) == [] and m.state is State.CONNECTING


def test_end_and_fail_are_final_and_idempotent() -> None:
    m = started()
    in_call(m)
    [t] = m.end(50)
    assert (t.state, t.reason) == ("ended", "ended_by_staff")
    assert m.end(51) == [] and m.fail(51, "browser_crashed") == []
    assert m.browser_gone(52) == [] and m.tick(500) == []
    assert pc(m, 53, t="state", state="connected") == []
    assert m.ended_at == 50


def test_browser_gone_is_a_crash() -> None:
    m = started()
    [t] = m.browser_gone(5, "exit code -9")
    assert (t.state, t.reason, t.detail) == ("failed", "browser_crashed", "exit code -9")


def test_garbage_reports_change_nothing() -> None:
    m = started()
    for msg in (
        {},
        {"t": "state"},
        {"t": "state", "pc": 3},
        {"t": "track", "pc": "nope"},
        {"t": "what", "pc": "f:1"},
    ):
        assert m.report(3, msg) == []
    assert m.state is State.CONNECTING


def test_every_reason_has_french_and_english() -> None:
    for reason, (fr, en) in REASONS.items():
        assert fr and en and fr != en, reason


def test_reconnecting_page_tears_down_and_never_rebuilds() -> None:
    m = started()
    in_call(m)
    pc(m, 10, t="state", state="failed")
    pc(m, 11, t="closed")
    assert m.state is State.RECONNECTING
    [t] = m.tick(30)
    assert (t.state, t.reason) == ("failed", "connection_lost")
