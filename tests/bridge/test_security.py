"""Handshake checks (token, Origin, path, TLS), frame limits and garbage frames."""

from __future__ import annotations

import json
import ssl
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidStatus

from kiosk_bridge.client import BridgeClient, BridgeError
from tests.bridge.conftest import Lab
from tests.support.bridge_daemons import BridgeProcess, make_cert


async def next_reply(ws: Any) -> dict[str, Any]:
    """The next reply on a raw connection (events, e.g. health, are skipped)."""
    while True:
        msg = json.loads(await ws.recv())
        if "event" not in msg:
            return dict(msg)


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def status_of(url: str, **kw: object) -> int:
    try:
        async with connect(url, open_timeout=5, **kw):  # type: ignore[arg-type]
            return 101
    except InvalidStatus as exc:
        return exc.response.status_code


async def test_token_is_required(bridge: BridgeProcess) -> None:
    assert await status_of(bridge.url) == 401
    assert await status_of(bridge.url, additional_headers=auth("x" * 43)) == 401
    assert await status_of(bridge.url, additional_headers={"Authorization": bridge.token}) == 401
    wrong_scheme = {"Authorization": f"Basic {bridge.token}"}
    assert await status_of(bridge.url, additional_headers=wrong_scheme) == 401
    assert await status_of(bridge.url, additional_headers=auth(bridge.token)) == 101


async def test_client_library_reports_401(bridge: BridgeProcess) -> None:
    with pytest.raises(BridgeError) as err:
        await BridgeClient(bridge.url, "not-the-token", reconnect=False).connect()
    assert err.value.code == "unauthorized" and not err.value.retryable


async def test_browser_origins_need_the_allow_list(bridge: BridgeProcess) -> None:
    h = auth(bridge.token)
    assert await status_of(bridge.url, additional_headers=h, origin="https://evil.example") == 403
    assert await status_of(bridge.url, additional_headers=h, origin="null") == 403
    ok = await status_of(bridge.url, additional_headers=h, origin="https://staff.example")
    assert ok == 101
    # A forged page cannot even learn whether its token guess was right.
    assert await status_of(bridge.url, origin="https://evil.example") == 403


async def test_only_the_v1_path(bridge: BridgeProcess) -> None:
    base = bridge.url.removesuffix("/v1")
    assert await status_of(base + "/v2", additional_headers=auth(bridge.token)) == 404
    assert await status_of(base + "/", additional_headers=auth(bridge.token)) == 404


async def test_oversized_frame_closes_with_1009_and_the_bridge_goes_on(
    bridge: BridgeProcess,
) -> None:
    async with connect(bridge.url, additional_headers=auth(bridge.token)) as ws:
        await ws.send(json.dumps({"id": 1, "method": "hello", "params": {"x": "a" * 2_000_000}}))
        with pytest.raises(ConnectionClosed):
            for _ in range(10):  # events (health) may come first
                assert "event" in json.loads(await ws.recv())
        assert ws.close_code == 1009
    async with BridgeClient(bridge.url, bridge.token, reconnect=False) as c:
        assert (await c.request("health.get"))["version"]


async def test_tls_with_a_private_ca(lab: Lab, new_bridge: Callable[..., BridgeProcess]) -> None:
    ca, cert, key = make_cert(lab.root / "tls")
    b = new_bridge(tls=(cert, key))
    async with BridgeClient(b.url, b.token, cafile=ca, reconnect=False) as c:
        assert (await c.request("hello"))["protocol"] == 1
    with pytest.raises(ssl.SSLCertVerificationError):
        await BridgeClient(b.url, b.token, reconnect=False).connect()  # system CAs only
    plain = b.url.replace("wss://", "ws://")
    with pytest.raises((ConnectionClosed, OSError, InvalidHandshake, TimeoutError)):
        async with connect(plain, additional_headers=auth(b.token), open_timeout=3) as ws:
            await ws.recv()


async def test_reply_shapes(bridge: BridgeProcess) -> None:
    async with connect(bridge.url, additional_headers=auth(bridge.token)) as ws:
        await ws.send('{"id": "a", "method": "nope", "params": {}}')
        reply = await next_reply(ws)
        assert reply["id"] == "a" and reply["error"]["code"] == "unknown_method"
        assert set(reply["error"]) == {"code", "message", "retryable"}
        assert set(reply["error"]["message"]) == {"fr", "en"}
        await ws.send(b"\x00\x01binary")
        assert (await next_reply(ws))["error"]["code"] == "bad_frame"
        await ws.send("{not json")
        bad = await next_reply(ws)
        assert bad == {"id": None, "error": bad["error"]} and bad["error"]["code"] == "bad_frame"
        await ws.send('{"id": 7, "method": "hello", "params": [1]}')
        assert (await next_reply(ws))["error"]["code"] == "bad_params"
        await ws.send('{"id": 8, "method": "hello"}')
        assert (await next_reply(ws))["result"]["server"] == "pvp-bridge"


@pytest.mark.parametrize(
    ("frame", "rid"),
    [
        ('{"id": "\\ud800", "method": "hello"}', None),
        ('{"id": "a\\udfffb", "method": "hello"}', None),
        ('{"id": 3, "method": "\\ud800"}', 3),
        ('{"id": "m", "method": "hello\\udc00"}', "m"),
        ('{"id": 4, "method": "hello", "params": {"\\ud800": 1}}', 4),
        ('{"id": 5, "method": "scanner.scan", "params": {"device": "\\udbff"}}', 5),
        ('{"id": 6, "method": "hello", "params": {"client": ["x", {"y": "\\ud83d"}]}}', 6),
    ],
)
async def test_escaped_lone_surrogates_get_bad_frame_and_the_connection_goes_on(
    bridge: BridgeProcess, frame: str, rid: str | int | None
) -> None:
    async with connect(bridge.url, additional_headers=auth(bridge.token)) as ws:
        await ws.send(frame)
        reply = await next_reply(ws)
        assert reply["id"] == rid and reply["error"]["code"] == "bad_frame"
        assert "surrogate" in reply["error"]["message"]["en"]
        await ws.send('{"id": "pair", "method": "hello", "params": {"client": "\\ud83d\\ude00"}}')
        assert (await next_reply(ws))["result"]["server"] == "pvp-bridge"


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)
methods = st.sampled_from(
    ["hello", "health.get", "scanner.cancel", "documents.get", "documents.delete",
     "documents.put", "printer.cancel", "printer.print", "printer.jobs", "nope", ""]
)  # fmt: skip
garbage = st.one_of(
    st.text(max_size=200),
    st.binary(max_size=200),
    json_values.map(json.dumps),
    st.builds(
        lambda i, m, p: json.dumps({"id": i, "method": m, "params": p}),
        st.one_of(st.integers(), st.text(max_size=70), st.none(), st.floats(allow_nan=False)),
        methods,
        json_values,
    ),
)


@settings(max_examples=50, deadline=None, suppress_health_check=list(HealthCheck))
@given(frames=st.lists(garbage, min_size=1, max_size=5))
async def test_garbage_frames_get_replies_never_a_crash(
    bridge: BridgeProcess, frames: list[str | bytes]
) -> None:
    async with connect(bridge.url, additional_headers=auth(bridge.token)) as ws:
        for frame in frames:
            await ws.send(frame)
            reply = await next_reply(ws)
            assert "result" in reply or reply["error"]["code"] in {
                "bad_frame", "bad_params", "unknown_method", "document_not_found",
                "job_not_found", "scan_not_found", "printer_not_found", "upload_not_found",
                "unsupported_type", "checksum_mismatch", "document_too_large",
            }  # fmt: skip
        await ws.send('{"id": "last", "method": "hello"}')
        assert (await next_reply(ws))["id"] == "last"
