"""The websocket server: handshake checks, then one dispatcher per connection.

Handshake (``process_request``), in this order:

1. path must be ``/v1`` -> otherwise 404;
2. an ``Origin`` header must be allow-listed -> otherwise 403 (clients that send no
   Origin, i.e. not browsers, pass);
3. ``Authorization: Bearer <token>`` compared in constant time -> otherwise 401;
4. at most ``max_clients`` connections -> otherwise 503.

Messages bigger than ``max_message`` close the connection with 1009 (websockets does it);
control frames are bounded to 125 bytes by the protocol. Requests run concurrently
(up to ``max_in_flight`` per connection); a frame that cannot be read gets an error reply
and the connection goes on. A client leaving more than ``max_unread`` bytes unread is
closed with 1008 (see :meth:`Bridge.room_for`); a request holds its in-flight slot until its
reply is written, so one connection can make the bridge hold only so much.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import http
import logging
import os
import signal
import ssl
import threading
from pathlib import Path
from typing import Any

from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.datastructures import MultipleValuesError
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response
from websockets.protocol import State

from kiosk_bridge import memory
from kiosk_bridge.app import Bridge, peer
from kiosk_bridge.config import Config
from kiosk_bridge.errors import BridgeError
from kiosk_bridge.protocol import (
    BinaryResult,
    CallContext,
    FrameError,
    encode_binary,
    encode_error,
    encode_result,
    parse_request,
)
from pvp_common.census import census, start_tracing

log = logging.getLogger("kiosk_bridge.server")
PATH = "/v1"
MAX_QUEUE = 8  # incoming messages buffered per connection: at most 8 x max_message


class TokenSource:
    """The shared secret, re-read when its file changes (so it can be rotated live)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._mtime: float | None = None
        self._token = b""
        self.load()

    def load(self) -> None:
        st = self.path.stat()
        if st.st_mode & 0o077:
            log.warning("token file %s is readable by others: chmod 600 it", self.path)
        token = self.path.read_text(encoding="ascii").strip()
        if len(token) < 32:
            raise ValueError(f"token in {self.path} is too short (32 characters minimum)")
        self._token = token.encode("ascii")
        self._mtime = st.st_mtime

    def matches(self, candidate: str) -> bool:
        with contextlib.suppress(OSError, ValueError):
            if self.path.stat().st_mtime != self._mtime:
                self.load()
        try:
            given = candidate.encode("ascii")
        except UnicodeEncodeError:
            given = b""
        return hmac.compare_digest(given, self._token)


class BridgeServer:
    def __init__(self, bridge: Bridge, token: TokenSource) -> None:
        self.bridge = bridge
        self.config = bridge.config
        self.token = token
        self.server: Server | None = None
        self.port: int | None = None
        self._stop = asyncio.Event()
        self._admitted: set[ServerConnection] = set()  # handshakes let through, still open

    def stop(self) -> None:
        """Ask :meth:`run` to close every connection and return."""
        self._stop.set()

    # -- handshake ------------------------------------------------------------------------------
    def process_request(self, connection: ServerConnection, request: Request) -> Response | None:
        path = request.path.split("?", 1)[0]
        if path != PATH:
            return connection.respond(http.HTTPStatus.NOT_FOUND, f"Use the path {PATH}\n")
        try:
            origin = request.headers.get("Origin")
            auth = request.headers.get("Authorization", "")
        except MultipleValuesError:
            return connection.respond(http.HTTPStatus.BAD_REQUEST, "Duplicate header\n")
        if origin is not None and origin not in self.config.origins:
            log.warning("refused Origin %r from %s", origin[:100], peer(connection))
            return connection.respond(http.HTTPStatus.FORBIDDEN, "Origin not allowed\n")
        scheme, _, given = auth.partition(" ")
        if scheme.lower() != "bearer" or not self.token.matches(given.strip()):
            log.warning("refused a client without a valid token from %s", peer(connection))
            response = connection.respond(http.HTTPStatus.UNAUTHORIZED, "Bearer token needed\n")
            response.headers["WWW-Authenticate"] = 'Bearer realm="pvp-bridge"'
            return response
        self._admitted = {c for c in self._admitted if c.state is not State.CLOSED}
        if len(self._admitted) >= self.config.max_clients:
            log.warning(
                "refused %s: %d clients connected already", peer(connection), len(self._admitted)
            )
            response = connection.respond(
                http.HTTPStatus.SERVICE_UNAVAILABLE, "Too many clients connected; try later\n"
            )
            response.headers["Retry-After"] = "5"
            return response
        self._admitted.add(connection)
        return None

    # -- connection -----------------------------------------------------------------------------
    async def handler(self, ws: ServerConnection) -> None:
        client = peer(ws)
        self.bridge.clients.add(ws)
        self.bridge.poke_health()
        log.info("client %s connected", client)
        tasks: set[asyncio.Task[None]] = set()
        self.bridge.requests[ws] = tasks
        in_flight: set[str | int] = set()
        try:
            async for frame in ws:
                # One read from the socket may hold thousands of frames: let others have turns.
                await asyncio.sleep(0)
                dropping = self.bridge.dropping(ws)
                if dropping is not None:
                    await dropping  # closed for leaving its replies unread: run nothing more
                    break
                try:
                    request = parse_request(frame)
                except FrameError as exc:
                    await self._send(ws, encode_error(exc.id, exc.error))
                    continue
                if request.id in in_flight:
                    err = BridgeError("bad_frame", detail="this id is already in flight")
                    await self._send(ws, encode_error(request.id, err))
                    continue
                if len(in_flight) >= self.config.max_in_flight:
                    err = BridgeError("too_many_requests", limit=self.config.max_in_flight)
                    await self._send(ws, encode_error(request.id, err))
                    continue
                in_flight.add(request.id)
                call = CallContext(self.bridge, client, request.id)
                task = asyncio.create_task(self._run(ws, call, request, in_flight))
                tasks.add(task)
                task.add_done_callback(tasks.discard)
        except ConnectionClosed:
            pass
        finally:
            self.bridge.clients.discard(ws)
            self.bridge.requests.pop(ws, None)
            self._admitted.discard(ws)
            for task in tasks:
                task.cancel()
            self.bridge.poke_health()
            log.info("client %s gone (%s)", client, ws.close_code)

    async def _run(
        self, ws: ServerConnection, call: CallContext, request: Any, in_flight: set[Any]
    ) -> None:
        try:
            try:
                result = await self.bridge.registry.dispatch(call, request)
                reply: str | bytes
                if isinstance(result, BinaryResult):
                    reply = encode_binary(request.id, result)
                else:
                    reply = encode_result(request.id, result)
            except BridgeError as err:
                reply = encode_error(request.id, err)
            except Exception:
                log.exception("method %s failed", request.method)
                reply = encode_error(request.id, BridgeError("internal_error"))
            await self._send(ws, reply)
        finally:
            # Only once the reply is written: a client that does not read keeps its slots.
            in_flight.discard(request.id)

    async def _send(self, ws: ServerConnection, frame: str | bytes) -> None:
        if not self.bridge.room_for(ws, len(frame)):
            return
        with contextlib.suppress(ConnectionClosed):
            await ws.send(frame)

    # -- running ----------------------------------------------------------------------------------
    def ssl_context(self) -> ssl.SSLContext | None:
        if not self.config.tls:
            return None
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.minimum_version = ssl.TLSVersion.TLSv1_2
        assert self.config.tls_cert is not None
        ctx.load_cert_chain(self.config.tls_cert, self.config.tls_key)
        return ctx

    async def run(self, ready: asyncio.Event | None = None, *, handle_signals: bool = True) -> None:
        stop = self._stop
        loop = asyncio.get_running_loop()
        if handle_signals:
            for sig in (signal.SIGTERM, signal.SIGINT):
                with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
                    loop.add_signal_handler(sig, stop.set)
            # `kill -USR2 <pid>`: one log line counting what could pile up (the soak reads it)
            with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
                loop.add_signal_handler(signal.SIGUSR2, log_counts)
        await self.bridge.start()
        try:
            async with serve(
                self.handler,
                self.config.host,
                self.config.port,
                process_request=self.process_request,
                max_size=self.config.max_message,
                max_queue=MAX_QUEUE,
                # No permessage-deflate: the big frames are document bytes (PDF, PNG: already
                # compressed), where deflate costs CPU on both ends for nothing (see
                # docs/bridge-protocol.md, "Transferring documents").
                compression=None,
                ssl=self.ssl_context(),
                server_header=None,
                ping_interval=20,
                ping_timeout=20,
                close_timeout=2,
            ) as server:
                self.server = server
                ports = sorted({s.getsockname()[1] for s in server.sockets})
                self.port = ports[0]
                scheme = "wss" if self.config.tls else "ws"
                log.info(
                    "pvp-bridge listening on %s://%s:%s%s (pid %d)",
                    scheme,
                    self.config.host,
                    ",".join(map(str, ports)),
                    PATH,
                    os.getpid(),
                )
                if ready is not None:
                    ready.set()
                await stop.wait()
                log.info("stopping")
                server.close(close_connections=True)
                await server.wait_closed()
        finally:
            await self.bridge.stop()


def log_counts() -> None:
    """One line: the loop's asyncio tasks and the process's threads."""
    tasks = len(asyncio.all_tasks())
    log.warning("counts: asyncio tasks %d, threads %d", tasks, threading.active_count())
    log.warning("census: %s", census())


def run(config: Config) -> None:
    if config.token_file is None:
        raise ValueError("no token file: pass --token-file or set server.token_file")
    token = TokenSource(config.token_file)
    memory.one_arena()  # before any thread allocates: scans' memory can then go back
    start_tracing()  # PVP_TRACEMALLOC: off unless set (pvp_common.census)
    bridge = Bridge(config)
    asyncio.run(BridgeServer(bridge, token).run())
