"""Clients that send requests but never read their replies must not starve the bridge.

A real pvp-bridge (no scanner, no cupsd) holds one 3 MB PDF. A well-behaved client says
`hello` every 50 ms and times each reply while the bridge's memory (VmRSS) and CPU are
sampled, side by side in three runs of the same bridge:

- baseline: nobody else;
- slow readers: 16 raw websocket connections, from another process, that send
  `documents.get` chunk requests as fast as the bridge takes them and never read a byte;
- coming back: the same 16, each reconnecting a second after the bridge drops it and
  starting again (a stress figure: a token holder churning connections).

    uv run python benchmarks/bench_bridge_slow_readers.py [--seconds 20] [--readers 16]

Goal: with 16 slow readers, bridge RSS < 200 MB and the good client's hello p99 < 100 ms.
Baseline: the same figures with no slow reader. Before the fix, 16 slow readers took the
bridge from 48 MB to 1.5 GB in 10 s on the development machine (2 shared CPUs).
"""

from __future__ import annotations

import argparse
import asyncio
import atexit
import base64
import io
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from kiosk_bridge.client import BridgeClient  # noqa: E402
from tests.support.bridge_daemons import BridgeProcess  # noqa: E402

GOAL_RSS_MB = 200.0
GOAL_P99_MS = 100.0


def noisy_pdf() -> bytes:
    """A PDF of about 3 MB (random pixels do not compress)."""
    import img2pdf
    from PIL import Image

    buf = io.BytesIO()
    Image.frombytes("RGB", (1000, 1000), os.urandom(3_000_000)).save(buf, "PNG")
    return bytes(img2pdf.convert(buf.getvalue()))


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def cpu_s(pid: int) -> float:
    """User + system CPU seconds the process has used."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def frame(text: str) -> bytes:
    """One client text frame (RFC 6455), masked with a zero key to spare this process's CPU."""
    payload = text.encode()
    n = len(payload)
    head = bytes([0x81])
    if n < 126:
        head += bytes([0x80 | n])
    elif n < 65536:
        head += bytes([0x80 | 126]) + n.to_bytes(2, "big")
    else:
        head += bytes([0x80 | 127]) + n.to_bytes(8, "big")
    return head + bytes(4) + payload


async def slow_reader(
    port: int, token: str, doc: str, chunks: int, chunk: int, retry: float | None
) -> None:
    """Send chunk requests forever, read nothing; once dropped, come back after ``retry``
    seconds (never when None)."""
    n = 0
    while True:
        try:
            sock = socket.socket()
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
            sock.setblocking(False)
            await asyncio.get_running_loop().sock_connect(sock, ("127.0.0.1", port))
            reader, writer = await asyncio.open_connection(sock=sock)
            key = base64.b64encode(os.urandom(16)).decode()
            writer.write(
                f"GET /v1 HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\n"
                f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
                f"Sec-WebSocket-Version: 13\r\nAuthorization: Bearer {token}\r\n\r\n".encode()
            )
            head = await reader.readuntil(b"\r\n\r\n")
            if b" 101 " not in head.split(b"\r\n", 1)[0]:
                writer.close()
                await asyncio.sleep(0.2)
                continue
            while True:  # never read again
                n += 1
                params = {"document": doc, "offset": (n % chunks) * chunk}
                writer.write(
                    frame(json.dumps({"id": n, "method": "documents.get", "params": params}))
                )
                await writer.drain()
        except (OSError, asyncio.IncompleteReadError):
            if retry is None:
                return
            await asyncio.sleep(retry)


async def readers_main(
    port: int, token: str, doc: str, chunks: int, chunk: int, n: int, retry: float | None
) -> None:
    await asyncio.gather(*(slow_reader(port, token, doc, chunks, chunk, retry) for _ in range(n)))
    await asyncio.sleep(3600)  # dropped for good: stay, as a client process would


async def measure(bridge: BridgeProcess, seconds: float) -> tuple[list[float], list[float], float]:
    """(hello latencies in ms, RSS samples in MB, bridge CPU %) over ``seconds``."""
    assert bridge.proc is not None
    pid = bridge.proc.pid
    latencies: list[float] = []
    rss: list[float] = []
    cpu0, start = cpu_s(pid), time.monotonic()
    async with BridgeClient(bridge.url, bridge.token, reconnect=False) as good:
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            t0 = time.perf_counter()
            await good.request("hello", timeout=60)
            latencies.append((time.perf_counter() - t0) * 1000)
            rss.append(rss_mb(pid))
            await asyncio.sleep(0.05)
    return latencies, rss, 100 * (cpu_s(pid) - cpu0) / (time.monotonic() - start)


def p99(values: list[float]) -> float:
    return statistics.quantiles(values, n=100)[98] if len(values) > 2 else max(values)


Figures = tuple[list[float], list[float], float]


async def with_readers(
    bridge: BridgeProcess, seconds: float, readers: int, plan: dict[str, Any], retry: float
) -> Figures:
    """Measure while ``readers`` slow readers run (``retry`` < 0: they never come back)."""
    child = subprocess.Popen(
        [sys.executable, __file__, "--as-readers", str(readers), "--port", str(bridge.port),
         "--doc", plan["document"]["id"], "--chunks", str(plan["chunks"]),
         "--chunk", str(plan["chunk_size"]), "--retry", str(retry)],
        env={**os.environ, "PVP_BENCH_TOKEN": bridge.token},
    )  # fmt: skip
    try:
        await asyncio.sleep(2)  # let them fill their connections
        return await measure(bridge, seconds)
    finally:
        child.kill()
        child.wait(5)


async def run(seconds: float, readers: int) -> None:
    root = Path(tempfile.mkdtemp(prefix="pvp-bench-slow-"))
    atexit.register(shutil.rmtree, root, True)  # the scratch folder goes at the end
    (root / "sane").mkdir()
    (root / "sane" / "dll.conf").write_text("")
    env = {"SANE_CONFIG_DIR": str(root / "sane"), "CUPS_SERVER": str(root / "no-cups.sock")}
    bridge = BridgeProcess(root / "bridge", env)
    bridge.start()
    try:
        async with BridgeClient(bridge.url, bridge.token, reconnect=False) as c:
            doc = await c.put_document(noisy_pdf())
            plan = await c.request("documents.get", {"document": doc["id"]})
        runs = [
            await measure(bridge, seconds),
            await with_readers(bridge, seconds, readers, plan, -1),
            await with_readers(bridge, seconds, readers, plan, 1.0),
        ]
    finally:
        bridge.stop()
    print(f"pvp-bridge with {readers} clients that never read ({seconds:.0f} s each)")
    print(
        f"machine load (1 min average) at the end: {os.getloadavg()[0]:.1f}, {os.cpu_count()} CPUs"
    )
    print(f"{'':28}{'baseline':>10}{'slow readers':>14}{'ratio':>7}{'coming back':>13}{'ratio':>7}")
    rows = [
        ("bridge RSS median (MB)", lambda f: statistics.median(f[1])),
        ("bridge RSS max (MB)", lambda f: max(f[1])),
        ("bridge CPU (% of a core)", lambda f: f[2]),
        ("hello median (ms)", lambda f: statistics.median(f[0])),
        ("hello p99 (ms)", lambda f: p99(f[0])),
        ("hello max (ms)", lambda f: max(f[0])),
        ("hellos answered", lambda f: float(len(f[0]))),
    ]
    for name, get in rows:
        base, slow, back = (get(f) for f in runs)
        print(
            f"  {name:26}{base:10.1f}{slow:14.1f}{slow / base:7.2f}{back:13.1f}{back / base:7.2f}"
        )
    slow_lat, slow_rss, _cpu = runs[1]
    ok = max(slow_rss) < GOAL_RSS_MB and p99(slow_lat) < GOAL_P99_MS
    print(f"goal (slow readers): RSS < {GOAL_RSS_MB:.0f} MB and hello p99 < {GOAL_P99_MS:.0f} ms: "
          f"{'met' if ok else 'NOT met'}")  # fmt: skip


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=20.0)
    ap.add_argument("--readers", type=int, default=16)
    ap.add_argument("--as-readers", type=int, help=argparse.SUPPRESS)
    ap.add_argument("--port", type=int, help=argparse.SUPPRESS)
    ap.add_argument("--doc", help=argparse.SUPPRESS)
    ap.add_argument("--chunks", type=int, help=argparse.SUPPRESS)
    ap.add_argument("--chunk", type=int, help=argparse.SUPPRESS)
    ap.add_argument("--retry", type=float, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.as_readers:
        token = os.environ["PVP_BENCH_TOKEN"]
        asyncio.run(
            readers_main(
                args.port,
                token,
                args.doc,
                args.chunks,
                args.chunk,
                args.as_readers,
                args.retry if args.retry >= 0 else None,
            )
        )
        return
    asyncio.run(run(args.seconds, args.readers))


if __name__ == "__main__":
    main()
