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
`hub_uploads.send_all`: start + chunks, the hub checking the sha256 of the whole and the
PDF) until the row is `sent`, then the agent's page opening the document
(`GET /agent/documents/{id}`, which records "opened") — until its bytes are in the
agent's hands. One sync worker for all runs, as the app's (its HTTP client made once:
an `httpx.Client` costs 25-30 ms to make). The turn's end (the spool's erase) runs
after the agent's GET: on a site, the hub is another machine, so the erase does not
slow the agent's download; on this machine's two cores it would. Its time is printed,
untimed.
Each step is timed by wrappers (`timed_steps`) and printed with the medians, with the
size and time of each PUT (the last includes the hub's whole-file check) and what that
check's parts cost on these bytes in this process.
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
import threading
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
from pvp_hub.documents import Sealer, check_pdf  # noqa: E402
from pvp_tui.core import hub_uploads  # noqa: E402
from pvp_tui.core.config import parse_config  # noqa: E402
from pvp_tui.core.documents import DocumentLog, queue_for_agent  # noqa: E402
from pvp_tui.core.kiosks import KioskLink, KioskLinks  # noqa: E402
from pvp_tui.core.store import Store  # noqa: E402
from pvp_tui.core.sync import SyncWorker  # noqa: E402
from pvp_tui.core.upkeep import wal_bytes  # noqa: E402
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
# The send broken down, per run: seconds per step of the sync worker's turn (and the
# chunks' sizes), from wrappers around hub_uploads' own steps (see `timed_steps`).
STEPS: list[dict[str, float]] = []
CHUNKS: list[list[tuple[int, float]]] = []  # (bytes, seconds) of each PUT, per run
SENT = threading.Event()  # the hub holds the document and the site marked it sent
SENT_AT: list[float] = []
WAL: list[int] = []  # the store's WAL size once each run's turn ended (bytes)
OPENED = threading.Event()  # the agent's GET is answered


def timed_steps() -> None:
    """Wrap the steps of a send (in this process) to time them: the queue's bridge fetch
    and spool write, the event push (`SyncWorker.drain`), the start (`_start`), each
    chunk read from the spool (`_chunk`) and PUT (`_put`, the last one including the
    hub's whole-file check), the progress writes, "sent" (`_sent`, which also marks the
    moment the agent may open it) and the spool's erase at the turn's end (`erase_sent`,
    while the agent opens it: not on the timed path)."""

    def wrap(owner: Any, name: str, step: str) -> None:
        inner = getattr(owner, name)

        def timed(*args: Any, **kwargs: Any) -> Any:
            t0 = time.perf_counter()
            try:
                return inner(*args, **kwargs)
            finally:
                took = time.perf_counter() - t0
                if STEPS:
                    STEPS[-1][step] = STEPS[-1].get(step, 0.0) + took
                    if name == "_put":
                        CHUNKS[-1].append((len(args[3]), took))

        async def timed_async(*args: Any, **kwargs: Any) -> Any:
            t0 = time.perf_counter()
            try:
                return await inner(*args, **kwargs)
            finally:
                if STEPS:
                    STEPS[-1][step] = STEPS[-1].get(step, 0.0) + time.perf_counter() - t0

        setattr(owner, name, timed_async if asyncio.iscoroutinefunction(inner) else timed)

    fetch = "fetch_document" if hasattr(KioskLink, "fetch_document") else "get_document"
    wrap(KioskLink, fetch, "queue: bridge fetch")
    wrap(DocumentLog, "send_to_agent", "queue: spool")
    wrap(SyncWorker, "drain", "event push")
    for name, step in (("_start", "start"), ("_chunk", "spool read"), ("_put", "PUTs"),
                       ("_progress", "progress"), ("_sent", "sent"),
                       ("erase_sent", "erase (after the agent's GET, untimed)")):  # fmt: skip
        if hasattr(hub_uploads, name):
            wrap(hub_uploads, name, step)
    marked = hub_uploads._sent

    def sent(*args: Any) -> None:
        marked(*args)
        SENT_AT.append(time.perf_counter())
        SENT.set()

    hub_uploads._sent = sent  # type: ignore[assignment]
    if not hasattr(hub_uploads, "erase_sent"):
        return  # a version that erased in `_sent` (run from a copy of it, for comparison)
    erase = hub_uploads.erase_sent

    def erase_after_the_agent(*args: Any) -> int:
        # The site and the hub are two machines: the site's erase does not slow the
        # hub's answer to the agent. On this one machine (two cores) it would, so the
        # turn's end waits for the agent's GET.
        OPENED.wait(30)
        return erase(*args)

    hub_uploads.erase_sent = erase_after_the_agent  # type: ignore[assignment]


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


async def pvp_send(
    desk: Any, worker: SyncWorker, links: KioskLinks, browser: Any, visit_id: str, data: bytes
) -> float:
    """One run: a new copy in the kiosk's spool, consent ticked, then timed to 'opened'."""
    link = next(iter(links))
    info = await link.put_document(data)
    log = DocumentLog(desk)
    trace = log.captured(visit_id, link.kiosk.id, cast(DocumentInfo, info), "payslip")
    trace = log.updated(trace, consent=True)
    STEPS.append({})
    CHUNKS.append([])
    SENT.clear()
    OPENED.clear()
    t0 = time.perf_counter()
    upload = await queue_for_agent(log, link, trace)
    t1 = time.perf_counter()
    assert worker.drain(timeout=30).error is None  # document_sent, as the worker does
    # The uploader's turn, in its thread; the agent opens the document once the hub has
    # it (`_sent`), while the turn ends (the spool's erase) — as on a real site, where
    # the agent is on another machine.
    turn = asyncio.create_task(asyncio.to_thread(hub_uploads.send_all, worker))
    await asyncio.to_thread(SENT.wait, 30)
    t2 = SENT_AT[-1]
    shown = await asyncio.to_thread(browser.get, f"/agent/documents/{upload.id}")
    t3 = time.perf_counter()
    OPENED.set()
    done = await turn
    assert done.sent == 1 and done.error is None, done
    WAL.append(wal_bytes(desk.store.path))
    assert hub_uploads.spooled(desk.store, upload.id) is None  # erased by the turn's end
    PHASES.append((t1 - t0, t2 - t1, t3 - t2))
    assert shown.status_code == 200
    assert hashlib.sha256(shown.content).digest() == hashlib.sha256(data).digest()
    await link.request("documents.delete", {"document": trace.id})
    return t3 - t0


async def main(runs: int) -> None:
    timed_steps()
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
        worker: SyncWorker | None = None
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
            # One worker for all runs, as the app's (its HTTP client made once).
            worker = SyncWorker(Store(desk.store.path), desk.config.hub)  # type: ignore[arg-type]
            assert worker.acquire()
            assert worker.drain(timeout=30).error is None  # the hub knows the visit
            links = KioskLinks(desk.config.kiosks)
            links.start()
            link = next(iter(links))
            while not link.state.online:
                await asyncio.sleep(0.05)
            pvp, curl = [], []
            with signed_in(hub.url, agent(region, "caf", [site.slug])) as browser:
                args = (desk, worker, links, browser, visit_id, data)
                await pvp_send(*args)  # warm-up
                curl_copy(hub.url, site.token, visit_id, data, root)
                for run in range(runs):
                    curl.append(curl_copy(hub.url, site.token, visit_id, data, root))
                    pvp.append(await pvp_send(*args))
                    print(f"run {run + 1}: curl {curl[-1]:.3f} s · pvp {pvp[-1]:.3f} s", flush=True)
        except BaseException:
            if hub.log.exists():
                print(hub.log.read_text()[-3000:], file=sys.stderr)
            raise
        finally:
            if worker is not None:
                worker._release()
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
    paired = statistics.median(p / c for p, c in zip(pvp, curl, strict=True))
    print(f"median of each run's ratio (pvp against the curl copy just before it): {paired:.2f}")
    queue, send, opened = (statistics.median(p[i] for p in PHASES[1:]) for i in range(3))
    print(
        f"pvp's phases, medians: queue (bridge fetch + spool) {queue:.3f} s, "
        f"sync worker's send {send:.3f} s, agent's GET {opened:.3f} s"
    )
    steps = STEPS[1:]
    names = list(dict.fromkeys(name for run in steps for name in run))
    parts = ", ".join(
        f"{name} {statistics.median(run.get(name, 0.0) for run in steps) * 1000:.0f} ms"
        for name in names
    )
    print(f"the send's steps, medians: {parts}")
    chunks = CHUNKS[1:]
    if chunks and all(len(run) == len(chunks[0]) for run in chunks):
        each = " + ".join(
            f"{chunks[0][i][0] / 2**20:.2f} MiB in "
            f"{statistics.median(run[i][1] for run in chunks) * 1000:.0f} ms"
            for i in range(len(chunks[0]))
        )
        print(f"PUTs, medians (the last one with the hub's whole-file check): {each}")
    print(f"the hub's whole-file check on these bytes, in this process: {hub_check(data)}")
    print(f"the store's WAL at each turn's end: largest {max(WAL) / 2**20:.2f} MiB")


def hub_check(data: bytes) -> str:
    """What the hub's check of a whole upload costs on these bytes (medians of 5)."""
    sealer = Sealer(os.urandom(32))
    doc = uuid.uuid4()
    blob = sealer.seal(doc, data)
    work = {
        "sha256": lambda: hashlib.sha256(data).hexdigest(),
        "decrypt": lambda: sealer.open(doc, blob),
        "PDF check": lambda: check_pdf(data, 200),
        "encrypt": lambda: sealer.seal(doc, data),
    }
    took = {}
    for name, step in work.items():
        times = []
        for _ in range(5):
            t0 = time.perf_counter()
            step()
            times.append(time.perf_counter() - t0)
        took[name] = statistics.median(times)
    return ", ".join(f"{name} {seconds * 1000:.1f} ms" for name, seconds in took.items())


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    asyncio.run(main(parser.parse_args().runs))
