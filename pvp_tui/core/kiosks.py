"""Links to the kiosks' pvp-bridge: one websocket connection per kiosk, kept alive.

Everything here is asyncio and never blocks: connecting, reconnecting and every request
run as tasks of the loop that calls :meth:`KioskLinks.start` (the app's own loop), and a
request to a kiosk that is down fails at once with a message saying what to do instead of
waiting. The link and device state of each kiosk is kept in :class:`KioskState`; whoever
shows it subscribes with :meth:`KioskLinks.on_change`.

    links = KioskLinks(config.kiosks)
    links.on_change(lambda kiosk_id: ...)      # link/device state changed
    links.on_event(lambda kiosk_id, event, data: ...)   # scan.progress, print.job...
    links.start()
    reply = await links.request("kiosk-1", "scanner.list")
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, cast

from kiosk_bridge.client import BridgeClient, Fetched, reconnect_delay
from kiosk_bridge.errors import BridgeError
from kiosk_bridge.shapes import Health, PrinterInfo, PrinterList, ScannerInfo, ScannerList

from .config import Kiosk
from .i18n import N_, _, in_language

# Seen by front-desk staff, who cannot edit the config: who to tell, then what to change.
NO_KIOSK = N_(
    "No kiosk is set up in pvp yet: tell your administrator (a [[kiosks]] table is "
    "missing from the site's config file)."
)

log = logging.getLogger("pvp.kiosks")

MAX_BACKOFF = 10.0
OPEN_TIMEOUT = 5.0  # a bridge that accepts but never answers is "not answering" after this
TOKEN_RETRY = 30.0

# Link states: connecting (first try), online, offline (retrying), refused (token/TLS).
ONLINE, CONNECTING, OFFLINE, REFUSED = "online", "connecting", "offline", "refused"

__all__ = [
    "BridgeError",
    "KioskLink",
    "KioskLinks",
    "KioskState",
    "bridge_message",
]


@dataclass
class KioskState:
    link: str = CONNECTING
    problem: str = ""  # why the link is not online, in words
    scanners: list[ScannerInfo] = field(default_factory=list)
    printers: list[PrinterInfo] = field(default_factory=list)
    health: Health = field(default_factory=lambda: Health())
    connects: int = 0

    @property
    def online(self) -> bool:
        return self.link == ONLINE

    @property
    def cups_down(self) -> bool:
        return self.health.get("cups") == "down"

    def printer_reasons(self) -> dict[str, list[str]]:
        """Printer name -> reason codes (from the last health or printer list)."""
        out: dict[str, list[str]] = {}
        for p in self.health.get("printers") or self.printers:
            reasons = p.get("reasons", [])
            out[p["name"]] = [r["code"] if isinstance(r, dict) else str(r) for r in reasons]
        return out

    def device_trouble(self) -> str:
        """The worst device problem in a few words, or '' when all is well."""
        if not self.online:
            return ""
        if self.cups_down:
            return _("printing down")
        if not self.health.get("scanners", self.scanners):
            return _("no scanner")
        # The kiosk's default printer is the one staff print on; other queues are spares.
        default = {p["name"] for p in self.printers if p.get("default")}
        for name, reasons in self.printer_reasons().items():
            if default and name not in default:
                continue
            for code in reasons:
                if code in PRINTER_TROUBLE_SHORT:
                    return _(PRINTER_TROUBLE_SHORT[code])
        return ""


PRINTER_TROUBLE_SHORT = {
    "paper_out": N_("out of paper"),
    "paper_jam": N_("paper jam"),
    "toner_empty": N_("toner empty"),
    "door_open": N_("printer open"),
    "paused": N_("printer paused"),
    "offline": N_("printer offline"),
    "rejecting": N_("printer refuses jobs"),
}


def bridge_message(err: BridgeError) -> str:
    """What staff read for a bridge error, on every screen and in the CLI: the bridge's
    own message (it says what to do) in the app's language, else its code."""
    return in_language(err.message) or err.code


def unreachable() -> BridgeError:
    return BridgeError.local(
        "kiosk_unreachable",
        {
            "fr": "La borne ne répond pas (pvp-bridge arrêté ou réseau coupé). Vérifiez "
            "qu'elle est allumée ; la connexion reprend toute seule, puis réessayez.",
            "en": "The kiosk is not answering (pvp-bridge stopped or network down). Check it "
            "is on; the link comes back by itself, then try again.",
        },
        retryable=True,
    )


class KioskLink:
    """One kiosk: its client, its state, its reconnect loop."""

    def __init__(
        self,
        kiosk: Kiosk,
        changed: Callable[[str], None],
        event: Callable[[str, str, Any], None],
        *,
        max_backoff: float = MAX_BACKOFF,
        open_timeout: float = OPEN_TIMEOUT,
    ) -> None:
        self.kiosk = kiosk
        self.open_timeout = open_timeout
        self.state = KioskState()
        self.client: BridgeClient | None = None
        self._changed = changed
        self._event = event
        self._task: asyncio.Task[None] | None = None
        self._refresh: asyncio.Task[None] | None = None
        self._closing = False
        self.max_backoff = max_backoff
        self.connected_hooks: list[Callable[[KioskLink], Any]] = []

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(
                self._run(), name=f"kiosk-{self.kiosk.id}"
            )

    async def close(self) -> None:
        self._closing = True
        for task in (self._task, self._refresh):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
        if self.client is not None:
            with contextlib.suppress(Exception):
                await self.client.close()

    def _set(self, link: str, problem: str = "") -> None:
        if (link, problem) != (self.state.link, self.state.problem):
            self.state.link, self.state.problem = link, problem
            self._changed(self.kiosk.id)

    async def _run(self) -> None:
        """Connect (retrying with capped backoff); the client then reconnects by itself."""
        attempt = 0
        while not self._closing:
            try:
                token = self.kiosk.read_token()
            except OSError as exc:
                self._set(
                    REFUSED,
                    _("cannot read the token file {path} ({error})").format(
                        path=self.kiosk.token_file, error=exc.strerror or exc
                    ),
                )
                await asyncio.sleep(TOKEN_RETRY)
                continue
            client = BridgeClient(
                self.kiosk.url,
                token,
                cafile=self.kiosk.ca_file,
                name="pvp",
                max_backoff=self.max_backoff,
                open_timeout=self.open_timeout,
            )
            client.subscribe(self._on_event)
            self.client = client
            try:
                await client.connect()
            except BridgeError as err:
                self.client = None
                with contextlib.suppress(Exception):
                    await client.close()
                if err.code in ("unauthorized", "forbidden"):
                    self._set(REFUSED, _("the kiosk refused the token (check token_file)"))
                    await asyncio.sleep(TOKEN_RETRY)
                    continue
                self._offline(str(err))
            except Exception as exc:  # refused, timeout, DNS, TLS
                self.client = None
                with contextlib.suppress(Exception):
                    await client.close()
                self._offline(f"{type(exc).__name__}: {exc}")
            else:
                return  # from now on the client reconnects on its own
            await asyncio.sleep(reconnect_delay(attempt, self.max_backoff, base=0.25))
            attempt += 1

    def _offline(self, detail: str) -> None:
        log.info("kiosk %s unreachable: %s", self.kiosk.id, detail)
        self._set(OFFLINE, _("not answering"))

    def _on_event(self, event: str, data: Any) -> None:
        if event == "client.connected":
            self.state.connects += 1
            self._set(ONLINE)
            if self._refresh is None or self._refresh.done():
                self._refresh = asyncio.ensure_future(self._after_connect())
        elif event == "client.disconnected":
            if not self._closing:
                self._set(OFFLINE, _("connection lost, reconnecting"))
        elif event == "health":  # checked by the client (kiosk_bridge.shapes.Health)
            self.state.health = data
            self._changed(self.kiosk.id)
        self._event(self.kiosk.id, event, data)

    async def _after_connect(self) -> None:
        """Fresh device lists after each (re)connection, then the connected hooks."""
        await asyncio.sleep(0)  # let connect() send hello first
        for method in ("health.get", "scanner.list", "printer.list"):
            try:
                reply = await self.request(method, timeout=15)
            except BridgeError as err:
                log.info("kiosk %s: %s failed: %s", self.kiosk.id, method, err)
                continue
            if method == "health.get":
                self.state.health = cast(Health, reply)
            elif method == "scanner.list":
                self.state.scanners = cast(ScannerList, reply)["scanners"]
            else:
                self.state.printers = cast(PrinterList, reply)["printers"]
        self._changed(self.kiosk.id)
        for hook in list(self.connected_hooks):
            try:
                result = hook(self)
                if asyncio.iscoroutine(result):
                    await result
            except Exception:
                log.exception("kiosk %s: connected hook failed", self.kiosk.id)

    @property
    def features(self) -> frozenset[str]:
        """What the kiosk's bridge listed in hello's `features` (none while it is down)."""
        return self.client.features if self.client is not None else frozenset()

    async def request(
        self, method: str, params: dict[str, Any] | None = None, *, timeout: float | None = None
    ) -> Any:
        """One bridge request; fails at once (kiosk_unreachable) while the link is down."""
        client = self.client
        if client is None or not client.connected:
            raise unreachable()
        try:
            return await client.request(method, params, timeout=timeout)
        except BridgeError as err:
            if err.code == "connection_lost":
                raise unreachable() from None
            raise

    async def fetch_document(self, document: str) -> Fetched:
        """A document's bytes from the kiosk's spool (documents.get in chunks) with their
        sha256, checked by the client against the bridge's. Fails at once
        (kiosk_unreachable) while the link is down."""
        client = self.client
        if client is None or not client.connected:
            raise unreachable()
        try:
            return await client.fetch_document(document)
        except BridgeError as err:
            if err.code == "connection_lost":
                raise unreachable() from None
            raise

    async def put_document(self, data: bytes) -> dict[str, Any]:
        """Send a PDF to the kiosk's spool (documents.put, in chunks when large): the new
        document's metadata. Fails at once (kiosk_unreachable) while the link is down."""
        client = self.client
        if client is None or not client.connected:
            raise unreachable()
        try:
            return await client.put_document(data)
        except BridgeError as err:
            if err.code == "connection_lost":
                raise unreachable() from None
            raise


class KioskLinks:
    """Every configured kiosk's link."""

    def __init__(
        self,
        kiosks: Iterable[Kiosk],
        *,
        max_backoff: float = MAX_BACKOFF,
        open_timeout: float = OPEN_TIMEOUT,
    ) -> None:
        self._change_cbs: list[Callable[[str], object]] = []
        self._event_cbs: list[Callable[[str, str, Any], None]] = []
        self.links: dict[str, KioskLink] = {
            k.id: KioskLink(
                k, self._changed, self._event, max_backoff=max_backoff, open_timeout=open_timeout
            )
            for k in kiosks
        }

    def __bool__(self) -> bool:
        return bool(self.links)

    def __getitem__(self, kiosk_id: str) -> KioskLink:
        return self.links[kiosk_id]

    def __iter__(self) -> Any:
        return iter(self.links.values())

    def on_change(self, callback: Callable[[str], object]) -> Callable[[], None]:
        self._change_cbs.append(callback)
        return lambda: self._change_cbs.remove(callback) if callback in self._change_cbs else None

    def on_event(self, callback: Callable[[str, str, Any], None]) -> Callable[[], None]:
        self._event_cbs.append(callback)
        return lambda: self._event_cbs.remove(callback) if callback in self._event_cbs else None

    def on_connected(self, hook: Callable[[KioskLink], Any]) -> None:
        for link in self.links.values():
            link.connected_hooks.append(hook)

    def _changed(self, kiosk_id: str) -> None:
        for cb in list(self._change_cbs):
            try:
                cb(kiosk_id)
            except Exception:
                log.exception("kiosk change callback failed")

    def _event(self, kiosk_id: str, event: str, data: Any) -> None:
        for cb in list(self._event_cbs):
            try:
                cb(kiosk_id, event, data)
            except Exception:
                log.exception("kiosk event callback failed for %s", event)

    def start(self) -> None:
        for link in self.links.values():
            link.start()

    async def close(self) -> None:
        await asyncio.gather(*(link.close() for link in self.links.values()))

    async def request(
        self,
        kiosk_id: str,
        method: str,
        params: dict[str, Any] | None = None,
        *,
        timeout: float | None = None,
    ) -> Any:
        return await self.links[kiosk_id].request(method, params, timeout=timeout)
