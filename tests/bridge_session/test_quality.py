"""Quality from stats: deltas, thresholds per metric, hysteresis (3 to drop, 5 to clear)."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kiosk_bridge.session.quality import (
    Level,
    QualityTracker,
    Sample,
    StatsDeltas,
    Thresholds,
    classify,
)

T = Thresholds()
G, D, P = Level.GOOD, Level.DEGRADED, Level.POOR


def pc_report(ts: float, lost: int, recv: int, *, rtt: float | None = 0.01, **video: Any) -> Any:
    return [
        {
            "pc": "a:1",
            "state": "connected",
            "pair": {"rtt": rtt, "out": 800_000},
            "inbound": [
                {
                    "ssrc": 1,
                    "kind": "audio",
                    "lost": lost,
                    "recv": recv,
                    "jitter": 0.004,
                    "bytes": recv * 100,
                    "ts": ts,
                },
                {
                    "ssrc": 2,
                    "kind": "video",
                    "lost": 0,
                    "recv": recv,
                    "jitter": 0.01,
                    "bytes": recv * 1000,
                    "ts": ts,
                    "w": 640,
                    "h": 480,
                    "freezes": 0,
                    **video,
                },
            ],
            "remote": [{"kind": "video", "rtt": 0.012, "fl": 0}],
        }
    ]


def test_loss_comes_from_deltas_not_totals() -> None:
    d = StatsDeltas()
    first = d.update(pc_report(0, lost=500, recv=10_000, fps=20))
    assert first is not None and first.packets is None  # no previous poll yet
    assert first.loss_pct == 0  # only the far end's view (remote-inbound fractionLost)
    s = d.update(pc_report(2000, lost=530, recv=10_970, fps=20))
    assert s is not None
    # audio lost 30, audio received 970 and video received 970: 30 / (30 + 1940)
    assert s.loss_pct == pytest.approx(30 / 1970 * 100)
    assert s.rtt_ms == pytest.approx(12)  # the worst of candidate pair and remote-inbound
    assert s.jitter_ms == pytest.approx(10)
    assert s.fps == 20 and (s.width, s.height) == (640, 480)
    assert s.out_kbps == 800
    assert s.in_kbps == pytest.approx((970 * 100 + 970 * 1000) * 8 / 2 / 1000)
    assert s.packets == 1940


def test_fps_from_decoded_frames_when_missing() -> None:
    d = StatsDeltas()
    d.update(pc_report(0, 0, 100, decoded=0))
    s = d.update(pc_report(2000, 0, 200, decoded=30))
    assert s is not None and s.fps == 15


def test_counters_restarting_are_not_negative_deltas() -> None:
    d = StatsDeltas()
    d.update(pc_report(0, 10, 5000))
    s = d.update(pc_report(1000, 0, 20))  # a new stream with the same ssrc
    assert s is not None and s.loss_pct == 0 and s.packets is None


def test_missing_fields_and_garbage_are_tolerated() -> None:
    d = StatsDeltas()
    assert d.update([]) is None
    assert d.update([{"pc": "a", "state": "connecting"}, "junk", None]) is None
    s = d.update([{"pc": "a", "state": "connected", "pair": {"rtt": "x"}, "inbound": [{}]}])
    assert s is not None and s.rtt_ms is None and s.fps is None


@pytest.mark.parametrize(
    ("sample", "level", "reason"),
    [
        (Sample(rtt_ms=299), G, None),
        (Sample(rtt_ms=300), D, "rtt"),
        (Sample(rtt_ms=500), P, "rtt"),
        (Sample(loss_pct=2), D, "loss"),
        (Sample(loss_pct=5), P, "loss"),
        (Sample(jitter_ms=30), D, "jitter"),
        (Sample(jitter_ms=50), P, "jitter"),
        (Sample(fps=14, video_packets=10), D, "fps"),
        (Sample(fps=9, video_packets=10), P, "fps"),
        (Sample(fps=0, video_packets=0), G, None),  # the agent's camera is off
        (Sample(out_kbps=149), D, "bitrate"),
        (Sample(out_kbps=49), P, "bitrate"),
        (Sample(packets=0), P, "no_media"),
        (Sample(), G, None),
    ],
)
def test_classify_each_metric(sample: Sample, level: Level, reason: str | None) -> None:
    got, reasons = classify(sample, T)
    assert got is level
    assert reasons == ([reason] if reason else [])


def test_classify_lists_poor_reasons_first() -> None:
    level, reasons = classify(Sample(rtt_ms=350, loss_pct=9), T)
    assert level is P and reasons == ["loss", "rtt"]


def test_zero_thresholds_disable_a_metric() -> None:
    t = Thresholds(bitrate_warn_kbps=0, bitrate_poor_kbps=0)
    assert classify(Sample(out_kbps=30), t) == (G, [])


def feed(levels: list[Level], t: Thresholds = T) -> list[Level]:
    q = QualityTracker(t)
    out = []
    for level in levels:
        q.update(level, ["x"] if level else [])
        out.append(q.level)
    return out


def test_raises_after_three_bad_samples() -> None:
    assert feed([P, P]) == [G, G]
    assert feed([P, P, P]) == [G, G, P]
    assert feed([D, P, P]) == [G, G, D]  # consistently at least degraded
    assert feed([P, P, G, P, P]) == [G] * 5  # a good sample restarts the count


def test_clears_after_five_good_samples() -> None:
    assert feed([P, P, P, G, G, G, G]) == [G, G, P, P, P, P, P]
    assert feed([P, P, P, G, G, G, G, G]) == [G, G, P, P, P, P, P, G]
    assert feed([P, P, P, G, G, D, G, G]) == [G, G, P, P, P, P, P, D]


def test_worst_and_reasons() -> None:
    q = QualityTracker(T)
    for _ in range(3):
        q.update(P, ["loss"])
    for _ in range(5):
        q.update(G, [])
    assert (q.level, q.worst, q.reasons) == (G, P, [])


@given(st.lists(st.sampled_from([G, D, P]), max_size=60))
def test_quality_never_changes_without_a_run(levels: list[Level]) -> None:
    """Every change is backed by raise_after worse, or clear_after better, samples."""
    out = feed(levels)
    before = G
    for i, now in enumerate(out):
        if now > before:
            assert all(x >= now for x in levels[i - 2 : i + 1]) and i >= 2
        elif now < before:
            assert all(x <= now for x in levels[i - 4 : i + 1]) and i >= 4
        before = now
