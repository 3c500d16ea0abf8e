"""The session view: the kiosk's call for one visit, live.

State and elapsed time, the partner, the call's quality (a coloured badge and sparklines of
round trip, loss and bitrate), and an alert saying what happened and what to do when the
quality drops or the call is lost. F8 hangs up, F9 starts the call again, F10 falls back
to a phone call or a new appointment (recorded on the visit). The elapsed time moves once
a second only while this view is on screen.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, Any, ClassVar

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.screen import Screen
from textual.timer import Timer
from textual.widgets import Button, Footer, Sparkline, Static

from ...core.errors import PvpError
from ...core.i18n import N_, _, get_language
from ...core.models import Visit
from ...core.sessions import FALLBACK_PHONE, NEW_APPOINTMENT, LiveSession
from .. import actions, format, styles
from ..messages import OpenDocuments
from ..widgets.status_line import StatusLine
from .dialogs import ConfirmDialog, Dialog

if TYPE_CHECKING:
    from textual.app import App

    from ..services import Services

STATE_LABELS = {
    "launching": N_("starting the browser"),
    "connecting": N_("opening the room"),
    "waiting_agent": N_("waiting for the agent"),
    "in_call": N_("call in progress"),
    "reconnecting": N_("reconnecting…"),
    "ended": N_("call ended"),
    "failed": N_("call failed"),
    "idle": N_("no call"),
}
QUALITY_LABELS = {"good": N_("good"), "degraded": N_("fair"), "poor": N_("poor")}
QUALITY_LEVELS = {"good": "ok", "degraded": "warn", "poor": "error"}
REASON_WORDS = {
    "rtt": N_("delay"),
    "loss": N_("packet loss"),
    "jitter": N_("jitter"),
    "fps": N_("frame rate"),
    "bitrate": N_("bitrate"),
    "no_media": N_("no sound or picture"),
}
SPARK_POINTS = 30


def decimal(value: float, digits: int = 1) -> str:
    text = f"{value:.{digits}f}"
    return text.replace(".", ",") if get_language() == "fr" else text


def clock(seconds: float) -> str:
    s = int(seconds)
    return f"{s // 3600}:{s // 60 % 60:02d}:{s % 60:02d}"


def bitrate(kbps: float) -> str:
    if kbps >= 1000:
        return f"{decimal(kbps / 1000)} Mb/s"
    return f"{round(kbps)} kb/s"


def reasons_text(reasons: tuple[str, ...]) -> str:
    return ", ".join(_(REASON_WORDS[r]) if r in REASON_WORDS else r for r in reasons)


def alert(live: LiveSession | None, link_online: bool) -> tuple[str, str] | None:
    """What happened and what to do, in that order, with its level; None when all is well."""
    if live is None:
        return None
    if live.state == "failed":
        text = live.message_text() or _("The call failed.")
        return (
            text
            + "\n"
            + _("F9 starts the call again · F10 falls back to a phone call or a new appointment."),
            "error",
        )
    if live.state == "ended":
        text = live.message_text() or _("The call ended.")
        return text + "\n" + _("Finish the visit (F8 in the queue) or F9 to call again."), "info"
    if live.running and not link_online:
        return (
            _(
                "The kiosk is not answering: the call may still run on it. The link comes "
                "back by itself; if it does not, check that the kiosk is on."
            ),
            "error",
        )
    if live.state == "reconnecting":
        return (
            _(
                "Connection lost: the kiosk is trying to reconnect. Check the kiosk's network; "
                "if the call does not come back, F9 starts it again."
            ),
            "error",
        )
    if live.state == "in_call" and live.quality == "poor":
        return (
            _(
                "Poor quality ({reasons}): sound and picture break up. Ask the agent to turn "
                "their camera off; if it lasts, F9 restarts the call or F10 falls back to "
                "the phone."
            ).format(reasons=reasons_text(live.quality_reasons) or "—"),
            "error",
        )
    if live.state == "in_call" and live.quality == "degraded":
        return (
            _(
                "Fair quality ({reasons}): the picture may stutter. Nothing to do yet; if it "
                "gets worse, F9 restarts the call."
            ).format(reasons=reasons_text(live.quality_reasons) or "—"),
            "warn",
        )
    return None


class FallbackDialog(Dialog):
    """Phone call back or new appointment, instead of the video."""

    def __init__(self, ticket: str) -> None:
        super().__init__(id="fallback-dialog")
        self.ticket = ticket

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Static(
                _("{ticket}: instead of the video call").format(ticket=self.ticket),
                classes="dialog-title",
                markup=False,
            )
            yield Static(
                _("The call ends and the incident is recorded on the visit."), markup=False
            )
            with Horizontal(classes="dialog-buttons"):
                yield Button(_("Phone call"), id=FALLBACK_PHONE, compact=True)
                yield Button(_("New appointment"), id=NEW_APPOINTMENT, compact=True)
                yield Button(_("Cancel"), id="cancel", compact=True)

    def on_mount(self) -> None:
        self.query_one(f"#{FALLBACK_PHONE}", Button).focus()

    @on(Button.Pressed)
    def _pressed(self, event: Button.Pressed) -> None:
        choice = event.button.id
        self.dismiss(choice if choice in (FALLBACK_PHONE, NEW_APPOINTMENT) else None)


class SessionScreen(Screen[None]):
    DEFAULT_CSS = styles.default_css("session.tcss")
    # Most urgent first: an 80-column footer cuts the last ones.
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("f8", "hang_up", N_("Hang up"), id="hang_up"),
        Binding("f9", "retry", N_("Retry"), id="retry"),
        Binding("f10", "fall_back", N_("Fallback"), id="fall_back"),
        Binding("f6", "documents", N_("Scan"), id="session_documents"),
        Binding("f7", "print_documents", N_("Print"), id="session_print"),
        Binding("escape", "back", N_("Queue"), id="back"),
    ]

    def __init__(
        self,
        services: Services,
        visit: Visit,
        *,
        monotonic: Callable[[], float] | None = None,
    ) -> None:
        super().__init__(id="session")
        actions.localize(self)
        self.services = services
        self.visit = visit
        self._monotonic = monotonic
        self._timer: Timer | None = None
        self._ready = False

    @property
    def live(self) -> LiveSession | None:
        return self.services.sessions.tracker.for_visit(self.visit.id)

    def now(self) -> float:
        return (self._monotonic or self.services.sessions.tracker.monotonic)()

    def compose(self) -> ComposeResult:
        with Horizontal(id="session-head"):
            yield Static("", id="session-title", markup=False)
            yield Static("", id="session-clock", markup=False)
        with Horizontal(id="session-quality"):
            yield Static(_("Quality:") + " ", markup=False)
            yield Static("", id="quality-badge", markup=False)
        for key, label in (
            ("rtt", _("Delay")),
            ("loss", _("Loss")),
            ("rate", _("Bitrate")),
        ):
            with Horizontal(classes="figure", id=f"figure-{key}"):
                yield Static(label, classes="label", markup=False)
                yield Sparkline([], id=f"spark-{key}")
                yield Static("–", classes="value", id=f"value-{key}", markup=False)
        yield Static("", id="session-alert", classes="-hidden", markup=False)
        yield Static("", id="session-facts", markup=False)
        yield Static("", id="session-room", classes="-hidden", markup=False)
        yield StatusLine()
        yield Footer(compact=True)

    def on_mount(self) -> None:
        self._timer = self.set_interval(1.0, self._tick, pause=True)
        self._ready = True
        self.show()
        self.read_room_opened()

    def on_screen_resume(self) -> None:
        self.show()

    def on_screen_suspend(self) -> None:
        if self._timer is not None:
            self._timer.pause()

    # ----------------------------------------------------------------- showing
    def _set(self, selector: str, text: str) -> None:
        widget = self.query_one(selector, Static)
        if str(widget.content) != text:
            widget.update(text)

    def _tick(self) -> None:
        if not self._ready:
            return
        self._set("#session-clock", self._clock_text(self.live))

    def _clock_text(self, live: LiveSession | None) -> str:
        if live is None:
            return _(STATE_LABELS["idle"])
        return f"{_(STATE_LABELS.get(live.state, live.state))} {clock(live.elapsed(self.now()))}"

    def show(self) -> None:
        """Everything from the live session (on each of its changes, not on a timer)."""
        if not self._ready:
            return
        live = self.live
        config = self.services.desk.config
        title = " · ".join(
            (
                self.visit.ticket,
                format.partner_name(config, self.visit.partner_id),
                format.visitor_name(self.visit, self.services.privacy),
            )
        )
        self._set("#session-title", title)
        self._tick()
        if self._timer is not None:
            if live is not None and live.running and self.is_current:
                self._timer.resume()
            else:
                self._timer.pause()
        quality = live.quality if live is not None else "good"
        badge = self.query_one("#quality-badge", Static)
        for level in ("ok", "warn", "error"):
            badge.set_class(level == QUALITY_LEVELS[quality], f"-{level}")
        self._set("#quality-badge", "● " + _(QUALITY_LABELS[quality]))
        self._figures(live)
        link = self.services.kiosks.links.get(live.kiosk) if live is not None else None
        said = alert(live, link is None or link.state.online)
        box = self.query_one("#session-alert", Static)
        box.set_class(said is None, "-hidden")
        for level in ("warn", "error", "info"):
            box.set_class(said is not None and said[1] == level, f"-{level}")
        self._set("#session-alert", said[0] if said else "")
        self._set("#session-facts", self._facts(live))

    def _figures(self, live: LiveSession | None) -> None:
        last = live.last_stats if live is not None else None
        for key, field, unit in (
            ("rtt", "rtt_ms", lambda v: f"{round(v)} ms"),
            ("loss", "loss_pct", lambda v: f"{decimal(v)} %"),
            ("rate", "out_kbps", bitrate),
        ):
            series = live.series(field)[-SPARK_POINTS:] if live is not None else []
            spark = self.query_one(f"#spark-{key}", Sparkline)
            if list(spark.data or []) != series:
                spark.data = series
            value = last.get(field) if last else None
            self._set(f"#value-{key}", unit(float(value)) if value is not None else "–")

    def _facts(self, live: LiveSession | None) -> str:
        if live is None:
            return _("No video call for this visit yet: F9 starts it.")
        link = self.services.kiosks.links.get(live.kiosk)
        parts = [link.kiosk.name if link else live.kiosk]
        if live.room_host:
            parts.append(_("room {host}").format(host=live.room_host))
        if live.agent_joined_at:
            try:
                joined = datetime.fromisoformat(live.agent_joined_at)
                at = format.clock_time(joined, self.services.desk.config.site.timezone)
            except ValueError:
                at = "?"
            parts.append(_("agent joined at {time}").format(time=at))
        parts.append(_("reconnections: {n}").format(n=live.reconnects))
        parts.append(
            _("worst quality: {quality}").format(quality=_(QUALITY_LABELS[live.worst_quality]))
        )
        return " · ".join(parts)

    @work(thread=True, exclusive=True, group="room-opened", exit_on_error=False)
    def read_room_opened(self) -> None:
        """When the agent opened the room from their page (the hub's pull brings it): read
        at mount and after each read of the queue (a pull's commit is one)."""
        from ...core.hub_rooms import agent_opened_at

        at = agent_opened_at(self.services.desk.store, self.visit.id)
        self.app.call_from_thread(self.show_room_opened, at)

    def show_room_opened(self, at: datetime | None) -> None:
        if not self.is_attached:
            return
        text = ""
        if at is not None:
            time = format.clock_time(at, self.services.desk.config.site.timezone)
            text = _("The agent opened the video call at {time}.").format(time=time)
        box = self.query_one("#session-room", Static)
        box.set_class(not text, "-hidden")
        self._set("#session-room", text)

    # ----------------------------------------------------------------- actions
    def action_back(self) -> None:
        self.dismiss(None)

    def action_documents(self) -> None:
        self.post_message(OpenDocuments(self.visit))

    def action_print_documents(self) -> None:
        self.post_message(OpenDocuments(self.visit, print_first=True))

    def action_hang_up(self) -> None:
        live = self.live
        if live is None or not live.running:
            self.notify(_("No call is running for {ticket}.").format(ticket=self.visit.ticket))
            return

        def answered(yes: bool | None) -> None:
            if yes:
                self._run(self.services.sessions.end(live), _("{ticket}: call ended."))

        self.app.push_screen(
            ConfirmDialog(
                _("Hang up {ticket}'s video call?").format(ticket=self.visit.ticket),
                _("Hang up"),
            ),
            callback=answered,
        )

    def action_retry(self) -> None:
        sessions = self.services.sessions
        live = self.live
        if live is None:
            self._start_fresh()
            return
        self._run(sessions.retry(live), _("{ticket}: starting the call again…"))

    def _start_fresh(self) -> None:
        desk = self.services.desk
        sessions = self.services.sessions

        async def start() -> None:
            import asyncio

            visit = await asyncio.to_thread(desk.get, self.visit.id)
            await sessions.start(visit)

        self._run(start(), _("{ticket}: starting the call…"))

    def action_fall_back(self) -> None:
        live = self.live
        if live is None:
            self.notify(
                _("No video call for {ticket} yet: nothing to fall back from.").format(
                    ticket=self.visit.ticket
                )
            )
            return

        def chosen(kind: str | None) -> None:
            if kind:
                done = (
                    _(
                        "{ticket}: phone fallback recorded; call the partner's agent from the "
                        "desk phone."
                    )
                    if kind == FALLBACK_PHONE
                    else _("{ticket}: new appointment recorded; book it with the partner.")
                )
                self._run(self.services.sessions.fall_back(live, kind), done)

        self.app.push_screen(FallbackDialog(self.visit.ticket), callback=chosen)

    def _run(self, coro: object, done: str) -> None:
        self._act(coro, done.format(ticket=self.visit.ticket))

    @work(exclusive=True, group="session-act", exit_on_error=False)
    async def _act(self, coro: object, done: str) -> None:
        try:
            await coro  # type: ignore[misc]
        except PvpError as exc:
            self.notify(exc.message, severity="error", markup=False, timeout=10)
        else:
            self.notify(done, markup=False)
        self.show()


def open_session(app: App[Any], services: Services, visit: Visit | None) -> None:
    """F5 from the queue: the visitor's call if there is one, else start it (then show it)."""
    if visit is None:
        app.notify(_("Select the visitor at the kiosk first (arrow keys or a click)."))
        return
    for screen in app.screen_stack:
        if isinstance(screen, SessionScreen) and screen.visit.id == visit.id:
            return
    if services.sessions.tracker.for_visit(visit.id) is not None:
        app.push_screen(SessionScreen(services, visit))
        return
    app.run_worker(
        _start_then_show(app, services, visit), group="session-start", exit_on_error=False
    )


async def _start_then_show(app: App[Any], services: Services, visit: Visit) -> None:
    try:
        await services.sessions.start(visit)
    except PvpError as exc:
        app.notify(exc.message, severity="error", markup=False, timeout=10)
        return
    if not isinstance(app.screen, SessionScreen):
        app.push_screen(SessionScreen(services, visit))
