"""The partner field of a form: a list to open, or letters to type.

Typed on the closed list, letters choose at once: the ticket letter ('t' for France
Travail's T-…), or the first letters of the name or id ('ass' for Assurance Maladie),
any case, any accents (core.partners, the rule `pvp checkin --partner` follows too).
Letters typed within a second add up; the list shows the choice as it is made."""

from __future__ import annotations

import time

from textual import events
from textual.widgets import Select

from ...core.config import Config
from ...core.partners import partners_matching

AGAIN = 1.0  # seconds: letters typed closer than this add up ("fr" for France Travail)


class PartnerSelect(Select[str]):
    def __init__(self, config: Config, options: list[tuple[str, str]], **kwargs: object) -> None:
        super().__init__(options, **kwargs)  # type: ignore[arg-type]
        self._config = config
        self._typed = ""
        self._typed_at = 0.0

    async def _on_key(self, event: events.Key) -> None:
        character = event.character
        if self.expanded or character is None or not character.isalnum():
            return  # Enter, arrows and space open the list, as on any list
        now = time.monotonic()
        self._typed = (self._typed if now - self._typed_at < AGAIN else "") + character
        self._typed_at = now
        matches = partners_matching(self._config, self._typed)
        if not matches and len(self._typed) > 1:  # a new first letter, not a longer word
            self._typed = character
            matches = partners_matching(self._config, character)
        if matches:
            self.value = matches[0].id
        event.stop()
        event.prevent_default()
