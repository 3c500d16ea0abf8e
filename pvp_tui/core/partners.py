"""The site's partners: which list is in force (the hub's directory once pulled, else the
config's: `effective_config`), and which partner staff mean by what they type (the one
reading of a partner typed at the desk, for `pvp checkin --partner`, `pvp transfer
--partner` and the screens' choosers)."""

from __future__ import annotations

import dataclasses
import json
import logging
import unicodedata
from datetime import date, datetime, time, timedelta
from typing import Any

from .config import WEEKDAYS, Config, Partner, parse_partner_tables
from .store import Reader, Store

log = logging.getLogger(__name__)


def directory_version(store: Store) -> int:
    """A number that changes whenever the pull changes the hub's partners in the store."""
    rows = store.query("SELECT directory_version FROM pull_state WHERE id = 1")
    return int(rows[0]["directory_version"]) if rows else 0


def effective_config(config: Config, store: Store) -> Config:
    """The config with the partner list in force: the hub's directory as pulled into the
    store (pvp_tui.core.pull) when it holds at least one partner, else the config's own
    (a site offline since its install, or without a hub). The one place that decides it:
    FrontDesk uses its result for the screens, the CLI and the reports.

    Partners not offered any more stay in `retired_partners`, so past visits keep their
    partner's name: those removed on the hub, and the config's own not in the hub's list."""
    with store.snapshot() as db:
        offered, retired = hub_partners(db, config)
    if not offered:
        return config
    ids = {p.id for p in offered} | {p.id for p in retired}
    retired += [p for p in (*config.partners, *config.retired_partners) if p.id not in ids]
    return dataclasses.replace(
        config, partners=tuple(offered), retired_partners=tuple(retired), partners_from="hub"
    )


def hub_partners(db: Reader, config: Config) -> tuple[list[Partner], list[Partner]]:
    """The hub's partners in the store, offered and retired, checked by the config's own
    rules (a partner the rules refuse is left out and logged, never half-used)."""
    offered: list[Partner] = []
    retired: list[Partner] = []
    for row in db.query("SELECT id, body, retired FROM hub_partners ORDER BY rowid"):
        partner = partner_from_hub(row["id"], json.loads(row["body"]), config)
        if partner is not None:
            (retired if row["retired"] else offered).append(partner)
    return offered, retired


def partner_from_hub(partner_id: str, body: dict[str, Any], config: Config) -> Partner | None:
    """A partner of the hub's pull feed (the shape of a config's [[partners]] table, its
    room as {"kind", "url", "domains"}); a room made through an API (the state's Visio)
    has no URL pattern a site can fill in: such a partner has no room_url here."""
    table: dict[str, Any] = {
        "id": partner_id,
        "name": body.get("name"),
        "prefix": body.get("prefix"),
        "interview_minutes": body.get("interview_minutes", 20),
        "hours": body.get("hours") or {},
    }
    if body.get("document_types"):
        table["document_types"] = body["document_types"]
    room = body.get("room")
    if isinstance(room, dict) and room.get("kind") == "url":
        table["room_url"] = room.get("url")
        table["room_domains"] = room.get("domains")
    mine = next((p for p in config.partners if p.id == partner_id), None)
    if mine is not None and mine.short_name:
        table["short_name"] = mine.short_name  # the config's short name, for narrow lists
    parsed, problems = parse_partner_tables([table])
    if problems:
        log.warning("hub partner %s left out: %s", partner_id, "; ".join(problems))
        return None
    return parsed[0]


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
