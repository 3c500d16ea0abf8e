"""Recorded bridge events for feeding the session view without a live bridge.

- fixtures/call_events.json: every `session.state`/`session.stats` event of a real call
  (pvp-bridge's SessionManager, headless Chromium, the local room, 1 s polls): launching
  -> in_call, 12 stats, the agent leaves -> ended -> idle.
- shaped_stats(): the real network-trouble trace of the bridge tests
  (tests/bridge_session/fixtures/trace_shaped.json, tbf 120 kbit/s) replayed through the bridge's
  own CallWatch and hysteresis, as the `session.stats` events the bridge would send.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from kiosk_bridge.session.config import Timeouts
from kiosk_bridge.session.machine import REASONS
from kiosk_bridge.session.quality import QualityTracker, Thresholds
from kiosk_bridge.session.watch import replay

HERE = Path(__file__).resolve().parent
SHAPED = HERE.parent / "bridge_session" / "fixtures" / "trace_shaped.json"
LEVELS = ("good", "degraded", "poor")

Event = tuple[str, dict[str, Any]]


def recorded_call(ticket: str) -> list[Event]:
    """The real call's events, its display name set to `ticket`."""
    raw = json.loads((HERE / "fixtures" / "call_events.json").read_text())
    out: list[Event] = []
    for item in raw:
        data = dict(item["data"])
        if "display_name" in data:
            data["display_name"] = ticket
        out.append((item["event"], data))
    return out


def until_in_call(events: list[Event]) -> list[Event]:
    """The call's events before it ended."""
    return [e for e in events if e[1].get("state") not in ("ended", "idle")]


def shaped_stats(session: str, count: int | None = None) -> list[dict[str, Any]]:
    thresholds = Thresholds()
    trace = json.loads(SHAPED.read_text())
    _watch, _transitions, updates = replay(trace, Timeouts(), thresholds)
    tracker = QualityTracker(thresholds)
    out = []
    for _t, update in updates[:count]:
        changed = tracker.update(update.level, update.reasons)
        out.append(
            {
                "session": session,
                "state": "in_call",
                "quality": LEVELS[tracker.level],
                "quality_changed": changed,
                "worst_quality": LEVELS[tracker.worst],
                "sample_quality": LEVELS[update.level],
                "reasons": list(tracker.reasons),
                **update.sample.to_dict(),
            }
        )
    return out


def failed(last_state: dict[str, Any], reason: str, ended_at: str) -> dict[str, Any]:
    """A `session.state` failed event as the bridge builds it (its own reason words)."""
    fr, en = REASONS[reason]
    return {
        **last_state,
        "state": "failed",
        "reason": reason,
        "message": {"fr": fr, "en": en},
        "detail": "not back within 20 s",
        "ended_at": ended_at,
    }
