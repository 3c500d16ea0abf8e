"""The command palette's provider: every front-desk action, found by words."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from textual.command import DiscoveryHit, Hit, Hits, Provider

if TYPE_CHECKING:
    from .app import PvpApp


class FrontDeskCommands(Provider):
    def _entries(self) -> list[tuple[str, str, Callable[[], None]]]:
        app: PvpApp = self.app  # type: ignore[assignment]
        return list(app.palette_entries())

    async def discover(self) -> Hits:
        for title, help_text, callback in self._entries():
            yield DiscoveryHit(title, callback, help=help_text)

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for title, help_text, callback in self._entries():
            score = max(matcher.match(title), matcher.match(help_text))
            if score > 0:
                yield Hit(score, matcher.highlight(title), callback, help=help_text)
