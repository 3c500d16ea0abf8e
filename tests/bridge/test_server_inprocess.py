"""The real server code in-process, with extra methods registered the way an extension
does it: concurrency limits, internal errors, broadcast, a full spool."""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus

from kiosk_bridge.app import Bridge
from kiosk_bridge.cli import write_token
from kiosk_bridge.client import BridgeClient, BridgeError
from kiosk_bridge.config import Config
from kiosk_bridge.protocol import CallContext, Int
from kiosk_bridge.server import BridgeServer, TokenSource
from tests.support.bridge_client import Events, small_pdf

Factory = Callable[..., Any]


async def next_reply(ws: Any) -> dict[str, Any]:
    """The next reply on a raw connection (events, e.g. health, are skipped)."""
    while True:
        msg = json.loads(await ws.recv())
        if "event" not in msg:
            return dict(msg)


@pytest.fixture
async def serve(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Factory]:
    running: list[tuple[BridgeServer, asyncio.Task[None]]] = []
    sane_dir = tmp_path / "sane"  # no scanner backend at all: these tests do not scan
    sane_dir.mkdir()
    (sane_dir / "dll.conf").write_text("")
    monkeypatch.setenv("SANE_CONFIG_DIR", str(sane_dir))

    async def start(**overrides: Any) -> tuple[Bridge, str, str]:
        token_file = tmp_path / f"token{len(running)}"
        write_token(token_file)
        config = Config(
            port=0,
            token_file=token_file,
            spool_dir=tmp_path / f"spool{len(running)}",
            health_interval=3600,
        ).with_overrides(**overrides)
        bridge = Bridge(config)

        @bridge.registry.method("test.sleep", {"seconds": Int(min=0, max=10)})
        async def sleep(call: CallContext, p: dict[str, Any]) -> Any:
            await asyncio.sleep(p["seconds"] / 10)
            return {"slept": p["seconds"], "by": call.request_id}

        @bridge.registry.method("test.blob", {"kb": Int(min=1, max=512)})
        async def blob(call: CallContext, p: dict[str, Any]) -> Any:
            return {"blob": "x" * (p["kb"] * 1024)}

        @bridge.registry.method("test.boom")
        async def boom(call: CallContext, p: dict[str, Any]) -> Any:
            raise RuntimeError("a bug")

        @bridge.registry.method("test.shout", {"n": Int(min=0)})
        async def shout(call: CallContext, p: dict[str, Any]) -> Any:
            call.bridge.broadcast("test.event", {"n": p["n"]})
            return {}

        server = BridgeServer(bridge, TokenSource(token_file))
        ready = asyncio.Event()
        task = asyncio.create_task(server.run(ready, handle_signals=False))
        await asyncio.wait_for(ready.wait(), 10)
        running.append((server, task))
        return bridge, f"ws://127.0.0.1:{server.port}/v1", token_file.read_text().strip()

    yield start
    for server, task in running:
        server.stop()
        await asyncio.wait_for(task, 10)


async def test_many_in_flight_then_too_many(serve: Factory) -> None:
    _bridge, url, token = await serve(max_in_flight=4)
    async with connect(url, additional_headers={"Authorization": f"Bearer {token}"}) as ws:
        for i in range(6):
            await ws.send(json.dumps({"id": i, "method": "test.sleep", "params": {"seconds": 3}}))
        replies = {r["id"]: r for r in [await next_reply(ws) for _ in range(6)]}
        limited = [i for i, r in replies.items() if "error" in r]
        assert sorted(limited) == [4, 5]
        assert replies[4]["error"]["code"] == "too_many_requests"
        assert replies[4]["error"]["retryable"] is True
        assert [replies[i]["result"]["by"] for i in range(4)] == [0, 1, 2, 3]
        await ws.send(json.dumps({"id": 0, "method": "test.sleep", "params": {"seconds": 0}}))
        assert (await next_reply(ws))["result"]["slept"] == 0  # ids free again


async def test_replies_come_as_work_finishes_not_in_order(serve: Factory) -> None:
    _bridge, url, token = await serve()
    async with BridgeClient(url, token, reconnect=False) as c:
        order: list[int] = []

        async def call(n: int) -> None:
            await c.request("test.sleep", {"seconds": n})
            order.append(n)

        await asyncio.gather(call(5), call(1), call(3))
        assert order == [1, 3, 5]


async def test_duplicate_id_in_flight_is_refused(serve: Factory) -> None:
    _bridge, url, token = await serve()
    async with connect(url, additional_headers={"Authorization": f"Bearer {token}"}) as ws:
        frame = json.dumps({"id": "x", "method": "test.sleep", "params": {"seconds": 2}})
        await ws.send(frame)
        await ws.send(frame)
        first = await next_reply(ws)
        assert first["error"]["code"] == "bad_frame"
        assert (await next_reply(ws))["result"]["slept"] == 2


async def test_a_bug_is_internal_error_and_work_goes_on(serve: Factory) -> None:
    _bridge, url, token = await serve()
    async with BridgeClient(url, token, reconnect=False) as c:
        slow = asyncio.create_task(c.request("test.sleep", {"seconds": 2}))
        with pytest.raises(BridgeError) as err:
            await c.request("test.boom")
        assert err.value.code == "internal_error"
        assert (await slow)["slept"] == 2
        assert (await c.request("hello"))["server"] == "pvp-bridge"


async def test_events_reach_every_authenticated_client(serve: Factory) -> None:
    _bridge, url, token = await serve()
    async with (
        BridgeClient(url, token, reconnect=False) as a,
        BridgeClient(url, token, reconnect=False) as b,
    ):
        ea, eb = Events(), Events()
        a.subscribe(ea)
        b.subscribe(eb)
        await a.request("test.shout", {"n": 7})
        assert (await eb.wait("test.event"))["n"] == 7
        assert (await ea.wait("test.event"))["n"] == 7
        assert "test.sleep" in a.hello["methods"]


async def test_full_disk_refuses_uploads_and_scans(serve: Factory) -> None:
    _bridge, url, token = await serve(min_free_mb=10**9)
    async with BridgeClient(url, token, reconnect=False) as c:
        with pytest.raises(BridgeError) as err:
            await c.put_document(small_pdf())
        assert err.value.code == "spool_full" and err.value.retryable
        assert err.value.message["fr"].startswith("Plus assez de place")


async def test_token_rotation_is_picked_up_live(serve: Factory, tmp_path: Path) -> None:
    bridge, url, old = await serve()
    assert bridge.config.token_file is not None
    write_token(bridge.config.token_file)
    new = bridge.config.token_file.read_text().strip()
    with pytest.raises(BridgeError) as err:
        await BridgeClient(url, old, reconnect=False).connect()
    assert err.value.code == "unauthorized"
    async with BridgeClient(url, new, reconnect=False) as c:
        assert c.connected


async def test_client_reconnects_with_backoff_after_a_restart(serve: Factory) -> None:
    bridge, url, token = await serve()
    c = BridgeClient(url, token, max_backoff=0.5)
    ev = Events()
    c.subscribe(ev)
    await c.connect()
    try:
        pending = asyncio.create_task(c.request("test.sleep", {"seconds": 10}))
        await asyncio.sleep(0.1)
        for ws in list(bridge.clients):
            await ws.close(1012)  # service restart
        with pytest.raises(BridgeError) as err:
            await pending
        assert err.value.code == "connection_lost" and err.value.retryable
        await ev.wait("client.disconnected")
        await ev.wait_for("client.connected", lambda d: d["connects"] == 2, timeout=10)
        assert (await c.request("test.sleep", {"seconds": 0}))["slept"] == 0
    finally:
        await c.close()


async def until(check: Callable[[], bool], what: str) -> None:
    """Wait for ``check`` (a generous bound: a hang fails the test instead of blocking it)."""
    for _ in range(1000):
        if check():
            return
        await asyncio.sleep(0.02)
    raise AssertionError(f"never happened: {what}")


async def test_a_client_that_never_reads_is_closed_and_others_are_served(
    serve: Factory, caplog: pytest.LogCaptureFixture
) -> None:
    bridge, url, token = await serve(max_unread=256 * 1024)
    async with BridgeClient(url, token, reconnect=False) as good:
        assert good.hello["limits"]["max_unread"] == 256 * 1024
        # A raw client with a tiny receive buffer that asks for 16 MB and reads nothing.
        reader, writer = await asyncio.open_connection(sock=small_socket(url))
        writer.write(
            b"GET /v1 HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
            + f"Authorization: Bearer {token}\r\n\r\n".encode()
        )
        assert b" 101 " in await reader.readuntil(b"\r\n\r\n")
        await until(lambda: len(bridge.clients) == 2, "the raw client is connected")
        for i in range(32):
            payload = json.dumps({"id": i, "method": "test.blob", "params": {"kb": 512}})
            writer.write(masked(payload))
        await writer.drain()
        await until(lambda: any(bridge.dropping(ws) for ws in bridge.clients), "a drop")
        assert "unread: closing it (1008)" in caplog.text
        assert (await good.request("hello"))["server"] == "pvp-bridge"
        # Reading again in time, the client finds why at the end: close code 1008, a reason.
        received = b""
        with contextlib.suppress(ConnectionError):
            while chunk := await reader.read(1 << 20):
                received += chunk
        assert received.endswith((1008).to_bytes(2, "big") + b"too many messages left unread")
        writer.close()
        await until(lambda: len(bridge.clients) == 1, "the non-reading client is gone")
        assert (await good.request("hello"))["server"] == "pvp-bridge"


def small_socket(url: str) -> socket.socket:
    """A socket connected to the bridge with a tiny receive buffer: unread bytes stay there."""
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.connect(("127.0.0.1", int(url.rsplit(":", 1)[1].removesuffix("/v1"))))
    sock.setblocking(False)
    return sock


def masked(text: str) -> bytes:
    """A client text frame with a zero mask key (RFC 6455 only asks for one)."""
    data = text.encode()
    assert len(data) < 126
    return bytes([0x81, 0x80 | len(data)]) + bytes(4) + data


async def test_connections_beyond_max_clients_get_503(serve: Factory) -> None:
    _bridge, url, token = await serve(max_clients=2)
    auth = {"Authorization": f"Bearer {token}"}
    async with connect(url, additional_headers=auth), connect(url, additional_headers=auth) as b:
        with pytest.raises(InvalidStatus) as refused:
            async with connect(url, additional_headers=auth):
                pass
        assert refused.value.response.status_code == 503
        assert refused.value.response.headers["Retry-After"] == "5"
        with pytest.raises(BridgeError) as err:
            await BridgeClient(url, token, reconnect=False).connect()
        assert err.value.code == "handshake_refused" and err.value.retryable
        assert "HTTP 503" in err.value.message["en"]
        await b.close()
        async with connect(url, additional_headers=auth) as c:  # a place is free again
            await c.send('{"id": 1, "method": "hello"}')
            assert (await next_reply(c))["result"]["server"] == "pvp-bridge"
