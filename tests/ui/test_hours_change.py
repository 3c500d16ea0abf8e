"""The queue tells the truth at once: when a permanence opens or closes, the open app
reads the queue then, not at its next minute's tick."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from pathlib import Path

from pvp_tui.core.partners import next_hours_change
from pvp_tui.ui.app import PvpApp
from tests.support.desk_morning import make_desk, seed_morning, set_time, settle


async def test_the_queue_is_read_when_a_permanence_opens(tmp_path: Path) -> None:
    desk = make_desk(tmp_path / "pvp.db")
    seed_morning(desk)
    change = next_hours_change(desk.config, desk.local_now())
    assert change is not None
    set_time(desk, change - timedelta(seconds=0.5))  # half a second before it opens
    app = PvpApp(desk, watch_changes=False, tick_seconds=3600)  # no tick in this test
    app.animation_level = "none"
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        before = app.loads
        set_time(desk, change + timedelta(seconds=1))
        for _ in range(40):  # the read is due one second after the change
            await asyncio.sleep(0.1)
            if app.loads > before:
                break
        assert app.loads > before
