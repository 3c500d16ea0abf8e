"""The scanning goals, on SANE's test backend (no hardware needed).

(a) 10 feeder pages at 300 dpi colour into one PDF: through a real pvp-bridge
    (`scanner.scan` request to reply, document assembled) against `scanimage --batch`
    + `img2pdf` on the same device and area. Goal: ratio <= 1.1.
(b) pvp-bridge's resident memory: idle, and at its peak while building a 20-page
    document (two feeder loads, the second appended).

Usage: uv run python benchmarks/bench_bridge_scan.py [--runs N]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from kiosk_bridge.client import BridgeClient  # noqa: E402
from tests.support.bridge_daemons import BridgeProcess, write_sane_config  # noqa: E402

PICTURE = "Color pattern"


def rss_kib(pid: int, field: str = "VmRSS") -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return 0


def baseline(env: dict[str, str], work: Path) -> float:
    """scanimage --batch then img2pdf, as a shell script would do it."""
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir()
    img2pdf = Path(sys.executable).with_name("img2pdf")
    t0 = time.perf_counter()
    scan = subprocess.run(
        ["scanimage", "-d", "test:0", "--source", "Automatic Document Feeder", "--mode",
         "Color", "--resolution", "300", "-x", "200", "-y", "200", "--test-picture", PICTURE,
         "--format=png", f"--batch={work}/p%04d.png"],
        env=env, capture_output=True, text=True,
    )  # fmt: skip
    pages = sorted(work.glob("p*.png"))
    subprocess.run([str(img2pdf), *map(str, pages), "-o", str(work / "out.pdf")], check=True)
    elapsed = time.perf_counter() - t0
    if len(pages) != 10:
        raise RuntimeError(f"scanimage made {len(pages)} pages: {scan.stderr}")
    return elapsed


async def bridge_runs(
    proc: BridgeProcess, runs: int, base_env: dict[str, str], work: Path
) -> tuple[list[float], list[float], int, int]:
    async with BridgeClient(proc.url, proc.token, reconnect=False) as c:
        params = {"device": "test:0", "source": "adf", "mode": "color", "resolution": 300,
                  "options": {"test_picture": PICTURE}}  # fmt: skip
        await asyncio.sleep(1.0)
        assert proc.proc is not None
        idle = rss_kib(proc.proc.pid)
        times, base = [], []
        for _ in range(runs):  # alternate so that machine noise hits both alike
            base.append(await asyncio.to_thread(baseline, base_env, work))
            t0 = time.perf_counter()
            r = await c.request("scanner.scan", params, timeout=300)
            times.append(time.perf_counter() - t0)
            assert r["pages_added"] == 10
            await c.request("documents.delete", {"document": r["document"]["id"]})
        # Peak while building a 20-page document (two loads, the second appended).
        peak = [0]
        done = threading.Event()

        def sample() -> None:
            while not done.is_set():
                peak[0] = max(peak[0], rss_kib(proc.proc.pid))  # type: ignore[union-attr]
                time.sleep(0.01)

        sampler = threading.Thread(target=sample)
        sampler.start()
        first = await c.request("scanner.scan", params, timeout=300)
        doc = first["document"]["id"]
        second = await c.request("scanner.scan", {**params, "document": doc}, timeout=300)
        done.set()
        sampler.join()
        assert second["document"]["pages"] == 20
        await c.request("documents.delete", {"document": doc})
        return base, times, idle, peak[0]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=5)
    args = ap.parse_args()
    root = Path(tempfile.mkdtemp(prefix="pvp-bench-scan-"))
    try:
        sane = write_sane_config(root / "sane")
        env = {"SANE_CONFIG_DIR": str(sane), "CUPS_SERVER": str(root / "no-cups.sock")}
        base_env = {**os.environ, **env}
        proc = BridgeProcess(root / "bridge", env, config="[server]\nhealth_interval = 30\n")
        proc.start()
        try:
            base, times, idle, peak = asyncio.run(
                bridge_runs(proc, args.runs, base_env, root / "batch")
            )
        finally:
            proc.stop()
        b, s = statistics.median(base), statistics.median(times)
        print("10 ADF pages, 300 dpi colour, 200x200 mm, one PDF (median of", args.runs, "runs)")
        print(f"  scanimage --batch + img2pdf : {b:6.3f} s   runs {[round(x, 3) for x in base]}")
        print(f"  pvp-bridge scanner.scan     : {s:6.3f} s   runs {[round(x, 3) for x in times]}")
        print(f"  ratio bridge / baseline     : {s / b:6.2f}   (goal <= 1.1)")
        print(f"pvp-bridge RSS idle           : {idle / 1024:6.1f} MiB")
        print(f"pvp-bridge RSS peak, 20 pages : {peak / 1024:6.1f} MiB")
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
