"""Which partner staff mean by what they type: the one reading of a partner typed at the
desk, for `pvp checkin --partner`, `pvp transfer --partner` and the screens' choosers."""

from __future__ import annotations

import unicodedata

from .config import Config, Partner


def fold(text: str) -> str:
    """Lowercase without accents: 'Sécu' and 'secu' are the same to a hurried typist."""
    decomposed = unicodedata.normalize("NFKD", text.strip())
    return "".join(c for c in decomposed if not unicodedata.combining(c)).casefold()


def find_partner(config: Config, text: str) -> Partner | None:
    """The partner `text` names: its id in any case ('CAF' for caf), else its ticket
    prefix in any case ('c' for the partner whose tickets are C-…); None otherwise."""
    key = fold(text)
    if not key:
        return None
    for partner in config.partners:
        if fold(partner.id) == key:
            return partner
    for partner in config.partners:
        if fold(partner.prefix) == key:
            return partner
    return None


def partners_matching(config: Config, typed: str) -> list[Partner]:
    """The partners whose name, id or ticket prefix starts with what was typed (any case,
    any accents), in the config's order; an exact id or prefix comes first."""
    key = fold(typed)
    if not key:
        return list(config.partners)
    exact = find_partner(config, typed)
    words = [
        p
        for p in config.partners
        if any(fold(w).startswith(key) for w in (p.name, p.id, p.prefix, *p.name.split()))
    ]
    return ([exact] if exact else []) + [p for p in words if p is not exact]
