"""The real `pvp` left open for days, on a fast test clock (PVP_TEST_CLOCK), while another
desk runs visits: what it holds after each night, read from the census it logs on
SIGUSR2 (pvp_common/census.py).

- One malloc arena: the worker threads that read the queue each took an arena of their
  own, and the freed memory of each stayed resident (RSS +0.65 MiB a night at 100 visits
  a day, not levelling off, while the Python heap traced grew 0.08 MiB; with one arena it
  levelled off after the second night: docs/memory.md).
- Python's allocated blocks level off: from the second night to the third they grow by no
  more than a bounded cache filling (Rich's cell-length cache: 4,096 texts).
"""

from __future__ import annotations

import os
import re
import signal
import time
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from pvp_common.testclock import parse, spec
from pvp_tui.core.clock import next_local_midnight
from pvp_tui.core.config import load_config
from pvp_tui.core.frontdesk import CheckIn, FrontDesk
from pvp_tui.core.store import Store
from tests.support.terminals import PVP, in_terminal, tmux

from .conftest import Site

pytestmark = pytest.mark.timeout(600)

PARIS = ZoneInfo("Europe/Paris")
MORNING = datetime(2026, 12, 7, 0, 20, tzinfo=PARIS)  # a Monday
SPEED = 1440.0  # a day in 60 real seconds; the minute's tick every 42 ms
DAYS, VISITS = 3, 30
BLOCKS_A_NIGHT = 10_000  # Rich's cell-length cache alone may add 2 x 4,096 blocks
CENSUS = re.compile(r"census: blocks (\d+), .*malloc arenas (\d+)")


def census(pid: int, log: Path) -> tuple[int, int]:
    """(Python's allocated blocks, malloc arenas) from the line `pid` logs on SIGUSR2."""
    offset = log.stat().st_size if log.exists() else 0
    os.kill(pid, signal.SIGUSR2)
    for _ in range(100):
        time.sleep(0.1)
        if log.exists():
            with log.open("rb") as f:
                f.seek(offset)
                found = CENSUS.findall(f.read().decode("utf-8", "replace"))
            if found:
                return int(found[-1][0]), int(found[-1][1])
    raise AssertionError(f"no census line in {log}")


def test_the_app_open_for_days_keeps_one_arena_and_a_level_heap(site: Site, tmp_path: Path) -> None:
    log = tmp_path / "pvp.log"
    clock = parse(spec(MORNING, SPEED, time.time() + 5))
    env = {
        **site.env(),
        "PVP_LOG": str(log),
        "PVP_TEST_CLOCK": spec(clock.start, clock.speed, clock.since),
    }
    desk = FrontDesk(Store(site.db), load_config(site.config), clock)  # the other desk
    nights: list[tuple[int, int]] = []
    try:
        with tmux() as term:
            app = term.new_session(in_terminal([PVP]), env, width=120, height=40)
            term.wait_for(app, "En attente (0)", timeout=60, what="the app's first screen")
            pid = term.pane_pid(app)
            for day in range(DAYS):
                start = MORNING + timedelta(days=day)
                for n in range(VISITS):
                    at = start + timedelta(minutes=40 * n)  # 00:20 to 19:40
                    ahead = (at - clock()).total_seconds()
                    if ahead > 0:
                        time.sleep(clock.real_seconds(ahead))
                    visit = desk.check_in(CheckIn("caf", f"Visiteur {n}"))
                    desk.call(visit.ticket)
                    desk.start(visit.ticket)
                    desk.finish(visit.ticket, "resolved")
                night = next_local_midnight(start.replace(hour=12)) + timedelta(minutes=15)
                time.sleep(max(0.0, clock.real_seconds((night - clock()).total_seconds())))
                term.wait_for(app, "En attente (0)", timeout=30, what="the new day")
                assert "Visiteur" not in term.screen(app)
                nights.append(census(pid, log))
    finally:
        desk.store.close()

    assert [arenas for _blocks, arenas in nights] == [1] * DAYS, nights
    blocks = [b for b, _arenas in nights]
    assert blocks[-1] - blocks[1] <= BLOCKS_A_NIGHT * (DAYS - 2), blocks
