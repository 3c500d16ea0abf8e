"""A 10-page scanned document from the kiosk's spool to "opened" on the agent's page,
against copying the same bytes to the hub with curl.

Set-up (not timed): a real pvp-bridge on SANE's test backend scans 10 feeder pages
(300 dpi colour, the staff's default); a real `pvp-hub serve` (SQLite, a documents key)
on this machine; a site (config with the kiosk and the [hub]) whose visitor is in session
and already known to the hub; an agent of the visit's partner signed in. For each run
the scan's bytes are put back in the kiosk's spool under a new id (`documents.put`), so
every run sends a document the hub has never seen; consent is ticked.

Timed (pvp): the desk's send (`documents.queue_for_agent`: consent, `documents.get` from
the bridge, the spool), the sync worker's turn (the `document_sent` event pushed, then
`hub_uploads.send_all`: start + 1 MiB chunks, the hub checking the sha256 of the whole
and the PDF), then the agent's page opening the document (`GET /agent/documents/{id}`,
which records "opened") — until its bytes are in the agent's hands.
Baseline (curl): the same bytes to the same hub's upload route with curl, as a script
would: one `curl` POST to announce it, then one `curl` PUT per 4 MiB chunk (the hub's
largest), until the hub's answer to the last one (whole and checked).
Goal: ratio <= 1.5.

Usage: uv run python benchmarks/bench_send_to_agent.py [--runs N]
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import hashlib
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, cast

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from kiosk_bridge.client import BridgeClient  # noqa: E402
from kiosk_bridge.shapes import DocumentInfo  # noqa: E402
from pvp_hub import directory  # noqa: E402
from pvp_hub.database import make_engine  # noqa: E402
from pvp_tui.core import hub_uploads  # noqa: E402
from pvp_tui.core.config import parse_config  # noqa: E402
from pvp_tui.core.documents import DocumentLog, queue_for_agent  # noqa: E402
from pvp_tui.core.kiosks import KioskLinks  # noqa: E402
from pvp_tui.core.store import Store  # noqa: E402
from pvp_tui.core.sync import SyncWorker  # noqa: E402
from tests.hub.people_pages import agent, signed_in  # noqa: E402
from tests.hub.regions import Region  # noqa: E402
from tests.support.bridge_daemons import BridgeProcess, write_sane_config  # noqa: E402
from tests.support.documents_site import SITE, make_desk, visitor_at_kiosk  # noqa: E402
from tests.support.hub_daemons import HubProcess  # noqa: E402

PAGES = 10
SCAN = {"device": "test:0", "source": "adf", "mode": "color", "resolution": 300,
        "max_pages": PAGES, "options": {"test_picture": "Color pattern"}}  # fmt: skip
CURL_CHUNK = 4 * 1024 * 1024
PHASES: list[tuple[float, float, float]] = []  # queue (bridge + spool), send, agent's GET


def curl_copy(hub_url: str, token: str, visit_id: str, data: bytes, work: Path) -> float:
    """The baseline: announce, then PUT every 4 MiB chunk, each with its own curl."""
    doc = str(uuid.uuid4())
    parts = []
    for start in range(0, len(data), CURL_CHUNK):
        part = work / f"part-{start}"
        part.write_bytes(data[start : start + CURL_CHUNK])
        parts.append((start, part))
    body = json.dumps({
        "id": doc, "visit_id": visit_id, "type": "payslip", "size": len(data),
        "sha256": hashlib.sha256(data).hexdigest(), "consent": True,
    })  # fmt: skip
    auth = f"Authorization: Bearer {token}"
    t0 = time.perf_counter()
    subprocess.run(
        ["curl", "-sf", "-o", "/dev/null", "-H", auth, "-H", "Content-Type: application/json",
         "--data-binary", body, f"{hub_url}/api/v1/site/documents"],
        check=True,
    )  # fmt: skip
    last = b""
    for start, part in parts:
        last = subprocess.run(
            ["curl", "-sf", "-X", "PUT", "-H", auth, "-H",
             "Content-Type: application/octet-stream", "--data-binary", f"@{part}",
             f"{hub_url}/api/v1/site/documents/{doc}/chunks/{start}"],
            check=True, capture_output=True,
        ).stdout  # fmt: skip
    elapsed = time.perf_counter() - t0
    assert json.loads(last)["state"] == "ready", last
    for _start, part in parts:
        part.unlink()
    return elapsed


async def pvp_send(desk: Any, visit_id: str, links: KioskLinks, browser: Any, data: bytes) -> float:
    """One run: a new copy in the kiosk's spool, consent ticked, then timed to 'opened'."""
    link = next(iter(links))
    info = await link.put_document(data)
    log = DocumentLog(desk)
    trace = log.captured(visit_id, link.kiosk.id, cast(DocumentInfo, info), "payslip")
    trace = log.updated(trace, consent=True)
    worker = SyncWorker(Store(desk.store.path), desk.config.hub)
    assert worker.acquire()
    try:
        t0 = time.perf_counter()
        upload = await queue_for_agent(log, link, trace)
        t1 = time.perf_counter()
        assert worker.drain(timeout=30).error is None  # document_sent, as the worker does

        def turn() -> Any:
            return hub_uploads.send_all(worker)

        done = await asyncio.to_thread(turn)
        t2 = time.perf_counter()
        assert done.sent == 1 and done.error is None, done
        shown = await asyncio.to_thread(browser.get, f"/agent/documents/{upload.id}")
        elapsed = time.perf_counter() - t0
        PHASES.append((t1 - t0, t2 - t1, time.perf_counter() - t2))
    finally:
        worker._release()
    assert shown.status_code == 200
    assert hashlib.sha256(shown.content).digest() == hashlib.sha256(data).digest()
    await link.request("documents.delete", {"document": trace.id})
    return elapsed


async def main(runs: int) -> None:
    with tempfile.TemporaryDirectory(prefix="pvp-bench-send-") as tmp:
        root = Path(tmp)
        sane = write_sane_config(root / "sane")
        bridge = BridgeProcess(root / "bridge", {"SANE_CONFIG_DIR": str(sane)}, config="")
        key = root / "documents.key"
        key.write_text(base64.b64encode(os.urandom(32)).decode())
        db_url = f"sqlite:///{root / 'hub.db'}"
        hub = HubProcess(db_url, root)
        engine = make_engine(db_url, pool_size=2)
        links: KioskLinks | None = None
        try:  # from the first start: one that fails stops the other (no process left)
            bridge.start()
            # a loaded shared machine can take more than the default 30 s to start it
            hub.start(env={**os.environ, "PVP_HUB_DOCUMENTS_KEY_FILE": str(key)}, wait=120)
            async with BridgeClient(bridge.url, bridge.token, request_timeout=600) as client:
                scanned = await client.request("scanner.scan", SCAN)
                data = await client.get_document(scanned["document"]["id"])
                await client.request("documents.delete", {"document": scanned["document"]["id"]})
            region = Region("bench", engine)
            directory.create_region(engine, "bench", "Bench")
            directory.save_partners(
                engine, "bench",
                directory.check_partners([{"id": "caf", "name": "CAF", "prefix": "C"}]),
            )  # fmt: skip
            site = region.site("leyme")
            (root / "hub.token").write_text(site.token + "\n")
            text = SITE.format(url=bridge.url, token=bridge.token_file)
            text += f'\n[hub]\nurl = "{hub.url}"\ntoken_file = "{root / "hub.token"}"\n'
            desk = make_desk(
                root / "pvp.db", parse_config(text, source="<bench>"), at=datetime.now(UTC)
            )
            visit_id = visitor_at_kiosk(desk)
            worker = SyncWorker(Store(desk.store.path), desk.config.hub)  # type: ignore[arg-type]
            assert worker.acquire()
            assert worker.drain(timeout=30).error is None  # the hub knows the visit
            worker._release()
            links = KioskLinks(desk.config.kiosks)
            links.start()
            link = next(iter(links))
            while not link.state.online:
                await asyncio.sleep(0.05)
            pvp, curl = [], []
            with signed_in(hub.url, agent(region, "caf", [site.slug])) as browser:
                await pvp_send(desk, visit_id, links, browser, data)  # warm-up
                curl_copy(hub.url, site.token, visit_id, data, root)
                for run in range(runs):
                    curl.append(curl_copy(hub.url, site.token, visit_id, data, root))
                    pvp.append(await pvp_send(desk, visit_id, links, browser, data))
                    print(f"run {run + 1}: curl {curl[-1]:.3f} s · pvp {pvp[-1]:.3f} s", flush=True)
        except BaseException:
            if hub.log.exists():
                print(hub.log.read_text()[-3000:], file=sys.stderr)
            raise
        finally:
            if links is not None:
                await links.close()
            engine.dispose()
            hub.stop()
            bridge.stop()
    mc, mp = statistics.median(curl), statistics.median(pvp)
    print(f"\n{PAGES} pages, 300 dpi colour: {len(data) / 1e6:.1f} MB, hub on SQLite, loopback")
    print(f"curl to the hub (announce + 4 MiB PUTs), median: {mc:.3f} s")
    print(f"pvp: kiosk spool to opened on the agent's page, median: {mp:.3f} s")
    print(f"ratio: {mp / mc:.2f} (goal <= 1.5)")
    queue, send, opened = (statistics.median(p[i] for p in PHASES[1:]) for i in range(3))
    print(
        f"pvp's phases, medians: queue (bridge fetch + spool) {queue:.3f} s, "
        f"sync worker's send {send:.3f} s, agent's GET {opened:.3f} s"
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    asyncio.run(main(parser.parse_args().runs))
