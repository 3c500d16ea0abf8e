"""A kiosk's bridge open for weeks: clients that come and go, scans printed and deleted
leave no file descriptor, thread, asyncio task or spool file behind (issue: "fds,
threads and asyncio tasks stay flat"; docs/memory.md). A real pvp-bridge process (its
/proc), and the same server code in-process for its asyncio tasks, both on SANE's test
backend and a CUPS queue to /dev/null."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest

from kiosk_bridge.app import Bridge
from kiosk_bridge.cli import write_token
from kiosk_bridge.client import BridgeClient
from kiosk_bridge.config import Config
from kiosk_bridge.server import BridgeServer, TokenSource
from tests.bridge.conftest import Lab
from tests.support.bridge_client import Events
from tests.support.bridge_daemons import BridgeProcess

SMALL_SCAN = {"device": "test:0", "source": "adf", "resolution": 75}  # a few sheets, fast
WARM_UP, ROUNDS = 3, 12
BARE_CONNECTS = 4  # clients that connect and leave without asking anything, each round
# A thread pool that has not reached its size yet, a keep-alive socket: not a leak.
SLACK = 2


def fds(pid: int | str = "self") -> int:
    return len(list(Path(f"/proc/{pid}/fd").iterdir()))


def threads(pid: int | str = "self") -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("Threads:"):
            return int(line.split()[1])
    raise LookupError(pid)


def spool_files(spool: Path) -> list[Path]:
    return [p for p in spool.rglob("*") if p.is_file() and p.parent.name != "state"]


async def one_round(url: str, token: str) -> None:
    """A staff app connects, scans a load, prints it, deletes it, leaves; then a few
    clients connect and leave at once (an app restarting, a link flapping)."""
    events = Events()
    async with BridgeClient(url, token, reconnect=False) as client:
        client.subscribe(events)
        scan = await client.request("scanner.scan", SMALL_SCAN, timeout=120)
        doc = scan["document"]["id"]
        job = await client.request("printer.print", {"document": doc, "printer": "pvp-null"})
        await events.wait("print.job", timeout=60, job=job["job"]["job"], final=True)
        await client.request("documents.delete", {"document": doc})
    for _ in range(BARE_CONNECTS):
        async with BridgeClient(url, token, reconnect=False) as client:
            await client.request("hello")


async def rounds(url: str, token: str, count: int) -> None:
    for _ in range(count):
        await one_round(url, token)
    await asyncio.sleep(0.5)  # the server notices the last disconnect


async def test_the_bridge_process_keeps_its_fds_and_threads(
    new_bridge: Callable[..., BridgeProcess],
) -> None:
    bridge = new_bridge()
    assert bridge.proc is not None
    pid = bridge.proc.pid
    await rounds(bridge.url, bridge.token, WARM_UP)
    before = fds(pid), threads(pid)
    await rounds(bridge.url, bridge.token, ROUNDS)
    after = fds(pid), threads(pid)
    assert after[0] <= before[0] + SLACK, f"fds {before[0]} -> {after[0]}"
    assert after[1] <= before[1] + SLACK, f"threads {before[1]} -> {after[1]}"
    assert spool_files(bridge.spool) == []


@pytest.fixture
async def in_process(
    lab: Lab, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[Callable[[], Awaitable[tuple[str, str]]]]:
    for key, value in lab.env.items():
        monkeypatch.setenv(key, value)
    stops: list[Callable[[], Awaitable[None]]] = []

    async def start() -> tuple[str, str]:
        token_file = tmp_path / "token"
        write_token(token_file)
        config = Config(port=0, token_file=token_file, spool_dir=tmp_path / "spool")
        server = BridgeServer(Bridge(config), TokenSource(token_file))
        ready = asyncio.Event()
        task = asyncio.create_task(server.run(ready, handle_signals=False))
        await asyncio.wait_for(ready.wait(), 10)

        async def stop() -> None:
            server.stop()
            await asyncio.wait_for(task, 10)

        stops.append(stop)
        return f"ws://127.0.0.1:{server.port}/v1", token_file.read_text().strip()

    yield start
    for stop in stops:
        await stop()


async def test_the_bridge_keeps_its_asyncio_tasks_fds_and_threads(
    in_process: Callable[[], Awaitable[tuple[str, str]]], tmp_path: Path
) -> None:
    url, token = await in_process()
    await rounds(url, token, WARM_UP)
    before = len(asyncio.all_tasks()), fds(), threading.active_count()
    await rounds(url, token, ROUNDS)
    after = len(asyncio.all_tasks()), fds(), threading.active_count()
    assert after[0] <= before[0] + SLACK, f"tasks {before[0]} -> {after[0]}"
    assert after[1] <= before[1] + SLACK, f"fds {before[1]} -> {after[1]}"
    assert after[2] <= before[2] + SLACK, f"threads {before[2]} -> {after[2]}"
    assert spool_files(tmp_path / "spool") == []
