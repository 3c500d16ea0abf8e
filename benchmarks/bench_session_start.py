"""The session's start goal: `session.start` to `in_call` on the local test room, through a real
pvp-bridge (request sent -> `session.state` in_call event received), against a bare
DevTools script doing the same navigation with the same Chromium flags: launch, connect,
attach, `Page.navigate`, then poll (every 20 ms) until the remote video has a frame.
Both include the browser's start. Goal: ratio <= 1.3.

Usage: uv run python benchmarks/bench_session_start.py [--runs N]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from websockets.asyncio.client import connect  # noqa: E402

from kiosk_bridge.client import BridgeClient  # noqa: E402
from kiosk_bridge.session.browser import LaunchOptions, group_members, kill_group  # noqa: E402
from tests.support.bridge_daemons import BridgeProcess  # noqa: E402
from tests.support.farend import FarEnd  # noqa: E402

CHROMIUM = shutil.which("chromium") or "chromium"
VIDEO_PLAYING = (
    "(() => { const v = document.querySelector('video'); return !!v && v.readyState >= 2; })()"
)


async def bare_once(url: str, root: Path) -> float:
    profile = Path(tempfile.mkdtemp(dir=root))
    t0 = time.perf_counter()
    proc = await asyncio.create_subprocess_exec(
        *LaunchOptions(binary=CHROMIUM, headless=True, fake_media=True).argv(profile),
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        port_file = profile / "DevToolsActivePort"
        while not (port_file.exists() and len(port_file.read_text().split()) >= 2):
            await asyncio.sleep(0.02)
        port, path = port_file.read_text().split()[:2]
        async with connect(f"ws://127.0.0.1:{port}{path}", max_size=None, proxy=None) as ws:
            ids = iter(range(1, 1_000_000))

            async def send(method: str, params: dict | None = None, sid: str | None = None) -> dict:
                msg_id = next(ids)
                msg: dict = {"id": msg_id, "method": method, "params": params or {}}
                if sid:
                    msg["sessionId"] = sid
                await ws.send(json.dumps(msg))
                while True:
                    reply = json.loads(await ws.recv())
                    if reply.get("id") == msg_id:
                        return reply.get("result", {})

            targets = await send("Target.getTargets")
            page = next(t for t in targets["targetInfos"] if t["type"] == "page")
            sid = (
                await send("Target.attachToTarget", {"targetId": page["targetId"], "flatten": True})
            )["sessionId"]
            await send("Page.navigate", {"url": url}, sid)
            while True:
                r = await send(
                    "Runtime.evaluate", {"expression": VIDEO_PLAYING, "returnByValue": True}, sid
                )
                if r.get("result", {}).get("value") is True:
                    break
                await asyncio.sleep(0.02)
        return time.perf_counter() - t0
    finally:
        kill_group(proc.pid)
        await proc.wait()
        while group_members(proc.pid):
            await asyncio.sleep(0.02)
        shutil.rmtree(profile, ignore_errors=True)


async def bridge_once(client: BridgeClient, url: str, events: list) -> float:
    events.clear()
    t0 = time.perf_counter()
    await client.request("session.start", {"room_url": url, "display_name": "C-001"})
    while not any(e == "session.state" and d["state"] == "in_call" for e, d in events):
        if any(e == "session.state" and d["state"] == "failed" for e, d in events):
            raise RuntimeError(f"session failed: {events}")
        await asyncio.sleep(0.005)
    elapsed = time.perf_counter() - t0
    await client.request("session.end")
    return elapsed


async def main(runs: int) -> None:
    root = Path(tempfile.mkdtemp(prefix="pvp-bench-session-"))
    config = f"""
[session]
chromium = "{CHROMIUM}"
headless = true
fake_media = true
profile_dir = "{root / "profiles"}"
[session.partners.caf]
prefix = "C"
domains = ["127.0.0.1"]
display_name = "query:name"
"""
    bridge = BridgeProcess(root / "bridge", {"CUPS_SERVER": "127.0.0.1:9"}, config=config)
    bridge.start()
    bare: list[float] = []
    ours: list[float] = []
    try:
        async with BridgeClient(bridge.url, bridge.token) as client:
            events: list = []
            client.subscribe(lambda e, d: events.append((e, d)))
            for i in range(runs + 1):  # the first round warms caches (fonts, page cache)
                async with FarEnd() as far:
                    b = await bare_once(far.room_url("C-001"), root)
                async with FarEnd() as far:
                    o = await bridge_once(client, far.room_url("C-001"), events)
                if i:
                    bare.append(b)
                    ours.append(o)
                print(f"run {i}: bare {b:.3f} s, bridge {o:.3f} s{' (warm-up)' if not i else ''}")
    finally:
        bridge.stop()
        shutil.rmtree(root, ignore_errors=True)
    mb, mo = statistics.median(bare), statistics.median(ours)
    print(f"bare DevTools script: median {mb:.3f} s ({runs} runs)")
    print(f"pvp-bridge session.start -> in_call: median {mo:.3f} s")
    print(f"ratio {mo / mb:.2f} (goal <= 1.3)")


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=7)
    asyncio.run(main(parser.parse_args().runs))
