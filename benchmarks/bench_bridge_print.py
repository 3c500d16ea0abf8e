"""The printing goal: submit-to-completed of a one-page PDF on the same CUPS queue
(cups-pdf, in a private cupsd), through a real pvp-bridge (`printer.print` request to the
`print.job` event saying completed) against `lp` followed by polling the job's state
(every 20 ms, as fast as the bridge's own follow-up). Goal: ratio <= 1.1.

Usage: uv run python benchmarks/bench_bridge_print.py [--runs N]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import cups  # noqa: E402

from kiosk_bridge.client import BridgeClient  # noqa: E402
from tests.support.bridge_client import Events, small_pdf  # noqa: E402
from tests.support.bridge_daemons import BridgeProcess, Cupsd, cleanup_cups_pdf_output  # noqa: E402

QUEUE = "pvp-bench-pdf"


def lp_once(cupsd: Cupsd, pdf: Path) -> float:
    os.environ["CUPS_SERVER"] = str(cupsd.sock)
    conn = cups.Connection()
    t0 = time.perf_counter()
    out = cupsd.run("lp", "-d", QUEUE, "-t", "pvp-doc_bench", str(pdf))
    job = int(out.split(f"{QUEUE}-")[1].split()[0])
    while int(conn.getJobAttributes(job)["job-state"]) != 9:
        time.sleep(0.02)
    return time.perf_counter() - t0


async def bridge_once(c: BridgeClient, ev: Events, doc: str) -> float:
    t0 = time.perf_counter()
    job = (await c.request("printer.print", {"document": doc, "printer": QUEUE}))["job"]
    done = await ev.wait("print.job", timeout=60, job=job["job"], final=True)
    elapsed = time.perf_counter() - t0
    assert done["state"] == "completed", done
    return elapsed


async def run(cupsd: Cupsd, proc: BridgeProcess, pdf: Path, runs: int) -> tuple[list, list]:
    base, bridge = [], []
    async with BridgeClient(proc.url, proc.token, reconnect=False) as c:
        ev = Events()
        c.subscribe(ev)
        doc = (await c.put_document(pdf.read_bytes()))["id"]
        await bridge_once(c, ev, doc)  # warm-up (filters, page cache)
        lp_once(cupsd, pdf)
        for _ in range(runs):  # alternate so that machine noise hits both alike
            base.append(await asyncio.to_thread(lp_once, cupsd, pdf))
            bridge.append(await bridge_once(c, ev, doc))
    return base, bridge


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=7)
    args = ap.parse_args()
    root = Path(tempfile.mkdtemp(prefix="pvp-bench-print-"))
    os.chmod(root, 0o755)
    since = time.time()
    cupsd = Cupsd(root / "cups")
    try:
        cupsd.start()
        ppd = "lsb/usr/cups-pdf/CUPS-PDF_opt.ppd"
        cupsd.run("lpadmin", "-p", QUEUE, "-E", "-v", "cups-pdf:/", "-m", ppd)
        pdf = root / "page.pdf"
        pdf.write_bytes(small_pdf(size=(600, 800)))
        proc = BridgeProcess(root / "bridge", cupsd.env, config="")
        proc.start()
        try:
            base, bridge = asyncio.run(run(cupsd, proc, pdf, args.runs))
        finally:
            proc.stop()
        b, s = statistics.median(base), statistics.median(bridge)
        print(f"one-page PDF to a cups-pdf queue, submit to completed (median of {args.runs})")
        print(f"  lp + poll job state   : {b:6.3f} s   runs {[round(x, 3) for x in base]}")
        print(f"  pvp-bridge print.job  : {s:6.3f} s   runs {[round(x, 3) for x in bridge]}")
        print(f"  ratio bridge / lp     : {s / b:6.2f}   (goal <= 1.1)")
    finally:
        cupsd.stop()
        cleanup_cups_pdf_output(since)
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
