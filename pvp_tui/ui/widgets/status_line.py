"""The status line: the one place where the app says something to the staff.

Every screen has one, just above its keys, on a line of its own: a message never covers
the lists or a dialog. `MessageBoard` decides what it shows (the app's `notify` comes
here, from every screen and part): a passing message for a few seconds, an error that
needs an action until it is read (the next key or a click, once it has been seen), and
a log of the last messages said (tests read it; bounded: the app stays open for weeks).
Nothing repaints on a clock: one timer per passing message, to take it off.
"""

from __future__ import annotations

import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any
from weakref import WeakKeyDictionary

from textual import events
from textual.app import App
from textual.content import Content
from textual.notifications import SeverityLevel
from textual.timer import Timer
from textual.widgets import Static

# Seconds a passing message stays (a newer one replaces it at once).
PASSING = {"information": 5.0, "warning": 8.0}
SEEN_AFTER = 1.0  # a key typed sooner than this after an error did not read it
SAID_KEPT = 200  # messages kept in the board's log (the oldest go first)


@dataclass(frozen=True)
class Said:
    """One message to the staff; `sticky`: an error that stays until read."""

    text: str
    severity: SeverityLevel = "information"
    at: float = field(default_factory=time.monotonic, compare=False)

    @property
    def sticky(self) -> bool:
        return self.severity == "error"


class StatusLine(Static):
    """One line above the footer (more for a long error); blank when nothing is said."""

    def __init__(self) -> None:
        super().__init__("", classes="-blank", markup=False)
        self._shown: Said | None = None

    def on_mount(self) -> None:
        board = BOARDS.get(self.app)
        if board is not None:
            self.show(board.shown())  # a screen opened while something is said

    def show(self, said: Said | None) -> None:
        if said is self._shown:
            return
        self._shown = said
        self.update(Content(said.text) if said is not None else "")
        for severity in ("information", "warning", "error"):
            self.set_class(said is not None and said.severity == severity, f"-{severity}")
        self.set_class(said is None, "-blank")

    def on_click(self, event: events.Click) -> None:
        board = BOARDS.get(self.app)
        if board is not None:
            board.read(force=True)


class MessageBoard:
    """What the status lines show, for one app; `said` is the log of the last messages."""

    def __init__(self, app: App[Any]) -> None:
        self.app = app
        self.said: deque[Said] = deque(maxlen=SAID_KEPT)
        self.passing: Said | None = None
        self.unread: Said | None = None
        self._timer: Timer | None = None
        BOARDS[app] = self

    def notify(self, text: str, severity: SeverityLevel = "information") -> None:
        """Say `text` (from any thread: the app's loop shows it)."""
        self.app.call_later(self.say, Said(str(text), severity))

    def say(self, said: Said) -> None:
        self.said.append(said)
        if said.sticky:
            self.unread = said
            self.passing = None  # the error is what to read now
        else:
            self.passing = said
        self._arm()
        self.show()

    def shown(self) -> Said | None:
        """A passing message while it lasts, else the error not yet read."""
        return self.passing or self.unread

    def read(self, *, force: bool = False) -> None:
        """A key was pressed (or the line clicked): an error seen long enough is read."""
        if self.unread is None or self.shown() is not self.unread:
            return
        if force or time.monotonic() - self.unread.at >= SEEN_AFTER:
            self.unread = None
            self.show()

    def _arm(self) -> None:
        if self._timer is not None:
            self._timer.stop()
            self._timer = None
        if self.passing is not None:
            self._timer = self.app.set_timer(PASSING[self.passing.severity], self._expire)

    def _expire(self) -> None:
        self._timer = None
        self.passing = None
        self.show()

    def show(self) -> None:
        """On the line of every screen of the stack (a dialog's, and the one under it)."""
        shown = self.shown()
        for screen in self.app.screen_stack:
            for line in screen.query(StatusLine):
                line.show(shown)


BOARDS: WeakKeyDictionary[App[Any], MessageBoard] = WeakKeyDictionary()
