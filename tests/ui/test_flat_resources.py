"""The desk app open for weeks keeps as many file descriptors, threads and asyncio tasks
after a day of visits as after its first ones: the change feed, the store's upkeep and
the sync worker sending every event to a real `pvp-hub` all running (docs/memory.md).

In-process (Textual's pilot): another desk on the same database runs the visits, the
app reads the queue at each commit (its change feed also sees them)."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from pvp_hub import directory
from pvp_hub.database import make_engine
from pvp_tui.cli import _start_sync
from pvp_tui.commands.context import Context
from pvp_tui.core.config import load_config
from pvp_tui.core.frontdesk import FrontDesk
from pvp_tui.core.store import Store
from pvp_tui.core.sync import Outbox
from pvp_tui.core.upkeep import wal_bytes
from pvp_tui.ui.app import PvpApp
from tests.hub.regions import Region
from tests.support.busy_day import run_visits_seen
from tests.support.desk_morning import TEN_AM, SettableClock, settle
from tests.support.hub_daemons import HubProcess

DEMO = Path(__file__).resolve().parents[2] / "pvp_tui" / "core" / "demo_site.toml"
WARM_UP, VISITS = 10, 60
# A thread pool not yet at its size, a keep-alive socket to the hub: not a leak.
SLACK = 2
SIZE = (100, 30)


@dataclass
class Site:
    config: Path
    hub: HubProcess


@pytest.fixture
def site(tmp_path: Path) -> Iterator[Site]:
    """A real hub (SQLite) and a site config of the demo's partners that syncs with it."""
    url = f"sqlite:///{tmp_path / 'hub.db'}"
    hub = HubProcess(url, tmp_path)
    hub.start()
    engine = make_engine(url, pool_size=1)
    try:
        directory.create_region(engine, "region", "Region")
        site = Region("region", engine).site("leyme")
        (tmp_path / "hub.token").write_text(site.token + "\n")
        text = DEMO.read_text("utf-8").replace('id = "demo"', 'id = "leyme"', 1)
        text += f'\n[hub]\nurl = "{hub.url}"\ntoken_file = "hub.token"\nretry_max_seconds = 1\n'
        config = tmp_path / "config.toml"
        config.write_text(text, "utf-8")
        yield Site(config, hub)
    finally:
        engine.dispose()
        hub.stop()


def counts() -> tuple[int, int, int]:
    """(open fds, threads, asyncio tasks) of this process."""
    fds = len(list(Path("/proc/self/fd").iterdir()))
    return fds, threading.active_count(), len(asyncio.all_tasks())


async def sent(outbox: Outbox) -> None:
    """Until the sync worker has sent every event to the hub."""
    deadline = time.monotonic() + 60
    while outbox.has_work():
        assert time.monotonic() < deadline, "the outbox was not sent"
        await asyncio.sleep(0.1)


async def test_a_day_of_visits_leaves_no_fd_thread_or_task_behind(
    site: Site, tmp_path: Path
) -> None:
    config = load_config(site.config)
    db = tmp_path / "pvp.db"
    desk = FrontDesk(Store(db, create=True), config, SettableClock(TEN_AM), actor="desk")
    other = FrontDesk(Store(db), config, SettableClock(TEN_AM), actor="other")
    outbox = Outbox(other.store)
    app = PvpApp(desk, watch_changes=True, tick_seconds=None, upkeep_seconds=0.2)
    app.animation_level = "none"
    sync = _start_sync(Context(config=config, desk=desk))
    try:
        async with app.run_test(size=SIZE) as pilot:
            await settle(pilot)
            await run_visits_seen(pilot, other, 0, WARM_UP)
            await sent(outbox)
            await settle(pilot)
            before = counts()
            await run_visits_seen(pilot, other, WARM_UP, VISITS)
            await sent(outbox)
            await asyncio.sleep(0.6)  # the change feed's last tick, an upkeep round
            await settle(pilot)
            after = counts()
            assert app.upkeep is not None and app.upkeep.rounds > 0
            assert app.upkeep.error is None
        assert after[0] <= before[0] + SLACK, f"fds {before[0]} -> {after[0]}"
        assert after[1] <= before[1] + SLACK, f"threads {before[1]} -> {after[1]}"
        assert after[2] <= before[2] + SLACK, f"tasks {before[2]} -> {after[2]}"
        assert len(desk.visits_of_day()) == WARM_UP + VISITS
        assert wal_bytes(db) < 5 * 1024 * 1024
    finally:
        for worker in sync:
            worker.stop()
        other.store.close()
        desk.store.close()
