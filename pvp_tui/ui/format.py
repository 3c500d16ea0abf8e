"""How visits read on screen: short, translated, privacy-aware. No widgets here."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime, tzinfo
from functools import cache

from rich.cells import cell_len, set_cell_size

from ..core.clock import elapsed_minutes
from ..core.config import Config
from ..core.i18n import N_, _, get_language
from ..core.models import Kind, Need, Status, Visit
from ..core.queue_rules import QueueEntry
from ..core.words import OUTCOME_SHORT

HIDDEN = "—"
CUT = "…"


def fit(text: str | Sequence[str], width: int | None) -> str:
    """The text that fits `width` terminal cells: the first of the choices (longest
    first, e.g. a partner's name then its short name) that fits, else the last one cut
    with '…'. Every list cell goes through here, so nothing is ever cut without '…'.
    No width (a column as wide as its texts): the first choice."""
    choices = (text,) if isinstance(text, str) else tuple(text)
    for choice in choices:
        if width is None or cell_len(choice) <= width:
            return choice
    if width is None or width <= 0:
        return ""
    return set_cell_size(choices[-1], width - 1).rstrip() + CUT


def visitor_name(visit: Visit, privacy: bool) -> str:
    if privacy:
        return HIDDEN
    if visit.name is None:
        return _("(erased)")
    return visit.name


def clock_time(moment: datetime | None, tz: tzinfo) -> str:
    return moment.astimezone(tz).strftime("%H:%M") if moment else ""


def duration(start: datetime | None, now: datetime) -> str:
    """Whole minutes since `start`, as H:MM (the waiting list's 'waited' column)."""
    if start is None:
        return ""
    minutes = elapsed_minutes(start, now)
    return f"{minutes // 60}:{minutes % 60:02d}"


def estimate(entry: QueueEntry, now: datetime, tz: tzinfo, compact: bool = False) -> str:
    """'~N min' while the partner is open; else when its next permanence opens.

    Compact (a narrow terminal): 'closed → Mon 9am' instead of 'closed · Mon 09:00'.
    """
    words = entry.wait_words(now, tz)
    if words is not None:
        return words
    when = reopens(entry, now, tz, compact)
    if when is None:
        return _("closed")
    return (_("closed → {when}") if compact else _("closed · {when}")).format(when=when)


def reopens(entry: QueueEntry, now: datetime, tz: tzinfo, compact: bool = False) -> str | None:
    """When a closed partner's next permanence opens: '13:30' today, else 'Tue 09:00'."""
    if entry.opens_at is None:
        return None
    opens = entry.opens_at.astimezone(tz)
    time = _short_time(opens) if compact else opens.strftime("%H:%M")
    if opens.date() == now.astimezone(tz).date():
        return time
    return f"{_day_name(opens.date(), get_language())} {time}"


def _short_time(moment: datetime) -> str:
    """9h, 13h30 (French) or 9am, 1:30pm (English): the compact estimate's time."""
    minutes = f"{moment.minute:02d}" if moment.minute else ""
    if get_language() == "fr":
        return f"{moment.hour}h{minutes}"
    hour = moment.hour % 12 or 12
    return f"{hour}{':' if minutes else ''}{minutes}{'am' if moment.hour < 12 else 'pm'}"


# CLDR's abbreviated weekdays (Babel's "EEE"), Monday first: Babel takes ~10 ms to load a
# locale's data, which the first frame would wait for while a partner is closed.
_WEEKDAYS = {
    "en": ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"),
    "fr": ("lun.", "mar.", "mer.", "jeu.", "ven.", "sam.", "dim."),
}


@cache
def _day_name(day: date, language: str) -> str:
    """The short weekday name ('lun.', 'Mon'); every row of a closed partner asks for it."""
    if language in _WEEKDAYS:
        return _WEEKDAYS[language][day.weekday()]
    from babel.dates import format_date  # another language: Babel's data for it

    return format_date(day, "EEE", locale=language)


# The accessibility needs in a few letters, for the waiting list of a narrow terminal.
_NEED_COMPACT = {
    Need.SIGN_LANGUAGE: N_("SL"),
    Need.TRANSCRIPTION: N_("transcr."),
    Need.HEARING: N_("hear."),
    Need.SIGHT: N_("sight"),
    Need.REDUCED_MOBILITY: N_("mob."),
    Need.PAPERS_HELP: N_("paper"),  # "pap." in French
}


_NEED_ORDER = list(Need)


def flags(
    visit: Visit, tz: tzinfo, compact: bool = False, late: bool = False, note: bool = True
) -> str:
    """Priority, accessibility needs, appointment and a note marker, in short words.

    The needs come first: staff must see them before calling. Compact (a narrow
    terminal): 'prio LSF mob. RDV 12:00' instead of 'priority · SL interp. · ...'.
    `note` False: no note marker (a view that shows the note itself).
    """
    parts = []
    if visit.priority:
        parts.append(_("prio") if compact else _("priority"))
    for need in sorted(visit.needs, key=_NEED_ORDER.index):
        parts.append(_(_NEED_COMPACT[need]) if compact else need.short)
    if visit.kind is Kind.APPOINTMENT and visit.appointment_at is not None:
        time = clock_time(visit.appointment_at, tz)
        # Late beyond the site's tolerance: queued as a walk-in (queue_rules), and shown.
        parts.append((_("appt {time} late") if late else _("appt {time}")).format(time=time))
    if visit.note and note:
        parts.append("✎")
    return (" " if compact else " · ").join(parts)


def partner_name(config: Config, partner_id: str) -> str:
    partner = config.partner(partner_id)
    return partner.name if partner else partner_id


def partner_names(config: Config, partner_id: str) -> tuple[str, str]:
    """The partner's name, then its short name: a list cell shows the one that fits."""
    partner = config.partner(partner_id)
    return (partner.name, partner.short) if partner else (partner_id, partner_id)


def kiosk_state(visit: Visit, now: datetime) -> str:
    if visit.status is Status.IN_SESSION:
        return _("in session {duration}").format(duration=duration(visit.started_at, now))
    return _("called {duration}").format(duration=duration(visit.called_at, now))


def outcome_label(visit: Visit, width: int | None = None) -> str:
    """The outcome (else the status); its short form if the whole one is wider than `width`."""
    if visit.status is Status.DONE and visit.outcome is not None:
        label = visit.outcome.label
        if width is not None and len(label) > width:
            return _(OUTCOME_SHORT[visit.outcome.value])
        return label
    return visit.status.label


def pack(items: list[str], width: int, max_lines: int) -> str:
    """Items joined by ' · ' into lines of at most `width`, never cutting an item.

    Items that do not fit in `max_lines` are left out and the last line ends with '…'.
    """
    lines: list[str] = []
    for item in items:
        if lines and len(lines[-1]) + 3 + len(item) <= width:
            lines[-1] += " · " + item
        else:
            lines.append(item)
    if len(lines) > max_lines:
        lines = lines[:max_lines]
        last = lines[-1]
        lines[-1] = last + " · …" if len(last) + 4 <= width else last[: width - 1] + "…"
    return "\n".join(lines)


def hints(text: str, width: int) -> str:
    """A line of key hints ('a · b · c') in `width`: the first whole ones, then '…' when
    some do not fit (the footer and the help have them all)."""
    return pack(text.split(" · "), width, max_lines=1)
