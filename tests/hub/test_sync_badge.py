"""The staff's hub badge follows a real hub process stopped then restarted: the real app
(Textual pilot) with its change feed, the real sync worker in its thread, the real
`pvp-hub serve`. Nothing in the app waits on the network meanwhile."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from pvp_tui.core.frontdesk import CheckIn
from pvp_tui.core.sync import Timeouts
from pvp_tui.ui.app import PvpApp
from tests.hub.regions import Hub, Region
from tests.hub.test_site_sync import a_morning, assert_all_once, make_site
from tests.support.hub_daemons import HubProcess


async def _badge_becomes(app: PvpApp, start: str, seconds: float = 30) -> str:
    """Wait (without a timed assertion: the limit only ends a stuck test) until the hub
    badge on screen starts with `start`; its text."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    text = ""
    while loop.time() < deadline:
        shown = app.queue_screen.query("#badge-hub")
        text = str(shown.first().render()) if shown else ""
        if text.startswith("● " + start):
            return text
        await asyncio.sleep(0.05)
    raise AssertionError(f"the hub badge still says {text!r}, not {start!r}…")


@pytest.mark.engine("sqlite")  # the hub's storage plays no role here
async def test_the_badge_goes_offline_and_back_online_with_a_real_hub(
    tmp_path: Path, region: Region, hub: Hub
) -> None:
    own = HubProcess(hub.process.db_url, tmp_path)
    own.start()
    site = make_site(tmp_path, region, own.url)
    worker = site.worker(timeouts=Timeouts(connect=1, read=2, total=3), wait_initial=0.1)
    app = PvpApp(site.desk, tick_seconds=None)  # the change feed on, as in production
    try:
        async with app.run_test(size=(120, 40)) as pilot:
            await pilot.pause()
            await _badge_becomes(app, "pas encore synchronisé")
            worker.start()
            a_morning(site.desk, visitors=2)
            await _badge_becomes(app, "en ligne · synchro")
            own.stop()
            site.desk.check_in(CheckIn(partner_id="caf", name="Visiteur Secret"))
            offline = await _badge_becomes(app, "hors ligne depuis")
            assert offline.endswith("· 1 en attente d'envoi")
            own.start()
            online = await _badge_becomes(app, "en ligne · synchro")
            assert "attente" not in online
        assert_all_once(hub, site)
    finally:
        worker.stop(wait=5)
        own.stop()
