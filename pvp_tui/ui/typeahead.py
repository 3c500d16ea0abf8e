"""Keys typed fast reach the screen they were meant for, in order.

Staff type ahead: F2 then the name at once, F8 then the outcome's digit. Textual hands
each key, as soon as it reads it, to the focused widget; a key bound on the screen (F2)
only acts once it has bubbled from that widget up to the app, and by then the keys
typed after it have already been handed to the same widget of the old screen: lost,
or worse, read there as actions ('n' no-show, 'c' call). And a screen just opened has no
focused widget until it is composed and mounted: keys read in between went nowhere
("me Nicole Bertin", or an empty name).

So the app gives keys one at a time: a key is sent once the one before it has landed
(handled, stopped, or bubbled all the way up to the app, its binding run), and only to
a screen that is ready (mounted, its focus set, not saving: a screen says so with an
`accepts_keys` attribute) while the app is not carrying out an action. Keys read
meanwhile wait here in arrival order. Typing stays immediate: a key lands within the
same few messages.
"""

from __future__ import annotations

import time
import weakref
from collections.abc import Awaitable, Callable
from typing import Any, Protocol

from textual import events
from textual.app import ScreenStackError
from textual.message_pump import MessagePump
from textual.screen import Screen
from textual.widget import Widget

STEP = 0.01  # seconds between looks at a screen that is not ready yet
SETTLE = 0.25  # a screen that could focus a widget and did not is ready after this long
LIMIT = 2.0  # no key waits longer than this for a screen, whatever the screen does


class Host(Protocol):
    @property
    def screen(self) -> Screen[Any]: ...

    @property
    def focused(self) -> Widget | None: ...

    def set_timer(self, delay: float, callback: Callable[[], Awaitable[None]]) -> object: ...

    def call_later(self, callback: Callable[..., Any], *args: Any) -> bool: ...


class Typeahead:
    def __init__(
        self,
        host: Host,
        dispatch: Callable[[events.Key], Awaitable[None]],
        busy: Callable[[], bool] = lambda: False,
    ) -> None:
        """`dispatch` handles a key as the app does when it reads one; while `busy()` (an
        action being carried out: F4 must see the visitor F3 just called), keys wait."""
        self._host = host
        self._dispatch = dispatch
        self._busy = busy
        self._held: list[events.Key] = []
        self._in_flight: events.Key | None = None
        self._waiting_since: float | None = None  # when the first key began to wait for a screen
        self._timer = False
        self._ready: weakref.WeakSet[Screen[Any]] = weakref.WeakSet()
        self._mounted_at: weakref.WeakKeyDictionary[Screen[Any], float] = (
            weakref.WeakKeyDictionary()
        )

    @property
    def holding(self) -> int:
        """Keys read and not sent yet (tests wait for none)."""
        return len(self._held) + (self._in_flight is not None)

    async def key(self, event: events.Key) -> None:
        """A key read from the terminal: sent now if nothing is ahead of it."""
        self._held.append(event)
        await self._pump()

    async def _pump(self) -> None:
        while self._held and self._in_flight is None:
            try:
                screen = self._host.screen
            except ScreenStackError:
                self._held.clear()  # the app is closing: no screen will take them
                return
            if not self._is_ready(screen) and not self._waited_enough():
                if not self._timer:
                    self._timer = True
                    self._host.set_timer(STEP, self._tick)
                return
            self._waiting_since = None
            event = self._held.pop(0)
            target: MessagePump = self._host.focused or self._host.screen
            self._in_flight = event
            await self._dispatch(event)
            if event.is_forwarded:
                target.call_later(self._landed, event, target)  # after the key, in its queue
            else:
                self._in_flight = None  # a priority binding took it at once

    async def _tick(self) -> None:
        self._timer = False
        await self._pump()

    def _waited_enough(self) -> bool:
        now = time.monotonic()
        if self._waiting_since is None:
            self._waiting_since = now
        return now - self._waiting_since >= LIMIT

    def _landed(self, event: events.Key, node: MessagePump) -> None:
        """`node` has handled `event`: follow it up to the app, one queue at a time. If
        it bubbled, it is already in the parent's queue, ahead of this; so once this
        runs in the app's queue, the app has run its binding, or it was stopped below.
        (A stopped key cannot end the chain early: a key is stopped as it is passed to
        its sender, the app, and still handled there.)"""
        if event is not self._in_flight:
            return
        parent = node._parent  # the node the key bubbles to (None: the app)
        if parent is None:
            self._in_flight = None
            self._host.call_later(self._pump)
        else:
            parent.call_later(self._landed, event, parent)

    def _is_ready(self, screen: Screen[Any]) -> bool:
        if self._busy() or not getattr(screen, "accepts_keys", True):
            return False  # a form saving, the app acting: what follows is for after
        if screen in self._ready:
            return True
        if not screen.is_mounted:
            return False
        now = time.monotonic()
        mounted_at = self._mounted_at.setdefault(screen, now)
        if screen.focused is not None or not screen.focus_chain or now - mounted_at >= SETTLE:
            self._ready.add(screen)  # once ready, a screen stays so: no key waits again
            return True
        return False
