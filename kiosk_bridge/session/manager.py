"""One video session per kiosk: start, watch and end the call in the kiosk's Chromium.

`SessionManager.start()` checks the request (ticket-number display name, https room on a
domain allowed for the partner), launches Chromium in its own process group with a
throwaway profile, injects the peer-connection tracker before any page script (and into
every child frame), opens the room and watches it: the script's reports drive the state
machine, a getStats() poll every `stats_interval` seconds drives the quality. Events go to
the async `on_event(name, data)` callback in order: `session.state` and `session.stats`.
Whatever happens (end, far end leaving, crash, exception, bridge shutdown) the browser's
process group is killed and its profile deleted, then the state returns to idle.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import json
import logging
import secrets
import time
from collections.abc import Awaitable, Callable, Coroutine
from datetime import UTC, datetime
from importlib import resources
from typing import Any

from kiosk_bridge import memory
from kiosk_bridge.session.browser import (
    BrowserError,
    CDPClosed,
    CDPError,
    Chromium,
    LaunchOptions,
    install_exit_hooks,
    sweep_stale_profiles,
)
from kiosk_bridge.session.config import RoomRefused, RoomRequest, SessionConfig
from kiosk_bridge.session.machine import ACTIVE, REASONS, TERMINAL, State, Transition
from kiosk_bridge.session.quality import Level
from kiosk_bridge.session.watch import CallWatch, StatsUpdate

log = logging.getLogger(__name__)

EventCallback = Callable[[str, dict[str, Any]], Awaitable[None]]
TraceCallback = Callable[[float, str, Any], None]

BINDING = "__pvpBridgeReport"
STATS_EXPRESSION = "window.__pvpSession ? window.__pvpSession.stats() : []"
_STATUS_EXPRESSION = '(performance.getEntriesByType("navigation")[0] || {}).responseStatus || 0'
_RETRY_NAVIGATION_AFTER = 2.0
_MAX_REPORT_BYTES = 16_384
_CHILD_TYPES = ("iframe", "page")
# Visio's lobby (suitenumerique/meet, src/frontend/src/features/rooms/components/Lobby.tsx):
# a react-aria form whose text field has id "input-name" (label "Votre nom",
# autocomplete "name") and whose submit button ("Rejoindre") sends request-entry.
_LOBBY_FIELD = (
    '(document.getElementById("input-name")'
    " || document.querySelector('form input[autocomplete=\"name\"]'))"
)
_LOBBY_POLL_S = 0.2
_LOBBY_FOCUS = f"""(() => {{
  const field = {_LOBBY_FIELD};
  if (!field || field.disabled || !field.getClientRects().length) return false;
  field.focus(); field.select(); return document.activeElement === field;
}})()"""
_LOBBY_VALUE = f"(() => {{ const f = {_LOBBY_FIELD}; return f ? f.value : null; }})()"
_LOBBY_BUTTON = f"""(() => {{
  const field = {_LOBBY_FIELD};
  const form = field && field.form;
  const button = form && form.querySelector('button[type="submit"], input[type="submit"]');
  if (!button) return null;
  button.scrollIntoView({{block: "center"}});
  const r = button.getBoundingClientRect();
  return r.width && r.height ? [r.left + r.width / 2, r.top + r.height / 2] : null;
}})()"""
_LOBBY_GONE = f"!{_LOBBY_FIELD}"


def reason_message(reason: str | None) -> dict[str, str] | None:
    if reason is None or reason not in REASONS:
        return None
    fr, en = REASONS[reason]
    return {"fr": fr, "en": en}


def _inject_source() -> str:
    source = resources.files("kiosk_bridge.session").joinpath("inject.js").read_text("utf-8")
    return source.replace("__PVP_BINDING__", BINDING)


class _Session:
    """One call, from launch to cleanup. Owned and driven by SessionManager."""

    def __init__(
        self,
        manager: SessionManager,
        request: RoomRequest,
        config: SessionConfig,
    ) -> None:
        self.manager = manager
        self.request = request
        self.config = config
        self.id = secrets.token_hex(6)
        self.watch = CallWatch(config.timeouts, config.quality)
        self.machine = self.watch.machine
        self.quality = self.watch.quality
        self.browser: Chromium | None = None
        self.main_session: str | None = None
        self.t0 = manager.clock()
        self.wall0 = manager.wall()
        self.wake = asyncio.Event()
        self.loaded = asyncio.Event()
        self.browser_closed = False
        self.killing = False
        # (cdp session, execution context) -> connection ids reported from that frame
        self.contexts: dict[tuple[str, int], set[str]] = {}
        self.last_answer = 0.0  # when the page last answered a poll
        self.ready = asyncio.Event()  # set once launching is over (either way)
        self.end_requested: str | None = None
        self.task: asyncio.Task[None] | None = None
        self._tasks: set[asyncio.Task[Any]] = set()

    # -- time --------------------------------------------------------------------------
    def now(self) -> float:
        return self.manager.clock()

    def iso(self, mono: float | None) -> str | None:
        if mono is None:
            return None
        stamp = self.wall0 + (mono - self.t0)
        return datetime.fromtimestamp(stamp, UTC).isoformat(timespec="milliseconds")

    def trace(self, kind: str, payload: Any) -> None:
        if self.manager.trace is not None:
            self.manager.trace(self.now() - self.t0, kind, payload)

    # -- state changes -----------------------------------------------------------------
    def feed(self, kind: str, data: Any = None) -> None:
        """One observation through the watch (and into the trace, so it can be replayed)."""
        if kind != "tick":
            self.trace(kind, data)
        transitions, update = self.watch.feed(self.now(), kind, data)
        self.apply(transitions)
        if update is not None:
            self.emit_stats(update)

    def apply(self, transitions: list[Transition]) -> None:
        for tr in transitions:
            if tr.state is State.FAILED:  # the admin's first clue: reason and technical detail
                log.warning("session %s: failed (%s) %s", self.id, tr.reason, tr.detail or "")
            else:
                reason = f" ({tr.reason})" if tr.reason else ""
                log.info("session %s: %s%s", self.id, tr.state, reason)
            self.manager.emit("session.state", self.state_data(tr))
        if transitions:
            self.wake.set()

    def state_data(self, tr: Transition | None = None) -> dict[str, Any]:
        m = self.machine
        state = tr.state if tr else m.state
        reason = tr.reason if tr else m.reason
        detail = tr.detail if tr else m.detail
        at = tr.at if tr else self.now()
        return {
            "session": self.id,
            "state": str(state),
            "reason": reason,
            "message": reason_message(reason),
            "detail": detail,
            "at": self.iso(at),
            "partner": self.request.partner,
            "display_name": self.request.display_name,
            "room_host": self.request.host,
            "started_at": self.iso(m.started_at),
            "agent_joined_at": self.iso(m.agent_joined_at),
            "ended_at": self.iso(m.ended_at),
            "elapsed_s": round(at - (m.started_at or at), 1),
            "reconnects": m.reconnects,
            "quality": self.quality.level.label,
            "worst_quality": self.quality.worst.label,
        }

    def status(self) -> dict[str, Any]:
        data = self.state_data()
        data["quality_reasons"] = list(self.quality.reasons)
        data["stats"] = self.watch.sample.to_dict() if self.watch.sample else None
        return data

    # -- the run -----------------------------------------------------------------------
    async def run(self) -> None:
        try:
            self.feed("start")
            if self.end_requested is None:
                await self._launch()
            if self.end_requested is not None:
                self.feed("end", self.end_requested)
            self.ready.set()
            if not self.machine.finished:
                self._spawn(self._open_room())
                await self._watch()
        except Exception as exc:
            log.exception("session %s: unexpected error", self.id)
            self.feed("fail", ["browser_crashed", type(exc).__name__])
        finally:
            self.ready.set()
            await self._cleanup()

    async def _launch(self) -> None:
        c = self.config
        options = LaunchOptions(
            binary=c.chromium,
            headless=c.headless,
            kiosk=c.kiosk,
            fake_media=c.fake_media,
            extra_flags=c.extra_flags,
            start_timeout=c.timeouts.launch,
            profile_root=c.profile_dir,
        )
        try:
            self.browser = await Chromium.launch(options)
        except BrowserError as exc:
            self.feed("fail", [exc.reason, str(exc)])
            return
        if self.end_requested is not None:  # ended while the browser was starting
            return
        assert self.browser.cdp is not None
        cdp = self.browser.cdp
        cdp.on_close(self._on_cdp_closed)
        cdp.on("Runtime.bindingCalled", self._on_binding)
        cdp.on("Runtime.executionContextDestroyed", self._on_context_destroyed)
        cdp.on("Runtime.executionContextsCleared", self._on_contexts_cleared)
        cdp.on("Target.attachedToTarget", self._on_attached)
        cdp.on("Target.detachedFromTarget", self._on_detached)
        cdp.on("Page.loadEventFired", self._on_load)
        cdp.on("Page.javascriptDialogOpening", self._on_dialog)
        cdp.on("Inspector.targetCrashed", self._on_crashed)
        try:
            targets = await cdp.send("Target.getTargets")
            page = next(t for t in targets["targetInfos"] if t.get("type") == "page")
            attached = await cdp.send(
                "Target.attachToTarget", {"targetId": page["targetId"], "flatten": True}
            )
            self.main_session = attached["sessionId"]
            await self._instrument(self.main_session)
            await cdp.send("Inspector.enable", {}, self.main_session)
        except (CDPError, CDPClosed, StopIteration, KeyError, TimeoutError) as exc:
            self.feed("fail", ["browser_failed", str(exc) or "DevTools"])
            return
        self.feed("ready")

    async def _instrument(self, session: str) -> None:
        """Binding + tracker before any page script, in this target and its children."""
        assert self.browser is not None and self.browser.cdp is not None
        cdp = self.browser.cdp
        await cdp.send("Page.enable", {}, session)
        await cdp.send("Runtime.addBinding", {"name": BINDING}, session)
        await cdp.send(
            "Page.addScriptToEvaluateOnNewDocument", {"source": self.manager.inject}, session
        )
        await cdp.send("Runtime.enable", {}, session)
        await cdp.send(
            "Target.setAutoAttach",
            {"autoAttach": True, "waitForDebuggerOnStart": True, "flatten": True},
            session,
        )

    async def _open_room(self) -> None:
        """Navigate, retrying network errors and 5xx until the page timeout."""
        assert self.browser is not None and self.browser.cdp is not None
        cdp = self.browser.cdp
        deadline = self.now() + self.config.timeouts.page
        while not self.machine.finished:
            self.loaded.clear()
            problem: str | None = None
            try:
                result = await cdp.send(
                    "Page.navigate",
                    {"url": self.request.url},
                    self.main_session,
                    timeout=max(deadline - self.now(), 1.0),
                )
                problem = result.get("errorText") or None
                if problem is None:
                    await asyncio.wait_for(self.loaded.wait(), max(deadline - self.now(), 0.1))
                    status = await self._evaluate(_STATUS_EXPRESSION, None, timeout=5.0)
                    if isinstance(status, int) and status >= 400:
                        problem = f"HTTP {status}"
                        if status < 500:
                            deadline = self.now()  # not found, forbidden: no use retrying
            except TimeoutError:
                problem = "timeout"
            except CDPClosed:
                return
            except CDPError as exc:
                problem = str(exc)
            if problem is None:
                self.feed("load")
                if self.request.room_kind == "visio-guest":
                    await self._join_lobby()
                return
            if self.now() + _RETRY_NAVIGATION_AFTER >= deadline:
                self.feed("fail", ["page_unreachable", problem])
                return
            log.info("session %s: room not reachable yet (%s), retrying", self.id, problem)
            await asyncio.sleep(_RETRY_NAVIGATION_AFTER)

    async def _join_lobby(self) -> None:
        """A Visio guest: wait for the lobby's name field, type the ticket in it through
        DevTools input events (a React-controlled field sees only real input), then press
        join. The form gone means the page took it (waiting to be let in, or in)."""
        assert self.browser is not None and self.browser.cdp is not None
        cdp = self.browser.cdp
        deadline = self.now() + self.config.timeouts.lobby

        async def until(expression: str, what: str) -> Any:
            while not self.machine.finished:
                with contextlib.suppress(TimeoutError, CDPError):
                    value = await self._evaluate(expression, None, timeout=2.0)
                    if value:
                        return value
                if self.now() >= deadline:
                    self.feed("fail", ["lobby_unavailable", what])
                    return None
                await asyncio.sleep(_LOBBY_POLL_S)
            return None

        try:
            if not await until(_LOBBY_FOCUS, "no name field in the page"):
                return
            ticket = self.request.display_name  # a ticket number, never a name
            await cdp.send("Input.insertText", {"text": ticket}, self.main_session)
            if await self._evaluate(_LOBBY_VALUE, None, timeout=2.0) != ticket:
                self.feed("fail", ["lobby_unavailable", "the name field did not take the ticket"])
                return
            point = await until(_LOBBY_BUTTON, "no join button by the name field")
            if not point:
                return
            x, y = float(point[0]), float(point[1])
            for kind in ("mousePressed", "mouseReleased"):
                await cdp.send(
                    "Input.dispatchMouseEvent",
                    {"type": kind, "x": x, "y": y, "button": "left", "clickCount": 1},
                    self.main_session,
                )
            if await until(_LOBBY_GONE, "the lobby did not take the join"):
                log.info("session %s: joined the lobby as a guest", self.id)
        except CDPClosed:
            return  # the browser went: the watch reports it
        except TimeoutError:  # typing, reading the field or clicking got no answer
            self.feed("fail", ["lobby_unavailable", "the page did not answer while joining"])
        except CDPError as exc:
            self.feed("fail", ["lobby_unavailable", f"{exc.method} refused while joining"])

    def _poll_timeout(self) -> float:
        return max(0.5, min(5.0, self.config.timeouts.unresponsive / 3))

    async def _watch(self) -> None:
        interval = self.config.stats_interval
        self.last_answer = self.now()
        next_poll = self.now() + interval
        while not self.machine.finished:
            if self.browser_closed:
                code = None
                if self.browser is not None:
                    with contextlib.suppress(TimeoutError):
                        code = await asyncio.wait_for(self.browser.proc.wait(), 1.0)
                self.feed("browser_gone", f"exit code {code}" if code is not None else None)
                break
            now = self.now()
            deadline = self.machine.next_deadline()
            wait = next_poll - now
            if deadline is not None:
                wait = min(wait, deadline - now)
            if wait > 0:
                self.wake.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self.wake.wait(), wait)
            self.feed("tick")
            if self.machine.finished or self.browser_closed:
                continue
            if self.now() >= next_poll:
                next_poll = self.now() + interval
                if self.machine.state in ACTIVE and self.machine.page_loaded:
                    await self._poll()

    async def _poll(self) -> None:
        """One getStats() round over every frame that holds peer connections."""
        reports: list[Any] = []
        responded = False
        targets = list(self.contexts) or [(self.main_session or "", 0)]
        for session, context in targets:
            try:
                value = await self._evaluate(
                    STATS_EXPRESSION if context else "0",
                    (session, context) if context else None,
                    timeout=self._poll_timeout(),
                )
            except TimeoutError:
                continue
            except CDPError:  # the frame went away: its connections with it
                responded = True
                gone = sorted(self.contexts.pop((session, context), set()))
                self.feed("peers_gone", gone)
                continue
            except CDPClosed:
                return
            responded = True
            if isinstance(value, list):
                reports.extend(value)
        if not responded:
            silent = self.now() - self.last_answer
            if silent >= self.config.timeouts.unresponsive:
                self.feed("fail", ["page_not_responding", f"no answer for {silent:.0f} s"])
            return
        self.last_answer = self.now()
        if not self.contexts:
            return
        self.feed("stats", reports)

    def emit_stats(self, update: StatsUpdate) -> None:
        data: dict[str, Any] = {
            "session": self.id,
            "at": self.iso(self.now()),
            "state": str(self.machine.state),
            "quality": self.quality.level.label,
            "quality_changed": update.changed,
            "worst_quality": self.quality.worst.label,
            "sample_quality": update.level.label,
            "reasons": update.reasons,
        }
        data.update(update.sample.to_dict())
        if update.changed:
            log.info("session %s: quality %s %s", self.id, data["quality"], update.reasons)
        self.manager.emit("session.stats", data)

    async def _evaluate(
        self, expression: str, where: tuple[str, int] | None, timeout: float
    ) -> Any:
        assert self.browser is not None and self.browser.cdp is not None
        params: dict[str, Any] = {
            "expression": expression,
            "awaitPromise": True,
            "returnByValue": True,
        }
        session = self.main_session
        if where is not None:
            session, params["contextId"] = where
        result = await self.browser.cdp.send("Runtime.evaluate", params, session, timeout=timeout)
        if "exceptionDetails" in result:
            return None
        return result.get("result", {}).get("value")

    def _spawn(self, coro: Coroutine[Any, Any, Any]) -> None:
        task = asyncio.ensure_future(coro)
        task.set_name(getattr(coro, "__qualname__", "task"))
        self._tasks.add(task)
        task.add_done_callback(self._task_done)

    def _task_done(self, task: asyncio.Task[Any]) -> None:
        """A background task that ended on an error says so: only the browser going
        (CDPClosed, which the watch reports) is expected."""
        self._tasks.discard(task)
        if task.cancelled() or task.exception() is None:
            return
        exc = task.exception()
        if isinstance(exc, CDPClosed):
            return
        if isinstance(exc, CDPError):  # the method and code only: no page text, no URL
            log.info(
                "session %s: %s ended on a DevTools error (%s, code %s)",
                self.id, task.get_name(), exc.method, exc.code,
            )  # fmt: skip
        else:
            log.error("session %s: %s failed: %r", self.id, task.get_name(), exc)

    async def _cleanup(self) -> None:
        self.killing = True
        for task in list(self._tasks):
            task.cancel()
        for task in list(self._tasks):
            with contextlib.suppress(BaseException):
                await task
        if self.browser is not None:
            await self.browser.kill()
        if not self.machine.finished:  # cancelled from outside
            self.feed("end", "bridge_shutdown")

    # -- DevTools events (synchronous: they only feed the machine) ---------------------
    def _on_binding(self, params: dict[str, Any], session: str | None) -> None:
        if params.get("name") != BINDING or session is None:
            return
        payload = params.get("payload")
        if not isinstance(payload, str) or len(payload) > _MAX_REPORT_BYTES:
            return
        try:
            msg = json.loads(payload)
        except ValueError:
            return
        if not isinstance(msg, dict):
            return
        context = params.get("executionContextId")
        if isinstance(context, int) and isinstance(msg.get("pc"), str):
            self.contexts.setdefault((session, context), set()).add(msg["pc"])
        self.feed("report", msg)

    def _on_context_destroyed(self, params: dict[str, Any], session: str | None) -> None:
        key = (session or "", params.get("executionContextId", -1))
        if key in self.contexts:
            self._peers_gone(self.contexts.pop(key))

    def _on_contexts_cleared(self, params: dict[str, Any], session: str | None) -> None:
        gone: set[str] = set()
        for key in [k for k in self.contexts if k[0] == session]:
            gone |= self.contexts.pop(key)
        self._peers_gone(gone)

    def _on_detached(self, params: dict[str, Any], session: str | None) -> None:
        child = params.get("sessionId")
        gone: set[str] = set()
        for key in [k for k in self.contexts if k[0] == child]:
            gone |= self.contexts.pop(key)
        self._peers_gone(gone)

    def _peers_gone(self, ids: set[str]) -> None:
        if ids:
            self.feed("peers_gone", sorted(ids))

    def _on_attached(self, params: dict[str, Any], session: str | None) -> None:
        child = params.get("sessionId")
        info = params.get("targetInfo") or {}
        if session is None or not isinstance(child, str):
            return  # our own attach to the page
        self._spawn(self._setup_child(child, info.get("type"), params.get("waitingForDebugger")))

    async def _setup_child(self, child: str, kind: Any, waiting: Any) -> None:
        assert self.browser is not None and self.browser.cdp is not None
        try:
            if kind in _CHILD_TYPES:
                await self._instrument(child)
        finally:
            if waiting:
                with contextlib.suppress(CDPError, CDPClosed):
                    await self.browser.cdp.send("Runtime.runIfWaitingForDebugger", {}, child)

    def _on_load(self, params: dict[str, Any], session: str | None) -> None:
        if session == self.main_session:
            self.loaded.set()

    def _on_dialog(self, params: dict[str, Any], session: str | None) -> None:
        # Nobody can answer a dialog on a kiosk in a call: accept it so the page goes on.
        if self.browser is not None and self.browser.cdp is not None:
            self._spawn(
                self.browser.cdp.send("Page.handleJavaScriptDialog", {"accept": True}, session)
            )

    def _on_crashed(self, params: dict[str, Any], session: str | None) -> None:
        if session == self.main_session:
            self.feed("crashed")

    def _on_cdp_closed(self) -> None:
        if not self.killing:
            self.browser_closed = True
            self.trace("browser_gone", None)
            self.wake.set()


class SessionManager:
    """The kiosk's one video session. `on_event(name, data)` gets every event, in order.

    A call's objects (the session, its browser process and transports, the DevTools
    websocket and its reader task, the handlers bound to the session) refer to one another:
    only the collector frees them, and its oldest generation runs when the objects that
    reached it since its last run number a quarter of the long-lived ones (~27,000 in the
    bridge), i.e. after hundreds of calls, each holding some 50 KB meanwhile. So once a
    call is over (`collect_after` seconds after its idle, when its requests have returned)
    the manager runs a full collection and hands the freed pages back (docs/memory.md).
    """

    collect_after = 1.0

    def __init__(
        self,
        config: SessionConfig,
        on_event: EventCallback | None = None,
        *,
        trace: TraceCallback | None = None,
        clock: Callable[[], float] = time.monotonic,
        wall: Callable[[], float] = time.time,
    ) -> None:
        self.config = config
        self.on_event = on_event
        self.trace = trace
        self.clock = clock
        self.wall = wall
        self.inject = _inject_source()
        self._session: _Session | None = None
        self._last: dict[str, Any] | None = None
        self._lock = asyncio.Lock()
        self._closed = False
        self._queue: asyncio.Queue[tuple[str, dict[str, Any]]] = asyncio.Queue()
        self._emitter: asyncio.Task[None] | None = None
        self._collect: asyncio.TimerHandle | None = None
        install_exit_hooks()
        roots = [config.profile_dir] if config.profile_dir else None
        removed = sweep_stale_profiles(roots)
        if removed:
            log.warning("removed %d browser profile(s) left by a previous bridge", removed)

    # -- the API -----------------------------------------------------------------------
    async def start(
        self,
        room_url: str,
        display_name: str,
        partner: str | None = None,
        room_kind: str | None = None,
    ) -> dict[str, Any]:
        """Check the request, launch the browser and open the room.

        Returns once the browser is up (state connecting) or could not start (failed);
        the rest arrives as `session.state` events. Raises RoomRefused (a stable code)
        when the request breaks a rule or a session is already running.
        """
        async with self._lock:
            if self._closed:
                raise RoomRefused("shutting_down")
            request = self.config.check_request(room_url, display_name, partner, room_kind)
            if self._session is not None:
                raise RoomRefused("session_busy", ticket=self._session.request.display_name)
            session = _Session(self, request, self.config)
            self._session = session
            log.info(
                "session %s: start %s on %s for %s",
                session.id,
                request.display_name,
                request.host,
                request.partner,
            )
            session.task = asyncio.create_task(self._drive(session), name="video-session")
        await session.ready.wait()
        return session.status()

    async def end(self, reason: str = "ended_by_staff") -> dict[str, Any]:
        """End the call (idempotent); returns once the browser is gone."""
        session = self._session
        if session is not None:
            if session.end_requested is None:
                session.end_requested = reason
            session.killing = True  # from now on the browser's exit is ours, not a crash
            if session.machine.state is not State.IDLE:
                session.feed("end", reason)
            session.wake.set()
            if session.task is not None:
                await asyncio.shield(session.task)
        return self.status()

    def status(self) -> dict[str, Any]:
        if self._session is not None:
            return self._session.status()
        return {"state": str(State.IDLE), "session": None, "last": self._last}

    async def close(self) -> None:
        """Bridge shutdown: end the call, kill the browser, deliver the last events."""
        self._closed = True
        await self.end("bridge_shutdown")
        await self.flush()
        if self._collect is not None:
            self._collect.cancel()
        if self._emitter is not None:
            self._emitter.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._emitter

    async def flush(self) -> None:
        """Wait until every event emitted so far went to on_event."""
        if self._emitter is not None:
            await self._queue.join()

    @property
    def active(self) -> bool:
        return self._session is not None

    @property
    def browser(self) -> Chromium | None:
        """The running browser (process group, profile), for diagnostics and tests."""
        return self._session.browser if self._session is not None else None

    @property
    def page_session(self) -> str | None:
        """The DevTools session of the call's page (kiosk.screenshot during a call)."""
        return self._session.main_session if self._session is not None else None

    # -- internals ---------------------------------------------------------------------
    async def _drive(self, session: _Session) -> None:
        try:
            await session.run()
        finally:
            self._last = session.status()
            self._session = None
            self.emit(
                "session.state",
                {
                    "session": session.id,
                    "state": str(State.IDLE),
                    "reason": None,
                    "message": None,
                    "at": session.iso(session.now()),
                    "last": {
                        k: self._last[k]
                        for k in ("state", "reason", "agent_joined_at", "ended_at", "reconnects")
                    },
                },
            )
            # Not now: this frame and `end()`'s still hold the session (see the class doc).
            if self._collect is not None:
                self._collect.cancel()
            loop = asyncio.get_running_loop()
            self._collect = loop.call_later(self.collect_after, _collect_call)

    def emit(self, event: str, data: dict[str, Any]) -> None:
        if self.on_event is None:
            return
        if self._emitter is None or self._emitter.done():
            self._emitter = asyncio.create_task(self._emit_loop(), name="session-events")
        self._queue.put_nowait((event, data))

    async def _emit_loop(self) -> None:
        assert self.on_event is not None
        while True:
            event, data = await self._queue.get()
            try:
                await self.on_event(event, data)
            except Exception:
                log.exception("session event callback failed for %s", event)
            finally:
                self._queue.task_done()


def _collect_call() -> None:
    """A full collection once a call is over, then malloc's free pages back to the system."""
    gc.collect()
    memory.release()


__all__ = ["TERMINAL", "Level", "SessionManager", "reason_message"]
