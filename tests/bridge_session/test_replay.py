"""Real recorded sessions (fixtures/, made by record_fixtures.py) replayed through the
same code the bridge runs: states and quality must come out as they did live."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from kiosk_bridge.session.config import Timeouts
from kiosk_bridge.session.quality import Level, Thresholds
from kiosk_bridge.session.watch import CallWatch, replay

FIXTURES = Path(__file__).parent / "fixtures"
T = Timeouts()
Q = Thresholds()


def load(name: str) -> list[Any]:
    return list(json.loads((FIXTURES / name).read_text()))


def test_call_that_the_agent_leaves() -> None:
    watch, transitions, updates = replay(load("trace_far_end_leaves.json"), T, Q)
    assert [(str(t.state), t.reason) for t in transitions] == [
        ("launching", None),
        ("connecting", None),
        ("waiting_agent", None),
        ("in_call", None),
        ("ended", "far_end_left"),
    ]
    assert len(updates) >= 4
    assert all(u.level is Level.GOOD for _, u in updates)
    last = updates[-1][1].sample
    assert last.fps and last.fps > 15 and last.width == 320
    assert last.rtt_ms is not None and last.rtt_ms < 50
    assert last.loss_pct == 0 and last.packets
    assert watch.machine.agent_joined_at is not None
    assert watch.machine.reconnects == 0


def test_call_through_shaping_drops_then_recovers_with_hysteresis() -> None:
    watch, transitions, updates = replay(load("trace_shaped.json"), T, Q)
    assert [str(t.state) for t in transitions][-2:] == ["in_call", "ended"]
    assert transitions[-1].reason == "ended_by_staff"
    levels = [u.level for _, u in updates]
    changes = [(i, u) for i, (_, u) in enumerate(updates) if u.changed]
    assert len(changes) >= 2
    first, dropped = changes[0]
    # dropped on the third bad sample in a row, not before
    assert all(level > Level.GOOD for level in levels[first - 2 : first + 1])
    assert levels[first - 3] is Level.GOOD
    assert watch.quality.worst is Level.POOR
    assert {"rtt", "loss"} <= set(dropped.reasons)
    # came back to good after five good samples in a row, at the end of the recording
    last, _ = changes[-1]
    assert all(level is Level.GOOD for level in levels[last - 4 : last + 1])
    assert watch.quality.level is Level.GOOD
    shaped = [u.sample for _, u in updates if u.level is Level.POOR and "rtt" in u.reasons]
    assert max(s.rtt_ms or 0 for s in shaped) > 500


def test_without_bitrate_the_recovery_is_as_soon_as_the_network() -> None:
    """The recording shows the kiosk's outgoing estimate stuck at its floor long after the
    shaping ended; judged without bitrate, the call is good again much earlier."""
    _, _, with_bitrate = replay(load("trace_shaped.json"), T, Q)
    no_bitrate = replace(Q, bitrate_warn_kbps=0, bitrate_poor_kbps=0)
    _, _, without = replay(load("trace_shaped.json"), T, no_bitrate)

    def recovered_at(updates: list[Any]) -> float:
        return [t for t, u in updates if u.changed][-1]

    assert recovered_at(without) < recovered_at(with_bitrate) - 10


@pytest.mark.parametrize("raise_after", [1, 3, 6])
def test_hysteresis_setting_moves_the_drop(raise_after: int) -> None:
    q = replace(Q, raise_after=raise_after)
    watch, _, updates = replay(load("trace_shaped.json"), T, q)
    levels = [u.level for _, u in updates]
    first_bad = next(i for i, level in enumerate(levels) if level > Level.GOOD)
    first_change = next(i for i, (_, u) in enumerate(updates) if u.changed)
    assert all(level > Level.GOOD for level in levels[first_bad : first_change + 1])
    assert first_change == first_bad + raise_after - 1
    assert watch.quality.worst is Level.POOR


def test_agent_timeout_on_a_cut_recording() -> None:
    trace = [x for x in load("trace_far_end_leaves.json") if x[0] < 1.5 or x[1] == "start"]
    trace = [x for x in trace if not (x[1] == "report" and x[2].get("t") in ("track", "state"))]
    _, transitions, _ = replay([*trace, [1000.0, "tick", None]], replace(T, agent=60), Q)
    assert (str(transitions[-1].state), transitions[-1].reason) == ("failed", "agent_never_came")


def test_unknown_observation_is_a_programming_error() -> None:
    with pytest.raises(ValueError):
        CallWatch(T, Q).feed(0, "teleport")
