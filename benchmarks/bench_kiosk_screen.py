"""The kiosk screen's two goals, through a real pvp-bridge with its screen (headless Chromium):

1. End of call -> the kiosk's page shown: from `session.end` sent, when the screen's page
   shows the after-call view (polled every 10 ms over a DevTools connection of our own) and
   when the call's browser processes are gone (its window with them). The visitor sees the
   page at the later of the two. Baseline: `session.end`'s reply (the call's browser
   killed, its profile deleted: what the end costs whatever the screen does). Goal < 1 s.
2. Screenshot over a slow link: `kiosk.screenshot` at the default width, sent through a
   relay that paces both directions at 1 Mbit/s (a token bucket per direction, like the
   staff PC's link to a rural kiosk), until the PNG is decoded. Baseline: the same request
   on loopback. Goal < 1.5 s.

Usage: uv run python benchmarks/bench_kiosk_screen.py [--runs N] [--rate-kbit 1000]
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import io
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from PIL import Image  # noqa: E402

from kiosk_bridge.client import BridgeClient  # noqa: E402
from kiosk_bridge.session.browser import group_members  # noqa: E402
from tests.bridge_session.peek import Peek, owner_group  # noqa: E402
from tests.support.bridge_daemons import BridgeProcess  # noqa: E402
from tests.support.farend import FarEnd  # noqa: E402

CHROMIUM = shutil.which("chromium") or "chromium"


def config(profiles: Path) -> str:
    return f"""
[session]
chromium = "{CHROMIUM}"
headless = true
fake_media = true
profile_dir = "{profiles}"
extra_flags = ["--window-size=1280,800"]

[session.partners.caf]
prefix = "C"
domains = ["127.0.0.1"]
display_name = "query:name"

[screen]
enabled = true
site_name = "Maison France Services de Leyme"
after_call_seconds = 600
"""


class PacedRelay:
    """TCP relay to `port` pacing each direction at `rate` bits per second."""

    def __init__(self, port: int, rate: float) -> None:
        self.target = port
        self.rate = rate
        self.server: asyncio.Server | None = None

    async def start(self) -> int:
        self.server = await asyncio.start_server(self._client, "127.0.0.1", 0)
        return int(self.server.sockets[0].getsockname()[1])

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        budget_at = time.monotonic()  # when the link is free again
        try:
            while data := await reader.read(1500):
                now = time.monotonic()
                budget_at = max(budget_at, now) + len(data) * 8 / self.rate
                await asyncio.sleep(budget_at - now)
                writer.write(data)
                await writer.drain()
        except (ConnectionError, asyncio.CancelledError):
            pass
        finally:
            writer.close()

    async def _client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.target)
        await asyncio.gather(self._pipe(reader, up_writer), self._pipe(up_reader, writer))

    async def close(self) -> None:
        if self.server is not None:
            self.server.close()


async def shot(client: BridgeClient) -> tuple[float, int]:
    t0 = time.perf_counter()
    reply = await client.request("kiosk.screenshot", timeout=30)
    data = base64.b64decode(reply["data"])
    Image.open(io.BytesIO(data)).load()
    return time.perf_counter() - t0, len(data)


async def main(runs: int, rate_kbit: float) -> None:
    root = Path(tempfile.mkdtemp(prefix="bench-kiosk-screen-"))
    bridge = BridgeProcess(
        root / "bridge",
        {"CUPS_SERVER": "127.0.0.1:9", "SANE_CONFIG_DIR": str(root)},
        config=config(root / "profiles"),
    )
    bridge.start()
    relay = PacedRelay(bridge.port, rate_kbit * 1000)
    relay_port = await relay.start()
    ends: list[float] = []
    shown: list[float] = []
    ready: list[float] = []
    local: list[float] = []
    slow: list[float] = []
    sizes: list[int] = []
    try:
        async with BridgeClient(bridge.url, bridge.token) as client, FarEnd() as far:
            peek = await Peek.open(root / "profiles")
            for i in range(runs + 1):
                ticket = f"C-{100 + i:03d}"
                await client.request(
                    "session.start", {"room_url": far.room_url(ticket), "display_name": ticket}
                )
                await peek.wait_view("call")
                # wait for the agent: the after-call view needs a call that happened
                while (await client.request("session.status"))["state"] != "in_call":
                    await asyncio.sleep(0.05)
                call = await Peek.open(root / "profiles", screen=False)
                group = owner_group(call.profile)
                await call.close()
                t0 = time.perf_counter()
                ending = asyncio.ensure_future(client.request("session.end", timeout=30))
                t_ready = t_gone = 0.0
                while not (t_ready and t_gone):
                    if not t_gone and not group_members(group):
                        t_gone = time.perf_counter() - t0
                    if not t_ready and await peek.view() == "thanks":
                        t_ready = time.perf_counter() - t0
                    await asyncio.sleep(0.01)
                await ending
                t_end = time.perf_counter() - t0
                t_seen = max(t_ready, t_gone)
                if i:
                    ends.append(t_end)
                    shown.append(t_seen)
                    ready.append(t_ready)
                print(
                    f"run {i}: page ready {t_ready:.3f} s, call browser's processes gone "
                    f"{t_gone:.3f} s, session.end reply {t_end:.3f} s"
                    f"{' (warm-up)' if not i else ''}"
                )
            await client.request("kiosk.idle")
            await peek.wait_view("idle")
            await peek.close()
            slow_url = bridge.url.replace(f":{bridge.port}/", f":{relay_port}/")
            async with BridgeClient(slow_url, bridge.token) as paced:
                for i in range(runs + 1):
                    t_local, size = await shot(client)
                    t_slow, _ = await shot(paced)
                    if i:
                        local.append(t_local)
                        slow.append(t_slow)
                        sizes.append(size)
                    print(
                        f"screenshot {i}: loopback {t_local:.3f} s, paced {t_slow:.3f} s, "
                        f"{size} bytes{' (warm-up)' if not i else ''}"
                    )
    finally:
        await relay.close()
        bridge.stop()
        shutil.rmtree(root, ignore_errors=True)
    me, ms = statistics.median(ends), statistics.median(shown)
    print(f"session.end reply (baseline): median {me:.3f} s ({runs} runs)")
    print(f"end -> thanks page ready underneath: median {statistics.median(ready):.3f} s")
    print(f"end -> thanks page seen: median {ms:.3f} s, ratio {ms / me:.2f} (goal < 1 s)")
    ml, mp = statistics.median(local), statistics.median(slow)
    print(
        f"kiosk.screenshot loopback (baseline): median {ml:.3f} s, "
        f"PNG median {statistics.median(sizes):.0f} bytes"
    )
    print(
        f"kiosk.screenshot at {rate_kbit:g} kbit/s: median {mp:.3f} s, ratio {mp / ml:.1f} "
        "(goal < 1.5 s)"
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--rate-kbit", type=float, default=1000)
    args = parser.parse_args()
    asyncio.run(main(args.runs, args.rate_kbit))
