"""The client checks what the bridge sends against the protocol's shapes
(kiosk_bridge.shapes): a malformed result is a clear ``bad_reply`` error for the caller,
a malformed event is logged and dropped, never a KeyError later in a screen."""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
from collections.abc import AsyncIterator
from typing import Any

import pytest
from websockets.asyncio.server import ServerConnection, serve

from kiosk_bridge import client as client_module
from kiosk_bridge import errors
from kiosk_bridge.client import BridgeClient, BridgeError
from kiosk_bridge.shapes import MalformedFrame, parse_event, parse_result

HELLO = {"server": "fake", "protocol": 1, "methods": [], "events": [], "limits": {}}
GOOD_PAGE = {
    "scan": "scan_1",
    "device": "test:0",
    "sheet": 1,
    "page": 1,
    "width": 10,
    "height": 20,
    "thumbnail": "iVBO",
}
# What the fake bridge answers, by method: its result, or a raw "error" member.
REPLIES: dict[str, dict[str, Any]] = {
    "hello": {"result": HELLO},
    "scanner.list": {"result": {"scanners": [{"device": "test:0"}, {"model": "no device"}]}},
    "printer.list": {"result": {"printers": "accueil"}},
    "session.status": {"result": {"state": "idle", "session": None, "last": None}},
    "odd.error": {"error": ["not", "an", "object"]},
    "scanner.scan": {"result": {"scan": "scan_1", "document": None, "pages_added": 0}},
}


@pytest.fixture
async def fake_bridge() -> AsyncIterator[str]:
    async def handler(ws: ServerConnection) -> None:
        async for frame in ws:
            request = json.loads(frame)
            reply = REPLIES[request["method"]]
            if request["method"] == "session.status":  # events first, then the reply
                await ws.send(json.dumps({"event": "scan.page", "data": {"scan": "scan_1"}}))
                await ws.send(json.dumps({"event": "scan.page", "data": GOOD_PAGE}))
                await ws.send(json.dumps({"event": "x.custom", "data": [1]}))
            await ws.send(json.dumps({"id": request["id"], **reply}))

    async with serve(handler, "127.0.0.1", 0) as server:
        port = server.sockets[0].getsockname()[1]
        yield f"ws://127.0.0.1:{port}/v1"


DOCUMENT = b"%PDF-1.4 " + bytes(range(256)) * 40 + b" %%EOF"
CHUNK = 4096


async def chunk_bridge(garble: Any) -> Any:
    """A fake bridge listing binary_chunks whose chunk frames pass through ``garble``
    (the frame, its offset) -> the frames actually sent."""

    async def handler(ws: ServerConnection) -> None:
        async for frame in ws:
            request = json.loads(frame)
            rid, p = request["id"], request.get("params", {})
            if request["method"] == "hello":
                await ws.send(
                    json.dumps({"id": rid, "result": HELLO | {"features": ["binary_chunks"]}})
                )
                continue
            if "offset" not in p:
                plan = {"size": len(DOCUMENT), "chunk_size": CHUNK,
                        "sha256": hashlib.sha256(DOCUMENT).hexdigest()}  # fmt: skip
                await ws.send(json.dumps({"id": rid, "result": plan}))
                continue
            assert p["binary"] is True  # asked for, since hello listed it
            data = DOCUMENT[p["offset"] : p["offset"] + CHUNK]
            head = {"offset": p["offset"], "length": len(data),
                    "sha256": hashlib.sha256(DOCUMENT).hexdigest()}  # fmt: skip
            frame = json.dumps({"id": rid, "result": head}).encode() + b"\n" + data
            for out in garble(frame, p["offset"]):
                await ws.send(out)

    return serve(handler, "127.0.0.1", 0)


async def test_binary_chunks_assembled_and_garbled_ones_dropped_or_caught(
    caplog: pytest.LogCaptureFixture,
) -> None:
    def fine(frame: bytes, offset: int) -> list[Any]:
        noise: list[Any] = [b"no line feed at all", b"{not json\nxx"]
        noise.append(b'{"event": "scan.page", "data": {}}\nxx')  # an event: never binary
        noise.append(json.dumps({"id": 999, "result": {"data": "x"}}).encode() + b"\n")
        # ids no request has: a list, an object, true (== 1 as a key); text and binary
        noise.append(json.dumps({"id": [1], "result": {}}))
        noise.append(json.dumps({"id": {"a": 1}, "error": {"code": "x"}}))
        noise.append(json.dumps({"id": True, "result": {}}))
        noise.append(json.dumps({"id": [2], "result": {}}).encode() + b"\nxx")
        return [*noise, frame] if offset == CHUNK else [frame]

    async with await chunk_bridge(fine) as server:
        url = f"ws://127.0.0.1:{server.sockets[0].getsockname()[1]}/v1"
        async with BridgeClient(url, "t", reconnect=False) as bridge:
            with caplog.at_level(logging.WARNING, logger="kiosk_bridge.client"):
                assert await bridge.get_document("doc_1") == DOCUMENT
    assert caplog.text.count("unreadable frame from the bridge") == 2
    assert "binary frame from the bridge that is no chunk reply" in caplog.text
    assert caplog.text.count("whose id is no string or number; dropped") == 4
    assert "[1]" not in caplog.text and "'a'" not in caplog.text  # never the frame's contents

    def flipped(frame: bytes, offset: int) -> list[bytes]:  # one byte changed on the way
        return [frame[:-7] + bytes([frame[-7] ^ 1]) + frame[-6:]] if offset == 0 else [frame]

    async with await chunk_bridge(flipped) as server:
        url = f"ws://127.0.0.1:{server.sockets[0].getsockname()[1]}/v1"
        async with BridgeClient(url, "t", reconnect=False) as bridge:
            with pytest.raises(BridgeError) as err:
                await bridge.get_document("doc_1")
    assert err.value.code == "checksum_mismatch" and err.value.retryable


async def test_a_malformed_result_is_a_bad_reply_naming_what_is_wrong(fake_bridge: str) -> None:
    async with BridgeClient(fake_bridge, "t", reconnect=False) as bridge:
        with pytest.raises(BridgeError) as err:
            await bridge.request("scanner.list")
        assert err.value.code == "bad_reply" and not err.value.retryable
        assert "scanner.list" in err.value.message["en"]
        assert "'device' is missing" in err.value.message["en"]
        assert "'device' is missing" in err.value.message["fr"]
        with pytest.raises(BridgeError) as err:
            await bridge.request("printer.list")
        assert "'printers' must be a list" in err.value.message["en"]
        with pytest.raises(BridgeError) as err:
            await bridge.request("scanner.scan")
        assert "'cancelled' is missing" in err.value.message["en"]
        with pytest.raises(BridgeError) as err:  # an error reply without a code
            await bridge.request("odd.error")
        assert err.value.code == "bad_reply"


async def test_a_malformed_event_is_logged_and_dropped(
    fake_bridge: str, caplog: pytest.LogCaptureFixture
) -> None:
    seen: list[tuple[str, Any]] = []
    async with BridgeClient(fake_bridge, "t", reconnect=False) as bridge:
        bridge.subscribe(lambda event, data: seen.append((event, data)))
        with caplog.at_level(logging.ERROR, logger="kiosk_bridge.client"):
            status = await bridge.request("session.status")
            await asyncio.sleep(0.05)
    assert status == {"state": "idle", "session": None, "last": None}
    pages = [data for event, data in seen if event == "scan.page"]
    assert pages == [GOOD_PAGE]  # the one without sheet, thumbnail... never reached anyone
    assert ("x.custom", [1]) in seen  # an extension's event: not the client's to judge
    assert "malformed scan.page event: 'device' is missing" in caplog.text


async def test_a_reader_that_fails_closes_the_connection_and_fails_what_waits(
    fake_bridge: str, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """Any unexpected error while reading a frame (here a bug in the event check) ends the
    connection cleanly: the request waiting is told the link is lost, never left hanging."""

    def broken(event: str, data: Any) -> Any:
        raise RuntimeError("bug")

    monkeypatch.setattr(client_module, "parse_event", broken)
    async with BridgeClient(fake_bridge, "t", reconnect=False) as bridge:
        with (
            caplog.at_level(logging.ERROR, logger="kiosk_bridge.client"),
            pytest.raises(BridgeError) as err,
        ):
            await bridge.request("session.status", timeout=60)
        assert err.value.code == "connection_lost"
        assert not bridge.connected
    assert "reading its frames failed (RuntimeError); closing the connection" in caplog.text


async def test_after_a_reconnect_nothing_runs_on_the_last_bridge_s_hello() -> None:
    """The bridge is replaced by another version while the client is connected: the new
    one's first hello fails, its next one answers late. The client is connected again
    only with the new bridge's hello: a request waiting meanwhile, and whatever listens to
    `client.connected`, see the new features, never the old ones."""
    old = HELLO | {"features": ["binary_chunks", "visio_guest"]}
    connections: list[ServerConnection] = []

    async def handler(ws: ServerConnection) -> None:
        n = len(connections)
        connections.append(ws)
        async for frame in ws:
            request = json.loads(frame)
            reply: dict[str, Any] = REPLIES.get(request["method"], {"result": {}})
            if request["method"] == "hello":
                if n == 1:
                    reply = {"error": {"code": "internal", "message": "starting"}}
                elif n >= 2:
                    await asyncio.sleep(0.5)  # the new bridge answers its hello late
                    reply = {"result": HELLO | {"features": []}}
                else:
                    reply = {"result": old}
            await ws.send(json.dumps({"id": request["id"], **reply}))

    seen: list[frozenset[str]] = []
    async with serve(handler, "127.0.0.1", 0) as server:
        port = server.sockets[0].getsockname()[1]
        async with BridgeClient(f"ws://127.0.0.1:{port}/v1", "t", max_backoff=0.2) as bridge:
            bridge.subscribe(
                lambda event, data: (
                    seen.append(bridge.features) if event == "client.connected" else None
                )
            )
            assert bridge.features == {"binary_chunks", "visio_guest"}
            await connections[0].close()  # the old bridge goes
            for _ in range(100):
                if not bridge.connected:
                    break
                await asyncio.sleep(0.01)
            status = await bridge.request("session.status")  # waits for the new bridge
            assert status["state"] == "idle"
            assert bridge.features == frozenset()
            assert len(connections) == 3  # the failed hello ended its connection
    assert seen == [frozenset()]


def test_shapes_say_which_key_and_what_was_expected() -> None:
    with pytest.raises(MalformedFrame, match=r"'sheet' must be an integer, not '1'"):
        parse_event("scan.progress", {"scan": "s", "device": "d", "page": 1, "sheet": "1",
                                      "fraction": None})  # fmt: skip
    with pytest.raises(MalformedFrame, match=r"'error': 'code' must be a string"):
        parse_event("scan.failed", {"scan": "s", "device": "d", "error": {"code": 3}})
    with pytest.raises(MalformedFrame, match="an object was expected"):
        parse_event("print.job", None)
    with pytest.raises(MalformedFrame, match=r"'session' is missing"):
        parse_result("session.start", {"state": "connecting"})
    job = {"job": 42, "state": "completed", "final": True, "reason": None, "extra": 1}
    assert parse_event("print.job", job) is job  # the wire's object itself, extra keys kept
    assert parse_event("session.stats", {"session": "s", "state": "in_call", "width": 640})


def test_one_bridge_error_class_for_the_bridge_and_the_client() -> None:
    assert client_module.BridgeError is errors.BridgeError
    wire = errors.BridgeError("scanner_jammed").to_dict()
    read = BridgeError.from_reply(wire)
    assert (read.code, read.message, read.retryable) == ("scanner_jammed", wire["message"], True)
    lost = BridgeError.local("connection_lost", "gone", retryable=True)
    assert lost.message == {"fr": "gone", "en": "gone"} and lost.details == {}
