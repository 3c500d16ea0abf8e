"""The header: the site's name and its health at a glance, as badges.

Each part (the database, the kiosks, their calls; later the hub) says what its badges
show as `BadgeUpdate`s; the app sends them to the queue screen in a `BadgesChanged`
message, and a badge changes on screen only when its text or level changes.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.message import Message
from textual.widgets import Static

from ..format import fit

Level = Literal["ok", "info", "warn", "error"]
LEVELS: tuple[Level, ...] = ("ok", "info", "warn", "error")


@dataclass(frozen=True)
class BadgeUpdate:
    """One badge as it should now be shown; `text` None takes it off the header.
    `detail`: a longer line shown when the mouse rests on it (None: nothing); `short`:
    fewer words for a header too narrow for the site's name whole (None: none)."""

    key: str
    text: str | None
    level: Level = "ok"
    detail: str | None = None
    short: str | None = None


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
        self.compact = False  # only its dot (its colour says it): a narrow header's ok badge
        self.short: str | None = None  # fewer words, for a narrow header
        self.shortened = False

    def show(self, text: str, level: Level, short: str | None = None) -> None:
        if (text, level, short) == (self.text, self.level, self.short):
            return
        self.remove_class(f"-{self.level}")
        self.add_class(f"-{level}")
        self.text, self.level, self.short = text, level, short
        self.update(self.shown)

    @property
    def words(self) -> str:
        return self.short if self.shortened and self.short else self.text

    @property
    def shown(self) -> str:
        return "●" if self.compact else f"● {self.words}"

    def set_shortened(self, shortened: bool) -> None:
        if shortened != self.shortened:
            self.shortened = shortened
            self.update(self.shown)

    def set_compact(self, compact: bool) -> None:
        if compact != self.compact:
            self.compact = compact
            self.update(self.shown)


class Badges(Horizontal):
    """A row of status badges, in the order they were first set."""

    def badge(self, key: str) -> Badge | None:
        return next((b for b in self.query(Badge) if b.key == key), None)

    def set_badge(
        self,
        key: str,
        text: str,
        level: Level = "ok",
        detail: str | None = None,
        short: str | None = None,
    ) -> None:
        existing = self.badge(key)
        if existing is None:
            existing = Badge(key, text, level)
            existing.short = short
            self.mount(existing)
        else:
            existing.show(text, level, short)
        if detail is not None and existing.tooltip != detail:
            existing.tooltip = detail

    def remove_badge(self, key: str) -> None:
        existing = self.badge(key)
        if existing is not None:
            existing.remove()

    def apply(self, updates: Iterable[BadgeUpdate]) -> None:
        for update in updates:
            if update.text is None:
                self.remove_badge(update.key)
            else:
                self.set_badge(update.key, update.text, update.level, update.detail, update.short)
        header = self.parent
        if isinstance(header, SiteHeader):
            self.call_after_refresh(header.fit)


# A badge's padding, each side (styles/base.tcss: .badge), and the site's name's.
_PADDING = 2
TITLE_MIN = 16  # the site's name keeps at least this much of the header (cut with '…')


def fit_header(
    width: int, titles: tuple[str, str], badges: Sequence[tuple[str, Level]]
) -> tuple[str, frozenset[int]]:
    """What a header of `width` cells shows: the title ('PVP Relais · site', else the
    site's name alone, else that cut with '…') and which badges show only their dot
    (the ok ones, from the first, when the site's name would not fit whole otherwise).

    `badges`: each badge's text and level. Returns the title and the compact badges'
    indexes. The badges that are not ok always show whole: they say what is wrong."""
    whole = [len(f"● {text}") + _PADDING for text, _level in badges]
    compact: set[int] = set()

    def room() -> int:
        used = sum(1 + _PADDING if i in compact else w for i, w in enumerate(whole))
        return width - used - _PADDING

    full, site = titles
    if len(full) <= room():
        return full, frozenset()
    # The database's "ok" goes to its dot first (the row's order: privacy, database,
    # kiosks, calls); a call in progress keeps its words longest.
    for index in range(len(badges)):
        if len(site) <= room():
            break
        if badges[index][1] == "ok":
            compact.add(index)
    for index in sorted(compact, reverse=True):  # give back words, the latest badges first
        compact.discard(index)
        if len(site) > room():
            compact.add(index)
    return fit(site, max(room(), min(TITLE_MIN, len(site)))), frozenset(compact)


class SiteHeader(Horizontal):
    """The site's name, the badges and the clock; the name stays in view whatever the
    badges say. The clock repaints once a minute, on the minute (a few bytes over SSH)."""

    DEFAULT_CSS = """
    SiteHeader #clock { width: 7; padding: 0 1; text-style: bold; }
    """

    def __init__(
        self,
        title: str,
        site: str,
        clock: Callable[[], datetime] | None = None,
        real: Callable[[float], float] = lambda seconds: seconds,
    ) -> None:
        super().__init__(id="site-header")
        self.title_text = title
        self.site = site
        self._clock = clock  # the local time now (the desk's clock: tests fix it)
        self._real = real  # seconds of that clock in real seconds (a test clock runs fast)

    def compose(self) -> ComposeResult:
        name = Static(self.title_text, id="site-name", markup=False)
        name.styles.min_width = TITLE_MIN + _PADDING  # badges never push the name out
        yield name
        yield Badges(id="badges")
        if self._clock is not None:
            yield Static("", id="clock", markup=False)

    def on_mount(self) -> None:
        self._tick()

    def _tick(self) -> None:
        if self._clock is None:
            return
        now = self._clock()
        clock = self.query_one("#clock", Static)
        text = now.strftime("%H:%M")
        if str(clock.content) != text:
            clock.update(text, layout=False)  # same width: repaint these 5 cells only
        self.set_timer(self._real(60.05 - now.second - now.microsecond / 1e6), self._tick)

    def on_resize(self) -> None:
        self.fit()

    def fit(self) -> None:
        badges = list(self.query_one(Badges).query(Badge))
        clock = len("00:00") + _PADDING if self._clock is not None else 0
        titles = (self.title_text, self.site)
        title, compact = fit_header(
            self.size.width - clock, titles, [(b.text, b.level) for b in badges]
        )
        # The site's name cut even so: the badges that have fewer words say those.
        shortened = title not in titles and any(b.short for b in badges)
        if shortened:
            title, compact = fit_header(
                self.size.width - clock, titles, [(b.short or b.text, b.level) for b in badges]
            )
        for index, badge in enumerate(badges):
            badge.set_shortened(shortened)
            badge.set_compact(index in compact)
        name = self.query_one("#site-name", Static)
        if str(name.content) != title:
            name.update(title)
