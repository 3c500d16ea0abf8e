"""What the bridge concludes from what the browser tells it: states and quality, no IO.

`CallWatch.feed(now, kind, data)` takes one observation, the same kinds the manager
records in its trace, so a recorded trace replays through exactly this code:

    start, ready, load            lifecycle (data: None)
    report                        one message of the injected script (a dict)
    stats                         one getStats() round: the script's summaries (a list)
    peers_gone                    connection ids whose frame went away (a list)
    browser_gone, crashed         the browser process or the page died (detail or None)
    fail                          [reason, detail] decided by the manager
    end                           reason
    tick                          time passes (timeouts)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from kiosk_bridge.session.config import Timeouts
from kiosk_bridge.session.machine import SessionMachine, State, Transition
from kiosk_bridge.session.quality import (
    Level,
    QualityTracker,
    Sample,
    StatsDeltas,
    Thresholds,
    classify,
)


@dataclass(frozen=True)
class StatsUpdate:
    sample: Sample
    level: Level  # this sample's own level
    reasons: list[str]
    changed: bool  # the reported (hysteresis) quality changed with this sample


def receiving(reports: Any) -> list[str]:
    """Connections whose stats show remote packets received."""
    if not isinstance(reports, list):
        return []
    return [
        str(pc.get("pc"))
        for pc in reports
        if isinstance(pc, dict)
        and pc.get("state") == "connected"
        and any(
            isinstance(s, dict) and isinstance(s.get("recv"), int) and s["recv"] > 0
            for s in pc.get("inbound") or ()
        )
    ]


class CallWatch:
    def __init__(self, timeouts: Timeouts, thresholds: Thresholds) -> None:
        self.machine = SessionMachine(timeouts)
        self.thresholds = thresholds
        self.quality = QualityTracker(thresholds)
        self.deltas = StatsDeltas()
        self.sample: Sample | None = None

    def feed(
        self, now: float, kind: str, data: Any = None
    ) -> tuple[list[Transition], StatsUpdate | None]:
        m = self.machine
        if kind == "start":
            return m.start(now), None
        if kind == "ready":
            return m.browser_ready(now), None
        if kind == "load":
            return m.page_loaded_at(now), None
        if kind == "report":
            return (m.report(now, data) if isinstance(data, dict) else []), None
        if kind == "peers_gone":
            return m.peers_gone(now, [str(x) for x in data or ()]), None
        if kind == "browser_gone":
            return m.browser_gone(now, data), None
        if kind == "crashed":
            return m.browser_gone(now, "page crashed"), None
        if kind == "fail":
            reason, detail = data
            return m.fail(now, reason, detail), None
        if kind == "end":
            return m.end(now, data or "ended_by_staff"), None
        if kind == "tick":
            return m.tick(now), None
        if kind == "stats":
            return self._stats(now, data if isinstance(data, list) else [])
        raise ValueError(f"unknown observation {kind!r}")

    def _stats(self, now: float, reports: list[Any]) -> tuple[list[Transition], StatsUpdate | None]:
        transitions = self.machine.media_seen(now, receiving(reports))
        sample = self.deltas.update(reports)
        if sample is None or self.machine.state not in (State.IN_CALL, State.RECONNECTING):
            return transitions, None
        self.sample = sample
        level, reasons = classify(sample, self.thresholds)
        # Quality is judged in call only: a reconnecting call is already "trouble".
        changed = (
            self.quality.update(level, reasons) if self.machine.state is State.IN_CALL else False
        )
        return transitions, StatsUpdate(sample, level, reasons, changed)


def replay(
    trace: list[Any], timeouts: Timeouts, thresholds: Thresholds
) -> tuple[CallWatch, list[Transition], list[tuple[float, StatsUpdate]]]:
    """Feed a recorded trace ([t, kind, data] items) through a fresh CallWatch."""
    watch = CallWatch(timeouts, thresholds)
    transitions, _ = watch.feed(0.0, "start")
    updates: list[tuple[float, StatsUpdate]] = []
    for t, kind, data in trace:
        transitions += watch.feed(t, "tick")[0]
        if kind in ("start", "tick"):
            continue
        more, update = watch.feed(t, kind, data)
        transitions += more
        if update is not None:
            updates.append((t, update))
    return watch, transitions, updates
