"""pvp-bridge's resident memory over ordinary scans: idle, then after each scan printed
and deleted, on SANE's test backend (no hardware needed) and a CUPS queue to /dev/null.

Each run starts a fresh bridge, lists the scanners, reads its idle RSS (the baseline),
then runs N rounds: a 10-page feeder scan (300 dpi colour, 16 MB a page) into one PDF,
printed (the job followed to its end), then deleted. The bridge hands the scan's memory
back as the scan ends (kiosk_bridge/memory.py); the RSS is read after each round, its
peak sampled throughout, and once more after a pause with nothing running.

Goal: back within 20 MB of idle once no scan or print runs.

Usage: uv run python benchmarks/bench_bridge_memory.py [--scans N] [--runs N]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from kiosk_bridge.client import BridgeClient  # noqa: E402
from tests.support.bridge_client import Events, rss_mib, scan_print_delete  # noqa: E402
from tests.support.bridge_daemons import (  # noqa: E402
    BridgeProcess,
    Cupsd,
    have,
    write_sane_config,
)

PRINTER = "pvp-null"
GOAL_MIB = 20.0


def median_rss(pid: int, samples: int = 5) -> float:
    values = []
    for _ in range(samples):
        values.append(rss_mib(pid))
        time.sleep(0.1)
    return statistics.median(values)


async def one_run(proc: BridgeProcess, scans: int, printer: str | None) -> dict[str, Any]:
    assert proc.proc is not None
    pid = proc.proc.pid
    events = Events()
    peak = [0.0]
    done = threading.Event()

    def sample() -> None:
        while not done.is_set():
            peak[0] = max(peak[0], rss_mib(pid))
            time.sleep(0.01)

    async with BridgeClient(proc.url, proc.token, reconnect=False) as client:
        client.subscribe(events)
        await client.request("scanner.list")
        await asyncio.sleep(1.0)
        idle = await asyncio.to_thread(median_rss, pid)
        sampler = threading.Thread(target=sample)
        sampler.start()
        rounds = []
        try:
            for _ in range(scans):
                await scan_print_delete(client, events, printer)
                rounds.append(rss_mib(pid))
        finally:
            done.set()
            sampler.join()
        await asyncio.sleep(2.0)
        settled = await asyncio.to_thread(median_rss, pid)
    return {"idle": idle, "rounds": rounds, "peak": peak[0], "settled": settled}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--scans", type=int, default=6, help="scans printed and deleted per run")
    ap.add_argument("--runs", type=int, default=3)
    args = ap.parse_args()
    root = Path(tempfile.mkdtemp(prefix="pvp-bench-bridge-mem-"))
    os.chmod(root, 0o755)  # cups filters run as lp
    cups: Cupsd | None = None
    try:
        env = {"SANE_CONFIG_DIR": str(write_sane_config(root / "sane"))}
        printer: str | None = None
        if have("cupsd", "lpadmin"):
            cups = Cupsd(root / "cups")
            cups.start()
            cups.run("lpadmin", "-p", PRINTER, "-E", "-v", "file:///dev/null", "-m", "raw")
            env.update(cups.env)
            printer = PRINTER
        else:
            env["CUPS_SERVER"] = str(root / "no-cups.sock")
        results = []
        for n in range(args.runs):
            proc = BridgeProcess(
                root / f"bridge-{n}", env, config="[server]\nhealth_interval = 30\n"
            )
            proc.start()
            try:
                results.append(asyncio.run(one_run(proc, args.scans, printer)))
            finally:
                proc.stop()
    finally:
        if cups is not None:
            cups.stop()
        shutil.rmtree(root, ignore_errors=True)

    def med(key: str) -> float:
        return statistics.median(r[key] for r in results)

    idle, settled, peak = med("idle"), med("settled"), med("peak")
    after = statistics.median(r["rounds"][-1] for r in results)
    what = "printed on a CUPS queue to /dev/null" if printer else "not printed (no cupsd)"
    print(
        f"pvp-bridge, {args.scans} feeder scans of 10 pages at 300 dpi colour, each {what} "
        f"then deleted (median of {args.runs} runs)"
    )
    print(f"  idle (baseline)               : {idle:6.1f} MiB")
    rounds = "  ".join(f"{x:5.1f}" for x in results[0]["rounds"])
    print(f"  after each scan, first run    : {rounds}")
    print(f"  peak during the scans         : {peak:6.1f} MiB")
    print(
        f"  after the last scan           : {after:6.1f} MiB   ratio {after / idle:4.2f}   "
        f"{after - idle:+5.1f} MiB"
    )
    print(
        f"  settled, nothing running      : {settled:6.1f} MiB   ratio {settled / idle:4.2f}   "
        f"{settled - idle:+5.1f} MiB   (goal: within {GOAL_MIB:.0f} MiB of idle)"
    )


if __name__ == "__main__":
    main()
