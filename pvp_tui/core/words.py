"""The words of the front desk's actions and outcomes, said the same way everywhere.

The CLI's lines, the screens' notices, the core's refusals and the exports take their
words for a visit's status, an interview's outcome and what an action did from here.
Entries are msgids (``N_``): translate them with ``_`` where they are shown. Keys are the
values of :class:`pvp_tui.core.models.Status` / ``Outcome`` and the actions' names of
``models.ALLOWED_FROM`` (plain strings: this module imports nothing of the models).
"""

from __future__ import annotations

from .i18n import N_, _

# What a visit is now (the queue's columns, the CLI, the refusals).
STATUS: dict[str, str] = {
    "waiting": N_("waiting"),
    "called": N_("called"),
    "in_session": N_("in session"),
    "done": N_("done"),
    "no_show": N_("no-show"),
    "cancelled": N_("cancelled"),
    "transferred": N_("transferred"),
}

# How an interview ended (the finish dialog, the CLI, the reports and their exports).
OUTCOME: dict[str, str] = {
    "resolved": N_("resolved"),
    "follow_up": N_("follow-up needed"),
    "redirected": N_("redirected"),
    "technical_failure": N_("technical failure"),
}

# The same, short, for the narrow "Today" list ('technical failure' is 17 wide).
OUTCOME_SHORT: dict[str, str] = {
    "resolved": N_("resolved"),
    "follow_up": N_("follow-up"),
    "redirected": N_("redirected"),
    "technical_failure": N_("tech. failure"),
}

# The reports' figures of what became of the visits (headings of the summary, columns of
# the partners' table).
FIGURES: dict[str, str] = {
    "served": N_("Served"),
    "no_shows": N_("No-shows"),
    "cancellations": N_("Cancellations"),
    "transfers": N_("Transfers"),
    "transfers_in": N_("Transfers in"),
    "transfers_out": N_("Transfers out"),
}

# What an action does to a visit, as a past participle: "C-007 is done: it cannot be
# called now."
ACTION_PAST: dict[str, str] = {
    "call": N_("called"),
    "start": N_("started"),
    "finish": N_("finished"),
    "no_show": N_("marked as no-show"),
    "cancel": N_("cancelled"),
    "transfer": N_("transferred"),
    "back_to_waiting": N_("put back to waiting"),
    "edit_note": N_("annotated"),
}

# What to do instead, when an action is refused in a visit's status: the refusal's second
# sentence, for the screens and the CLI alike (no key names: each says its own keys).
# Keys: (action, status). A closed visit (done, cancelled, transferred) has its own words
# whatever the action: :func:`wrong_state_hint`.
WRONG_STATE_HINT: dict[tuple[str, str], str] = {
    ("call", "called"): N_("They have already been called."),
    ("call", "in_session"): N_("Their interview is under way."),
    ("call", "no_show"): N_("Put them back to waiting first."),
    ("start", "waiting"): N_("Call them first."),
    ("start", "in_session"): N_("Their interview is already under way."),
    ("start", "no_show"): N_("Put them back to waiting, then call them."),
    ("finish", "waiting"): N_("Call them first, or cancel the visit if they left."),
    ("finish", "no_show"): N_("Cancel the visit, or put them back to waiting."),
    ("no_show", "in_session"): N_("Their interview is under way: finish it instead."),
    ("no_show", "no_show"): N_("They are already marked as no-show."),
    ("cancel", "in_session"): N_("Their interview is under way: finish it instead."),
    ("transfer", "no_show"): N_("Put them back to waiting first."),
    ("back_to_waiting", "waiting"): N_("They are already waiting."),
}
CLOSED_HINT: dict[str, str] = {
    "done": N_("This visit is closed: if the visitor is back, check them in again."),
    "cancelled": N_("This visit is closed: if the visitor is back, check them in again."),
    "transferred": N_("It was transferred: use the ticket it was given."),
}


def wrong_state_hint(action: str, status: str) -> str:
    """What to do instead of ``action`` on a visit in ``status``, or "" when nothing is
    worth saying."""
    words = CLOSED_HINT.get(status) or WRONG_STATE_HINT.get((action, status))
    return _(words) if words else ""


# What an action did, once done: the CLI's line and the screen's notice. Fields: ticket
# (the visit's, after the action), partner (its partner's name), outcome (its words),
# old (a transferred visit's former ticket). check_in and call are line heads (the CLI
# adds the visitor's name after them): sentence() ends them for a notice.
DONE: dict[str, str] = {
    "check_in": N_("{ticket} checked in for {partner}"),
    "call": N_("{ticket} called ({partner})"),
    "start": N_("{ticket}: interview started."),
    "finish": N_("{ticket}: finished ({outcome})."),
    "no_show": N_("{ticket}: marked as no-show."),
    "cancel": N_("{ticket}: cancelled."),
    "transfer": N_("{old} transferred to {partner}: new ticket {ticket}."),
    "back_to_waiting": N_("{ticket}: back to waiting."),
    "edit_note": N_("{ticket}: note saved."),
}


def status_words(status: str) -> str:
    return _(STATUS[status])


def outcome_words(outcome: str) -> str:
    return _(OUTCOME[outcome])


def figure_words(figure: str) -> str:
    return _(FIGURES[figure])


def outcome_heading(outcome: str) -> str:
    """A report's heading of the visits with this outcome: "Outcome: resolved"."""
    return _("Outcome: {outcome}").format(outcome=outcome_words(outcome))


def action_past(action: str) -> str:
    return _(ACTION_PAST[action])


def done(action: str, **fields: str) -> str:
    """What ``action`` did, in the app's language: ``done("no_show", ticket="C-007")``."""
    return _(DONE[action]).format(**fields)


def sentence(text: str) -> str:
    """A line of :data:`DONE` as a whole sentence, for a notice."""
    return text if text.endswith((".", "…", "!")) else text + "."
