"""The staff app's memory after a day of changes made at another desk.

A day: the app (`PvpApp`, in-process with Textual's Pilot, 120x40) stays open on the desk
morning's database while another desk runs N visits (check in, call, start, finish: four
commits each, the app told of each one as its change feed would tell it), its clock
following the other desk's. Baseline, named "fresh start": the same N visits made with
no app open, then the app started on that database at the same time of day; it shows
the same rows. Each run is four child processes: a day and a fresh start tracing their
Python heap (tracemalloc, from before the first visit), and a day and a fresh start
untraced for their resident memory (VmRSS: tracemalloc's own tables would count in it),
each read once the screen is drawn and the garbage collected.

Goal: the app after the day within a few MB of the fresh start (heap and RSS), and its
heap flat from the middle of the day on (the last half adds no more than the finished
list's rows).

Usage: uv run python benchmarks/bench_app_memory.py [--visits N] [--runs N]
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import statistics
import subprocess
import sys
import tempfile
import tracemalloc
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from pvp_tui.core import i18n  # noqa: E402
from tests.support.busy_day import run_visits, run_visits_seen, step_time  # noqa: E402
from tests.support.desk_morning import (  # noqa: E402
    make_app,
    make_desk,
    seed_morning,
    set_time,
    settle,
)

SIZE = (120, 40)
CHECKPOINTS = 6  # the day's heap is read after each sixth of its visits (50 of 300)
MIB = 1024 * 1024


def rss_mib() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def heap_mib() -> float:
    gc.collect()
    return tracemalloc.get_traced_memory()[0] / MIB  # 0 when not tracing


async def day(db: Path, visits: int) -> dict[str, Any]:
    """The app open while another desk runs `visits` visits."""
    app = make_app(db)
    other = make_desk(db)
    points: list[tuple[int, float, float]] = []
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        points.append((0, heap_mib(), rss_mib()))
        done = 0
        for n in range(1, CHECKPOINTS + 1):
            upto = visits * n // CHECKPOINTS
            await run_visits_seen(pilot, other, done, upto - done)
            done = upto
            await pilot.pause()
            points.append((done, heap_mib(), rss_mib()))
        rows = app.queue_screen.query_one("#today-list").row_count  # type: ignore[attr-defined]
    other.store.close()
    return {"heap": points[-1][1], "rss": points[-1][2], "points": points, "finished": rows}


async def fresh(db: Path, visits: int) -> dict[str, Any]:
    """The same visits with no app open, then the app started on them."""
    other = make_desk(db)
    seed_morning(other)
    run_visits(other, 0, visits)
    app = make_app(db, seed=False)
    set_time(app.desk, step_time(visits - 1, 3))
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.pause()
        heap, rss = heap_mib(), rss_mib()
        rows = app.queue_screen.query_one("#today-list").row_count  # type: ignore[attr-defined]
    other.store.close()  # open until now, as in the day: its SQLite cache counts in both
    return {"heap": heap, "rss": rss, "finished": rows}


def child(kind: str, visits: int, trace: bool) -> None:
    i18n.set_language("fr")
    if trace:
        tracemalloc.start(1)
    with tempfile.TemporaryDirectory(prefix="pvp-bench-mem-") as scratch:  # gone after
        db = Path(scratch) / "pvp.db"
        result = asyncio.run((day if kind == "day" else fresh)(db, visits))
    print(json.dumps(result))


def run_child(kind: str, visits: int, trace: bool) -> dict[str, Any]:
    flag = ["--trace"] if trace else []
    out = subprocess.run(
        [sys.executable, __file__, "--child", kind, "--visits", str(visits), *flag],
        check=True,
        capture_output=True,
        text=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--visits", type=int, default=300)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--child", choices=("day", "fresh"))
    ap.add_argument("--trace", action="store_true", help="(child) trace the Python heap")
    args = ap.parse_args()
    if args.child:
        child(args.child, args.visits, args.trace)
        return
    days, starts, plain_days, plain_starts = [], [], [], []
    for _ in range(args.runs):  # alternate, so both see the same machine load
        days.append(run_child("day", args.visits, True))
        starts.append(run_child("fresh", args.visits, True))
        plain_days.append(run_child("day", args.visits, False))
        plain_starts.append(run_child("fresh", args.visits, False))
        if days[-1]["finished"] != starts[-1]["finished"]:
            raise RuntimeError(f"not the same rows: {days[-1]} vs {starts[-1]}")

    def med(results: list[dict[str, Any]], key: str) -> float:
        return statistics.median(r[key] for r in results)

    print(
        f"The app at {SIZE[0]}x{SIZE[1]} after {args.visits} visits made at another desk "
        f"(median of {args.runs} runs; {days[0]['finished']} finished visits listed)"
    )
    print("  during the day (visits: Python heap traced, RSS untraced), first run:")
    for (done, heap, _rss), (_done, _heap, rss) in zip(
        days[0]["points"], plain_days[0]["points"], strict=True
    ):
        print(f"    {done:4d}: {heap:6.2f} MiB  {rss:6.1f} MiB")
    for key, label, day_runs, start_runs in (
        ("heap", "Python heap (tracemalloc)", days, starts),
        ("rss", "resident (VmRSS)", plain_days, plain_starts),
    ):
        d, f = med(day_runs, key), med(start_runs, key)
        print(
            f"  {label:26s}: after the day {d:6.2f} MiB   fresh start {f:6.2f} MiB   "
            f"ratio {d / f:5.2f}   difference {d - f:+6.2f} MiB"
        )
    points = [run["points"] for run in days]
    middle = statistics.median(p[CHECKPOINTS // 2][1] for p in points)
    last = statistics.median(p[-1][1] for p in points)
    print(f"  heap growth over the day's last half: {last - middle:+.2f} MiB")
    print("  goal: the day within a few MB of the fresh start (heap and RSS)")


if __name__ == "__main__":
    main()
