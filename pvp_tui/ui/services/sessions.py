"""The video sessions the app owns: F5 start, the bridge's session events, the visit's
records, the kiosk's call badge, and the end of a call when its visit closes.

Bridge events arrive on the app's loop (kiosk link callbacks); records are written in
order by one writer task, off the loop (`asyncio.to_thread`). The queue screen gets a
message only when a kiosk's session changes (about every 2 s during a call, and its badge
repaints only when its words change); the elapsed time ticks in the session view alone.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sqlite3
from typing import Any

from textual.message import Message

from kiosk_bridge.shapes import SessionStatus

from ...core.errors import PvpError
from ...core.frontdesk import FrontDesk
from ...core.i18n import _
from ...core.kiosks import NO_KIOSK, BridgeError, KioskLink, KioskLinks, bridge_message
from ...core.models import Status, Visit
from ...core.sessions import (
    FALLBACKS,
    LiveSession,
    Record,
    SessionLog,
    SessionTracker,
    hub_room_params,
    open_session,
    start_params,
)
from ..messages import VisitMoved
from ..widgets.badges import BadgeUpdate, Level
from .host import Host

log = logging.getLogger("pvp.ui.session")

WRITE_RETRIES = 5
CLOSED = (Status.DONE, Status.CANCELLED, Status.TRANSFERRED, Status.NO_SHOW, Status.WAITING)


class SessionChanged(Message):
    """A kiosk's session changed (state, figures, or its link)."""

    def __init__(self, kiosk: str) -> None:
        super().__init__()
        self.kiosk = kiosk


class Sessions:
    """The app's video sessions: one tracker, one ordered writer.

    It tells the app what changed with messages (`SessionChanged`, `VisitMoved`)."""

    def __init__(
        self,
        app: Host,
        desk: FrontDesk,
        kiosks: KioskLinks,
        tracker: SessionTracker | None = None,
    ) -> None:
        self.app = app
        self.desk = desk
        self.kiosks = kiosks
        self.tracker = tracker or SessionTracker()
        self.log = SessionLog(desk)
        self._queue: asyncio.Queue[list[Record]] | None = None
        self._writer: asyncio.Task[None] | None = None
        self.written = 0  # records written (tests wait on it)
        self._prepared: dict[str, str] = {}  # visit id -> the kiosk showing its preparing page

    # ----------------------------------------------------------------- wiring
    def attach(self) -> None:
        self._queue = asyncio.Queue()
        self._writer = asyncio.get_running_loop().create_task(self._write_loop())
        links = self.kiosks
        if links:
            links.on_event(self._on_event)
            links.on_connected(self._resync)

    async def close(self) -> None:
        if self._writer is not None:
            await self.flush(timeout=5)
            self._writer.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._writer

    def _on_event(self, kiosk: str, event: str, data: Any) -> None:
        if event.startswith("session.") or event == "kiosk.satisfaction":
            self._record(self.tracker.feed(kiosk, event, data))
            self.app.post_message(SessionChanged(kiosk))
        elif (
            event in ("client.connected", "client.disconnected")
            and self.tracker.get(kiosk) is not None
        ):
            self.app.post_message(SessionChanged(kiosk))

    async def _resync(self, link: KioskLink) -> None:
        """After a (re)connection: what happened to our session while the link was down,
        or a call this site started before pvp restarted (found in the store)."""
        live = self.tracker.get(link.kiosk.id)
        if live is not None and (live.session is None or "ended" in live.recorded):
            return
        try:
            status: SessionStatus = await link.request("session.status", timeout=10)
        except BridgeError:
            return
        if live is None:
            live = await self._adopt(link.kiosk.id, status)
            if live is None:
                return
        last = status.get("last")
        if status["session"] == live.session:
            self._record(self.tracker.feed(link.kiosk.id, "session.state", status))
        elif last is not None and last.get("session") == live.session:
            self._record(
                self.tracker.feed(
                    link.kiosk.id,
                    "session.state",
                    {"state": "idle", "session": live.session, "last": last},
                )
            )
        self.app.post_message(SessionChanged(link.kiosk.id))

    async def _adopt(self, kiosk: str, status: SessionStatus) -> LiveSession | None:
        last = status.get("last")
        session = status["session"] or (last or {}).get("session")
        if not session:
            return None
        found = await asyncio.to_thread(open_session, self.log, str(session))
        if found is None:
            return None
        visit_id, recorded = found
        visit = await asyncio.to_thread(self.desk.get, visit_id)
        log.info("following call %s of %s again on %s", session, visit.ticket, kiosk)
        return self.tracker.adopt(kiosk, visit, str(session), recorded)

    # ----------------------------------------------------------------- writing
    def _record(self, records: list[Record]) -> None:
        if records and self._queue is not None:
            self._queue.put_nowait(records)

    async def flush(self, timeout: float = 10) -> None:
        """Wait until every record so far is written."""
        if self._queue is not None:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._queue.join(), timeout)

    async def _write_loop(self) -> None:
        assert self._queue is not None
        while True:
            batch = await self._queue.get()
            try:
                for attempt in range(WRITE_RETRIES):
                    try:
                        self.written += await asyncio.to_thread(self.log.write, batch)
                        break
                    except Exception as exc:  # db locked, disk full...
                        log.warning("session records not written yet: %s", exc)
                        if attempt == WRITE_RETRIES - 1:
                            self.app.notify(
                                _(
                                    "Could not save the video call's record ({error}). "
                                    "Check the database, then finish the visit as usual."
                                ).format(error=exc),
                                severity="error",
                                markup=False,
                                timeout=10,
                            )
                        else:
                            await asyncio.sleep(0.5 * (attempt + 1))
            finally:
                self._queue.task_done()

    # ----------------------------------------------------------------- acting
    def pick_kiosk(self) -> KioskLink:
        """The kiosk to start a call on: the first one online with no call running."""
        links = list(self.kiosks)
        if not links:
            raise PvpError(
                "no_kiosk",
                _(NO_KIOSK),
            )
        online = [ln for ln in links if ln.state.online]
        free = [ln for ln in online if not self.tracker.busy(ln.kiosk.id)]
        if free:
            return free[0]
        if online:
            live = self.tracker.get(online[0].kiosk.id)
            raise PvpError(
                "session_busy",
                _("A call is already running on this kiosk ({ticket}): end it first.").format(
                    ticket=live.ticket if live else "?"
                ),
            )
        raise PvpError(
            "kiosk_unreachable",
            _(
                "The kiosk is not answering (pvp-bridge stopped or network down): nothing was "
                "started. Check that it is on; the link comes back by itself, then press F5 "
                "again."
            ),
        )

    async def start(self, visit: Visit) -> LiveSession:
        """Ask the kiosk's bridge to open the partner's room for this visit.

        Nothing is written unless the bridge took the request: a refusal or a kiosk that
        is down leaves the visit as it was (PvpError with the bridge's words).
        """
        if visit.status not in (Status.CALLED, Status.IN_SESSION):
            raise PvpError(
                "not_at_kiosk",
                _("{ticket} is not at the kiosk: call them first (F3).").format(
                    ticket=visit.ticket
                ),
            )
        link = self.pick_kiosk()
        params = await self._room_params(visit, link)
        previous = self.tracker.get(link.kiosk.id)
        if previous is not None and previous.over:
            await self._wait_idle(previous)  # its browser is still closing
        live = self.tracker.begin(link.kiosk.id, visit)
        try:
            reply: SessionStatus = await link.request("session.start", params, timeout=30)
        except BridgeError as err:
            self.tracker.abandon(live)
            self.app.post_message(SessionChanged(link.kiosk.id))
            raise PvpError(err.code, bridge_message(err)) from None
        self._record(self.tracker.reply(live, reply))
        if visit.status is Status.CALLED:
            desk = self.desk
            with contextlib.suppress(PvpError):  # started meanwhile by another desk
                visit = await asyncio.to_thread(desk.start, visit.id)
        self.app.post_message(VisitMoved(visit))  # selected in "at the kiosk": F8 just works
        self.app.post_message(SessionChanged(link.kiosk.id))
        return live

    async def _room_params(self, visit: Visit, link: KioskLink) -> dict[str, str]:
        """session.start's params: the room from the region's hub when `[hub]` is set (the
        same room shows on the agent's page), else the partner's configured room; a
        fallback, or a Visio room on a bridge too old to type the ticket, is said to staff
        in words."""
        config = self.desk.config
        if config.hub is None:
            return start_params(config, visit)
        from ...core.hub_rooms import ask_hub

        room = await asyncio.to_thread(ask_hub, config.hub, visit.id)
        if room.url is not None:
            params, notice = hub_room_params(visit, room.url, room.kind, link.features)
            if notice:
                self.app.notify(notice, severity="warning", markup=False, timeout=30)
            return params
        params = start_params(config, visit)  # no room of its own either: the clear refusal
        if room.notice:
            self.app.notify(room.notice, severity="warning", markup=False, timeout=10)
        return params

    async def end(self, live: LiveSession) -> None:
        """Hang up (the bridge closes the browser; its events record the end)."""
        if not live.running:
            return
        link = self.kiosks.links.get(live.kiosk)
        if link is None:
            return
        try:
            await link.request("session.end", timeout=30)
        except BridgeError as err:
            raise PvpError(err.code, bridge_message(err)) from None

    async def retry(self, live: LiveSession) -> LiveSession:
        """End what is left of the call, then start it again for the same visit."""
        if live.running:
            await self.end(live)
            await self._wait_over(live)
        live.acknowledged = True
        await self._wait_idle(live)  # the bridge closes the browser before the next call
        visit = await asyncio.to_thread(self.desk.get, live.visit_id)
        return await self.start(visit)

    async def fall_back(self, live: LiveSession, kind: str) -> None:
        """Phone call or new appointment instead: end the call, record the incident."""
        if kind not in FALLBACKS:
            raise ValueError(kind)
        if live.running:
            with contextlib.suppress(PvpError):  # recorded even if the kiosk is down
                await self.end(live)
                await self._wait_over(live)
        self._record([self.tracker.incident(live, kind)])
        await self.flush()
        self.app.post_message(SessionChanged(live.kiosk))

    async def _wait_idle(self, live: LiveSession, timeout: float = 10) -> None:
        for _attempt in range(int(timeout / 0.05)):
            if live.browser_gone:
                return
            await asyncio.sleep(0.05)

    async def _wait_over(self, live: LiveSession, timeout: float = 15) -> None:
        for _attempt in range(int(timeout / 0.05)):
            if not live.running:
                return
            await asyncio.sleep(0.05)

    def visit_closed(self, visit: Visit) -> None:
        """A visit was finished (or left the kiosk): its running call ends with it."""
        if visit.status not in CLOSED:
            return
        live = self.tracker.for_visit(visit.id)
        if live is None:
            return
        live.acknowledged = True
        if live.running:
            self.app.run_worker(self._end_quietly(live), group="session", exit_on_error=False)
        self.app.post_message(SessionChanged(live.kiosk))

    def day_started(self) -> None:
        """The app crossed midnight: the start of day closed the visits left open (here
        or at another desk, whichever came first); a call still running for one of
        them ends with it, as when staff finish the visit."""
        followed = [s for s in self.tracker.sessions.values() if not s.acknowledged]
        if followed:
            self.app.run_worker(self._end_closed(followed), group="session", exit_on_error=False)

    async def _end_closed(self, followed: list[LiveSession]) -> None:
        for live in followed:
            try:
                visit = await asyncio.to_thread(self.desk.get, live.visit_id)
            except (PvpError, sqlite3.Error):  # unreadable now: the next read says why
                continue
            self.visit_closed(visit)

    def visit_moved(self, visit: Visit) -> None:
        """The kiosk's screen follows the visit (kiosk_bridge.screen): its preparing page
        (ticket, partner, camera check) once it is called to the kiosk, back to idle when
        it leaves without a call. Best effort: a bridge without its screen says so and
        nothing else happens."""
        live = self.tracker.for_visit(visit.id)
        if visit.status is Status.CALLED and live is None:
            with contextlib.suppress(PvpError):
                link = self.pick_kiosk()
                partner = self.desk.config.partner(visit.partner_id)
                params = {"display_name": visit.ticket, "partner": visit.partner_id}
                if partner is not None:
                    params["partner_name"] = partner.name[:60]
                self._prepared[visit.id] = link.kiosk.id
                self.app.run_worker(
                    self._screen(link, "kiosk.prepare", params),
                    group="kiosk-screen",
                    exit_on_error=False,
                )
        elif visit.status in CLOSED and visit.id in self._prepared:
            prepared = self.kiosks.links.get(self._prepared.pop(visit.id))
            if prepared is not None and (live is None or not live.running):
                self.app.run_worker(
                    self._screen(prepared, "kiosk.idle", {}),
                    group="kiosk-screen",
                    exit_on_error=False,
                )
        elif visit.status is Status.IN_SESSION:
            self._prepared.pop(visit.id, None)

    async def _screen(self, link: KioskLink, method: str, params: dict[str, Any]) -> None:
        try:
            await link.request(method, params, timeout=10)
        except BridgeError as err:
            if err.code not in ("screen_disabled", "call_in_progress", "unknown_method"):
                log.info("kiosk %s: %s refused (%s)", link.kiosk.id, method, err.code)

    async def _end_quietly(self, live: LiveSession) -> None:
        try:
            await self.end(live)
        except PvpError as exc:
            self.app.notify(
                _("{ticket}: the video call could not be ended: {error}").format(
                    ticket=live.ticket, error=exc.message
                ),
                severity="error",
                markup=False,
            )

    # ----------------------------------------------------------------- badges
    def badge(self, kiosk_id: str) -> tuple[str, Level] | None:
        """The kiosk's call in a few words for the queue's header, None when free."""
        live = self.tracker.get(kiosk_id)
        if live is None or (live.over and live.acknowledged):
            return None
        link = self.kiosks.links.get(kiosk_id)
        name = ""
        if len(self.kiosks.links) > 1 and link is not None:
            name = f"{link.kiosk.name} · "
        ticket = live.ticket
        if live.running and link is not None and not link.state.online:
            return name + _("call {ticket}: kiosk unreachable").format(ticket=ticket), "error"
        if live.state == "failed":
            return name + _("call {ticket} failed").format(ticket=ticket), "error"
        if live.over:
            return None
        if live.state == "reconnecting":
            return name + _("call {ticket}: reconnecting…").format(ticket=ticket), "error"
        if live.state == "in_call":
            if live.quality == "poor":
                return name + _("call {ticket}: poor quality").format(ticket=ticket), "error"
            if live.quality == "degraded":
                return name + _("call {ticket}: fair quality").format(ticket=ticket), "warn"
            return name + _("call {ticket} in progress").format(ticket=ticket), "ok"
        return name + _("call {ticket}: connecting…").format(ticket=ticket), "info"

    def badges(self) -> list[BadgeUpdate]:
        """Each kiosk's call badge for the queue's header (None text: no badge)."""
        updates = []
        for link in self.kiosks:
            key = f"call-{link.kiosk.id}"
            shown = self.badge(link.kiosk.id)
            updates.append(BadgeUpdate(key, None) if shown is None else BadgeUpdate(key, *shown))
        return updates
