"""The visit and its vocabulary. Plain data: no IO, no Textual."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, tzinfo
from enum import StrEnum

from .i18n import N_, _
from .words import outcome_words, status_words


class Status(StrEnum):
    WAITING = "waiting"
    CALLED = "called"
    IN_SESSION = "in_session"
    DONE = "done"
    NO_SHOW = "no_show"
    CANCELLED = "cancelled"
    TRANSFERRED = "transferred"

    @property
    def label(self) -> str:
        return status_words(self.value)

    @property
    def is_final(self) -> bool:
        return self in (Status.DONE, Status.CANCELLED, Status.TRANSFERRED)


# Still in the front desk's hands. Leaving these (finished, no-show, cancelled,
# transferred, closed overnight) closes the visit for what it sends: FrontDesk._set_status.
OPEN_STATUSES = (Status.WAITING, Status.CALLED, Status.IN_SESSION)


class Kind(StrEnum):
    WALK_IN = "walk_in"
    APPOINTMENT = "appointment"


class Outcome(StrEnum):
    RESOLVED = "resolved"
    FOLLOW_UP = "follow_up"
    REDIRECTED = "redirected"
    TECHNICAL_FAILURE = "technical_failure"

    @property
    def label(self) -> str:
        return outcome_words(self.value)


class Need(StrEnum):
    SIGN_LANGUAGE = "sign_language"
    TRANSCRIPTION = "transcription"
    HEARING = "hearing"
    SIGHT = "sight"
    REDUCED_MOBILITY = "reduced_mobility"
    PAPERS_HELP = "papers_help"

    @property
    def label(self) -> str:
        return _(_NEED_LABELS[self])

    @property
    def short(self) -> str:
        return _(_NEED_SHORT[self])


_NEED_LABELS = {
    Need.SIGN_LANGUAGE: N_("sign-language interpreter"),
    Need.TRANSCRIPTION: N_("transcription interpreter"),
    Need.HEARING: N_("hearing impairment"),
    Need.SIGHT: N_("sight impairment"),
    Need.REDUCED_MOBILITY: N_("reduced mobility"),
    Need.PAPERS_HELP: N_("needs help with papers"),
}

_NEED_SHORT = {
    Need.SIGN_LANGUAGE: N_("SL interp."),
    Need.TRANSCRIPTION: N_("transcr."),
    Need.HEARING: N_("hearing"),
    Need.SIGHT: N_("sight"),
    Need.REDUCED_MOBILITY: N_("mobility"),
    Need.PAPERS_HELP: N_("papers"),
}

# Which status each action may start from. One table, used by the service, the
# screens (to grey out actions) and the CLI.
ALLOWED_FROM: dict[str, frozenset[Status]] = {
    "call": frozenset({Status.WAITING}),
    "start": frozenset({Status.CALLED}),
    "finish": frozenset({Status.CALLED, Status.IN_SESSION}),
    "no_show": frozenset({Status.WAITING, Status.CALLED}),
    "cancel": frozenset({Status.WAITING, Status.CALLED, Status.NO_SHOW}),
    "transfer": frozenset({Status.WAITING, Status.CALLED, Status.IN_SESSION}),
    "back_to_waiting": frozenset({Status.CALLED, Status.IN_SESSION, Status.NO_SHOW}),
    "edit_note": frozenset(Status),
}


@dataclass(frozen=True)
class Visit:
    id: str
    ticket: str
    day: str
    partner_id: str
    status: Status
    kind: Kind
    arrived_at: datetime
    appointment_at: datetime | None = None
    priority: bool = False
    needs: tuple[Need, ...] = ()
    outcome: Outcome | None = None
    called_at: datetime | None = None
    started_at: datetime | None = None
    ended_at: datetime | None = None
    transferred_from: str | None = None
    name: str | None = None
    phone: str | None = None
    note: str = ""

    def can(self, action: str) -> bool:
        return self.status in ALLOWED_FROM[action]

    def to_json(self, tz: tzinfo) -> dict[str, object]:
        """The public shape of a visit, as the CLI prints it with --json. Every moment is
        ISO 8601 in the site's time zone, with its offset, to the second (`iso_local`)."""
        return {
            "id": self.id,
            "ticket": self.ticket,
            "partner": self.partner_id,
            "status": self.status.value,
            "name": self.name,
            "kind": self.kind.value,
            "appointment_at": iso_local(self.appointment_at, tz),
            "priority": self.priority,
            "needs": [need.value for need in self.needs],
            "arrived_at": iso_local(self.arrived_at, tz),
            "called_at": iso_local(self.called_at, tz),
            "started_at": iso_local(self.started_at, tz),
            "ended_at": iso_local(self.ended_at, tz),
            "outcome": self.outcome.value if self.outcome else None,
            "note": self.note,
        }


def iso_local(moment: datetime | None, tz: tzinfo) -> str | None:
    """The one format of a moment in JSON for scripts: '2026-11-30T10:30:00+01:00'."""
    return moment.astimezone(tz).isoformat(timespec="seconds") if moment else None
