"""The spool over the wire: chunked transfers of big documents, types, limits, deletion."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import io
import json
import os
from typing import Any

import pikepdf
import pytest
from websockets.asyncio.client import connect

from kiosk_bridge.client import BridgeClient, BridgeError
from tests.support.bridge_client import Events, small_pdf, small_png
from tests.support.bridge_daemons import BridgeProcess


def big_pdf(megabytes: int) -> bytes:
    """A valid PDF of about ``megabytes`` MB (an incompressible image)."""
    pdf = pikepdf.new()
    pdf.add_blank_page()
    side = int((megabytes * 1024 * 1024 / 3) ** 0.5)
    image = pikepdf.Stream(pdf, os.urandom(side * side * 3))
    image.Type, image.Subtype = pikepdf.Name.XObject, pikepdf.Name.Image
    image.Width = image.Height = side
    image.ColorSpace, image.BitsPerComponent = pikepdf.Name.DeviceRGB, 8
    pdf.pages[0].Resources = pikepdf.Dictionary(XObject=pikepdf.Dictionary(Im0=image))
    out = io.BytesIO()
    pdf.save(out, compress_streams=False)
    return out.getvalue()


async def test_30_mb_round_trip_in_chunks_under_the_frame_limit(
    bridge: BridgeProcess, client: BridgeClient
) -> None:
    data = big_pdf(30)
    assert len(data) > 30 * 1024 * 1024 * 0.99
    limits = client.hello["limits"]
    assert limits["chunk_size"] * 4 // 3 + 200 < min(limits["max_message"], client.max_size)
    doc = await client.put_document(data)  # client.max_size is 1 MiB: a bigger frame fails
    assert doc["size"] == len(data) and doc["sha256"] == hashlib.sha256(data).hexdigest()
    assert doc["type"] == "application/pdf" and doc["kind"] == "upload" and doc["pages"] == 1
    info = await client.request("documents.get", {"document": doc["id"]})
    assert info["chunks"] == -(-len(data) // limits["chunk_size"])
    assert await client.get_document(doc["id"]) == data
    # Hashed as the chunks come in (four in flight, in any order): the whole's sha256.
    fetched = await client.fetch_document(doc["id"])
    assert fetched == (data, hashlib.sha256(data).hexdigest())
    ids = [d["id"] for d in (await client.request("documents.list"))["documents"]]
    assert doc["id"] in ids
    await client.request("documents.delete", {"document": doc["id"]})
    assert not (bridge.spool / "docs" / doc["id"]).exists()
    assert list((bridge.spool / "uploads").iterdir()) == []


async def reply_frame(ws: Any) -> str | bytes:
    """The next frame that is not an event (health events come when they please)."""
    while True:
        frame: str | bytes = await ws.recv()
        if isinstance(frame, bytes) or "event" not in json.loads(frame):
            return frame


async def test_binary_chunks_as_any_websocket_client_reads_them(bridge: BridgeProcess) -> None:
    """The binary_chunks feature with a bare websocket client: hello lists it; a chunk
    asked with "binary" comes as one binary frame (the reply's JSON, a line feed, the raw
    bytes); without it, base64 in text as before; no permessage-deflate is agreed."""
    data = big_pdf(1)
    headers = {"Authorization": f"Bearer {bridge.token}"}
    async with BridgeClient(bridge.url, bridge.token, reconnect=False) as client:
        doc = await client.put_document(data)
    async with connect(bridge.url, additional_headers=headers) as ws:  # offers deflate
        assert ws.response is not None
        assert "Sec-WebSocket-Extensions" not in ws.response.headers
        await ws.send('{"id": 1, "method": "hello"}')
        assert "binary_chunks" in json.loads(await reply_frame(ws))["result"]["features"]
        params = {"document": doc["id"], "offset": 1000, "length": 300000, "binary": True}
        await ws.send(json.dumps({"id": "b", "method": "documents.get", "params": params}))
        frame = await reply_frame(ws)
        assert isinstance(frame, bytes)
        head, newline, payload = frame.partition(b"\n")
        reply = json.loads(head)
        assert newline and reply["id"] == "b" and "data" not in reply["result"]
        chunk = data[1000 : 1000 + client.hello["limits"]["chunk_size"]]
        assert reply["result"]["length"] == len(payload) and payload == chunk
        assert reply["result"]["sha256"] == hashlib.sha256(data).hexdigest()
        params["offset"] = len(data) - 3  # the last bytes: eof
        await ws.send(json.dumps({"id": "e", "method": "documents.get", "params": params}))
        last = await reply_frame(ws)
        assert isinstance(last, bytes) and last.endswith(b"\n" + data[-3:])
        assert json.loads(last.partition(b"\n")[0])["result"]["eof"] is True
        del params["binary"]
        await ws.send(json.dumps({"id": "t", "method": "documents.get", "params": params}))
        text = await reply_frame(ws)
        assert isinstance(text, str) and base64.b64decode(json.loads(text)["result"]["data"])
        params["binary"] = "yes"
        await ws.send(json.dumps({"id": "x", "method": "documents.get", "params": params}))
        assert json.loads(await reply_frame(ws))["error"]["code"] == "bad_params"


async def test_chunk_reads_at_the_end_and_beyond(client: BridgeClient) -> None:
    doc = await client.put_document(small_pdf())
    last = await client.request(
        "documents.get", {"document": doc["id"], "offset": doc["size"] - 5, "length": 100}
    )
    assert last["length"] == 5 and last["eof"] is True
    past = await client.request("documents.get", {"document": doc["id"], "offset": 10**9})
    assert past["length"] == 0 and past["data"] == "" and past["eof"] is True


@pytest.mark.parametrize("offset", [2**53, 2**63 - 1, 2**63, 2**64])
async def test_offsets_beyond_any_file_are_bad_params(client: BridgeClient, offset: int) -> None:
    doc = await client.put_document(small_pdf())
    with pytest.raises(BridgeError) as err:
        await client.request("documents.get", {"document": doc["id"], "offset": offset})
    assert err.value.code == "bad_params"


async def test_png_accepted_other_content_refused(client: BridgeClient) -> None:
    png = await client.put_document(small_png())
    assert png["type"] == "image/png"
    for content in (
        b"<html><body>%PDF-1.7</body></html>",
        b"%PDF-1.7\nnot really a pdf\n%%EOF\n",
        b"\xff\xd8\xff\xe0\x00\x10JFIF\x00",  # a JPEG
        b"\x7fELF\x02\x01\x01",
        small_png()[:40],  # truncated PNG
    ):
        with pytest.raises(BridgeError) as err:
            await client.put_document(content)
        assert err.value.code == "unsupported_type", content[:20]


async def test_upload_errors(bridge: BridgeProcess, client: BridgeClient) -> None:
    data = small_pdf()
    with pytest.raises(BridgeError) as err:
        await client.request(
            "documents.put",
            {"data": base64.b64encode(data).decode(), "sha256": "0" * 64},
        )
    assert err.value.code == "checksum_mismatch" and err.value.retryable
    with pytest.raises(BridgeError) as err:
        await client.request("documents.put", {"size": 41 * 1024 * 1024, "sha256": "0" * 64})
    assert err.value.code == "document_too_large"
    with pytest.raises(BridgeError) as err:
        await client.request(
            "documents.put", {"upload": "up_0123456789abcdef", "offset": 0, "data": "AAAA"}
        )
    assert err.value.code == "upload_not_found"
    begin = await client.request(
        "documents.put", {"size": len(data), "sha256": hashlib.sha256(data).hexdigest()}
    )
    chunk = {"upload": begin["upload"], "data": base64.b64encode(data[:10]).decode()}
    with pytest.raises(BridgeError) as err:
        await client.request("documents.put", {**chunk, "offset": 5})
    assert err.value.code == "bad_params" and err.value.details == {"expected_offset": 0}
    with pytest.raises(BridgeError) as err:
        await client.request("documents.put", {**chunk, "offset": 0, "data": "@@not base64"})
    assert err.value.code == "bad_params"
    first = await client.request("documents.put", {**chunk, "offset": 0})
    assert first["received"] == 10 and "document" not in first
    rest = {"upload": begin["upload"], "offset": 10, "data": base64.b64encode(data[10:]).decode()}
    done = await client.request("documents.put", rest)
    assert done["received"] == len(data) and done["document"]["size"] == len(data)
    with pytest.raises(BridgeError) as err:
        await client.request("documents.put", {"data": "A" * (400 * 1024)})
    assert err.value.code == "bad_params"  # one-frame uploads are for small documents


async def test_unknown_or_deleted_documents(client: BridgeClient) -> None:
    doc = await client.put_document(small_pdf())
    await client.request("documents.delete", {"document": doc["id"]})
    for method, params in (
        ("documents.get", {"document": doc["id"]}),
        ("documents.get", {"document": doc["id"], "offset": 0}),
        ("documents.delete", {"document": doc["id"]}),
        ("documents.get", {"document": doc["id"], "thumbnail": 1}),
    ):
        with pytest.raises(BridgeError) as err:
            await client.request(method, params)
        assert err.value.code == "document_not_found", method
    for bad in ("../../etc/passwd", "doc_../../x", "DOC_0000000000000000"):
        with pytest.raises(BridgeError) as err:
            await client.request("documents.get", {"document": bad})
        assert err.value.code == "bad_params"


async def test_two_clients_and_many_requests_in_flight(
    bridge: BridgeProcess, client: BridgeClient, events: Events
) -> None:
    async with BridgeClient(bridge.url, bridge.token, reconnect=False) as other:
        other_events = Events()
        other.subscribe(other_events)
        scan = asyncio.create_task(
            other.request("scanner.scan", {"device": "test:0", "source": "adf", "resolution": 75})
        )
        calls = [client.request("health.get") for _ in range(20)]
        calls += [client.request("documents.list") for _ in range(20)]
        calls += [client.request("hello", {"client": f"c{i}"}) for i in range(20)]
        results = await asyncio.gather(*calls)
        assert all("uptime_s" in r for r in results[:20])
        assert all("documents" in r for r in results[20:40])
        assert all(r["server"] == "pvp-bridge" for r in results[40:])
        result = await scan
        # Both clients saw the other's scan events.
        done = await events.wait("scan.done", scan=result["scan"])
        assert done["pages_added"] == 10
        assert len(other_events.of("scan.page", scan=result["scan"])) == 10
        health = await events.wait_for("health", lambda d: d["clients"] >= 2)
        assert health["spool"]["free_bytes"] > 0
