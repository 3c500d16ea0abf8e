"""A site back online after a day offline: how long until the hub has the whole day.

A real `pvp-hub serve` (SQLite, or `--engine postgresql` on a cluster started here). Each
run writes a day's events into a fresh site store's outbox as the front desk does
(`outbox.enqueue`): --visits visits of 10 events each (checked in, called, started, the
video session, a document scanned, printed and purged, a note, finished), dated over the
9 hours before now, so 300 visits are about 3,000 events. The hub was unreachable all
day; the clock starts when the worker makes its first try after the link is back
(`SyncWorker.drain()`, as `pvp sync --once` or the app's worker does) and stops when
the hub's database holds every event (counted there, not taken from the worker's word).
Goal: under 5 s.

Not counted: the worker's wait before that first try. While the hub is unreachable the
worker retries with exponential backoff up to `[hub] retry_max_seconds` (30 s by
default, plus up to 1 s of jitter), so a link that comes back waits at most that long
before the drain starts (docs/sync.md).

Usage: uv run python benchmarks/bench_sync_backlog.py [--visits N] [--runs N] [--engine E]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

from _local_hub import local_hub
from bench_outbox import STEPS, fill_outbox

from pvp_tui.core import outbox
from pvp_tui.core.clock import to_iso
from pvp_tui.core.store import Store
from pvp_tui.core.sync import Outbox, SyncWorker

SLUG = "bench-site"


def a_day(visits: int) -> list[dict[str, object]]:
    """`visits` visits of len(STEPS) events each, spread over the last 9 hours."""
    start = datetime.now(UTC) - timedelta(hours=9, minutes=30)  # the last ends before now
    step = timedelta(hours=9) / max(1, visits)
    items: list[dict[str, object]] = []
    for n in range(visits):
        visit = str(uuid.uuid4())
        for k, (kind, data) in enumerate(STEPS):
            at = to_iso(start + n * step + timedelta(minutes=2 * k))
            items.append(outbox.push_shape(str(uuid.uuid4()), visit, kind, at, dict(data)))
    return items


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--visits", type=int, default=300)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--engine", choices=("sqlite", "postgresql"), default="sqlite")
    args = parser.parse_args()
    times: list[float] = []
    with tempfile.TemporaryDirectory(prefix="bench-backlog-") as tmp:
        work = Path(tmp)
        with local_hub(work, args.engine, SLUG) as hub:
            for run in range(args.runs):
                store = Store(work / f"site-{run}.db", create=True)
                day = a_day(args.visits)
                fill_outbox(store, day)
                before = hub.events()
                worker = SyncWorker(store, hub.hub)
                assert worker.acquire()
                started = time.perf_counter()
                result = worker.drain(timeout=60)
                held = hub.events() - before
                elapsed = time.perf_counter() - started
                worker._release()
                assert result.error is None, result.error
                assert held == len(day) == result.applied, (held, len(day), result)
                assert Outbox(store).status().waiting == 0
                times.append(elapsed)
                print(f"run {run + 1}: {len(day)} events in {result.batches} batches, "
                      f"{elapsed:.2f} s until the hub held them all", flush=True)  # fmt: skip
                store.close()
    median = statistics.median(times)
    print(f"\n{args.visits} visits ({args.visits * len(STEPS)} events), {args.engine}, "
          f"median of {args.runs} runs: {median:.2f} s "
          f"(min {min(times):.2f}, max {max(times):.2f})")  # fmt: skip
    print(f"goal < 5 s: {'met' if median < 5 else 'NOT met'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
