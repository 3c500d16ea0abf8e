"""The header: the site's name and its health at a glance, as badges.

Each part (the database, the kiosks, their calls; later the hub) says what its badges
show as `BadgeUpdate`s; the app sends them to the queue screen in a `BadgesChanged`
message, and a badge changes on screen only when its text or level changes.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Literal

from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.message import Message
from textual.widgets import Static

Level = Literal["ok", "info", "warn", "error"]
LEVELS: tuple[Level, ...] = ("ok", "info", "warn", "error")


@dataclass(frozen=True)
class BadgeUpdate:
    """One badge as it should now be shown; `text` None takes it off the header."""

    key: str
    text: str | None
    level: Level = "ok"


class BadgesChanged(Message):
    """Badges to set or remove, in this order (a new badge goes to the end of the row).

    `full`: every badge of the header (privacy and database first); a partial update
    that arrives before the first full one waits for it (the full one repeats it)."""

    bubble = False

    def __init__(self, updates: Sequence[BadgeUpdate], *, full: bool = False) -> None:
        super().__init__()
        self.updates = tuple(updates)
        self.full = full


class Badge(Static):
    def __init__(self, key: str, text: str, level: Level) -> None:
        super().__init__(f"● {text}", id=f"badge-{key}", classes=f"badge -{level}", markup=False)
        self.key = key
        self.text = text
        self.level: Level = level

    def show(self, text: str, level: Level) -> None:
        if (text, level) == (self.text, self.level):
            return
        self.remove_class(f"-{self.level}")
        self.add_class(f"-{level}")
        self.text, self.level = text, level
        self.update(f"● {text}")


class Badges(Horizontal):
    """A row of status badges, in the order they were first set."""

    def badge(self, key: str) -> Badge | None:
        return next((b for b in self.query(Badge) if b.key == key), None)

    def set_badge(self, key: str, text: str, level: Level = "ok") -> None:
        existing = self.badge(key)
        if existing is None:
            self.mount(Badge(key, text, level))
        else:
            existing.show(text, level)

    def remove_badge(self, key: str) -> None:
        existing = self.badge(key)
        if existing is not None:
            existing.remove()

    def apply(self, updates: Iterable[BadgeUpdate]) -> None:
        for update in updates:
            if update.text is None:
                self.remove_badge(update.key)
            else:
                self.set_badge(update.key, update.text, update.level)


class SiteHeader(Horizontal):
    def __init__(self, title: str) -> None:
        super().__init__(id="site-header")
        self.title_text = title

    def compose(self) -> ComposeResult:
        yield Static(self.title_text, id="site-name", markup=False)
        yield Badges(id="badges")
