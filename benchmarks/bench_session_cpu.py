"""The watching goal: CPU used by a real pvp-bridge process while it watches a call
(DevTools events, a getStats() poll every 2 s, quality, session.stats events to one
client), against the same bridge idle for the same time. Only the bridge's own process is
counted (Chromium and the aiortc agent run in other processes). Goal: < 2 % of one core.

Usage: uv run python benchmarks/bench_session_cpu.py [--seconds S]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from kiosk_bridge.client import BridgeClient  # noqa: E402
from kiosk_bridge.session.browser import group_members  # noqa: E402
from tests.support.bridge_daemons import BridgeProcess  # noqa: E402
from tests.support.farend import FarEnd  # noqa: E402

CHROMIUM = shutil.which("chromium") or "chromium"
TICK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    stat = Path(f"/proc/{pid}/stat").read_text()
    fields = stat[stat.rfind(")") + 2 :].split()
    return (int(fields[11]) + int(fields[12])) / TICK  # utime + stime


async def measure(pid: int, seconds: float) -> float:
    c0, t0 = cpu_seconds(pid), time.monotonic()
    await asyncio.sleep(seconds)
    return (cpu_seconds(pid) - c0) / (time.monotonic() - t0) * 100


async def main(seconds: float) -> None:
    root = Path(tempfile.mkdtemp(prefix="pvp-bench-cpu-"))
    config = f"""
[session]
chromium = "{CHROMIUM}"
headless = true
fake_media = true
profile_dir = "{root / "profiles"}"
stats_interval = 2
[session.partners.caf]
prefix = "C"
domains = ["127.0.0.1"]
display_name = "query:name"
"""
    bridge = BridgeProcess(root / "bridge", {"CUPS_SERVER": "127.0.0.1:9"}, config=config)
    bridge.start()
    assert bridge.proc is not None
    try:
        async with BridgeClient(bridge.url, bridge.token) as client, FarEnd() as far:
            events: list = []
            client.subscribe(lambda e, d: events.append((e, d)))
            await asyncio.sleep(2)
            idle = await measure(bridge.proc.pid, seconds)
            await client.request(
                "session.start", {"room_url": far.room_url(), "display_name": "C-001"}
            )
            while not any(e == "session.state" and d["state"] == "in_call" for e, d in events):
                await asyncio.sleep(0.05)
            await asyncio.sleep(2)
            status = await client.request("session.status")
            pgid = None
            for entry in Path("/proc").iterdir():
                if entry.name.isdigit():
                    try:
                        if str(root / "profiles") in (entry / "cmdline").read_text():
                            pgid = os.getpgid(int(entry.name))
                            break
                    except OSError:
                        continue
            browser0 = sum(cpu_seconds(p) for p in group_members(pgid)) if pgid else 0.0
            n0 = sum(1 for e, _ in events if e == "session.stats")
            t0 = time.monotonic()
            watching = await measure(bridge.proc.pid, seconds)
            elapsed = time.monotonic() - t0
            browser = (sum(cpu_seconds(p) for p in group_members(pgid)) - browser0) if pgid else 0
            stats = sum(1 for e, _ in events if e == "session.stats") - n0
            await client.request("session.end")
    finally:
        bridge.stop()
        shutil.rmtree(root, ignore_errors=True)
    state, quality = status["state"], status["quality"]
    print(f"call: {state}, quality {quality}; {stats} session.stats in {elapsed:.0f} s")
    print(f"pvp-bridge idle:            {idle:.2f} % of a core ({seconds:.0f} s)")
    print(f"pvp-bridge watching a call: {watching:.2f} % of a core ({seconds:.0f} s)")
    print(f"watching costs {watching - idle:+.2f} points over idle (goal: < 2 % of a core)")
    print(f"for scale, Chromium in the call: {browser / elapsed * 100:.0f} % of a core")


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=30)
    asyncio.run(main(parser.parse_args().seconds))
