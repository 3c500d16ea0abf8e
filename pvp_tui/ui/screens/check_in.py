"""The check-in form: validated by the core's rule, errors under each field, saved only
when valid, and kept open (nothing lost) if saving fails."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar

from textual import events, on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Grid, Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Checkbox, Footer, Input, Label, Select, Static
from textual.worker import Worker, WorkerState

from ...core.errors import PvpError
from ...core.frontdesk import (
    NAME_MAX,
    NOTE_MAX,
    CheckIn,
    FrontDesk,
    normalize_hhmm,
    validate_check_in,
)
from ...core.i18n import N_, _
from ...core.models import Need, Visit
from .. import actions
from ..messages import ActionDone, ActionRefused, QueueState, read_after
from ..widgets.partner_select import PartnerSelect
from ..widgets.status_line import StatusLine
from ..widgets.tick import Tick

FIELDS = ("name", "partner", "appointment", "phone", "note")
# The field whose error an edit of this widget clears (the tick "yes, at" is the
# appointment's).
ERROR_OF = {field: field for field in FIELDS} | {"has-appointment": "appointment"}


class CheckInForm(ModalScreen[Visit | None]):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "close", N_("Cancel"), id="close"),
        Binding("ctrl+s", "save", N_("Save"), id="save"),
        # F3 here is the queue's F3 after saving: the visitor standing at the desk is
        # usually the next one called (one key less than ctrl+s then F3).
        Binding("f3", "save_and_call", N_("Save and call"), id="save_and_call"),
        # Enter saves from any field, a tick too (a field's own Enter comes first: a text
        # field submits, which saves; the partner list opens; a button presses).
        Binding("enter", "save", show=False, id="save-enter"),
    ]

    def __init__(
        self,
        desk: FrontDesk,
        on_saved: Callable[[Visit, QueueState | None], None] | None = None,
        **kwargs: Any,
    ) -> None:
        """`on_saved(visit, state)` runs as soon as the visit is saved, as the form closes,
        with the queue read by the same worker (None if that read failed)."""
        super().__init__(id="check-in", **kwargs)
        actions.localize(self)
        self.desk = desk
        self._on_saved = on_saved
        self.accepts_keys = True  # False while saving: keys typed after ctrl+s are for the queue
        self.then_call = False  # saved with F3: the queue calls the next visitor at once

    def compose(self) -> ComposeResult:
        local_now = self.desk.local_now()
        partners = [
            (p.name if p.is_open(local_now) else p.name + " (" + _("closed") + ")", p.id)
            for p in self.desk.config.partners
        ]
        with Vertical(classes="dialog", id="check-in-form"):
            yield Static(_("New visitor"), classes="dialog-title")
            with Horizontal(classes="field"):
                yield Label(_("Name to call"), classes="field-label")
                yield Input(id="name", max_length=NAME_MAX, compact=True)
            yield Label("", id="name-error", classes="error")
            with Horizontal(classes="field"):
                yield Label(_("Partner"), classes="field-label")
                yield PartnerSelect(
                    self.desk.config, partners, id="partner", prompt=_("Choose…"), compact=True
                )
            yield Label("", id="partner-error", classes="error")
            with Horizontal(classes="field"):
                yield Label(_("Appointment"), classes="field-label")
                yield Tick(_("yes, at"), id="has-appointment", compact=True)
                yield Input(id="appointment", placeholder=_("HH:MM"), max_length=7, compact=True)
            yield Label("", id="appointment-error", classes="error")
            with Horizontal(classes="field"):
                yield Label(_("Needs"), classes="field-label")
                yield Tick(_("priority"), id="priority", compact=True)
            with Grid(id="needs"):
                for need in Need:
                    yield Tick(
                        need.short, id=f"need-{need.value}", compact=True, tooltip=need.label
                    )
            with Horizontal(classes="field"):
                yield Label(_("Phone (optional)"), classes="field-label")
                yield Input(id="phone", max_length=20, compact=True)
            yield Label("", id="phone-error", classes="error")
            with Horizontal(classes="field"):
                yield Label(_("Note"), classes="field-label")
                yield Input(id="note", max_length=NOTE_MAX, compact=True)
            yield Label("", id="note-error", classes="error")
            yield Label("", id="save-error", classes="error")
            with Horizontal(classes="dialog-buttons"):
                yield Button(_("Cancel"), id="close", compact=True)
                yield Button(_("Save"), id="save", variant="primary", compact=True)
        yield StatusLine()
        yield Footer(compact=True)  # the dialog's own keys, not the screen's under it

    def on_mount(self) -> None:
        self.query_one("#name", Input).focus()
        for overlay in self.query("SelectOverlay"):  # its footer key: "Échap Fermer la liste"
            actions.localize(overlay)

    def on_descendant_focus(self, event: events.DescendantFocus) -> None:
        """The row of the focused field shows its label in reverse video (dialogs.tcss)."""
        for row in self.query(".field"):
            row.set_class(row in event.widget.ancestors, "-focused")

    def form(self) -> CheckIn:
        partner = self.query_one("#partner", Select).value
        has_appointment = self.query_one("#has-appointment", Tick).value
        appointment = self.query_one("#appointment", Input).value.strip()
        return CheckIn(
            partner_id=partner if isinstance(partner, str) else "",
            name=self.query_one("#name", Input).value,
            appointment=appointment if has_appointment or appointment else None,
            priority=self.query_one("#priority", Tick).value,
            needs=tuple(n for n in Need if self.query_one(f"#need-{n.value}", Tick).value),
            phone=self.query_one("#phone", Input).value.strip() or None,
            note=self.query_one("#note", Input).value,
        )

    def show_errors(self, problems: dict[str, str]) -> None:
        for field in FIELDS:
            label = self.query_one(f"#{field}-error", Label)
            message = problems.get(field, "")
            if str(label.content) != message:  # an update lays the form out again
                label.update(message)
            label.set_class(bool(message), "-shown")
        first = next((f for f in FIELDS if f in problems), None)
        if first is not None:
            self.query_one(f"#{first}").focus()

    @on(Input.Changed)
    @on(Select.Changed)
    @on(Checkbox.Changed)
    def _edited(self, event: Input.Changed | Select.Changed | Checkbox.Changed) -> None:
        """A field being corrected loses its error at once (checked again at ctrl+s).
        Nothing is laid out again while the field shows no error."""
        widget_id = event.control.id if event.control is not None else None
        if isinstance(event, Input.Changed) and widget_id == "appointment" and event.value.strip():
            self.query_one("#has-appointment", Tick).value = True  # a time means "yes, at"
        field = ERROR_OF.get(widget_id or "")
        if field is not None:
            self._clear_error(field)

    def _clear_error(self, field: str) -> None:
        label = self.query_one(f"#{field}-error", Label)
        if str(label.content):
            label.update("")
            label.remove_class("-shown")

    def on_key(self, event: events.Key) -> None:
        """A digit typed on the "yes, at" tick starts the time: one Tab from the partner."""
        tick = self.query_one("#has-appointment", Tick)
        if self.focused is tick and event.character and event.character in "0123456789":
            event.stop()
            event.prevent_default()
            time = self.query_one("#appointment", Input)
            self.set_focus(time)  # now: the digit must reach the field after its focus
            time.post_message(events.Key(event.key, event.character))

    @on(Input.Blurred, "#appointment")
    def _time_left(self, event: Input.Blurred) -> None:
        """A time the rule reads is shown as it reads it: "9h" becomes "09:00"."""
        normal = normalize_hhmm(event.value)
        if normal is not None and normal != event.value:
            event.input.value = normal

    @on(Input.Submitted)
    @on(Button.Pressed, "#save")
    def action_save(self) -> None:
        self._check_and_save(then_call=False)

    def action_save_and_call(self) -> None:
        self._check_and_save(then_call=True)

    def _check_and_save(self, *, then_call: bool) -> None:
        form = self.form()
        problems = validate_check_in(form, self.desk.config)
        self.show_errors(problems)
        if not problems:
            self.accepts_keys = False
            self.then_call = then_call
            self._save(form)

    @work(
        thread=True,
        exclusive=True,
        exit_on_error=False,
        group="check-in",
        description=N_("save the check-in"),
    )
    def _save(self, form: CheckIn) -> None:
        try:
            visit = self.desk.check_in(form)
        except PvpError as exc:
            self.post_message(ActionRefused(exc.message))
        else:
            self.post_message(ActionDone("", visit, read_after(self.desk)))

    @on(ActionDone)
    def _saved(self, message: ActionDone) -> None:
        message.stop()
        self.dismiss(message.visit)
        # The queue shows the new state in the frame that closes the form: one layout and
        # one paint for both (the queue under the form is not repainted first).
        if self._on_saved is not None and message.visit is not None:
            self._on_saved(message.visit, message.state)

    @on(ActionRefused)
    def _save_failed(self, message: ActionRefused) -> None:
        """Saving failed (database busy...): the form stays open with what was typed."""
        message.stop()
        self.accepts_keys = True
        label = self.query_one("#save-error", Label)
        label.update(message.text)
        label.add_class("-shown")

    @on(Worker.StateChanged)
    def _save_crashed(self, event: Worker.StateChanged) -> None:
        """An unexpected failure (the app says what): the form takes keys again."""
        if event.worker.group == "check-in" and event.state in (
            WorkerState.ERROR,
            WorkerState.CANCELLED,
        ):
            self.accepts_keys = True

    @on(Button.Pressed, "#close")
    def action_close(self) -> None:
        self.dismiss(None)
