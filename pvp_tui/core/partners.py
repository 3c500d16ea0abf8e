"""Which partner staff mean by what they type: the one reading of a partner typed at the
desk, for `pvp checkin --partner`, `pvp transfer --partner` and the screens' choosers."""

from __future__ import annotations

import unicodedata
from datetime import date, datetime, time, timedelta

from .config import WEEKDAYS, Config, Partner


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


def next_hours_change(config: Config, local: datetime) -> datetime | None:
    """The next moment, after `local`, a permanence of any partner opens or closes (within
    a week): the queue's 'closed → 9h' must change then, not at the next minute's tick.
    A range that ends when the next begins ('24:00' then '00:00') is no change."""
    moments: list[datetime] = []
    for partner in config.partners:
        for offset in range(8):
            day = local.date() + timedelta(days=offset)
            found = [
                at
                for start, end in partner.hours.get(WEEKDAYS[day.weekday()], ())
                for at in (_on(day, start, local), _on(day, end, local))
                if at > local and partner.is_open(at - _INSTANT) != partner.is_open(at)
            ]
            if found:
                moments.append(min(found))
                break  # a later day cannot come first for this partner
    return min(moments, default=None)


_INSTANT = timedelta(seconds=1)  # hours are in minutes; 24:00 is time.max


def _on(day: date, moment: time, local: datetime) -> datetime:
    """`moment` on `day` in `local`'s time zone; the end of day (24:00) is next midnight."""
    if moment == time.max:
        return datetime.combine(day + timedelta(days=1), time(0), tzinfo=local.tzinfo)
    return datetime.combine(day, moment, tzinfo=local.tzinfo)
