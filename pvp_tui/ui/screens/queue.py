"""The queue: the screen that stays open all day at the front desk."""

from __future__ import annotations

from collections.abc import Callable
from typing import ClassVar

from textual import events, on
from textual.app import ComposeResult
from textual.binding import BindingType
from textual.containers import Horizontal
from textual.screen import Screen
from textual.widgets import DataTable, Footer

from ...core.clock import real_seconds
from ...core.errors import PvpError
from ...core.frontdesk import KioskBusy, done_words, kiosks_busy
from ...core.i18n import _
from ...core.models import Outcome, Status, Visit
from ...core.words import sentence
from .. import actions, format
from ..messages import (
    OpenDocuments,
    OpenSession,
    QueueScreenReady,
    QueueState,
    RefreshQueue,
    TogglePrivacy,
)
from ..services import Services
from ..widgets.badges import Badges, BadgesChanged, SiteHeader
from ..widgets.status_line import StatusLine
from ..widgets.visit_table import VisitTable
from .check_in import CheckInForm
from .dialogs import (
    ConfirmDialog,
    HelpScreen,
    NoteDialog,
    OutcomeDialog,
    TransferDialog,
    VisitMenu,
)
from .queue_panels import AppointmentList, KioskList, TodayPanel, View, WaitingList

NARROW = 100  # below this terminal width the lists use their compact words and columns

# The lists' columns share the terminal's width: each column gets at least its minimum
# (and its whole header); then the columns that want room get their longest text, up to
# their maximum, in the order of ROOM_FIRST: the notes (needs!), the estimate and the
# kiosk state, then the name before the partner (the name is what staff call out; the
# partner's short name stands in when its whole name does not fit, and the ticket's letter
# says it too). What is left goes to partner and name up to their maximum, then to the
# last column. A text still too long ends in '…' (format.fit, applied by VisitTable).
# Narrow (< NARROW), then wide: (minimum, maximum); narrow, the partner's header is short.
ROOM_FIRST = ("flags", "estimate", "state", "name", "partner")
WAITING_COLUMNS: dict[bool, dict[str, tuple[int, int]]] = {
    True: {
        "ticket": (5, 5),
        "partner": (5, 20),
        "name": (10, 24),
        "waited": (5, 5),
        "estimate": (6, 16),
        "flags": (6, 60),
    },
    False: {
        "ticket": (5, 5),
        "partner": (17, 20),
        "name": (18, 24),
        "waited": (5, 5),
        "estimate": (6, 20),
        "flags": (6, 80),
    },
}
# At the kiosk: narrow, the partner column is left out (the ticket's letter tells it).
KIOSK_COLUMNS: dict[bool, dict[str, tuple[int, int]]] = {
    True: {"ticket": (5, 5), "name": (8, 24), "state": (6, 17)},
    False: {"ticket": (5, 5), "partner": (12, 20), "name": (14, 24), "state": (6, 17)},
}
TODAY_WIDTH = {True: 34, False: 44}  # the "Today" panel; its list: ticket, outcome, time
# "Appointments today" (a site with a hub), under the waiting list, the whole width: time,
# partner, name, state; at most APPOINTMENT_ROWS lines high (it scrolls beyond).
APPOINTMENT_COLUMNS = {True: {"partner": 8, "state": 14}, False: {"partner": 20, "state": 24}}
APPOINTMENT_ROWS = 5
# The bottom panels grow with the terminal's height; the waiting list stays the largest.
BOTTOM_MIN, BOTTOM_SHARE = 8, 3 / 8
# The lists whose selected row the actions apply to (the one with the focus).
LISTS = ("waiting", "at-kiosk", "today-list")


def column_widths(
    space: int,
    bounds: dict[str, tuple[int, int]],
    headers: dict[str, str],
    wants: dict[str, int],
) -> dict[str, int]:
    """Share `space` characters between the columns of `bounds` (see WAITING_COLUMNS)."""
    widths = {key: max(low, len(headers.get(key, ""))) for key, (low, _high) in bounds.items()}
    for key in ROOM_FIRST:
        if key in widths and key in wants:
            spare = space - sum(widths.values())
            widths[key] = max(widths[key], min(wants[key], bounds[key][1], widths[key] + spare))
    left = space - sum(widths.values())
    shared = [key for key in ("partner", "name") if key in widths]
    for index, key in enumerate(shared):
        share = left if index == len(shared) - 1 else left * 2 // 5
        grow = max(0, min(share, bounds[key][1] - widths[key]))
        widths[key] += grow
        left -= grow
    for key in shared:  # a share one of them could not take
        grow = max(0, min(left, bounds[key][1] - widths[key]))
        widths[key] += grow
        left -= grow
    last = list(bounds)[-1]
    widths[last] += max(0, left)
    return widths


class QueueScreen(Screen[None]):
    BINDINGS: ClassVar[list[BindingType]] = list(actions.bindings())

    def __init__(self, services: Services) -> None:
        super().__init__(id="queue")
        actions.localize(self)
        self.services = services
        self.state: QueueState | None = None
        self._last_list = "waiting"
        self._narrow = True
        self._wants: dict[str, dict[str, int]] = {}  # list -> column -> longest text
        self._headers = {
            "ticket": _("No."),
            "partner": _("Partner"),
            "name": _("Name"),
            "waited": _("Waited"),
            "estimate": _("Estimate"),
            "flags": _("Notes"),
            "state": _("State"),
        }
        # Narrow, the partner column's header in short: its short names need less room.
        self._narrow_headers = {**self._headers, "partner": _("Part.")}
        self._follow: tuple[str, str] | None = None  # (list, visit id) to select next read
        self._menu_visit: Visit | None = None  # while a visitor menu's button runs

    # ------------------------------------------------------------------- layout
    def compose(self) -> ComposeResult:
        config = self.services.desk.config
        site, tz, desk = config.site.name, config.site.timezone, self.services.desk
        yield SiteHeader(
            _("PVP Relais · {site}").format(site=site),
            site,
            lambda: desk.now().astimezone(tz),
            real=lambda seconds: real_seconds(desk.clock, seconds),
        )
        yield WaitingList()
        if config.hub is not None:  # the hub sends the appointments
            yield AppointmentList()
        with Horizontal(id="bottom"):
            yield KioskList()
            yield TodayPanel()
        yield StatusLine()
        yield Footer(compact=True)

    def on_mount(self) -> None:
        self.query_one("#waiting", VisitTable).focus()
        self._fit_footer()
        self._fit_columns()
        self.post_message(QueueScreenReady())  # the app: the badges, then the first read

    @on(BadgesChanged)
    def _badges_changed(self, message: BadgesChanged) -> None:
        """The header shows what the app says of the database, the kiosks, their calls."""
        badges = next(self.query("#badges").results(Badges), None)
        if badges is None:
            return  # not composed yet (a kiosk or a call can report first): its mount asks
        if not message.full and badges.badge("db") is None:
            return  # privacy and database come first: the first full update repeats this one
        badges.apply(message.updates)

    def on_resize(self) -> None:
        self._fit_footer()
        if self.state is not None and (self.app.size.width < NARROW) != self._narrow:
            self.show_state(self.state)  # compact words, or whole ones again
        else:
            self._fit_columns()

    def _fit_footer(self) -> None:
        """Every footer key in view: short labels, and no palette key, when need be."""
        changed, palette = actions.fit_footer(self, self.app.size.width)
        footer = self.query_one(Footer)
        if footer.show_command_palette != palette:
            footer.show_command_palette = palette
            changed = True
        if changed:  # the footer recomposes: only when its words change
            self.refresh_bindings()

    def _fit_columns(self, wants: dict[str, dict[str, int]] | None = None) -> dict[str, int]:
        """Size the panels and columns to the terminal and to the longest texts shown.

        Returns the waiting list's column widths."""
        if wants is not None:
            self._wants = wants
        width, height = self.app.size
        narrow = width < NARROW
        self._narrow = narrow
        today_width = TODAY_WIDTH[narrow]
        bottom = self.query_one("#bottom")
        bottom_height = max(BOTTOM_MIN, int((height - 2) * BOTTOM_SHARE))
        if bottom.styles.height is None or bottom.styles.height.value != bottom_height:
            bottom.styles.height = bottom_height
        today = self.query_one("#today")
        if today.styles.width is None or today.styles.width.value != today_width:
            today.styles.width = today_width
        booked = next(self.query("#appointments").results(AppointmentList), None)
        if booked is not None:
            fixed = APPOINTMENT_COLUMNS[narrow]
            # Borders, a scrollbar, one space each side of the four columns; the name up
            # to the waiting list's widest, the state the rest.
            space = width - 3 - 8 - 5 - fixed["partner"]
            name = max(10, min(24, space - fixed["state"]))
            booked.set_labels(
                {"partner": (self._narrow_headers if narrow else self._headers)["partner"]}
            )
            booked.set_column_widths(
                {"time": 5, "partner": fixed["partner"], "name": name, "state": space - name}
            )
        # Each table: its borders, a scrollbar and one space each side of every column.
        bounds = WAITING_COLUMNS[narrow]
        headers = self._narrow_headers if narrow else self._headers
        waiting_widths = column_widths(
            width - 3 - 2 * len(bounds), bounds, headers, self._wants.get("waiting", {})
        )
        waiting = self.query_one("#waiting", VisitTable)
        waiting.set_labels({"partner": headers["partner"]})
        waiting.set_column_widths(waiting_widths)
        kiosk = self.query_one("#at-kiosk", VisitTable)
        bounds = KIOSK_COLUMNS[narrow]
        kiosk.hide_columns(frozenset() if "partner" in bounds else frozenset({"partner"}))
        kiosk.set_column_widths(
            column_widths(
                width - today_width - 3 - 2 * len(bounds),
                bounds,
                self._headers,
                self._wants.get("at-kiosk", {}),
            )
        )
        self.query_one("#today-list", VisitTable).set_column_widths(
            {"outcome": today_width - 2 - 6 - 5 - 5}
        )
        return waiting_widths

    # ------------------------------------------------------------------- show
    def show_state(self, state: QueueState) -> None:
        """Apply a fresh read of the queue: only what changed moves on screen."""
        self.state = state
        compact = self.app.size.width < NARROW
        view = View(self.services.desk.config, self.services.privacy, state.now, compact)
        waiting = self.query_one(WaitingList)
        kiosk = self.query_one(KioskList)
        widths = self._fit_columns(
            {
                "waiting": waiting.prepare(state.waiting, view),
                "at-kiosk": kiosk.prepare(state.active, view),
            }
        )
        if (notes := waiting.fit_notes(widths["flags"])) is not None:
            self._wants["waiting"]["flags"] = notes
            self._fit_columns()  # what the notes no longer need goes to partner and name
        waiting.show()
        kiosk.show()
        booked = next(self.query("#appointments").results(AppointmentList), None)
        if booked is not None:
            booked.prepare(state.appointments, view)
            booked.show()
            # Shown when there is an appointment today; as high as its lines (up to 5).
            booked.display = bool(state.appointments)
            height = min(len(state.appointments), APPOINTMENT_ROWS) + 3
            if booked.styles.height is None or booked.styles.height.value != height:
                booked.styles.height = height
        # The figures take as many lines as leave the finished list 3 rows.
        self.query_one(TodayPanel).show(
            state.summary,
            view,
            width=TODAY_WIDTH[compact],
            max_lines=max(2, int((self.app.size.height - 2) * BOTTOM_SHARE) - 5),
        )
        self._apply_follow()
        self._leave_empty_list()

    def _leave_empty_list(self) -> None:
        """When the list with the focus has just emptied (the last kiosk visitor finished),
        the keys move on to the next list with someone in it, so Enter and F4 still work."""
        focused = self.focused
        if not isinstance(focused, VisitTable) or focused.id not in LISTS or focused.row_count:
            return
        for list_id in LISTS:
            table = self.query_one(f"#{list_id}", VisitTable)
            if table.row_count:
                table.focus()
                self._last_list = list_id
                return

    def follow(self, visit: Visit) -> None:
        """After an action, select its visit where it now is (F3 then F4 then F8 just works)."""
        if visit.status in (Status.CALLED, Status.IN_SESSION):
            self._follow = ("at-kiosk", visit.id)
        elif visit.status is Status.WAITING:
            self._follow = ("waiting", visit.id)

    def _apply_follow(self) -> None:
        if self._follow is None:
            return
        list_id, visit_id = self._follow
        table = self.query_one(f"#{list_id}", VisitTable)
        if visit_id in table.visit_ids:
            self._follow = None
            table.focus()
            table.move_cursor(row=table.get_row_index(visit_id), animate=False)
            self._last_list = list_id

    # ------------------------------------------------------------------- selection
    def on_descendant_focus(self, event: events.DescendantFocus) -> None:
        if isinstance(event.widget, VisitTable) and event.widget.id in LISTS:
            self._last_list = event.widget.id

    def selected_visit(self) -> Visit | None:
        """The selected row of the list that has (or last had) the focus."""
        if self.state is None:
            return None
        table = self.query_one(f"#{self._last_list}", VisitTable)
        visit_id = table.selected_id
        if visit_id is None:
            return None
        if self._last_list == "waiting":
            visits = [e.visit for e in self.state.waiting]
        elif self._last_list == "at-kiosk":
            visits = self.state.active
        else:
            visits = self.state.summary.finished
        return next((v for v in visits if v.id == visit_id), None)

    def _selected_or_say(self) -> Visit | None:
        visit = self.selected_visit()
        if visit is None:
            self.notify(_("Select a visitor in a list first (arrow keys or a click)."))
        return visit

    @on(DataTable.RowSelected)
    def _row_selected(self, event: DataTable.RowSelected) -> None:
        if isinstance(event.data_table, AppointmentList):
            self.check_in_appointment(event.data_table)
            return
        if event.data_table.id not in LISTS:
            return
        self._last_list = event.data_table.id or "waiting"
        visit = self.selected_visit()
        if visit is None:
            return

        def chosen(action_id: str | None) -> None:
            if action_id:
                self._menu_visit = visit  # its buttons act on it, whatever F4/F8 would pick
                try:
                    self.run_action_by_id(action_id)
                finally:
                    self._menu_visit = None

        self.app.push_screen(
            VisitMenu(visit, self.services.desk.config, self.services.privacy), callback=chosen
        )

    def run_action_by_id(self, action_id: str) -> None:
        getattr(self, f"action_{action_id}")()

    # ------------------------------------------------------------------- actions
    def _act(self, fn: Callable[[], Visit], action: str, old: str = "") -> None:
        """Run an action; its notice is the core's words for it (as the CLI says it)."""
        config = self.services.desk.config
        self.services.perform(
            fn, lambda visit: sentence(done_words(config, action, visit, old=old))
        )

    def _refuse_early(self, visit: Visit, action: str) -> bool:
        """Before opening a dialog, ask the core whether the action is allowed now."""
        try:
            self.services.desk.check(visit, action)
        except PvpError as exc:
            self.notify(exc.message, severity="warning")
            return True
        return False

    def action_help(self) -> None:
        self.app.push_screen(HelpScreen(id="help-screen"))

    def action_check_in(self) -> None:
        def applied(visit: Visit, state: QueueState | None) -> None:
            # As the form closes: the new row is in the list when the queue reappears.
            self.follow(visit)
            self.services.show_read_after(state)
            if form.then_call:  # F3 in the form: saved, then F3 here
                self.action_call_next()

        def saved(visit: Visit | None) -> None:
            if visit is not None:
                text = sentence(done_words(self.services.desk.config, "check_in", visit))
                if closed := self._closed_words(visit):
                    text += " " + closed  # tell the visitor now, not after their wait
                self.notify(text)

        form = CheckInForm(self.services.desk, on_saved=applied)
        self.app.push_screen(form, callback=saved)

    def check_in_appointment(self, table: AppointmentList) -> None:
        """Enter on an appointment: the visitor is checked in, name and slot already there."""
        appointment_id = table.selected_id
        found = table.appointment(appointment_id) if appointment_id else None
        if found is None:
            return
        desk = self.services.desk
        if found.visit_id is not None:  # already here: say where, change nothing
            self.notify(
                _("The {time} appointment is already checked in ({ticket}).").format(
                    time=format.clock_time(found.starts_at, desk.config.site.timezone),
                    ticket=found.ticket or "?",
                ),
                severity="warning",
            )
            return
        self._act(lambda: desk.check_in_appointment(found.id), "check_in")

    def action_call_next(self) -> None:
        desk = self.services.desk
        self._act(lambda: desk.call_next(unless_busy=True), "call")  # busy: ask_call_anyway

    def action_call_selected(self) -> None:
        if visit := self._selected_or_say():
            if self._refuse_early(visit, "call"):
                return
            desk = self.services.desk
            closed = self._closed_words(visit)
            if not closed:
                self._act(lambda: desk.call(visit.id, unless_busy=True), "call")
                return
            # One question for both: the partner is closed, and the kiosk busy if it is now.
            busy = kiosks_busy(self.state.active, desk.config) if self.state else None

            def answered(yes: bool | None) -> None:
                if yes:  # a kiosk taken meanwhile is still asked about (by the core)
                    self._act(lambda: desk.call(visit.id, unless_busy=busy is None), "call")

            question = [*([busy] if busy else []), closed, self._call_anyway(visit)]
            self.app.push_screen(
                ConfirmDialog("\n".join(question), _("Call anyway"), _("Wait")),
                callback=answered,
            )

    def _call_anyway(self, visit: Visit) -> str:
        """'Call C-003 Marie Dupont anyway?' (the ticket alone when names are hidden)."""
        hidden = self.services.privacy or not visit.name
        who = visit.ticket if hidden else f"{visit.ticket} {visit.name}"
        return _("Call {visitor} anyway?").format(visitor=who)

    def _closed_words(self, visit: Visit) -> str | None:
        """'<partner> is closed now: it opens Tue 09:00.' for a waiting visitor whose
        partner has no permanence open now; else None."""
        if self.state is None:
            return None
        entry = next((e for e in self.state.waiting if e.visit.id == visit.id), None)
        if entry is None or entry.eligible:
            return None
        config = self.services.desk.config
        partner = format.partner_name(config, visit.partner_id)
        when = format.reopens(entry, self.state.now, config.site.timezone)
        if when is None:
            return _("{partner} has no permanence this week.").format(partner=partner)
        return _("{partner} is closed now: it opens {when}.").format(partner=partner, when=when)

    def ask_call_anyway(self, busy: KioskBusy) -> None:
        """Every kiosk has a visitor: say who is there and who would be called, and call
        that one only after a yes (nothing was changed)."""
        visit = busy.visit
        desk = self.services.desk

        def answered(yes: bool | None) -> None:
            if yes:
                self._act(lambda: desk.call(visit.id), "call")

        self.app.push_screen(
            ConfirmDialog(
                "\n".join([busy.message, self._call_anyway(visit)]),
                _("Call anyway"),
                _("Wait"),
            ),
            callback=answered,
        )

    def _kiosk_visit(self, action: str) -> Visit | None:
        """F4 and F8 are about the kiosk: the selected visitor when they are the one to
        start (called) or to finish (in an interview), else the only such visitor, else
        the selected one if the core allows it; otherwise say what to select."""
        if self._menu_visit is not None:
            return None if self._refuse_early(self._menu_visit, action) else self._menu_visit
        wanted = Status.CALLED if action == "start" else Status.IN_SESSION
        selected = self.selected_visit()
        if selected is not None and selected.status is wanted:
            return selected
        candidates = [v for v in self.state.active if v.status is wanted] if self.state else []
        if len(candidates) == 1:
            return candidates[0]
        if selected is not None and selected.can(action):
            return selected
        if candidates:
            self.notify(_('Several visitors are at the kiosk: select one in "At the kiosk".'))
        elif selected is not None:
            self._refuse_early(selected, action)
        elif action == "start":
            self.notify(_("Nobody has been called: F3 calls the next visitor."))
        else:
            self.notify(_("No interview is in progress."))
        return None

    def action_start(self) -> None:
        if visit := self._kiosk_visit("start"):
            desk = self.services.desk
            self._act(lambda: desk.start(visit.id), "start")

    def action_finish(self) -> None:
        visit = self._kiosk_visit("finish")
        if visit is None:
            return
        desk = self.services.desk

        def picked(outcome: Outcome | None) -> None:
            if outcome is not None:
                self._act(lambda: desk.finish(visit.id, outcome), "finish")

        self.app.push_screen(OutcomeDialog(visit.ticket), callback=picked)

    def action_no_show(self) -> None:
        if visit := self._selected_or_say():
            desk = self.services.desk
            self._act(lambda: desk.no_show(visit.id), "no_show")

    def action_cancel(self) -> None:
        visit = self._selected_or_say()
        if visit is None or self._refuse_early(visit, "cancel"):
            return
        desk = self.services.desk

        def answered(yes: bool | None) -> None:
            if yes:
                self._act(lambda: desk.cancel(visit.id), "cancel")

        self.app.push_screen(
            ConfirmDialog(
                _("Cancel the visit {ticket}?").format(ticket=visit.ticket), _("Cancel the visit")
            ),
            callback=answered,
        )

    def action_transfer(self) -> None:
        visit = self._selected_or_say()
        if visit is None or self._refuse_early(visit, "transfer"):
            return
        desk = self.services.desk
        local_now = desk.local_now()
        open_now = {p.id for p in desk.config.partners if p.is_open(local_now)}

        def picked(partner_id: str | None) -> None:
            if partner_id:
                self._act(lambda: desk.transfer(visit.id, partner_id), "transfer", visit.ticket)

        self.app.push_screen(TransferDialog(visit, desk.config, open_now), callback=picked)

    def action_back_to_waiting(self) -> None:
        if visit := self._selected_or_say():
            desk = self.services.desk
            self._act(lambda: desk.back_to_waiting(visit.id), "back_to_waiting")

    def action_edit_note(self) -> None:
        if self.services.privacy:  # the note may name the visitor or their situation
            self.notify(_("Notes are hidden in privacy mode: p shows them again."))
            return
        visit = self._selected_or_say()
        if visit is None or self._refuse_early(visit, "edit_note"):
            return
        desk = self.services.desk

        def edited(note: str | None) -> None:
            if note is not None and note != visit.note:
                self._act(lambda: desk.set_note(visit.id, note), "edit_note")

        self.app.push_screen(NoteDialog(visit.ticket, visit.note), callback=edited)

    def action_session(self) -> None:
        self.post_message(OpenSession(self._at_kiosk()))

    def action_documents(self) -> None:
        self.post_message(OpenDocuments(self._at_kiosk()))

    def action_print_documents(self) -> None:
        self.post_message(OpenDocuments(self._at_kiosk(), print_first=True))

    def _at_kiosk(self) -> Visit | None:
        """The selected visit, else the only visitor at the kiosk."""
        visit = self.selected_visit()
        if (visit is None or visit.status not in (Status.CALLED, Status.IN_SESSION)) and (
            self.state is not None and len(self.state.active) == 1
        ):
            return self.state.active[0]
        return visit

    def action_kiosk_view(self) -> None:
        from .kiosk_view import open_kiosk_view

        open_kiosk_view(self.app, self.services)

    def action_toggle_privacy(self) -> None:
        self.post_message(TogglePrivacy())

    def action_refresh(self) -> None:
        self.post_message(RefreshQueue())
