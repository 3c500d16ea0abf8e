"""Async client of pvp-bridge (used by the staff app; any websocket client works too).

    async with BridgeClient("ws://kiosk:8765/v1", token) as bridge:
        bridge.subscribe(lambda event, data: print(event, data))
        scanners = await bridge.request("scanner.list")
        doc = await bridge.request("scanner.scan", {"device": "...", "source": "adf"})
        pdf = await bridge.get_document(doc["document"]["id"])

* :meth:`BridgeClient.request` returns the ``result`` or raises
  :class:`kiosk_bridge.errors.BridgeError` (``code``, ``message`` {"fr", "en"},
  ``retryable``, ``details``), the protocol's one error class; a result that breaks its
  shape (:mod:`kiosk_bridge.shapes`) raises ``bad_reply``;
* events' data are checked against their shapes too (a malformed one is logged and
  dropped);
* events go to every subscribed callback (sync or async); the client adds two local
  events of its own: ``client.connected`` and ``client.disconnected``;
* when the connection drops, requests in flight fail with ``connection_lost``
  (retryable) and the client reconnects with capped exponential backoff and jitter
  (:func:`reconnect_delay`);
  a 401/403 stops it (``unauthorized``/``forbidden``, not retryable); a 503 (too many
  clients connected) is ``handshake_refused``, retryable, and retried.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import inspect
import itertools
import json
import logging
import random
import ssl
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

from kiosk_bridge.errors import BridgeError, bad_reply
from kiosk_bridge.protocol import split_binary
from kiosk_bridge.shapes import MalformedFrame, parse_event, parse_result

# websockets is imported by the first connection, not with this module: pvp imports the
# client at start and draws its first frame sooner without it (bench_queue's start-up goal).
if TYPE_CHECKING:
    from websockets.asyncio.client import ClientConnection

__all__ = ["BridgeClient", "BridgeError", "EventCallback", "reconnect_delay"]

log = logging.getLogger("kiosk_bridge.client")
EventCallback = Callable[[str, Any], Any]


class Fetched(NamedTuple):
    """A document's bytes and their SHA-256 (hashed on receipt, equal to the bridge's)."""

    data: bytes
    sha256: str


def _lost() -> BridgeError:
    return BridgeError.local(
        "connection_lost",
        {
            "fr": "Connexion à la borne perdue ; reconnexion en cours.",
            "en": "Connection to the kiosk lost; reconnecting.",
        },
        retryable=True,
    )


def reconnect_delay(attempt: int, maximum: float, base: float = 0.2) -> float:
    """Capped exponential backoff with jitter: the wait before reconnect attempt `attempt`
    (0, 1, 2...). Half-to-full jitter spreads the staff PCs of a site after a bridge restart."""
    return min(maximum, base * 2**attempt) * random.uniform(0.5, 1.0)


class BridgeClient:
    def __init__(
        self,
        url: str,
        token: str,
        *,
        cafile: str | Path | None = None,
        ssl_context: ssl.SSLContext | None = None,
        name: str = "pvp",
        reconnect: bool = True,
        max_backoff: float = 10.0,
        open_timeout: float = 10.0,
        request_timeout: float | None = 60.0,
        max_size: int = 4 * 1024 * 1024,
    ) -> None:
        self.url = url
        self.token = token
        if ssl_context is None and cafile is not None:
            ssl_context = ssl.create_default_context(cafile=str(cafile))
        self.ssl_context = ssl_context
        self.name = name
        self.reconnect = reconnect
        self.max_backoff = max_backoff
        self.open_timeout = open_timeout
        self.request_timeout = request_timeout
        self.max_size = max_size
        self.hello: dict[str, Any] = {}
        self._ws: ClientConnection | None = None
        self._ids = itertools.count(1)
        self._pending: dict[int, asyncio.Future[Any]] = {}
        self._callbacks: list[EventCallback] = []
        self._connected = asyncio.Event()
        self._runner: asyncio.Task[None] | None = None
        self._closing = False
        self._fatal: BridgeError | None = None
        self.connects = 0
        self._cb_tasks: set[asyncio.Future[Any]] = set()

    # -- lifecycle --------------------------------------------------------------------------
    async def __aenter__(self) -> BridgeClient:
        await self.connect()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def connect(self) -> dict[str, Any]:
        """Open the connection (raises on failure) and keep it open in the background."""
        ws = await self._open()
        self._runner = asyncio.create_task(self._run(ws), name="bridge-client")
        try:
            await self._greet(ws)
        except BridgeError:
            await self.close()
            raise
        return self.hello

    async def _greet(self, ws: ClientConnection) -> None:
        """`hello` on a new connection, before anything else uses it: only then is the
        client connected, with this bridge's features (never the last bridge's)."""
        hello = await self._send(ws, "hello", {"client": self.name}, self.open_timeout)
        if ws is not self._ws:  # lost meanwhile: the next connection says hello again
            return
        self.hello = hello
        self._connected.set()
        self.connects += 1
        self._emit("client.connected", {"url": self.url, "connects": self.connects})

    async def _open(self) -> ClientConnection:
        from websockets.asyncio.client import connect
        from websockets.exceptions import InvalidStatus

        tls = None
        if self.url.startswith("wss:"):
            tls = self.ssl_context or ssl.create_default_context()
        try:
            ws = await connect(
                self.url,
                additional_headers={"Authorization": f"Bearer {self.token}"},
                ssl=tls,
                max_size=self.max_size,
                compression=None,  # document bytes: deflate would cost CPU for nothing
                open_timeout=self.open_timeout,
                close_timeout=2,
            )
        except InvalidStatus as exc:
            status = exc.response.status_code
            code = {401: "unauthorized", 403: "forbidden"}.get(status, "handshake_refused")
            message = f"bridge refused the connection (HTTP {status})"
            # 503: too many clients connected; a place frees up when one leaves.
            raise BridgeError.local(code, message, retryable=status == 503) from None
        self._ws = ws
        return ws

    async def close(self) -> None:
        self._closing = True
        if self._ws is not None:
            await self._ws.close()
        if self._runner is not None:
            self._runner.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._runner
        self._fail_pending(_lost())

    @property
    def connected(self) -> bool:
        return self._connected.is_set()

    @property
    def features(self) -> frozenset[str]:
        """The additions to protocol 1 the bridge listed in its last hello (none for an older
        bridge): a client uses one only when it is listed (docs/bridge-protocol.md)."""
        listed = self.hello.get("features")
        return (
            frozenset(f for f in listed if isinstance(f, str))
            if isinstance(listed, list)
            else frozenset()
        )

    # -- background reader + reconnect --------------------------------------------------------
    async def _run(self, ws: ClientConnection) -> None:
        from websockets.exceptions import ConnectionClosed

        attempt = 0
        while True:
            try:
                async for frame in ws:
                    attempt = 0
                    self._dispatch(frame)
            except ConnectionClosed:
                pass
            except Exception as exc:  # a bug in reading a frame: never a silent dead reader
                log.error(
                    "bridge %s: reading its frames failed (%s); closing the connection",
                    self.url,
                    type(exc).__name__,
                )
                with contextlib.suppress(Exception):
                    await ws.close()
            self._connected.clear()
            self._fail_pending(_lost())
            self._emit("client.disconnected", {"code": ws.close_code})
            if self._closing or not self.reconnect:
                return
            while True:
                await asyncio.sleep(reconnect_delay(attempt, self.max_backoff))
                attempt += 1
                try:
                    ws = await self._open()
                except BridgeError as err:
                    if err.code in ("unauthorized", "forbidden"):
                        self._fatal = err
                        log.error("bridge refused us: %s", err)
                        return
                except Exception as exc:  # network down, bridge restarting, TLS...
                    log.info("bridge unreachable (%s); retrying", exc)
                    continue
                else:
                    break
            task = asyncio.get_running_loop().create_task(self._rehello(ws))
            self._cb_tasks.add(task)
            task.add_done_callback(self._cb_tasks.discard)

    async def _rehello(self, ws: ClientConnection) -> None:
        """Say hello on a reconnected link; a hello that fails ends that connection (the
        reader then reconnects), so no request ever runs on the last bridge's hello."""
        try:
            await self._greet(ws)
        except BridgeError as err:
            log.info("bridge %s: hello failed after a reconnect (%s); reconnecting", self.url, err)
            with contextlib.suppress(Exception):
                await ws.close()

    def _dispatch(self, frame: str | bytes) -> None:
        payload: bytes | None = None
        try:
            if isinstance(frame, str):
                msg = json.loads(frame)
            else:  # a chunk asked with "binary": the reply's JSON, b"\n", the bytes
                msg, payload = split_binary(frame)
        except (ValueError, RecursionError):
            log.warning("unreadable frame from the bridge")
            return
        if not isinstance(msg, dict):
            return
        if payload is not None:
            result = msg.get("result")
            if "event" in msg or not isinstance(result, dict) or "data" in result:
                log.warning("binary frame from the bridge that is no chunk reply; dropped")
                return
            result["data"] = payload  # bytes, where a text reply has base64
        if "event" in msg:
            event = str(msg["event"])
            try:
                data = parse_event(event, msg.get("data"))
            except MalformedFrame as exc:  # said here, not as a KeyError in a screen
                log.error("bridge %s sent a %s; dropped", self.url, exc)
                return
            self._emit(event, data)
            return
        rid = msg.get("id")
        if not isinstance(rid, (str, int)) or isinstance(rid, bool):  # a list would raise
            log.warning("frame from the bridge whose id is no string or number; dropped")
            return
        fut = self._pending.pop(rid, None) if isinstance(rid, int) else None  # ours are ints
        if fut is None or fut.done():
            return
        if "error" in msg:
            fut.set_exception(BridgeError.from_reply(msg["error"] or {}))
        else:
            fut.set_result(msg.get("result"))

    def _fail_pending(self, err: BridgeError) -> None:
        pending, self._pending = self._pending, {}
        for fut in pending.values():
            if not fut.done():
                fut.set_exception(err)

    # -- events --------------------------------------------------------------------------------
    def subscribe(self, callback: EventCallback) -> Callable[[], None]:
        """Call ``callback(event, data)`` for every event; returns an unsubscribe function."""
        self._callbacks.append(callback)
        return lambda: self._callbacks.remove(callback)

    def _emit(self, event: str, data: Any) -> None:
        for cb in list(self._callbacks):
            try:
                result = cb(event, data)
                if inspect.isawaitable(result):
                    task = asyncio.ensure_future(result)
                    self._cb_tasks.add(task)
                    task.add_done_callback(self._cb_tasks.discard)
            except Exception:
                log.exception("event callback failed for %s", event)

    # -- requests --------------------------------------------------------------------------------
    async def request(
        self, method: str, params: dict[str, Any] | None = None, *, timeout: float | None = None
    ) -> Any:
        """Send one request; returns its result or raises :class:`BridgeError`."""
        if self._fatal is not None:
            raise self._fatal
        if not self._connected.is_set():
            if self._closing or not self.reconnect:
                raise _lost()
            try:
                await asyncio.wait_for(self._connected.wait(), timeout=self.open_timeout)
            except TimeoutError:
                raise _lost() from None
        ws = self._ws
        assert ws is not None
        return await self._send(ws, method, params, timeout)

    async def _send(
        self,
        ws: ClientConnection,
        method: str,
        params: dict[str, Any] | None,
        timeout: float | None,
    ) -> Any:
        rid = next(self._ids)
        fut: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._pending[rid] = fut
        frame = json.dumps({"id": rid, "method": method, "params": params or {}})
        from websockets.exceptions import ConnectionClosed

        try:
            await ws.send(frame)
        except ConnectionClosed:
            self._pending.pop(rid, None)
            raise _lost() from None
        timeout = self.request_timeout if timeout is None else timeout
        try:
            result = await asyncio.wait_for(fut, timeout)
        except TimeoutError:
            self._pending.pop(rid, None)
            raise BridgeError.local(
                "timeout", f"no reply to {method} in {timeout} s", retryable=True
            ) from None
        try:
            return parse_result(method, result)
        except MalformedFrame as exc:
            raise bad_reply(str(exc)) from None

    # -- documents ---------------------------------------------------------------------------------
    async def get_document(
        self, document: str, dest: Path | None = None, *, parallel: int = 4
    ) -> bytes:
        """Fetch a document in chunks (``parallel`` requests in flight), checking SHA-256.

        Chunks come as raw bytes in binary frames when the bridge lists the
        ``binary_chunks`` feature, as base64 otherwise (older bridges).
        With ``dest``, the bytes are also written there (via a temporary file).
        """
        return (await self.fetch_document(document, dest, parallel=parallel)).data

    async def fetch_document(
        self, document: str, dest: Path | None = None, *, parallel: int = 4
    ) -> Fetched:
        """:meth:`get_document`, with the SHA-256 the bytes were checked against (hashed
        here as the chunks come in, in order: no second pass over the whole)."""
        info = await self.request("documents.get", {"document": document})
        size, chunk = int(info["size"]), int(info["chunk_size"])
        offsets = list(range(0, size, chunk)) or [0]
        parts: dict[int, bytes] = {}
        sem = asyncio.Semaphore(parallel)
        binary = "binary_chunks" in self.features
        hasher = hashlib.sha256()
        hashed = 0  # offsets[:hashed] are in the hash

        def hash_in_order() -> None:
            nonlocal hashed
            while hashed < len(offsets) and offsets[hashed] in parts:
                hasher.update(parts[offsets[hashed]])
                hashed += 1

        async def fetch(offset: int) -> None:
            params: dict[str, Any] = {"document": document, "offset": offset, "length": chunk}
            if binary:
                params["binary"] = True
            async with sem:
                reply = await self.request("documents.get", params)
            if reply["sha256"] != info["sha256"]:
                raise BridgeError.local(
                    "document_changed", "the document changed during transfer", retryable=True
                )
            data = reply.get("data")
            if isinstance(data, bytes):
                parts[offset] = data
            elif isinstance(data, str):
                parts[offset] = base64.b64decode(data)
            else:
                raise bad_reply("a document chunk without its data")
            hash_in_order()

        await asyncio.gather(*(fetch(o) for o in offsets))
        hash_in_order()
        data = b"".join(parts[o] for o in offsets)
        digest = hasher.hexdigest()
        if len(data) != size or hashed != len(offsets) or digest != info["sha256"]:
            raise BridgeError.local(
                "checksum_mismatch", "document received damaged", retryable=True
            )
        if dest is not None:
            tmp = Path(dest).with_name(f".{Path(dest).name}.part")
            tmp.write_bytes(data)
            tmp.replace(dest)
        return Fetched(data, digest)

    async def put_document(self, data: bytes) -> dict[str, Any]:
        """Send a PDF/PNG to the spool; returns the new document's metadata."""
        digest = hashlib.sha256(data).hexdigest()
        chunk = int(self.hello.get("limits", {}).get("chunk_size", 256 * 1024))
        if len(data) <= chunk:
            reply = await self.request(
                "documents.put", {"data": base64.b64encode(data).decode(), "sha256": digest}
            )
            return dict(reply["document"])
        begin = await self.request("documents.put", {"size": len(data), "sha256": digest})
        upload, chunk = begin["upload"], int(begin["chunk_size"])
        reply = {}
        for offset in range(0, len(data), chunk):
            reply = await self.request(
                "documents.put",
                {
                    "upload": upload,
                    "offset": offset,
                    "data": base64.b64encode(data[offset : offset + chunk]).decode(),
                },
            )
        return dict(reply["document"])
