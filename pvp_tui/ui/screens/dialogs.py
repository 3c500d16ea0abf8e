"""Small modal dialogs: a visitor's actions, outcome, transfer, confirmation, note, help."""

from __future__ import annotations

import dataclasses
from typing import Any, ClassVar

from textual import events, on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Grid, Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Button, Footer, Input, Label, OptionList, Static
from textual.widgets.option_list import Option

from ...core.config import Config
from ...core.frontdesk import NOTE_MAX
from ...core.i18n import N_, _
from ...core.models import Outcome, Visit
from .. import actions, format
from ..widgets.status_line import StatusLine


class Dialog(ModalScreen[Any]):
    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "close", N_("Close"), id="close")]

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        actions.localize(self)

    def action_close(self) -> None:
        self.dismiss(None)


class VisitMenu(Dialog):
    """Everything that can be done with one visitor, as buttons (the mouse's way in)."""

    def __init__(self, visit: Visit, config: Config, privacy: bool) -> None:
        super().__init__(id="visit-menu")
        self.visit = visit
        self.config = config
        self.privacy = privacy
        self._keys: dict[str, str] = {}  # key -> action id, for the buttons shown

    def compose(self) -> ComposeResult:
        v = self.visit
        tz = self.config.site.timezone
        title = f"{v.ticket} · {format.partner_name(self.config, v.partner_id)}"
        with Vertical(classes="dialog"):
            yield Static(title, classes="dialog-title", markup=False)
            lines = [
                _("Name: {name}").format(name=format.visitor_name(v, self.privacy)),
                _("Status: {status} · arrived at {time}").format(
                    status=v.status.label, time=format.clock_time(v.arrived_at, tz)
                ),
            ]
            marks = format.flags(v, tz, note=False)
            if marks:
                lines.append(marks)
            if v.phone and not self.privacy:
                lines.append(_("Phone: {phone}").format(phone=v.phone))
            if v.note:  # the note itself, never a lone '✎' line
                note = format.HIDDEN if self.privacy else v.note
                lines.append(_("Note: {note}").format(note=note))
            yield Static("\n".join(lines), id="visit-details", markup=False)
            with Grid(id="visit-actions"):
                for action in actions.ACTIONS:
                    if action.core and v.can(action.core):
                        # The queue's letter for it, shown and working here too: the
                        # menu teaches the keys.
                        letter = next((k for k in action.keys.split(",") if len(k) == 1), "")
                        for key in action.keys.split(","):
                            self._keys[key] = action.id
                        yield Button(
                            f"{letter}  {_(action.label)}" if letter else _(action.label),
                            id=f"do-{action.id}",
                            compact=True,
                            tooltip=_(action.help),
                        )
            with Horizontal(classes="dialog-buttons"):
                yield Button(_("Close"), id="close", compact=True)
        yield StatusLine()
        yield Footer(compact=True)  # the dialog's own keys, not the screen's under it

    def on_key(self, event: events.Key) -> None:
        if action_id := self._keys.get(event.key):
            event.stop()
            self.dismiss(action_id)

    @on(Button.Pressed)
    def _pressed(self, event: Button.Pressed) -> None:
        button_id = event.button.id or ""
        self.dismiss(button_id.removeprefix("do-") if button_id.startswith("do-") else None)


class OutcomeDialog(Dialog):
    """How did the visit end? Keys 1-4 or a click."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("1", "pick(0)", show=False, id="outcome-1"),
        Binding("2", "pick(1)", show=False, id="outcome-2"),
        Binding("3", "pick(2)", show=False, id="outcome-3"),
        Binding("4", "pick(3)", show=False, id="outcome-4"),
    ]

    def __init__(self, ticket: str) -> None:
        super().__init__(id="outcome-dialog")
        self.ticket = ticket

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Static(
                _("Finish {ticket}: outcome?").format(ticket=self.ticket),
                classes="dialog-title",
                markup=False,
            )
            for index, outcome in enumerate(Outcome, start=1):
                yield Button(
                    f"{index}  {outcome.label}", id=f"outcome-{outcome.value}", compact=True
                )
            with Horizontal(classes="dialog-buttons"):
                yield Button(_("Cancel"), id="close", compact=True)
        yield StatusLine()
        yield Footer(compact=True)  # the dialog's own keys, not the screen's under it

    def action_pick(self, index: int) -> None:
        self.dismiss(list(Outcome)[index])

    @on(Button.Pressed)
    def _pressed(self, event: Button.Pressed) -> None:
        button_id = event.button.id or ""
        if button_id.startswith("outcome-"):
            self.dismiss(Outcome(button_id.removeprefix("outcome-")))
        else:
            self.dismiss(None)


class TransferDialog(Dialog):
    """Pick the partner the visitor goes to instead (they keep their arrival time)."""

    def __init__(self, visit: Visit, config: Config, open_now: set[str]) -> None:
        super().__init__(id="transfer-dialog")
        self.visit = visit
        self.config = config
        self.open_now = open_now

    def compose(self) -> ComposeResult:
        options = [
            Option(
                p.name if p.id in self.open_now else p.name + " (" + _("closed") + ")",
                id=p.id,
            )
            for p in self.config.partners
            if p.id != self.visit.partner_id
        ]
        with Vertical(classes="dialog"):
            yield Static(
                _("Transfer {ticket} to:").format(ticket=self.visit.ticket),
                classes="dialog-title",
                markup=False,
            )
            yield OptionList(*options, id="transfer-partners")
            with Horizontal(classes="dialog-buttons"):
                yield Button(_("Cancel"), id="close", compact=True)
        yield StatusLine()
        yield Footer(compact=True)  # the dialog's own keys, not the screen's under it

    @on(OptionList.OptionSelected)
    def _picked(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(event.option.id)

    @on(Button.Pressed, "#close")
    def _cancel(self) -> None:
        self.dismiss(None)


class ConfirmDialog(Dialog):
    """A yes/no question; the footer shows its keys with the buttons' words."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("y,o", "answer(True)", id="yes"),
        Binding("n", "answer(False)", id="no"),
    ]

    def __init__(self, question: str, yes: str, no: str | None = None) -> None:
        super().__init__(id="confirm-dialog")
        self.question = question
        self.yes = yes
        self.no = no or _("Keep it")
        # The footer shows one key per action: the yes of the language (o for oui), and
        # each key with its button's words.
        table = self._bindings.key_to_bindings
        for key, entries in list(table.items()):
            table[key] = [
                dataclasses.replace(
                    b,
                    description=self.yes if b.id == "yes" else self.no,
                    show=True,
                    key_display=_("y") if b.id == "yes" else None,
                )
                if b.id in ("yes", "no")
                else b
                for b in entries
            ]

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Static(self.question, classes="dialog-title", markup=False)
            with Horizontal(classes="dialog-buttons"):
                yield Button(self.yes, id="yes", variant="error", compact=True)
                yield Button(self.no, id="no", compact=True)
        yield StatusLine()
        yield Footer(compact=True)  # the dialog's own keys, not the screen's under it

    def on_mount(self) -> None:
        self.query_one("#no", Button).focus()

    def action_answer(self, yes: bool) -> None:
        self.dismiss(yes)

    @on(Button.Pressed)
    def _pressed(self, event: Button.Pressed) -> None:
        self.dismiss(event.button.id == "yes")


class NoteDialog(Dialog):
    def __init__(self, ticket: str, note: str) -> None:
        super().__init__(id="note-dialog")
        self.ticket = ticket
        self.note = note

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Static(
                _("Note for {ticket}").format(ticket=self.ticket),
                classes="dialog-title",
                markup=False,
            )
            yield Input(self.note, id="note", max_length=NOTE_MAX, compact=True)
            yield Label(_("Enter saves, Escape leaves it unchanged."), classes="hint")
            with Horizontal(classes="dialog-buttons"):
                yield Button(_("Cancel"), id="close", compact=True)
                yield Button(_("Save"), id="save", variant="primary", compact=True)
        yield StatusLine()
        yield Footer(compact=True)  # the dialog's own keys, not the screen's under it

    @on(Input.Submitted)
    @on(Button.Pressed, "#save")
    def _save(self) -> None:
        self.dismiss(self.query_one("#note", Input).value)

    @on(Button.Pressed, "#close")
    def _cancel(self) -> None:
        self.dismiss(None)


class HelpScreen(Dialog):
    """Every key of the queue screen, from the same table as the bindings."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("f1,question_mark,q", "close", show=False, id="close-help"),
        Binding("down,j", "scroll('down')", show=False),
        Binding("up,k", "scroll('up')", show=False),
        Binding("pagedown,space", "scroll('page_down')", show=False),
        Binding("pageup", "scroll('page_up')", show=False),
        Binding("home", "scroll('home')", show=False),
        Binding("end", "scroll('end')", show=False),
    ]

    def compose(self) -> ComposeResult:
        # Not its own row: it is open (its footer says how to close it), and every other key
        # fits at 80x24 that way.
        rows = [(a.keys, _(a.help)) for a in actions.ACTIONS if a.id != "help"]
        rows += [(keys, _(text)) for keys, text in actions.APP_KEYS]
        lines = []
        for keys, text in rows:
            shown = " ".join(self.app.get_key_display(Binding(k, "")) for k in keys.split(","))
            lines.append(f"{shown:<10} {text}")
        # The title in the border and no Close button (the footer's Escape is one): every
        # key fits at 80x24. Taller lists scroll, by keys too.
        with Vertical(classes="dialog", id="help") as dialog:
            dialog.border_title = _("Keys")
            with VerticalScroll(id="help-keys", can_focus=False):
                yield Static("\n".join(lines), markup=False)
        yield StatusLine()
        yield Footer(compact=True)  # the dialog's own keys, not the screen's under it

    def on_mount(self) -> None:
        self._fit(self.app.size.height)

    def on_resize(self) -> None:
        self._fit(self.app.size.height)

    def _fit(self, height: int) -> None:
        # The borders (and the title in them) and the footer stay in view; the keys scroll.
        self.query_one("#help-keys").styles.max_height = max(3, height - 3)

    def action_scroll(self, where: str) -> None:
        keys = self.query_one("#help-keys", VerticalScroll)
        getattr(keys, f"scroll_{where}")(animate=False)
