"""Typed messages from worker threads and the change feed to the screens."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from textual.message import Message

from ..core.appointments import Appointment
from ..core.errors import PvpError
from ..core.frontdesk import DaySummary, FrontDesk
from ..core.models import Visit
from ..core.queue_rules import QueueEntry


@dataclass(frozen=True)
class QueueState:
    """Everything the queue screen shows, read in one go (bounded: active visits + today)."""

    now: datetime
    waiting: list[QueueEntry]
    active: list[Visit]
    summary: DaySummary
    # The day's appointments from the hub ("Rendez-vous du jour"); only with a [hub].
    appointments: list[Appointment] = field(default_factory=list)


def load_queue_state(desk: FrontDesk) -> QueueState:
    """Runs in a worker thread: only IO, no widgets."""
    return QueueState(
        now=desk.now(),
        waiting=desk.queue(),
        active=desk.active(),
        summary=desk.day_summary(),
        appointments=desk.appointments_of_day() if desk.config.hub is not None else [],
    )


class DataChanged(Message):
    """Another pvp process committed a change (from the ChangeWatcher thread)."""


class QueueLoaded(Message):
    """A read of the queue; `new_day`: the site's day changed since the last read, and
    the read began by closing the visits left open (`FrontDesk.start_of_day`)."""

    def __init__(self, state: QueueState, *, new_day: bool = False) -> None:
        super().__init__()
        self.state = state
        self.new_day = new_day


class ActionDone(Message):
    """A front-desk action succeeded; `text` says what happened (no visitor name).

    `state` is the queue read right after it by the same worker (None if that read
    failed): the screen shows it at once, without a second round-trip to a worker."""

    def __init__(
        self, text: str, visit: Visit | None = None, state: QueueState | None = None
    ) -> None:
        super().__init__()
        self.text = text
        self.visit = visit
        self.state = state


def read_after(desk: FrontDesk) -> QueueState | None:
    """In the worker that just acted: the new queue, or None (the screen then reads it)."""
    try:
        return load_queue_state(desk)
    except Exception:  # the action is done; a failed read only costs the quick path
        return None


class ActionRefused(Message):
    """The core refused an action (PvpError): nothing changed; `text` says what to do."""

    def __init__(self, text: str, error: PvpError | None = None) -> None:
        super().__init__()
        self.text = text
        self.error = error  # the refusal itself, when a screen may answer it (KioskBusy)


# ----------------------------------------------------------------- screens to the app
class QueueScreenReady(Message):
    """The queue screen is mounted: the app shows its badges and starts reading."""


class RefreshQueue(Message):
    """Read the queue again now (ctrl+r)."""


class TogglePrivacy(Message):
    """Hide the visitors' names, or show them again (p)."""


class VisitMoved(Message):
    """A visit changed outside a front-desk action (its video call started it): select it
    where it now is, and read the queue again."""

    def __init__(self, visit: Visit) -> None:
        super().__init__()
        self.visit = visit


class OpenSession(Message):
    """F5: the visitor's video call (started first if there is none)."""

    def __init__(self, visit: Visit | None) -> None:
        super().__init__()
        self.visit = visit


class OpenDocuments(Message):
    """F6/F7: the documents panel of the visitor at the kiosk (`print_first`: F7)."""

    def __init__(self, visit: Visit | None, *, print_first: bool = False) -> None:
        super().__init__()
        self.visit = visit
        self.print_first = print_first
