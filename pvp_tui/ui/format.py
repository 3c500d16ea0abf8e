"""How visits read on screen: short, translated, privacy-aware. No widgets here."""

from __future__ import annotations

from datetime import date, datetime, tzinfo
from functools import cache

from ..core.config import Config
from ..core.i18n import _, get_language
from ..core.models import Kind, Status, Visit
from ..core.queue_rules import QueueEntry

HIDDEN = "—"


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
    minutes = max(0, int((now - start).total_seconds() // 60))
    return f"{minutes // 60}:{minutes % 60:02d}"


def estimate(entry: QueueEntry, now: datetime, tz: tzinfo) -> str:
    """'~N min' while the partner is open; else when its next permanence opens."""
    if entry.estimate is not None:
        minutes = round(entry.estimate.total_seconds() / 60)
        return _("now") if minutes < 1 else _("~{n} min").format(n=minutes)
    if entry.opens_at is None:
        return _("closed")
    opens = entry.opens_at.astimezone(tz)
    if opens.date() == now.astimezone(tz).date():
        when = opens.strftime("%H:%M")
    else:
        when = f"{_day_name(opens.date(), get_language())} {opens:%H:%M}"
    return _("closed · {when}").format(when=when)


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


def flags(visit: Visit, tz: tzinfo) -> str:
    """Appointment, priority, accessibility needs and a note marker, in short words."""
    parts = []
    if visit.kind is Kind.APPOINTMENT and visit.appointment_at is not None:
        parts.append(_("appt {time}").format(time=clock_time(visit.appointment_at, tz)))
    if visit.priority:
        parts.append(_("priority"))
    parts.extend(need.short for need in visit.needs)
    if visit.note:
        parts.append("✎")
    return " · ".join(parts)


def partner_name(config: Config, partner_id: str) -> str:
    partner = config.partner(partner_id)
    return partner.name if partner else partner_id


def kiosk_state(visit: Visit, now: datetime) -> str:
    if visit.status is Status.IN_SESSION:
        return _("in session {duration}").format(duration=duration(visit.started_at, now))
    return _("called {duration}").format(duration=duration(visit.called_at, now))


def outcome_label(visit: Visit) -> str:
    if visit.status is Status.DONE and visit.outcome is not None:
        return visit.outcome.label
    return visit.status.label
