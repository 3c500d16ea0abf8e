"""Typed messages from worker threads and the change feed to the screens."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from textual.message import Message

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


def load_queue_state(desk: FrontDesk) -> QueueState:
    """Runs in a worker thread: only IO, no widgets."""
    return QueueState(
        now=desk.now(), waiting=desk.queue(), active=desk.active(), summary=desk.day_summary()
    )


class DataChanged(Message):
    """Another pvp process committed a change (from the ChangeWatcher thread)."""


class QueueLoaded(Message):
    def __init__(self, state: QueueState) -> None:
        super().__init__()
        self.state = state


class ActionDone(Message):
    """A front-desk action succeeded; `text` says what happened (no visitor name)."""

    def __init__(self, text: str, visit: Visit | None = None) -> None:
        super().__init__()
        self.text = text
        self.visit = visit


class ActionRefused(Message):
    """The core refused an action (PvpError): nothing changed; `text` says what to do."""

    def __init__(self, text: str) -> None:
        super().__init__()
        self.text = text
