"""The command palette's provider: every front-desk action, found by words."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Protocol, runtime_checkable

from textual.command import DiscoveryHit, Hit, Hits, Provider

Entry = tuple[str, str, Callable[[], None]]  # (title, help, callback)


@runtime_checkable
class PaletteSource(Protocol):
    """An app that lists its actions for the palette (the provider never imports it)."""

    def palette_entries(self) -> Iterable[Entry]: ...


class FrontDeskCommands(Provider):
    def _entries(self) -> list[Entry]:
        app = self.app
        return list(app.palette_entries()) if isinstance(app, PaletteSource) else []

    async def discover(self) -> Hits:
        for title, help_text, callback in self._entries():
            yield DiscoveryHit(title, callback, help=help_text)

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for title, help_text, callback in self._entries():
            score = max(matcher.match(title), matcher.match(help_text))
            if score > 0:
                yield Hit(score, matcher.highlight(title), callback, help=help_text)
