"""What the staff see of the hub: one badge, read cheaply from the site's database.

The sync worker (pvp_tui.core.sync) writes each failed try and each acknowledged batch
to `sync_state` at once; `read_link` reads that row and counts what waits (two short
statements in one read transaction, a few hundred microseconds with thousands of rows
waiting), and `badge_words` turns it into the header's words:

- "en ligne · synchro 10:42" (the last exchange the hub acknowledged),
- "hors ligne depuis 10:42 · 37 en attente d'envoi",
- "pas encore synchronisé · 3 en attente d'envoi" (never in touch yet).

The read never touches the network, so it runs in the app's thread worker whenever the
change feed sees a commit (the worker's among them): the badge follows a failure or a
recovery within the feed's half second. No Textual here (the core's rule).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, tzinfo
from typing import Literal

from .i18n import _, ngettext
from .store import Store

Level = Literal["ok", "info", "warn", "error"]


@dataclass(frozen=True)
class HubLink:
    """The hub as the site's database last saw it."""

    waiting: int  # events not yet acknowledged by the hub (held ones excluded)
    failing_since: datetime | None  # the outage's start; None when the last try worked
    last_success_at: datetime | None  # the last exchange the hub acknowledged
    token_refused: bool = False  # the last failure was a 401: only a new token helps

    @property
    def online(self) -> bool:
        return self.failing_since is None and self.last_success_at is not None


def _when(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text) if text else None


def read_link(store: Store) -> HubLink:
    """One read transaction: the sync state's row and the count of what waits."""
    with store.snapshot() as db:
        (waiting,) = db.execute(
            "SELECT count(*) FROM outbox WHERE batch_id IS NULL "
            "OR batch_id IN (SELECT id FROM outbox_batches WHERE state = 'pending')"
        ).fetchone()
        row = db.execute(
            "SELECT failing_since, last_success_at, "
            "EXISTS (SELECT 1 FROM outbox_batches WHERE state = 'pending' AND status = 401) "
            "FROM sync_state WHERE id = 1"
        ).fetchone()
    if row is None:  # a database whose sync_state row is missing: never in touch
        return HubLink(int(waiting), None, None)
    return HubLink(int(waiting), _when(row[0]), _when(row[1]), bool(row[2]))


def _clock(moment: datetime, zone: tzinfo, today: date) -> str:
    """10:42 today, else 04/12 18:02 (the site's local time)."""
    local = moment.astimezone(zone)
    return local.strftime("%H:%M") if local.date() == today else local.strftime("%d/%m %H:%M")


@dataclass(frozen=True)
class BadgeWords:
    text: str
    level: Level
    detail: str  # a longer line (the last successful exchange), for a tooltip
    short: str  # fewer words, for a header too narrow for the site's name


def badge_words(link: HubLink, zone: tzinfo, today: date) -> BadgeWords:
    """The badge's words in the current language. `zone` and `today`: the site's, so
    that times read as its clocks do."""
    waiting = (
        ngettext("{n} waiting to be sent", "{n} waiting to be sent", link.waiting).format(
            n=link.waiting
        )
        if link.waiting
        else ""
    )
    waiting_short = (
        ngettext("{n} to send", "{n} to send", link.waiting).format(n=link.waiting)
        if link.waiting
        else ""
    )
    last = (
        _("last sync with the hub: {when}").format(when=_clock(link.last_success_at, zone, today))
        if link.last_success_at is not None
        else _("never synced with the hub yet")
    )
    if link.failing_since is not None:
        since = _clock(link.failing_since, zone, today)
        text = _("offline since {when}").format(when=since)
        short = _("offline {when}").format(when=since)
        level: Level = "warn"
        if link.token_refused:
            text, short, level = _("hub refuses this site's token"), _("token refused"), "error"
    elif link.last_success_at is None:
        text, short, level = _("not synced yet"), _("not synced"), "info"
    else:
        synced = _clock(link.last_success_at, zone, today)
        text = _("online · synced {when}").format(when=synced)
        short = _("online {when}").format(when=synced)
        level = "ok"
    if waiting:
        text, short = f"{text} · {waiting}", f"{short} · {waiting_short}"
    return BadgeWords(text, level, last, short)
