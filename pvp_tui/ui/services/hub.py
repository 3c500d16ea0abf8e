"""The hub's badge in the header, when `[hub]` is configured (nothing otherwise).

The sync worker runs in a thread of its own (or in another pvp process) and writes what
happens to the site's database at once; this part only reads it: `refresh()` runs
`pvp_tui.core.hub_link.read_link` in a thread (never on the event loop, never on the
network) and posts `HubChanged` when the badge's words change. The app calls it when the
queue screen is ready and whenever the change feed sees a commit, the sync worker's
included: a failure or a recovery shows within about half a second.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3

from textual.message import Message

from ...core.errors import PvpError
from ...core.frontdesk import FrontDesk
from ...core.hub_link import badge_words, read_link
from ..widgets.badges import BadgeUpdate
from .host import Host

log = logging.getLogger("pvp.ui.hub")

KEY = "hub"


class HubChanged(Message):
    """The hub badge's words changed (the app shows `HubBadge.badges()`)."""


class HubBadge:
    def __init__(self, host: Host, desk: FrontDesk) -> None:
        self.host = host
        self.desk = desk
        self.configured = desk.config.hub is not None
        self.shown: BadgeUpdate | None = None
        self.reads = 0  # completed reads (tests wait on it)
        self._again: bool | None = None  # None: no read running; True: read once more

    def badges(self) -> list[BadgeUpdate]:
        return [self.shown] if self.configured and self.shown is not None else []

    def refresh(self) -> None:
        """Read the sync state again (reads never overlap; one more runs if asked meanwhile)."""
        if not self.configured:
            return
        if self._again is not None:
            self._again = True
            return
        self._again = False
        self.host.run_worker(self._read(), group="hub-badge", exit_on_error=False)

    async def _read(self) -> None:
        try:
            while True:
                try:
                    link = await asyncio.to_thread(read_link, self.desk.store)
                except (PvpError, sqlite3.Error) as exc:  # busy for a moment: the next read
                    log.warning("hub badge: cannot read the sync state: %s", exc)
                else:
                    words = badge_words(link, self.desk.config.site.timezone, self.desk.today())
                    update = BadgeUpdate(KEY, words.text, words.level, words.detail, words.short)
                    self.reads += 1
                    if update != self.shown:
                        self.shown = update
                        self.host.post_message(HubChanged())
                if not self._again:
                    break
                self._again = False
        finally:
            self._again = None
