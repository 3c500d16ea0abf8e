"""The front desk's actions as the screen offers them: one table for the key bindings,
the footer, the help screen and the command palette, so they can never disagree."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from textual.binding import Binding
from textual.dom import DOMNode

from ..core.i18n import N_, _


@dataclass(frozen=True)
class UiAction:
    id: str  # the Binding id and the screen's action name (action_<id>)
    keys: str  # comma-separated Textual key names
    label: str  # short label (footer, buttons); an N_() msgid
    help: str  # one line for the help screen and the palette; an N_() msgid
    footer: bool = False
    core: str | None = None  # the ALLOWED_FROM entry when it acts on the selected visit
    short: str | None = None  # the footer's label when the whole ones do not fit; N_()


# A refusal of the core said the screen's way (the core's words name the CLI's way).
SCREEN_REFUSALS = {
    "nothing_to_call": N_(
        "Nobody can be called now: the queue is empty or no partner's permanence is open. "
        "To call someone anyway, select them in the list and press c."
    ),
}


ACTIONS: tuple[UiAction, ...] = (
    UiAction("help", "f1,question_mark", N_("Help"), N_("Show the keys"), footer=True),
    UiAction(
        "check_in",
        "f2,a",
        N_("Check in"),
        N_("Check in a new visitor (form)"),
        footer=True,
        short=N_("Arrival"),
    ),
    UiAction(
        "call_next",
        "f3",
        N_("Call next"),
        N_("Call the next visitor in queue order"),
        footer=True,
    ),
    UiAction(
        "start",
        "f4,s",
        N_("Start"),
        N_("Start the interview of the visitor called to the kiosk"),
        footer=True,
        core="start",
        short=N_("Begin"),
    ),
    UiAction(
        "session",
        "f5",
        N_("Video"),
        N_("Start or watch the video call of the visitor at the kiosk"),
        footer=True,
    ),
    UiAction(
        "documents",
        "f6",
        N_("Scan"),
        N_("Documents at the kiosk: scan, check, print"),
        footer=True,
        short=N_("Papers"),
    ),
    UiAction(
        "print_documents",
        "f7",
        N_("Print"),
        N_("Print a document of the visitor at the kiosk"),
        footer=True,
    ),
    UiAction(
        "finish",
        "f8,f",
        N_("Finish"),
        N_("Finish the interview at the kiosk, with its outcome"),
        footer=True,
        core="finish",
        short=N_("End"),
    ),
    UiAction(
        "call_selected",
        "c",
        N_("Call"),
        N_("Call the selected visitor now, out of order"),
        core="call",
    ),
    UiAction("no_show", "n", N_("No-show"), N_("Mark the selected visitor absent"), core="no_show"),
    UiAction(
        "cancel", "x,delete", N_("Cancel visit"), N_("Cancel the selected visit"), core="cancel"
    ),
    UiAction(
        "transfer",
        "t",
        N_("Transfer"),
        N_("Transfer the selected visitor to another partner"),
        core="transfer",
    ),
    UiAction(
        "back_to_waiting",
        "b",
        N_("Back to waiting"),
        N_("Put the selected visitor back in the waiting list"),
        core="back_to_waiting",
    ),
    UiAction(
        "edit_note", "e", N_("Note"), N_("Edit the selected visitor's note"), core="edit_note"
    ),
    UiAction(
        "toggle_privacy",
        "p",
        N_("Privacy"),
        N_("Hide or show visitor names (screen seen by the public)"),
    ),
    UiAction(
        "kiosk_view",
        "k",
        N_("Kiosk screen"),
        N_("See the kiosk's screen; reload or restart its page"),
    ),
    UiAction("refresh", "ctrl+r", N_("Refresh"), N_("Reload the queue from the database")),
)

BY_ID = {action.id: action for action in ACTIONS}

# Shown in the help screen, bound by the app itself (palette, quit) or by the tables.
APP_KEYS: tuple[tuple[str, str], ...] = (
    ("ctrl+p", N_("Search every action (command palette)")),
    ("enter", N_("Actions for the selected visitor (or two clicks)")),
    ("tab", N_("Next list (shift+tab: previous)")),
    ("f12", N_("Reports")),
    ("ctrl+q", N_("Quit")),
)


def bindings() -> list[Binding]:
    """The queue screen's bindings (msgids: `localize` translates them per instance)."""
    return [
        Binding(
            action.keys,
            action.id,
            action.label,
            show=action.footer,
            id=action.id,
            tooltip=action.help,
        )
        for action in ACTIONS
    ]


# The footer's right end: the command palette's key ('│ ^p Actions'), when it fits.
PALETTE_WIDTH = 14


def footer_width(short: bool) -> int:
    """The cells the footer's keys take in the current language (whole or short labels)."""
    return sum(
        len(a.keys.split(",")[0]) + len(_(a.short if short and a.short else a.label)) + 2
        for a in ACTIONS
        if a.footer
    )


def fit_footer(node: DOMNode, width: int) -> tuple[bool, bool]:
    """Give the node's footer keys their whole labels when they fit `width`, else their
    short ones, so every footer key stays in view on 80 columns. Returns whether a label
    changed, and whether the command palette's key fits too."""
    short = footer_width(short=False) > width
    labels = {a.id: _(a.short if short and a.short else a.label) for a in ACTIONS if a.footer}
    table = node._bindings.key_to_bindings
    changed = False
    for key, entries in list(table.items()):
        if any(b.id in labels and b.description != labels[b.id] for b in entries):
            changed = True
            table[key] = [
                dataclasses.replace(b, description=labels[b.id]) if b.id in labels else b
                for b in entries
            ]
    return changed, footer_width(short) + PALETTE_WIDTH <= width


# Textual's own binding descriptions that show in pvp's footers, for the catalog.
TEXTUAL_WORDS = (N_("Dismiss menu"),)


def localize(node: DOMNode) -> None:
    """Translate a node's binding descriptions into the current language.

    Class-level BINDINGS are built at import time, before `--lang` is known, so they hold
    msgids and each instance gets its own translated copy (the footer reads these).
    """
    table = node._bindings.key_to_bindings
    for key, entries in list(table.items()):
        table[key] = [
            dataclasses.replace(
                b,
                description=_(b.description) if b.description else "",
                tooltip=_(b.tooltip) if b.tooltip else "",
            )
            for b in entries
        ]
