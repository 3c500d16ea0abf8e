"""A keypress while the sync worker drains a large backlog, against the same with no hub.

Check-in (the form's save key) to the new row on screen, timed as bench_queue.py's (b)
does (the key event posted to the app as the driver does; the clock stops when the first
frame drawn with the new row is handed to the terminal), in-process with Textual's Pilot,
on a site store with --past finished visits and --waiting visitors waiting:

- **no hub**: the site's config has no `[hub]`: no outbox, no worker;
- **draining**: `[hub]` set, --backlog events waiting in the outbox, and the app's sync
  worker (its own thread and database connection, with the site's status sender, as
  `pvp` starts it) draining them to a real `pvp-hub serve` on loopback while the keys
  are pressed; each check-in also queues its event. The run checks that the worker was
  still draining when the last key was timed.

Both apps watch the database for other connections' commits (the worker's among them),
as `pvp` does. The hub runs at niceness 19: it stands for a machine far away, and on the
benchmark's small machine it would otherwise take the site's CPU. Runs alternate.
Goal: draining / no hub <= 1.1 (medians).

Usage: uv run python benchmarks/bench_sync_keypress.py [--runs N] [--backlog N]
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import shutil
import statistics
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path

from _history import populate
from _local_hub import local_hub
from bench_outbox import fill_outbox, fresh_events
from bench_queue import time_rows
from textual.widgets import Select

from pvp_tui.core.config import Config, load_config
from pvp_tui.core.frontdesk import FrontDesk
from pvp_tui.core.site_status import KioskBoard, StatusSender
from pvp_tui.core.store import Store
from pvp_tui.core.sync import Outbox, open_worker
from pvp_tui.ui.app import PvpApp
from pvp_tui.ui.widgets.visit_table import VisitTable

KEYS_PER_RUN = 3  # check-ins timed per app (bench_queue's time_rows times every other one)


async def fill_form(pilot, index: int) -> None:  # type: ignore[no-untyped-def]
    await pilot.press("f2")
    while len(pilot.app.screen_stack) < 2:
        await pilot.pause()
    form = pilot.app.screen
    form.query_one("#name").value = f"Visitor {index}"
    form.query_one("#partner", Select).value = "caf"
    await pilot.pause()


def one_run(db: Path, config: Config, backlog: int | None) -> tuple[list[float], int]:
    """The timed check-ins of one app; and how many events still waited at the end."""
    store = Store(db, create=True)
    worker = None
    if backlog is not None:
        assert config.hub is not None
        fill_outbox(store, fresh_events(backlog))
        worker = open_worker(db, config.hub, tasks=[StatusSender(config, KioskBoard([]))])
        worker.start()
    app = PvpApp(FrontDesk(store, config), tick_seconds=None)
    try:
        direct, _pressed = asyncio.run(
            time_rows(
                app,
                lambda a: a.queue_screen.query_one("#waiting", VisitTable),
                fill_form,
                KEYS_PER_RUN,
            )
        )
        left = Outbox(store).status().waiting if worker is not None else 0
    finally:
        if worker is not None:
            worker.stop(wait=10)
        store.close()
    return direct, left


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--backlog", type=int, default=40_000)
    parser.add_argument("--past", type=int, default=20_000)
    parser.add_argument("--waiting", type=int, default=100)
    args = parser.parse_args()
    base = load_config(None)
    with tempfile.TemporaryDirectory(prefix="bench-keypress-") as tmp:
        work = Path(tmp)
        history = work / "history.db"
        populate(history, base, datetime.now(UTC), past=args.past, waiting=args.waiting)
        print(f"database: {args.past:,} past visits, {args.waiting} waiting; "
              f"backlog {args.backlog:,} events", flush=True)  # fmt: skip
        with local_hub(work, "sqlite", base.site.id, nice=19) as hub:
            with_hub = dataclasses.replace(base, hub=hub.hub)
            alone: list[float] = []
            draining: list[float] = []
            for run in range(args.runs):
                db = work / f"alone-{run}.db"
                shutil.copy(history, db)
                times, _left = one_run(db, base, None)
                alone += times
                db = work / f"draining-{run}.db"
                shutil.copy(history, db)
                times, left = one_run(db, with_hub, args.backlog)
                draining += times
                state = f"{left:,} events still waiting" if left else "the backlog ran out!"
                last = statistics.median(alone[-KEYS_PER_RUN:])
                print(f"run {run + 1}: no hub {last * 1000:.1f} ms, "
                      f"draining {statistics.median(times) * 1000:.1f} ms ({state})",
                      flush=True)  # fmt: skip
    a, d = statistics.median(alone), statistics.median(draining)
    print(f"\ncheck-in key to the new row on screen, median of {len(alone)} each:")
    print(f"no hub {a * 1000:.1f} ms   while draining {d * 1000:.1f} ms   "
          f"ratio {d / a:.2f} (goal <= 1.1): {'met' if d / a <= 1.1 else 'NOT met'}")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
