"""`pvp`'s Textual app: the queue screen, its workers and the change feed.

The app's entry point, and the only module of the UI that knows the app: screens get its
`Services` (services.py) at construction and talk back with messages handled here.
IO runs in thread workers that post typed messages; one handler turns a worker's failure
into a message. Every message to the staff (`notify`, from any screen or part) goes to
the status line above the keys (widgets/status_line.py), never over the lists.
Another pvp process's commits arrive through the ChangeWatcher.
Nothing repaints while nothing changes: no clock on screen, a one-minute tick for the
'waited' column, and tables updated cell by cell.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import sqlite3
import threading
from collections.abc import Callable, Iterable
from datetime import date
from functools import partial
from typing import ClassVar

from textual import events, on, work
from textual.app import App
from textual.binding import Binding, BindingType
from textual.command import CommandPalette, Provider
from textual.notifications import SeverityLevel
from textual.reactive import reactive
from textual.screen import Screen
from textual.timer import Timer
from textual.worker import Worker, WorkerState

from pvp_common import memory
from pvp_common.census import census

from ..core.appointments import cancelled_notice
from ..core.changes import ChangeWatcher
from ..core.clock import next_local_midnight, real_seconds, seconds_until
from ..core.errors import PvpError
from ..core.frontdesk import FrontDesk, KioskBusy, erasure_pending_message
from ..core.i18n import N_, _
from ..core.kiosks import KioskLinks
from ..core.models import Status, Visit
from ..core.partners import next_hours_change
from ..core.site_status import KioskBoard, kiosk_health
from ..core.upkeep import UPKEEP_SECONDS, Upkeep
from . import actions, partial_updates, styles
from .commands import FrontDeskCommands
from .messages import (
    ActionDone,
    ActionRefused,
    DataChanged,
    OpenDocuments,
    OpenSession,
    QueueLoaded,
    QueueScreenReady,
    QueueState,
    RefreshQueue,
    TogglePrivacy,
    VisitMoved,
    load_queue_state,
    read_after,
)
from .screens.queue import QueueScreen
from .services import Done
from .services.documents import DocumentPrinted, Documents, KiosksChanged
from .services.hub import HubBadge, HubChanged
from .services.sessions import SessionChanged, Sessions
from .typeahead import Typeahead
from .widgets.badges import BadgesChanged, BadgeUpdate
from .widgets.status_line import MessageBoard

TICK_SECONDS = 60.0  # the 'waited' column moves by whole minutes
SIXTEEN_COLOURS = ("standard", "windows")  # Rich's names for 16-colour terminals

_KEY_NAMES = {
    "delete": N_("Del"),
    "enter": N_("Enter"),
    "escape": N_("Esc"),
    "tab": "Tab",
    "question_mark": "?",
}


class PvpApp(App[int]):
    CSS_PATH = styles.app_css_paths()
    TITLE = "PVP Relais"
    COMMANDS: ClassVar[set[type[Provider] | Callable[[], type[Provider]]]] = {FrontDeskCommands}
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding(
            "ctrl+p",
            "command_palette",
            N_("Actions"),
            id="command_palette",
            show=False,
            priority=True,
        ),
        Binding("ctrl+q", "quit", N_("Quit"), id="quit", show=False, priority=True),
        Binding("f12", "open_reports", N_("Reports"), id="reports", show=False),
    ]

    privacy: reactive[bool] = reactive(False, init=False)

    def __init__(
        self,
        desk: FrontDesk,
        *,
        privacy: bool = False,
        watch_changes: bool = True,
        tick_seconds: float | None = TICK_SECONDS,
        upkeep_seconds: float | None = UPKEEP_SECONDS,
        kiosks: KioskLinks | None = None,
        first_read: QueueState | None = None,
        kiosk_board: KioskBoard | None = None,
    ) -> None:
        """`first_read`: the queue read before the app started (its first frame shows it);
        without it, the first read runs in a worker once the queue screen is mounted.
        `kiosk_board`: where the kiosks' health is written for the hub's status (the sync
        worker's thread reads it), when [hub] is set."""
        super().__init__()
        actions.localize(self)
        self.desk = desk
        self.set_reactive(PvpApp.privacy, privacy or desk.config.site.privacy_mode)
        self.watch_changes = watch_changes
        self.tick_seconds = tick_seconds
        self._watcher: ChangeWatcher | None = None
        self.upkeep_seconds = upkeep_seconds
        self.upkeep: Upkeep | None = None  # the store's upkeep thread (core/upkeep.py)
        self._loading = False
        self._stale = False
        self._day: date | None = None  # the site's day of this app's last start of day
        self._day_refused: date | None = None  # a start of day failed (and was said) then
        self._started = False  # the first read is done
        self.loads = 0  # completed reads of the queue (tests wait on it)
        self._first_read = first_read
        # One link per kiosk bridge (documents); started on mount, on this app's loop.
        self.kiosks = kiosks if kiosks is not None else KioskLinks(desk.config.kiosks)
        self.documents = Documents(self, desk, self.kiosks)  # papers at the kiosks (F6, F7)
        self.sessions = Sessions(self, desk, self.kiosks)  # the kiosks' video calls (F5)
        self.hub = HubBadge(self, desk)  # the hub's badge ([hub] configured only)
        self.kiosk_board = kiosk_board
        self.services = AppServices(self)
        self._acting = 0  # front-desk actions being carried out (keys typed after wait)
        self._hours_timer: Timer | None = None  # reads when a permanence opens, at midnight
        self.typeahead = Typeahead(self, super().on_event, busy=lambda: self._acting > 0)
        self.board = MessageBoard(self)  # what the status lines say; `board.said`: the log
        self._told_cancelled: set[str] = set()  # appointments whose cancellation was said

    # ------------------------------------------------------------------- set-up
    def get_default_screen(self) -> Screen[None]:
        return QueueScreen(self.services)

    @property
    def queue_screen(self) -> QueueScreen:
        screen = self.get_default_screen_instance()
        assert isinstance(screen, QueueScreen)
        return screen

    def get_default_screen_instance(self) -> Screen[object]:
        return self.screen_stack[0]

    async def on_event(self, event: events.Event) -> None:
        # Keys typed fast go one at a time, each to the screen ready for it (F2 then a name).
        if isinstance(event, events.Key) and not event.is_forwarded:
            self.board.read()  # an error on the status line, seen, is read at the next key
            await self.typeahead.key(event)
            return
        await super().on_event(event)

    def on_mount(self) -> None:
        # A 16-colour terminal (TERM=xterm, TEXTUAL_COLOR_SYSTEM=standard): the default
        # theme's colours downgrade to unreadable pairs (red keys on grey); the ANSI theme
        # uses the terminal's own palette. TEXTUAL_THEME still wins.
        sixteen = self.console.color_system in SIXTEEN_COLOURS
        if sixteen and not self.is_headless and not os.environ.get("TEXTUAL_THEME"):
            self.theme = "ansi-dark"
        # The first read starts when the queue screen is mounted (QueueScreen.on_mount).
        if self.watch_changes and str(self.desk.store.path) != ":memory:":
            self._watcher = ChangeWatcher(self.desk.store.path, self._on_foreign_commit).start()
        if self.upkeep_seconds and str(self.desk.store.path) != ":memory:":
            # The WAL kept small and free pages handed back, in a thread of its own with
            # its own connection: never on this loop, never in the way of an action.
            self.upkeep = Upkeep(self.desk.store.path, self.upkeep_seconds).start()
        if self.tick_seconds:  # a minute of the desk's clock (a test clock's are shorter)
            self.set_interval(real_seconds(self.desk.clock, self.tick_seconds), self.refresh_queue)
        with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
            # `kill -USR2 <pid>`: one log line counting what could pile up (the soak reads it)
            asyncio.get_running_loop().add_signal_handler(signal.SIGUSR2, log_counts)
        self.sessions.attach()
        # The kiosk links connect once the first frame is drawn: a connection imports
        # websockets, which the first frame need not wait for (bench_queue's start-up goal).
        self.call_after_refresh(self.documents.attach)

    def _on_foreign_commit(self) -> None:
        self.post_message(DataChanged())  # from the watcher's thread: post_message is safe

    async def on_unmount(self) -> None:
        with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
            asyncio.get_running_loop().remove_signal_handler(signal.SIGUSR2)
        if self._watcher is not None:
            self._watcher.stop()
        if self.upkeep is not None:
            self.upkeep.stop()
        await self.sessions.close()
        await self.kiosks.close()

    @on(KiosksChanged)
    def _kiosks_changed(self) -> None:
        self._show_badges(self.documents.badges())
        if self.kiosk_board is not None:  # the site's status tells the hub (site_status)
            for link in self.kiosks:
                self.kiosk_board.set(link.kiosk.id, *kiosk_health(link.state))

    @on(HubChanged)
    def _hub_changed(self) -> None:
        self._show_badges(self.hub.badges())

    @on(SessionChanged)
    def _session_changed(self, message: SessionChanged) -> None:
        from .screens.session import SessionScreen

        self._show_badges(self.sessions.badges())
        for screen in self.screen_stack:
            if isinstance(screen, SessionScreen) and screen.is_attached:
                screen.show()

    @on(DocumentPrinted)
    def _document_printed(self, message: DocumentPrinted) -> None:
        from .screens.documents.screen import DocumentsScreen

        for screen in self.screen_stack:
            if isinstance(screen, DocumentsScreen) and screen.visit.id == message.visit_id:
                screen.reload()

    # ------------------------------------------------------------------- screens
    @on(QueueScreenReady)
    def _queue_screen_ready(self) -> None:
        self.update_badges(db_ok=True)
        self.start_reading()
        self.hub.refresh()

    @on(RefreshQueue)
    def _refresh_asked(self) -> None:
        self.refresh_queue()

    @on(TogglePrivacy)
    def _toggle_privacy(self) -> None:
        self.privacy = not self.privacy

    @on(VisitMoved)
    def _visit_moved(self, message: VisitMoved) -> None:
        self.queue_screen.follow(message.visit)
        self.refresh_queue()

    @on(OpenSession)
    def _open_session(self, message: OpenSession) -> None:
        from .screens.session import open_session

        open_session(self, self.services, message.visit)

    @on(OpenDocuments)
    def _open_documents(self, message: OpenDocuments) -> None:
        from .screens.documents.screen import open_documents

        open_documents(self, self.services, message.visit, print_first=message.print_first)

    def get_key_display(self, binding: Binding) -> str:
        key = binding.key
        if binding.key_display:
            return binding.key_display
        if len(key) in (2, 3) and key[0] == "f" and key[1:].isdigit():
            return key.upper()
        if key in _KEY_NAMES:
            return _(_KEY_NAMES[key])
        return super().get_key_display(binding)

    def action_open_reports(self) -> None:
        """F12: the activity reports (imported on first use: start-up stays light)."""
        from .screens.reports import ReportsScreen

        if not isinstance(self.screen, ReportsScreen):
            self.push_screen(ReportsScreen(self.desk))

    def action_command_palette(self) -> None:
        if self.use_command_palette and not CommandPalette.is_open(self):  # type: ignore[arg-type]
            self.push_screen(
                CommandPalette(id="--command-palette", placeholder=_("Search for an action…"))
            )

    # ------------------------------------------------------------------- messages
    def notify(
        self,
        message: str,
        *,
        title: str = "",
        severity: SeverityLevel = "information",
        timeout: float | None = None,
        markup: bool = True,
    ) -> None:
        """Every message to the staff, from any screen or part (and any thread): on the
        status line, not in a toast over the lists. The board decides how long it stays;
        `title`, `timeout` and `markup` are Textual's and unused (the text is shown as is)."""
        self.board.notify(message, severity)

    # ------------------------------------------------------------------- badges
    def _show_badges(self, updates: list[BadgeUpdate], *, full: bool = False) -> None:
        """To the queue screen's header (its mount asks for them all, privacy first)."""
        if self.screen_stack and self.queue_screen.is_attached:
            self.queue_screen.post_message(BadgesChanged(updates, full=full))

    def update_badges(self, *, db_ok: bool) -> None:
        """Every badge: privacy, the database, the hub, then each kiosk and its call."""
        privacy = BadgeUpdate("privacy", _("privacy on") if self.privacy else None, "info")
        db = (
            BadgeUpdate("db", _("database ok"), "ok")
            if db_ok
            else BadgeUpdate("db", _("database unreachable"), "error")
        )
        self._show_badges(
            [privacy, db, *self.hub.badges(), *self.documents.badges(), *self.sessions.badges()],
            full=True,
        )

    def watch_privacy(self, _privacy: bool) -> None:
        self.update_badges(db_ok=True)
        if self.queue_screen.state is not None:
            self.queue_screen.show_state(self.queue_screen.state)

    # ------------------------------------------------------------------- reading
    def start_reading(self) -> None:
        """The queue screen is mounted: show the read made before start, if any, then read."""
        state, self._first_read = self._first_read, None
        if state is None:
            self.refresh_queue()
            return
        self.show_read(state)
        self.call_after_refresh(self.refresh_queue)  # the retention purge, after the frame

    def refresh_queue(self) -> None:
        """Read the queue again; refreshes never overlap (one more runs if asked meanwhile)."""
        if self._loading:
            self._stale = True
            return
        self._loading = True
        self._stale = False
        self._load()

    @work(thread=True, exit_on_error=False, group="load", description=N_("read the queue"))
    def _load(self) -> None:
        # The hub's partner list, when a pull changed it (another connection's commit).
        self.desk.refresh_directory()
        today = self.desk.today()
        rolled = False
        if self._day != today:
            # The first read, or the first after the site's midnight (the timer's, the
            # minute's tick or another desk's change, whichever comes first): what every
            # start does, so the screen is a fresh start's. Closing yesterday's open visits
            # is one transaction that finds none left if another desk did it first.
            try:
                done = self.desk.start_of_day()
            except (PvpError, sqlite3.Error) as exc:  # busy, read-only: show the queue
                if self._day_refused != today:  # said once a day; the next read retries
                    self._day_refused = today
                    self.post_message(ActionRefused(_start_of_day_words(exc)))
            else:
                if not done.erasure_complete:
                    self.post_message(ActionRefused(erasure_pending_message()))
                rolled = self._day is not None
                self._day = today
                if self.upkeep is not None:
                    self.upkeep.day_started()  # the purge's free pages go back now
            if not self._started and (words := self.desk.other_site_words()):
                self.post_message(ActionRefused(words))  # [site] id changed: say why
            self._started = True
        self.post_message(QueueLoaded(load_queue_state(self.desk), new_day=rolled))

    @on(QueueLoaded)
    def _loaded(self, message: QueueLoaded) -> None:
        from .screens.session import SessionScreen

        self._loading = False
        self.show_read(message.state)
        for screen in self.screen_stack:  # the pull may have brought the agent's opening
            if isinstance(screen, SessionScreen) and screen.is_attached:
                screen.read_room_opened()
        if message.new_day:
            self.documents.purge()  # the visits closed overnight free their papers
            self.sessions.day_started()  # and their calls still running end with them
            memory.release()  # yesterday's freed memory back to the system (docs/memory.md)
        if self._stale:
            self.refresh_queue()

    def show_read(self, state: QueueState) -> None:
        """Show a read of the queue: a refresh's, or the one an action's worker made."""
        self.loads += 1
        if not self.screen_stack:
            return  # the app has closed: a read that was running when it quit ends here
        screen = self.queue_screen
        if not screen.is_attached or not screen.query("#waiting"):
            return  # the app is closing, or still composing (its mount reads the queue)
        screen.show_state(state)
        self._tell_cancelled(state)
        self.update_badges(db_ok=True)
        self._read_again_when_hours_change()
        today = self.desk.local_now().date()
        if self._day is not None and today not in (self._day, self._day_refused):
            self.refresh_queue()  # an action's read just after midnight: start the new day

    def _tell_cancelled(self, state: QueueState) -> None:
        """An appointment cancelled by the partner after its visitor was checked in: said
        once on the status line (the list keeps its line, marked cancelled)."""
        config = self.desk.config
        for booked in state.appointments:
            if booked.cancelled_after_arrival and booked.id not in self._told_cancelled:
                self._told_cancelled.add(booked.id)
                partner = config.partner(booked.partner_id)
                self.notify(
                    cancelled_notice(
                        booked, partner.name if partner else booked.partner_id, config.site.timezone
                    ),
                    severity="warning",
                )

    def _read_again_when_hours_change(self) -> None:
        """'fermé → 9h' turns into a wait at 9:00 itself, not at the next minute's tick;
        at the site's midnight, the read starts the new day (`_load`) with nobody acting."""
        if not self.tick_seconds:
            return  # tests with a fixed clock read the queue themselves
        if self._hours_timer is not None:
            self._hours_timer.stop()
            self._hours_timer = None
        now = self.desk.local_now()
        change = next_hours_change(self.desk.config, now)
        midnight = next_local_midnight(now)
        if change is None or seconds_until(midnight, now) < seconds_until(change, now):
            change = midnight
        delay = seconds_until(change, now) + 0.5  # just after: the rules see the change
        self._hours_timer = self.set_timer(real_seconds(self.desk.clock, delay), self.refresh_queue)

    def show_action_read(self, state: QueueState | None) -> None:
        """After an action: show the read its worker made, or read the queue now."""
        if state is None:
            self.refresh_queue()
            return
        if self._loading:
            self._stale = True  # a read started before the action: read again after it
        self.show_read(state)

    @on(DataChanged)
    def _changed_elsewhere(self) -> None:
        self.refresh_queue()
        self.hub.refresh()  # the sync worker's commits come this way too
        self.documents.purge()  # a visit finished elsewhere (pvp finish...) frees its papers
        self.documents.tell_received()  # an agent's document the sync worker brought

    # ------------------------------------------------------------------- acting
    def perform(self, fn: Callable[[], Visit], done: Done) -> None:
        """Run one front-desk action in a worker; `done` says what it did (see Services)."""
        self._acting += 1
        self._act(fn, done)

    @work(thread=True, exit_on_error=False, group="act", description=N_("carry out the action"))
    def _act(self, fn: Callable[[], Visit], done: Done) -> None:
        try:
            visit = fn()
        except PvpError as exc:
            self.post_message(ActionRefused(exc.message, exc))
        else:
            text = done(visit) if callable(done) else done.format(ticket=visit.ticket)
            self.post_message(ActionDone(text, visit, read_after(self.desk)))

    @on(ActionDone)
    def _done(self, message: ActionDone) -> None:
        self.notify(message.text, markup=False)
        self.hub.refresh()  # one more event waiting to be sent
        if message.visit is not None:
            self.queue_screen.follow(message.visit)
            if message.visit.status in (Status.DONE, Status.CANCELLED, Status.TRANSFERRED):
                self.documents.purge()  # its papers leave the kiosk now
            self.sessions.visit_closed(message.visit)  # its video call ends with it
            self.sessions.visit_moved(message.visit)  # the kiosk's screen follows it
        self.show_action_read(message.state)

    @on(ActionRefused)
    def _refused(self, message: ActionRefused) -> None:
        if isinstance(message.error, KioskBusy):  # found in the call's own transaction
            self.queue_screen.ask_call_anyway(message.error)
            return
        code = message.error.code if message.error is not None else ""
        text = _(actions.SCREEN_REFUSALS[code]) if code in actions.SCREEN_REFUSALS else message.text
        self.notify(text, severity="warning", markup=False)

    @on(Worker.StateChanged)
    def _worker_failed(self, event: Worker.StateChanged) -> None:
        finished = event.state in (WorkerState.SUCCESS, WorkerState.ERROR, WorkerState.CANCELLED)
        if finished and event.worker.group == "act":
            self._acting = max(0, self._acting - 1)  # its outcome was shown before this
        if event.state is not WorkerState.ERROR:
            return
        error = event.worker.error
        if event.worker.group == "load":
            self._loading = False
            self.update_badges(db_ok=False)
        text = error.message if isinstance(error, PvpError) else f"{type(error).__name__}: {error}"
        self.notify(
            _("Could not {what}: {error}. Nothing was changed; try again (ctrl+r).").format(
                what=_(event.worker.description) if event.worker.description else "…",
                error=text,
            ),
            severity="error",
            markup=False,
            timeout=10,
        )

    # ------------------------------------------------------------------- palette
    def palette_entries(self) -> Iterable[tuple[str, str, Callable[[], None]]]:
        """(title, help, callback) for every action: the command palette's entries."""
        screen = self.queue_screen
        for action in actions.ACTIONS:
            keys = " ".join(self.get_key_display(Binding(k, "")) for k in action.keys.split(","))
            yield (
                f"{_(action.label)} ({keys})",
                _(action.help),
                partial(screen.run_action_by_id, action.id),
            )
        yield (
            _("Reports") + " (F12)",
            _("Activity report for a period: figures, charts, export"),
            self.action_open_reports,
        )
        yield (_("Quit") + " (^q)", _("Close pvp (the queue stays in the database)"), self.exit)


def _start_of_day_words(exc: PvpError | sqlite3.Error) -> str:
    """Why the day could not be started (the queue is shown all the same)."""
    if isinstance(exc, PvpError):
        return exc.message
    return _("database error: {error}. Nothing was changed: try again.").format(error=exc)


class AppServices:
    """The app's `Services`: what its screens use of it, and nothing else."""

    def __init__(self, app: PvpApp) -> None:
        self._app = app

    @property
    def desk(self) -> FrontDesk:
        return self._app.desk

    @property
    def kiosks(self) -> KioskLinks:
        return self._app.kiosks

    @property
    def documents(self) -> Documents:
        return self._app.documents

    @property
    def sessions(self) -> Sessions:
        return self._app.sessions

    @property
    def privacy(self) -> bool:
        return self._app.privacy

    def perform(self, fn: Callable[[], Visit], done: Done) -> None:
        self._app.perform(fn, done)

    def show_read_after(self, state: QueueState | None) -> None:
        self._app.show_action_read(state)


def log_counts() -> None:
    """One log line: the loop's asyncio tasks and the process's threads (SIGUSR2)."""
    tasks = len(asyncio.all_tasks())
    log = logging.getLogger("pvp")
    log.warning("counts: asyncio tasks %d, threads %d", tasks, threading.active_count())
    log.warning("census: %s", census())


def run_app(
    desk: FrontDesk, *, privacy: bool, mouse: bool, kiosk_board: KioskBoard | None = None
) -> int:
    from .screens.documents.thumbs import choose_mode

    choose_mode()  # probes the terminal for images: must run before Textual owns it
    partial_updates.install()  # only the changed cells go to the terminal (SSH links)
    try:  # read before Textual starts: the first frame shows the queue (start-up goal)
        first_read: QueueState | None = load_queue_state(desk)
    except Exception:  # the app's own read reports it (database unreachable badge)
        first_read = None
    app = PvpApp(desk, privacy=privacy, first_read=first_read, kiosk_board=kiosk_board)
    app.run(mouse=mouse)
    return app.return_code or 0
