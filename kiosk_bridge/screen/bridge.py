"""The kiosk's screen as a bridge extension: `kiosk.*` methods, the `kiosk.screen` and
`kiosk.satisfaction` events, and the wipe of a visit's print jobs and documents.

Listed in `kiosk_bridge.app.EXTENSIONS` after the session (it follows the call's
`session.state` events through `Bridge.listeners`). With `[screen] enabled = false` (the
default) no browser is started and the methods answer `screen_disabled`.
"""

from __future__ import annotations

import asyncio
import base64
import logging
from typing import Any

from kiosk_bridge.errors import CATALOG, BridgeError, ErrorSpec
from kiosk_bridge.protocol import CallContext, Int, Str
from kiosk_bridge.screen.config import parse
from kiosk_bridge.screen.screen import KioskScreen, capture
from kiosk_bridge.session.bridge import SessionError
from kiosk_bridge.session.browser import CDPClosed, CDPError
from kiosk_bridge.session.config import RoomRefused

log = logging.getLogger(__name__)

EVENTS = ("kiosk.screen", "kiosk.satisfaction")
DEFAULT_WIDTH = 480
MIN_WIDTH = 160

ERRORS: dict[str, ErrorSpec] = {
    "screen_disabled": ErrorSpec(
        False,
        "L'écran de la borne n'est pas géré par le pont : l'administrateur l'active avec "
        "enabled = true dans [screen] de la configuration du pont.",
        "The kiosk's screen is not run by the bridge: the administrator turns it on with "
        "enabled = true in [screen] of the bridge config.",
    ),
    "call_in_progress": ErrorSpec(
        True,
        "Une visio est en cours sur la borne (ticket {ticket}) : le visiteur et le conseiller "
        "se parlent. {what}",
        "A call is running on the kiosk (ticket {ticket}): the visitor and the adviser are "
        "talking. {what_en}",
    ),
    "screen_not_ready": ErrorSpec(
        True,
        "Le navigateur de la borne redémarre. Réessayez dans quelques secondes.",
        "The kiosk's browser is restarting. Try again in a few seconds.",
    ),
}

_DURING_CALL = {
    "kiosk.screenshot": (
        "La configuration du site ne permet pas de voir l'écran pendant une visio.",
        "The site's config does not allow seeing the screen during a call.",
    ),
    "kiosk.reload": (
        "Pour débloquer la visio, utilisez Relancer (F9) dans la vue de la visio.",
        "To unstick the call, use Restart (F9) in the call's view.",
    ),
    "kiosk.restart_browser": (
        "Pour débloquer la visio, utilisez Relancer (F9) dans la vue de la visio.",
        "To unstick the call, use Restart (F9) in the call's view.",
    ),
    "kiosk.prepare": (
        "Terminez-la avant de préparer la borne pour une autre visite.",
        "End it before preparing the kiosk for another visit.",
    ),
    "kiosk.idle": (
        "Terminez-la d'abord (Raccrocher, F8).",
        "End it first (Hang up, F8).",
    ),
}


class ScreenError(BridgeError):
    """A BridgeError whose codes live here (the core CATALOG stays the bridge core's)."""

    def __init__(self, code: str, **params: Any) -> None:
        if code in CATALOG:
            super().__init__(code, **params)
            return
        spec = ERRORS[code]
        message = {"fr": spec.fr.format(**params), "en": spec.en.format(**params)}
        self._set(code, message, spec.retryable, None, params)


def setup(bridge: Any) -> None:
    config = parse(bridge.config.extra.get("screen"))
    reg = bridge.registry
    for event in EVENTS:
        reg.event(event)
    manager = bridge.session  # kiosk_bridge.session.bridge ran first

    async def wipe(since: float) -> dict[str, Any]:
        """The visit's print jobs still queued are cancelled, its documents deleted."""
        if not config.wipe_at_idle:
            return {}
        cancelled: list[int] = []
        try:
            jobs = await bridge.printer.jobs(None, True)
        except Exception:  # CUPS away: the documents are still deleted below
            log.exception("kiosk screen: the print queue could not be read")
            jobs = []
        for job in jobs:
            if job.submitted >= since and not job.final:
                try:
                    await bridge.printer.cancel(job.job)
                    cancelled.append(job.job)
                except BridgeError as exc:
                    log.warning("kiosk screen: print job %s not cancelled: %s", job.job, exc.code)
        deleted: list[str] = []
        for doc in await asyncio.to_thread(bridge.spool.list_documents):
            if doc.created >= since and await asyncio.to_thread(bridge.spool.delete, doc.id):
                deleted.append(doc.id)
                bridge.broadcast("documents.expired", {"document": doc.id, "reason": "visit_end"})
        if deleted:
            bridge.poke_health()
        return {"jobs_cancelled": cancelled, "documents_deleted": deleted}

    screen = KioskScreen(
        config, manager.config, bridge.broadcast, wipe=wipe, busy=lambda: manager.active
    )
    if config.enabled:
        bridge.screen = screen
        bridge.listeners.append(screen.on_event)

    def check(method: str) -> KioskScreen:
        if not config.enabled:
            raise ScreenError("screen_disabled")
        return screen

    def refuse_during_call(method: str) -> None:
        status = manager.status()
        if manager.active:
            fr, en = _DURING_CALL[method]
            raise ScreenError(
                "call_in_progress", ticket=status.get("display_name"), what=fr, what_en=en
            )

    @reg.method("kiosk.status", {})
    async def kiosk_status(call: CallContext, p: dict[str, Any]) -> Any:
        """What the kiosk's screen shows: view, ticket, trouble, browser restarts."""
        return {"enabled": config.enabled, **check("kiosk.status").status()}

    @reg.method(
        "kiosk.prepare",
        {
            "display_name": Str(max_len=200),
            "partner": Str(default=None, max_len=32),
            "partner_name": Str(default=None, max_len=60),
        },
    )
    async def kiosk_prepare(call: CallContext, p: dict[str, Any]) -> Any:
        """The preparing page for a visit: its ticket, its partner, the camera check."""
        screen = check("kiosk.prepare")
        refuse_during_call("kiosk.prepare")
        try:
            rooms = manager.config.partner_for(p["display_name"], p["partner"])
        except RoomRefused as exc:
            raise SessionError(exc.code, **exc.params) from None
        return await screen.prepare(p["display_name"], rooms.id, p["partner_name"])

    @reg.method("kiosk.idle", {})
    async def kiosk_idle(call: CallContext, p: dict[str, Any]) -> Any:
        """Back to the idle page now (the visit's jobs and documents wiped)."""
        screen = check("kiosk.idle")
        refuse_during_call("kiosk.idle")
        return await screen.idle("staff")

    @reg.method("kiosk.screenshot", {"width": Int(min=MIN_WIDTH, default=DEFAULT_WIDTH)})
    async def kiosk_screenshot(call: CallContext, p: dict[str, Any]) -> Any:
        """A PNG of what the kiosk shows, `width` pixels wide (480 by default)."""
        screen = check("kiosk.screenshot")
        width = min(p["width"], config.screenshot_max_width)
        try:
            if manager.active:
                refuse = not config.screenshot_during_call
                browser, page = manager.browser, manager.page_session
                if refuse or browser is None or browser.cdp is None or page is None:
                    refuse_during_call("kiosk.screenshot")
                    raise ScreenError("screen_not_ready")
                data, w, h = await capture(browser.cdp, page, width)
                view = "in_call"
            else:
                data, w, h = await screen.screenshot(width)
                view = screen.view
        except (CDPClosed, CDPError, TimeoutError):
            raise ScreenError("screen_not_ready") from None
        return {
            "type": "image/png",
            "width": w,
            "height": h,
            "view": view,
            "data": base64.b64encode(data).decode(),
        }

    @reg.method("kiosk.reload", {})
    async def kiosk_reload(call: CallContext, p: dict[str, Any]) -> Any:
        """Load the kiosk's page again (between calls)."""
        screen = check("kiosk.reload")
        refuse_during_call("kiosk.reload")
        try:
            result = await screen.reload()
        except (CDPClosed, CDPError, TimeoutError):
            raise ScreenError("screen_not_ready") from None
        log.info("kiosk screen: reloaded at staff's request")
        return result

    @reg.method("kiosk.restart_browser", {})
    async def kiosk_restart_browser(call: CallContext, p: dict[str, Any]) -> Any:
        """Kill the kiosk's browser and start it again on the current page (between calls)."""
        screen = check("kiosk.restart_browser")
        refuse_during_call("kiosk.restart_browser")
        log.info("kiosk screen: browser restart at staff's request")
        before = screen.restarts
        await screen.restart_browser()
        return {"restarting": True, "restarts": before}

    async def start(bridge: Any) -> None:
        if config.enabled:
            await screen.start()

    async def stop(bridge: Any) -> None:
        if config.enabled:
            await screen.close()

    bridge.on_start(start)
    bridge.on_stop(stop)
