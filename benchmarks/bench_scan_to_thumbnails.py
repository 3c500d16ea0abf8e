"""Scan to thumbnails: the F6 keypress to all 10 page thumbnails on screen.

The staff app (`pvp`, headless Textual at 200x40 so the 10 thumbnails fit side by side)
scans 10 feeder pages at 300 dpi colour through a real pvp-bridge on SANE's test
backend; the clock stops when the tenth thumbnail shows a picture and the screen has
repainted. Baseline: the bridge's own scan of the same pages (`scanner.scan` request to
reply, with a bare websocket client). Goal: ratio <= 1.2.

Usage: uv run python benchmarks/bench_scan_to_thumbnails.py [--runs N]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
os.environ.setdefault("TEXTUAL_ANIMATIONS", "none")
os.environ.setdefault("PVP_IMAGES", "halfblock")

from textual.widgets import Select  # noqa: E402

from kiosk_bridge.client import BridgeClient  # noqa: E402
from pvp_tui.core.kiosks import KioskLinks  # noqa: E402
from pvp_tui.ui.app import PvpApp  # noqa: E402
from pvp_tui.ui.screens.documents.screen import DocumentsScreen  # noqa: E402
from tests.support.bridge_daemons import BridgeProcess, write_sane_config  # noqa: E402
from tests.support.documents_site import make_desk, site_config, visitor_at_kiosk  # noqa: E402

PAGES = 10
PARAMS = {"source": "adf", "mode": "color", "resolution": 300, "max_pages": PAGES}
PICTURE = {"test_picture": "Color pattern"}


async def bridge_scan(bridge: BridgeProcess) -> float:
    async with BridgeClient(bridge.url, bridge.token, request_timeout=600) as client:
        t0 = time.perf_counter()
        reply = await client.request(
            "scanner.scan", {"device": "test:0", **PARAMS, "options": PICTURE}
        )
        elapsed = time.perf_counter() - t0
        assert reply["pages_added"] == PAGES, reply
        await client.request("documents.delete", {"document": reply["document"]["id"]})
    return elapsed


async def app_scan(bridge: BridgeProcess, root: Path, run: int) -> float:
    desk = make_desk(root / f"pvp-{run}.db", site_config(bridge))
    visitor_at_kiosk(desk)
    desk.config.kiosks[0].scan_options.update(PICTURE)
    app = PvpApp(
        desk, watch_changes=False, tick_seconds=None, kiosks=KioskLinks(desk.config.kiosks)
    )
    elapsed = 0.0
    async with app.run_test(size=(200, 40)) as pilot:
        link = next(iter(app.kiosks))
        while not (link.state.online and link.state.scanners and app.loads):
            await asyncio.sleep(0.02)
        await pilot.press("f6")
        while not isinstance(app.screen, DocumentsScreen) or not app.screen.loaded:
            await asyncio.sleep(0.02)
        screen: Any = app.screen
        screen.query_one("#resolution", Select).value = 300
        await pilot.pause()
        t0 = time.perf_counter()
        await pilot.press("f6")
        while screen.pages_on_screen() < PAGES:
            await asyncio.sleep(0.005)
        await pilot.pause()  # the repaint that puts the last one on screen
        elapsed = time.perf_counter() - t0
        while screen.scanning:  # let the scan's reply land before cleaning up
            await asyncio.sleep(0.02)
        for doc in screen.docs:
            await link.request("documents.delete", {"document": doc.id})
    return elapsed


async def main(runs: int) -> None:
    with tempfile.TemporaryDirectory(prefix="pvp-bench-thumbs-") as tmp:
        root = Path(tmp)
        sane = write_sane_config(root / "sane")
        bridge = BridgeProcess(root / "bridge", {"SANE_CONFIG_DIR": str(sane)}, config="")
        bridge.start()
        try:
            await bridge_scan(bridge)  # warm-up (SANE probe, caches)
            base, app = [], []
            for run in range(runs):
                base.append(await bridge_scan(bridge))
                app.append(await app_scan(bridge, root, run))
                print(f"run {run + 1}: bridge {base[-1]:.2f} s · app {app[-1]:.2f} s", flush=True)
        finally:
            bridge.stop()
    mb, ma = statistics.median(base), statistics.median(app)
    print(f"\n{PAGES} feeder pages, 300 dpi colour, SANE test backend, {runs} runs")
    print(f"bridge scan (request to reply), median: {mb:.2f} s")
    print(f"pvp: F6 to {PAGES} thumbnails on screen, median: {ma:.2f} s")
    print(f"ratio: {ma / mb:.2f} (goal <= 1.2)")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    asyncio.run(main(parser.parse_args().runs))
