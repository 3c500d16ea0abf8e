"""Call quality from WebRTC statistics: per-sample levels, then hysteresis.

`StatsDeltas` turns the injected script's cumulative counters into one `Sample` per poll
(loss from deltas: dLost / (dLost + dReceived)). `classify` grades a sample against the
thresholds; `QualityTracker` changes the reported quality only after `raise_after` worse
samples in a row, and recovers after `clear_after` better ones. Pure: no IO, no clock.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass
from enum import IntEnum
from typing import Any


class Level(IntEnum):
    GOOD = 0
    DEGRADED = 1
    POOR = 2

    @property
    def label(self) -> str:
        return self.name.lower()


@dataclass(frozen=True)
class Thresholds:
    rtt_warn_ms: float = 300.0
    rtt_poor_ms: float = 500.0
    loss_warn_pct: float = 2.0
    loss_poor_pct: float = 5.0
    jitter_warn_ms: float = 30.0
    jitter_poor_ms: float = 50.0
    fps_warn: float = 15.0
    fps_poor: float = 10.0
    bitrate_warn_kbps: float = 150.0
    bitrate_poor_kbps: float = 50.0
    raise_after: int = 3
    clear_after: int = 5


@dataclass(frozen=True)
class Sample:
    """One poll's view of the call; None where the browser gave no figure."""

    rtt_ms: float | None = None
    loss_pct: float | None = None
    jitter_ms: float | None = None
    fps: float | None = None
    in_kbps: float | None = None
    video_kbps: float | None = None
    out_kbps: float | None = None  # the kiosk's available outgoing bitrate (estimate)
    width: int | None = None
    height: int | None = None
    freezes: int | None = None
    packets: int | None = None  # packets received since the previous poll
    video_packets: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return {k: (round(v, 1) if isinstance(v, float) else v) for k, v in asdict(self).items()}


def classify(sample: Sample, t: Thresholds) -> tuple[Level, list[str]]:
    """The sample's level and the metrics that set it (worst first)."""
    poor: list[str] = []
    degraded: list[str] = []

    def above(name: str, value: float | None, warn: float, bad: float) -> None:
        if value is None:
            return
        if value >= bad:
            poor.append(name)
        elif value >= warn:
            degraded.append(name)

    def below(name: str, value: float | None, warn: float, bad: float) -> None:
        if value is None:
            return
        if value < bad:
            poor.append(name)
        elif value < warn:
            degraded.append(name)

    if sample.packets == 0:
        poor.append("no_media")  # connected, yet nothing arrived since the last poll
    above("rtt", sample.rtt_ms, t.rtt_warn_ms, t.rtt_poor_ms)
    above("loss", sample.loss_pct, t.loss_warn_pct, t.loss_poor_pct)
    above("jitter", sample.jitter_ms, t.jitter_warn_ms, t.jitter_poor_ms)
    if sample.video_packets:  # no frame-rate verdict while the agent's camera is off
        below("fps", sample.fps, t.fps_warn, t.fps_poor)
    below("bitrate", sample.out_kbps, t.bitrate_warn_kbps, t.bitrate_poor_kbps)
    if poor:
        return Level.POOR, poor + degraded
    if degraded:
        return Level.DEGRADED, degraded
    return Level.GOOD, []


class QualityTracker:
    """Hysteresis over sample levels; `worst` is the worst quality ever reported."""

    def __init__(self, thresholds: Thresholds) -> None:
        self.t = thresholds
        self.level = Level.GOOD
        self.worst = Level.GOOD
        self.reasons: list[str] = []
        self._worse: list[Level] = []
        self._better: list[Level] = []

    def update(self, level: Level, reasons: list[str]) -> bool:
        """Feed one sample's level; True when the reported quality changed."""
        before = self.level
        if level > self.level:
            self._better.clear()
            self._worse.append(level)
            if len(self._worse) >= self.t.raise_after:
                self.level = min(self._worse[-self.t.raise_after :])  # consistently this bad
                self._worse.clear()
        elif level < self.level:
            self._worse.clear()
            self._better.append(level)
            if len(self._better) >= self.t.clear_after:
                self.level = max(self._better[-self.t.clear_after :])
                self._better.clear()
        else:
            self._worse.clear()
            self._better.clear()
        if level >= self.level and level > Level.GOOD:
            self.reasons = reasons
        elif self.level == Level.GOOD:
            self.reasons = []
        self.worst = max(self.worst, self.level)
        return self.level != before


class StatsDeltas:
    """Cumulative counters per stream -> per-poll figures. Feed `update()` every poll."""

    def __init__(self) -> None:
        self._prev: dict[tuple[str, Any], dict[str, Any]] = {}

    def update(self, reports: Iterable[dict[str, Any]]) -> Sample | None:
        """`reports`: the injected script's per-connection summaries (all frames)."""
        rtts: list[float] = []
        outs: list[float] = []
        jitters: list[float] = []
        remote_loss: list[float] = []
        fps_values: list[float] = []
        lost = received = video_received = 0.0
        in_bits = video_bits = 0.0
        seconds = 0.0
        width = height = freezes = None
        seen = False
        current: dict[tuple[str, Any], dict[str, Any]] = {}
        for pc in reports:
            if not isinstance(pc, dict) or pc.get("state") != "connected":
                continue
            pc_id = str(pc.get("pc"))
            pair = pc.get("pair") or {}
            if _num(pair.get("rtt")) is not None:
                rtts.append(float(pair["rtt"]) * 1000)
            if _num(pair.get("out")) is not None:
                outs.append(float(pair["out"]) / 1000)
            for remote in pc.get("remote") or ():
                if _num(remote.get("rtt")) is not None:
                    rtts.append(float(remote["rtt"]) * 1000)
                if _num(remote.get("fl")) is not None:
                    remote_loss.append(float(remote["fl"]) * 100)
            for stream in pc.get("inbound") or ():
                if not isinstance(stream, dict):
                    continue
                key = (pc_id, stream.get("ssrc"))
                current[key] = stream
                seen = True
                if _num(stream.get("jitter")) is not None:
                    jitters.append(float(stream["jitter"]) * 1000)
                prev = self._prev.get(key)
                if prev is None:
                    continue
                d_recv = _delta(stream, prev, "recv")
                d_lost = _delta(stream, prev, "lost")
                d_bytes = _delta(stream, prev, "bytes")
                d_ms = _delta(stream, prev, "ts")
                d_ts = d_ms / 1000 if d_ms is not None else 0.0
                if d_recv is None or d_ts <= 0:
                    continue  # counters restarted (new stream) or same report twice
                received += d_recv
                lost += max(d_lost or 0, 0)
                seconds = max(seconds, d_ts)
                bits = (d_bytes or 0) * 8 / d_ts
                in_bits += bits
                if stream.get("kind") == "video":
                    video_received += d_recv
                    video_bits += bits
                    if d_recv > 0:
                        fps = _num(stream.get("fps"))
                        if fps is None:
                            decoded = _delta(stream, prev, "decoded")
                            fps = decoded / d_ts if decoded is not None else None
                        if fps is not None:
                            fps_values.append(fps)
                        width, height = stream.get("w"), stream.get("h")
                        freezes = stream.get("freezes")
        self._prev = current
        if not seen and not rtts:
            return None
        loss = lost / (lost + received) * 100 if (lost + received) > 0 else None
        if remote_loss:
            loss = max(loss or 0.0, max(remote_loss))
        have_deltas = seconds > 0
        return Sample(
            rtt_ms=max(rtts) if rtts else None,
            loss_pct=loss,
            jitter_ms=max(jitters) if jitters else None,
            fps=min(fps_values) if fps_values else None,
            in_kbps=in_bits / 1000 if have_deltas else None,
            video_kbps=video_bits / 1000 if have_deltas else None,
            out_kbps=min(outs) if outs else None,
            width=width if isinstance(width, int) else None,
            height=height if isinstance(height, int) else None,
            freezes=freezes if isinstance(freezes, int) else None,
            packets=int(received) if have_deltas else None,
            video_packets=int(video_received) if have_deltas else None,
        )


def _num(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def _delta(now: dict[str, Any], before: dict[str, Any], key: str) -> float | None:
    a, b = _num(now.get(key)), _num(before.get(key))
    if a is None or b is None or a < b:
        return None
    return a - b
