"""The bridge application: services, method registry, event broadcast, health.

Extensions
----------
Methods come from extension modules listed in :data:`EXTENSIONS`. Each one defines
``setup(bridge: Bridge) -> None`` which registers its methods and events on
``bridge.registry`` (see :mod:`kiosk_bridge.protocol` for an example) and may add
start/stop hooks with :meth:`Bridge.on_start` / :meth:`Bridge.on_stop`. To add the kiosk's
video session, for instance, write ``kiosk_bridge/session.py`` with its ``setup`` and
append ``"kiosk_bridge.session"`` here.

Events go to every authenticated client through :meth:`Bridge.broadcast` (or
:meth:`Bridge.broadcast_threadsafe` from a worker thread).
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

from websockets.asyncio.server import ServerConnection, broadcast

from kiosk_bridge import __version__
from kiosk_bridge.config import Config
from kiosk_bridge.printer import PrinterService
from kiosk_bridge.protocol import PROTOCOL_VERSION, Registry, encode_event
from kiosk_bridge.scanner import ScannerService
from kiosk_bridge.spool import Spool

log = logging.getLogger("kiosk_bridge")

EXTENSIONS: tuple[str, ...] = (
    "kiosk_bridge.methods",
    "kiosk_bridge.session.bridge",
    "kiosk_bridge.screen.bridge",
)

CLOSE_UNREAD = 1008  # policy violation: the client does not read what it asked for
CLOSE_GRACE_S = 2.0

Hook = Callable[["Bridge"], Awaitable[None]]


class Bridge:
    def __init__(self, config: Config) -> None:
        self.config = config
        self.registry = Registry()
        self.clients: set[ServerConnection] = set()
        self.started = time.monotonic()
        self.loop: asyncio.AbstractEventLoop | None = None
        self.spool = Spool(
            config.spool_dir,
            retention_s=config.retention_seconds(),
            max_document_bytes=config.max_document_bytes,
            min_free_bytes=config.min_free_mb * 1024 * 1024,
            chunk_size=config.chunk_size,
        )
        self.scanner = ScannerService(
            self.spool,
            self.broadcast_threadsafe,
            max_pages=config.max_pages,
            scan_timeout=config.scan_timeout,
        )
        self.printer = PrinterService(
            self.spool.state_path("print-jobs.json"),
            self.broadcast,
            allowed=config.printers_allowed,
            offline_after=config.offline_after,
        )
        self._on_start: list[Hook] = []
        self._on_stop: list[Hook] = []
        # In-process listeners of every broadcast event (the kiosk screen follows the call
        # and the peripherals this way); called before the clients get it, never raising.
        self.listeners: list[Callable[[str, dict[str, Any]], None]] = []
        self._tasks: list[asyncio.Task[Any]] = []
        self._last_health_key: Any = None
        self._scanners_checked = -1e9
        self._dropping: dict[ServerConnection, asyncio.Task[None]] = {}
        # Each connection's requests running, so a client being dropped costs nothing more.
        self.requests: dict[ServerConnection, set[asyncio.Task[None]]] = {}
        for name in EXTENSIONS:
            importlib.import_module(name).setup(self)

    # -- lifecycle ---------------------------------------------------------------------------
    def on_start(self, hook: Hook) -> None:
        self._on_start.append(hook)

    def on_stop(self, hook: Hook) -> None:
        self._on_stop.append(hook)

    async def start(self) -> None:
        self.loop = asyncio.get_running_loop()
        if self.spool.swept:
            log.info("removed %d file(s) half-written before a crash", self.spool.swept)
        removed = await asyncio.to_thread(self.spool.purge_expired)
        if removed:
            log.info("removed %d expired document(s)", len(removed))
        await self.printer.start()
        self._tasks.append(asyncio.create_task(self._health_loop(), name="health"))
        self._tasks.append(asyncio.create_task(self._retention_loop(), name="retention"))
        for hook in self._on_start:
            await hook(self)

    async def stop(self) -> None:
        for hook in reversed(self._on_stop):
            try:
                await hook(self)
            except Exception:
                log.exception("stop hook failed")
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        await self.printer.close()
        await asyncio.to_thread(self.scanner.close)

    # -- events --------------------------------------------------------------------------------
    def broadcast(self, event: str, data: dict[str, Any]) -> None:
        """Send one event to every authenticated client (never waits, never raises)."""
        for listener in self.listeners:
            try:
                listener(event, data)
            except Exception:
                log.exception("listener of %s failed", event)
        try:
            message = encode_event(event, data)
            readers = [ws for ws in self.clients if self.room_for(ws, len(message))]
            broadcast(readers, message)
        except Exception:
            log.exception("broadcast of %s failed", event)
        if event in ("scan.done", "scan.failed", "print.job"):
            self.poke_health()

    def room_for(self, ws: ServerConnection, size: int) -> bool:
        """Whether ``size`` more bytes may be queued for ``ws``; a client that left more
        than ``max_unread`` bytes unread is closed with 1008 instead."""
        if ws in self._dropping:
            return False
        transport = ws.transport
        unread = transport.get_write_buffer_size() if transport is not None else 0
        if not unread or unread + size <= self.config.max_unread:
            return True
        log.warning("client %s left %d bytes unread: closing it (1008)", peer(ws), unread)
        self._dropping[ws] = asyncio.get_running_loop().create_task(self._drop(ws))
        current = asyncio.current_task()
        for task in self.requests.get(ws, ()):
            if task is not current:
                task.cancel()
        return False

    def dropping(self, ws: ServerConnection) -> asyncio.Task[None] | None:
        """The task closing ``ws`` for leaving its messages unread, if it is being dropped."""
        return self._dropping.get(ws)

    async def _drop(self, ws: ServerConnection) -> None:
        try:
            # The close frame waits behind what the client left unread: give it a moment.
            async with asyncio.timeout(CLOSE_GRACE_S):
                await ws.close(CLOSE_UNREAD, "too many messages left unread")
        except Exception:
            pass
        finally:
            ws.transport.abort()
            self._dropping.pop(ws, None)

    def broadcast_threadsafe(self, event: str, data: dict[str, Any]) -> None:
        loop = self.loop
        if loop is None or loop.is_closed():
            return
        with contextlib.suppress(RuntimeError):
            loop.call_soon_threadsafe(self.broadcast, event, data)

    # -- health --------------------------------------------------------------------------------
    async def health(self) -> dict[str, Any]:
        now = time.monotonic()
        if now - self._scanners_checked >= self.config.health_interval:
            self._scanners_checked = now
            await self.scanner.refresh()
        spool_free = await asyncio.to_thread(self.spool.free_bytes)
        documents = await asyncio.to_thread(lambda: sum(1 for _ in self.spool.iter_ids()))
        printers = await self.printer.health()
        scan = self.scanner.status()
        scanners = [
            {"device": d, "status": "scanning" if d in scan["scanning"] else "ready"}
            for d in scan["devices"]
        ]
        return {
            "version": __version__,
            "protocol": PROTOCOL_VERSION,
            "uptime_s": round(time.monotonic() - self.started, 1),
            "spool": {"free_bytes": spool_free, "documents": documents},
            "scanners": scanners,
            **printers,
            "clients": len(self.clients),
        }

    def poke_health(self) -> None:
        self._health_poke.set()

    @property
    def _health_poke(self) -> asyncio.Event:
        ev = getattr(self, "_poke_event", None)
        if ev is None:
            ev = self._poke_event = asyncio.Event()
        return ev

    async def _health_loop(self) -> None:
        interval = self.config.health_interval
        next_full = time.monotonic()
        while True:
            try:
                data = await self.health()
                # Send on change (ignoring uptime and small free-space moves), or on schedule.
                key = (
                    data["spool"]["documents"],
                    data["spool"]["free_bytes"] // (64 * 1024 * 1024),
                    repr(data["scanners"]),
                    data["cups"],
                    repr(data["printers"]),
                    data["clients"],
                )
                now = time.monotonic()
                if key != self._last_health_key or now >= next_full:
                    self._last_health_key = key
                    next_full = now + interval
                    self.broadcast("health", data)
            except Exception:
                log.exception("health check failed")
            self._health_poke.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._health_poke.wait(), timeout=min(5.0, interval))

    async def _retention_loop(self) -> None:
        while True:
            await asyncio.sleep(30)
            try:
                removed = await asyncio.to_thread(self.spool.purge_expired)
                for doc_id in removed:
                    log.info("document %s reached the end of its retention", doc_id)
                    self.broadcast("documents.expired", {"document": doc_id})
            except Exception:
                log.exception("retention sweep failed")


def peer(ws: ServerConnection) -> str:
    try:
        addr = ws.remote_address
        return f"{addr[0]}:{addr[1]}"
    except Exception:
        return "?"
