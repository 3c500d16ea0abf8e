"""What the store's upkeep costs the desks: the time of a front-desk action with three
other desks tidying the store (pvp_tui/core/upkeep.py), against none.

Each run makes a fresh store and runs --visits visits (check in, call, start, finish:
four commits each) at one desk, timing every action:

- **upkeep**: meanwhile three processes run the open app's upkeep (`Upkeep`) every
  --interval seconds (the app: every 60 s; 0.1 s here, 600 times as often, so that
  rounds fall on actions);
- **baseline**: the same with no upkeep at all.

Runs alternate; prints each side's median and p99 action time, the rounds the upkeep
processes made, and the ratios (goal: the upkeep side's p99 <= 1.5x the baseline's).
On a loaded machine the figures move; the ratio of runs taken side by side is what to
read.

Usage: uv run python benchmarks/bench_store_upkeep.py [--visits N] [--runs N] [--interval S]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from pvp_tui.core.config import parse_config  # noqa: E402
from pvp_tui.core.frontdesk import CheckIn, FrontDesk  # noqa: E402
from pvp_tui.core.store import Store  # noqa: E402
from tests.support.clocks import MONDAY_10, MovableClock  # noqa: E402
from tests.support.sites import OPEN_SITE  # noqa: E402

KEEPER = """
import sys
from pvp_tui.core.upkeep import Upkeep
keeper = Upkeep(sys.argv[1], interval=float(sys.argv[2])).start()
print("tidying", flush=True)
sys.stdin.read()
keeper.stop()
print(keeper.rounds, flush=True)
"""


def run(visits: int, keepers: int, interval: float) -> tuple[list[float], int]:
    """Action times (s) of `visits` visits, with `keepers` upkeep processes running."""
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "pvp.db"
        desk = FrontDesk(
            Store(db, create=True), parse_config(OPEN_SITE, "bench"), clock=MovableClock(MONDAY_10)
        )
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        procs = [
            subprocess.Popen(
                [sys.executable, "-c", KEEPER, str(db), str(interval)],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                text=True,
                env=env,
            )
            for _ in range(keepers)
        ]
        for proc in procs:
            assert proc.stdout is not None and proc.stdout.readline().strip() == "tidying"
        times: list[float] = []
        try:
            for n in range(visits):
                start = time.perf_counter()
                visit = desk.check_in(CheckIn("caf", f"Visiteur {n}", note="n" * 200))
                times.append(time.perf_counter() - start)
                for action in (desk.call, desk.start):
                    start = time.perf_counter()
                    action(visit.ticket)
                    times.append(time.perf_counter() - start)
                start = time.perf_counter()
                desk.finish(visit.ticket, "resolved")
                times.append(time.perf_counter() - start)
        finally:
            rounds = sum(int(proc.communicate(timeout=30)[0].split()[0]) for proc in procs)
            desk.store.close()
        return times, rounds


def p99(values: list[float]) -> float:
    return statistics.quantiles(values, n=100)[98]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--visits", type=int, default=600)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--interval", type=float, default=0.1)
    args = parser.parse_args()
    sides: dict[str, list[tuple[float, float]]] = {"upkeep": [], "baseline": []}
    rounds = 0
    for _ in range(args.runs):
        for side, keepers in (("upkeep", 3), ("baseline", 0)):
            times, made = run(args.visits, keepers, args.interval)
            rounds += made
            sides[side].append((statistics.median(times), p99(times)))
    figures = {
        side: (statistics.median(m for m, _ in runs), statistics.median(p for _, p in runs))
        for side, runs in sides.items()
    }
    for side, (median, tail) in figures.items():
        print(f"{side:9} action median {median * 1000:6.2f} ms   p99 {tail * 1000:6.2f} ms")
    print(f"upkeep rounds made by the three processes: {rounds} over {args.runs} runs")
    median_ratio = figures["upkeep"][0] / figures["baseline"][0]
    tail_ratio = figures["upkeep"][1] / figures["baseline"][1]
    print(
        f"ratio upkeep / baseline: median {median_ratio:.2f}, p99 {tail_ratio:.2f}"
        " (goal p99 <= 1.5)"
    )


if __name__ == "__main__":
    main()
