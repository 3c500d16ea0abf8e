"""The kiosk's own screen: a Chromium the bridge owns, full screen all day, showing the
bridge's local page (idle, preparing, call opening, after the call).

`KioskScreen` keeps one browser alive (its own process group and profile, like the call's
browser in kiosk_bridge.session.browser): a supervisor task launches it, opens
`page/screen.html` from the package (a local file: no server, no outside asset), pushes
what to show with `pvpScreen.show(state)` after each load, and relaunches it whenever it
dies or its renderer crashes. The page reports touches through a DevTools binding. The
call itself runs in the session's own browser (a fresh profile per call), on top of it.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from kiosk_bridge.screen.config import ScreenConfig
from kiosk_bridge.screen.texts import PAGE, page_texts, trouble_text
from kiosk_bridge.session.browser import (
    BrowserError,
    CDPClosed,
    CDPConnection,
    CDPError,
    Chromium,
    LaunchOptions,
)
from kiosk_bridge.session.config import SessionConfig

log = logging.getLogger(__name__)

BINDING = "__pvpScreen"
PROFILE_PREFIX = "screen-"  # after browser.PROFILE_PREFIX: the stale-profile sweep finds it
VIEWS = ("idle", "preparing", "call", "interrupted", "after")
ANSWERS = ("good", "ok", "bad")
# A touch screen must not zoom, nor swipe back to a blank page.
SCREEN_FLAGS = ("--disable-pinch", "--overscroll-history-navigation=0")
RELAUNCH_DELAY = 0.5  # seconds between a browser's death and the next launch
BUSY_POLL = 0.2  # seconds between two looks at a call that holds back a relaunch
MAX_RELAUNCH_DELAY = 30.0

Emit = Callable[[str, dict[str, Any]], None]
Wipe = Callable[[float], Awaitable[dict[str, Any]]]


def page_url() -> str:
    path = resources.files("kiosk_bridge.screen").joinpath("page/screen.html")
    return Path(str(path)).resolve().as_uri()


@dataclass
class Visit:
    """What the screen knows of the visit at the kiosk: its ticket, never a name."""

    ticket: str
    partner: str | None
    started: float  # wall clock, for the wipe (documents and print jobs since then)
    session: str | None = None
    agent_joined: bool = False
    answered: bool = False
    partner_name: str | None = None


class KioskScreen:
    def __init__(
        self,
        config: ScreenConfig,
        session: SessionConfig,
        emit: Emit,
        *,
        wipe: Wipe | None = None,
        busy: Callable[[], bool] = lambda: False,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.config = config
        self.session_config = session
        self.emit = emit
        self.wipe = wipe
        self.busy = busy  # a call runs (the session's browser is on screen)
        self._announce_restart = False  # say "browser_restarted" once the new page shows
        self.clock = clock
        self.view = "idle"
        self.visit: Visit | None = None
        self.trouble: str | None = None
        self.since = clock()
        self.browser: Chromium | None = None
        self.page_session: str | None = None
        self.restarts = 0
        self.shown = asyncio.Event()  # set once the current view is on the page
        self._url = page_url()
        self._wake = asyncio.Event()
        self._restart = asyncio.Event()
        self._closed = False
        self._supervisor: asyncio.Task[None] | None = None
        self._timer: asyncio.Task[None] | None = None
        self._render_lock = asyncio.Lock()
        self._events: asyncio.Queue[tuple[str, dict[str, Any]]] = asyncio.Queue()
        self._follower: asyncio.Task[None] | None = None
        self._background: set[asyncio.Future[Any]] = set()

    # -- lifecycle ---------------------------------------------------------------------
    async def start(self) -> None:
        self._supervisor = asyncio.create_task(self._supervise(), name="kiosk-screen")
        self._follower = asyncio.create_task(self._follow(), name="kiosk-screen-events")

    async def close(self) -> None:
        self._closed = True
        self._cancel_timer()
        for task in (self._supervisor, self._follower):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
        await self._kill()

    async def _supervise(self) -> None:
        delay = RELAUNCH_DELAY
        while not self._closed:
            started = self.clock()
            try:
                await self._run_browser()
            except BrowserError as exc:
                log.error("kiosk screen: the browser did not start: %s", exc)
            except (CDPClosed, CDPError, TimeoutError, OSError) as exc:
                log.warning("kiosk screen: browser lost (%s)", exc)
            finally:
                await self._kill()
            if self._closed:
                return
            # A browser that ran a while is relaunched at once; one that keeps failing at
            # start waits longer each time (up to 30 s), so a broken install does not spin.
            delay = (
                RELAUNCH_DELAY
                if self.clock() - started > 10
                else min(delay * 2, MAX_RELAUNCH_DELAY)
            )
            self.restarts += 1
            self._announce_restart = True
            await asyncio.sleep(0 if self._restart.is_set() else delay)
            self._restart.clear()
            if self.busy():
                # A new full-screen window would come on top of the call: wait for its end
                # (the call's own browser covers the screen meanwhile).
                log.warning("kiosk screen: browser lost during a call; restarted after it")
                self.emit("kiosk.screen", self.status(reason="browser_waits_for_call_end"))
                while self.busy() and not self._closed:
                    await asyncio.sleep(BUSY_POLL)

    async def _run_browser(self) -> None:
        c = self.session_config
        options = LaunchOptions(
            binary=c.chromium,
            headless=c.headless,
            kiosk=c.kiosk,
            fake_media=c.fake_media,
            extra_flags=(*SCREEN_FLAGS, *c.extra_flags),
            start_timeout=c.timeouts.launch,
            profile_root=c.profile_dir,
            profile_prefix=PROFILE_PREFIX,
        )
        browser = await Chromium.launch(options)
        self.browser = browser
        cdp = browser.cdp
        assert cdp is not None
        gone = asyncio.Event()
        loaded = asyncio.Event()
        cdp.on_close(gone.set)
        cdp.on("Runtime.bindingCalled", self._on_binding)
        cdp.on("Page.loadEventFired", lambda p, s: loaded.set())
        cdp.on("Inspector.targetCrashed", lambda p, s: gone.set())
        cdp.on("Page.javascriptDialogOpening", self._on_dialog)
        cdp.on("Page.frameNavigated", self._on_navigated)
        targets = await cdp.send("Target.getTargets")
        page = next(t for t in targets["targetInfos"] if t.get("type") == "page")
        attached = await cdp.send(
            "Target.attachToTarget", {"targetId": page["targetId"], "flatten": True}
        )
        session = attached["sessionId"]
        self.page_session = session
        for method, params in (
            ("Page.enable", {}),
            ("Inspector.enable", {}),
            ("Runtime.enable", {}),
            ("Runtime.addBinding", {"name": BINDING}),
        ):
            await cdp.send(method, params, session)
        await cdp.send("Page.navigate", {"url": self._url}, session)
        log.info("kiosk screen: browser up (group %s)", browser.pgid)
        waits = {
            "gone": asyncio.ensure_future(gone.wait()),
            "exit": asyncio.ensure_future(browser.proc.wait()),
            "restart": asyncio.ensure_future(self._restart.wait()),
            "loaded": asyncio.ensure_future(loaded.wait()),
        }
        try:
            while True:
                done, _ = await asyncio.wait(waits.values(), return_when=asyncio.FIRST_COMPLETED)
                if waits["loaded"] in done:  # a (re)load: show the current view again
                    loaded.clear()
                    waits["loaded"] = asyncio.ensure_future(loaded.wait())
                    if await self.render() and self._announce_restart:
                        self._announce_restart = False
                        self.emit("kiosk.screen", self.status(reason="browser_restarted"))
                    continue
                which = next(k for k, t in waits.items() if t in done)
                log.warning("kiosk screen: browser %s, restarting it", which)
                return
        finally:
            for task in waits.values():
                task.cancel()

    async def _kill(self) -> None:
        browser, self.browser, self.page_session = self.browser, None, None
        self.shown.clear()
        if browser is not None:
            await browser.kill()

    # -- what the page shows -----------------------------------------------------------
    def state(self) -> dict[str, Any]:
        language = self.config.language
        visit = self.visit
        partner = (visit.partner_name or self.config.partner_name(visit.partner)) if visit else None
        if visit is None:
            joining = ""
        elif partner:
            joining = PAGE["joining"][language].format(partner=partner)
        else:
            joining = PAGE["joining_plain"][language]
        logo = self.config.logo
        return {
            "view": self.view,
            "language": language,
            "texts": page_texts(language),
            "site_name": self.config.site_name,
            "logo": logo.as_uri() if logo is not None and logo.is_file() else "",
            "ticket": visit.ticket if visit and self.view in ("preparing", "call") else "",
            "joining": joining,
            "visit": visit.session if visit else None,
            "satisfaction": self.config.satisfaction and bool(visit and visit.agent_joined),
            "answered": bool(visit and visit.answered),
            "trouble": trouble_text(self.trouble, language) if self.visit else None,
        }

    def status(self, reason: str | None = None) -> dict[str, Any]:
        return {
            "view": self.view,
            "reason": reason,
            "ticket": self.visit.ticket if self.visit else None,
            "session": self.visit.session if self.visit else None,
            "trouble": self.trouble if self.visit else None,
            "browser": self.browser is not None and self.browser.alive,
            "restarts": self.restarts,
            "seconds": round(self.clock() - self.since, 1),
        }

    async def render(self) -> bool:
        """Push the current state to the page; False when there is no page to push to."""
        async with self._render_lock:
            browser, session = self.browser, self.page_session
            if browser is None or browser.cdp is None or session is None:
                return False
            expression = f"window.pvpScreen ? (pvpScreen.show({json.dumps(self.state())}), 1) : 0"
            try:
                result = await browser.cdp.send(
                    "Runtime.evaluate",
                    {"expression": expression, "returnByValue": True},
                    session,
                    timeout=5.0,
                )
            except (CDPClosed, CDPError, TimeoutError):
                return False
            ok = result.get("result", {}).get("value") == 1
            if ok:
                self.shown.set()
            return ok

    async def _show(self, view: str, reason: str | None = None) -> None:
        if view != self.view:
            self.since = self.clock()
            log.info("kiosk screen: %s%s", view, f" ({reason})" if reason else "")
        self.view = view
        self.shown.clear()
        self._cancel_timer()
        if view == "preparing" or view == "interrupted":
            self._timer = asyncio.create_task(
                self._back_to_idle_after(self.config.preparing_minutes * 60, "inactivity")
            )
        elif view == "after":
            self._timer = asyncio.create_task(
                self._back_to_idle_after(self.config.after_call_seconds, "after_call_done")
            )
        await self.render()
        self.emit("kiosk.screen", self.status(reason))

    def _cancel_timer(self) -> None:
        if self._timer is not None and self._timer is not asyncio.current_task():
            self._timer.cancel()
        self._timer = None

    async def _back_to_idle_after(self, seconds: float, reason: str) -> None:
        await asyncio.sleep(seconds)
        self._timer = None
        await self.idle(reason)

    # -- the visit's steps -------------------------------------------------------------
    async def prepare(
        self, ticket: str, partner: str | None, partner_name: str | None = None
    ) -> dict[str, Any]:
        """The preparing page (ticket, partner, camera and microphone check)."""
        if self.visit is None or self.visit.ticket != ticket or self.view in ("after", "idle"):
            if self.visit is not None and self.visit.ticket != ticket:
                await self._wipe("next_visit")
            self.visit = Visit(ticket, partner, time.time())
        if partner_name:
            self.visit.partner_name = partner_name
        await self._show("preparing")
        return self.status()

    async def call_opening(self, ticket: str, partner: str | None) -> None:
        """Before the call's browser starts: the preview gives the camera back."""
        if self.visit is None or self.visit.ticket != ticket or self.view == "after":
            if self.visit is not None and self.visit.ticket != ticket:
                await self._wipe("next_visit")
            self.visit = Visit(ticket, partner, time.time())
        self.visit.answered = False
        await self._show("call")

    async def idle(self, reason: str = "staff") -> dict[str, Any]:
        """Back to idle: the visit's print jobs and documents wiped first."""
        await self._wipe(reason)
        self.visit = None
        self.trouble = None
        await self._show("idle", reason)
        return self.status(reason)

    async def _wipe(self, reason: str) -> None:
        visit = self.visit
        if visit is None or self.wipe is None:
            return
        try:
            done = await self.wipe(visit.started)
        except Exception:
            log.exception("kiosk screen: wiping the visit's jobs and documents failed")
            return
        if any(done.values()):
            log.info("kiosk screen: visit %s wiped (%s): %s", visit.ticket, reason, done)

    def on_event(self, name: str, data: dict[str, Any]) -> None:
        """The bridge's own events: the call's states, the peripherals' trouble."""
        if not self._closed and name in ("session.state", "print.job", "scan.failed", "scan.done"):
            self._events.put_nowait((name, data))

    async def _follow(self) -> None:
        """The events one at a time, in order (a call's states never overtake each other)."""
        while True:
            name, data = await self._events.get()
            try:
                await self._handle(name, data)
            except Exception:
                log.exception("kiosk screen: handling %s failed", name)

    async def _handle(self, name: str, data: dict[str, Any]) -> None:
        if name == "session.state":
            await self._on_session_state(data)
        elif name == "print.job":
            reasons = [] if data.get("final") else list(data.get("printer_reasons") or [])
            code = next((r for r in reasons if trouble_text(r, "fr")), None)
            await self._set_trouble(code, "print")
        elif name == "scan.failed":
            code = (data.get("error") or {}).get("code")
            if trouble_text(code, "fr"):
                await self._set_trouble(code, "scan")
        elif name == "scan.done":
            await self._set_trouble(None, "scan")

    async def _set_trouble(self, code: str | None, source: str) -> None:
        # Clear only what this source raised (a print job cannot clear a scanner's lid).
        if (
            code is None
            and self.trouble is not None
            and self.trouble.startswith("scanner_") != (source == "scan")
        ):
            return
        if code == self.trouble or self.visit is None:
            return
        self.trouble = code
        await self.render()
        self.emit("kiosk.screen", self.status("trouble"))

    async def _on_session_state(self, data: dict[str, Any]) -> None:
        state = data.get("state")
        if state == "launching":
            ticket = data.get("display_name")
            if isinstance(ticket, str):
                if self.visit is None or self.visit.ticket != ticket or self.view != "call":
                    await self.call_opening(ticket, data.get("partner"))
                assert self.visit is not None
                self.visit.session = data.get("session")
        elif state == "in_call" and self.visit is not None:
            self.visit.agent_joined = True
        elif state in ("ended", "failed", "idle") and self.visit is not None:
            # The end is known at `ended`/`failed`, while the call's browser still covers the
            # screen: the page is ready underneath before that browser is gone. `idle`
            # carries the same in `last` (an end event this screen did not see).
            if self.visit.session not in (None, data.get("session")) or self.view != "call":
                return
            last = (data.get("last") or {}) if state == "idle" else data
            if not isinstance(last, dict) or last.get("state") not in ("ended", "failed"):
                return
            if last.get("agent_joined_at"):
                self.visit.agent_joined = True
            if self.visit.agent_joined:
                await self._show("after", last.get("reason"))
            elif last.get("reason") in ("ended_by_staff", "bridge_shutdown"):
                await self.idle(last.get("reason") or "ended")
            else:
                await self._show("interrupted", last.get("reason"))

    # -- the page's reports ------------------------------------------------------------
    def _on_binding(self, params: dict[str, Any], session: str | None) -> None:
        if params.get("name") != BINDING or session != self.page_session:
            return
        payload = params.get("payload")
        if not isinstance(payload, str) or len(payload) > 1024:
            return
        with contextlib.suppress(ValueError):
            msg = json.loads(payload)
            if isinstance(msg, dict):
                self._on_report(msg)

    def _on_report(self, msg: dict[str, Any]) -> None:
        visit = self.visit
        answer = msg.get("answer")
        if answer in ANSWERS and visit is not None and self.view == "after":
            if visit.answered or msg.get("visit") != visit.session:
                return  # one answer per visit; never one meant for a previous visit
            visit.answered = True
            log.info("kiosk screen: satisfaction answered for session %s", visit.session)
            self.emit(
                "kiosk.satisfaction",
                {
                    "session": visit.session,
                    "display_name": visit.ticket,
                    "partner": visit.partner,
                    "answer": answer,
                    "at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                },
            )
        elif msg.get("check") == "failed" and self.view == "preparing":
            log.warning("kiosk screen: camera/microphone check failed (%s)", msg.get("error"))
            self.emit("kiosk.screen", self.status("media_check_failed"))

    def _on_navigated(self, params: dict[str, Any], session: str | None) -> None:
        """Anything but our page in the main frame (a swipe, a stray link): back to it."""
        frame = params.get("frame") or {}
        if session != self.page_session or frame.get("parentId"):
            return
        url = str(frame.get("url") or "")
        browser = self.browser
        if url.split("#")[0] != self._url and browser is not None and browser.cdp is not None:
            log.warning("kiosk screen: the page left for another address; back to ours")
            task = asyncio.ensure_future(
                browser.cdp.send("Page.navigate", {"url": self._url}, session)
            )
            self._background.add(task)
            task.add_done_callback(self._background.discard)

    def _on_dialog(self, params: dict[str, Any], session: str | None) -> None:
        browser = self.browser
        if browser is not None and browser.cdp is not None:
            task = asyncio.ensure_future(
                browser.cdp.send("Page.handleJavaScriptDialog", {"accept": False}, session)
            )
            self._background.add(task)
            task.add_done_callback(self._background.discard)

    # -- staff's tools -----------------------------------------------------------------
    async def reload(self) -> dict[str, Any]:
        browser, session = self.browser, self.page_session
        if browser is None or browser.cdp is None or session is None:
            raise CDPClosed("no page")
        self.shown.clear()
        await browser.cdp.send("Page.navigate", {"url": self._url}, session)
        return self.status("reloaded")

    async def restart_browser(self) -> None:
        self._restart.set()

    async def screenshot(self, width: int) -> tuple[bytes, int, int]:
        """What the kiosk shows. Asked just after a (re)start or a change of view, the
        page may not be drawn yet (a blank picture): wait up to SHOWN_WAIT_S for the view
        to be on the page and for two painted frames, then take it as it is."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.shown.wait(), SHOWN_WAIT_S)
        browser, session = self.browser, self.page_session
        if browser is None or browser.cdp is None or session is None:
            raise CDPClosed("no page")
        with contextlib.suppress(CDPClosed, CDPError, TimeoutError):
            await browser.cdp.send(
                "Runtime.evaluate",
                {"expression": _PAINTED, "awaitPromise": True, "returnByValue": True},
                session,
                timeout=2.0,
            )
        return await capture(browser.cdp, session, width)


SHOWN_WAIT_S = 5.0
_PAINTED = "new Promise(r => requestAnimationFrame(() => requestAnimationFrame(() => r(1))))"


async def capture(cdp: CDPConnection, session: str, width: int) -> tuple[bytes, int, int]:
    """A PNG of the page's viewport scaled to `width` pixels (never enlarged): the bytes
    and the image's size."""
    metrics = await cdp.send("Page.getLayoutMetrics", {}, session, timeout=5.0)
    viewport = metrics.get("cssVisualViewport") or metrics.get("visualViewport") or {}
    vw = float(viewport.get("clientWidth") or 800)
    vh = float(viewport.get("clientHeight") or 600)
    scale = min(1.0, width / vw)
    shot = await cdp.send(
        "Page.captureScreenshot",
        {
            "format": "png",
            "clip": {"x": 0, "y": 0, "width": vw, "height": vh, "scale": scale},
        },
        session,
        timeout=10.0,
    )
    return base64.b64decode(shot["data"]), round(vw * scale), round(vh * scale)
