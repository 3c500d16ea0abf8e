"""The pull: what the hub changed for this site (its record, the region's partners, the
site's appointments), brought into the site's store by the sync worker.

`GET /api/v1/site/changes?cursor=…` (docs/hub.md, "Pull"): each page is applied in one
short `BEGIN IMMEDIATE` transaction together with its new cursor, so a crash between two
pages loses nothing and applies nothing twice (the next pull starts from the cursor
committed with the last applied page); `more: true` pulls again at once. The lease
holder's sync worker pulls every `[hub] pull_seconds` (10 s), in its own thread, on its
own connection and HTTP client; offline, it just tries again at the next period.

A change of the partners bumps `pull_state.directory_version`: every open `pvp` sees the
commit through its change feed and adopts the new list (FrontDesk.refresh_directory).
No name, phone or room is ever logged.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import httpx

from . import appointments, hub_documents, hub_rooms, hub_uploads
from .clock import to_iso
from .config import Config
from .i18n import _
from .store import Store, Writer

if TYPE_CHECKING:
    from .sync import SyncWorker

log = logging.getLogger(__name__)

PULL_PATH = "/api/v1/site/changes"
MAX_PAGES = 100  # one pull stops after this many pages (the next period goes on)


@dataclass
class Pulled:
    """What one pull did (counts only, no names)."""

    pages: int = 0
    items: int = 0
    partners: int = 0
    appointments: int = 0
    documents: int = 0  # documents to print newly named by the hub
    opened: int = 0  # documents sent to the agent that the agent newly opened
    downloaded: int = 0  # of which bytes now here (the worker's `settle`)
    cancelled_after_arrival: list[str] = field(default_factory=list)  # appointment ids
    error: str | None = None  # why it stopped (words for staff), None when complete
    token_refused: bool = False


class PullRefused(Exception):
    def __init__(self, words: str, token: bool = False) -> None:
        super().__init__(words)
        self.words = words
        self.token = token


def cursor(store: Store) -> str | None:
    rows = store.query("SELECT cursor FROM pull_state WHERE id = 1")
    return rows[0]["cursor"] if rows else None


def apply_page(
    store: Store, config: Config, page: dict[str, Any], now: datetime | None = None
) -> Pulled:
    """Apply one page of the feed and store its cursor, in one transaction."""
    now = now or datetime.now(UTC)
    done = Pulled(pages=1)
    items = page.get("items")
    new_cursor = page.get("cursor")
    if not isinstance(items, list) or not isinstance(new_cursor, str):
        raise PullRefused(_("The hub's answer to the pull was not understood."))
    if not items and new_cursor == cursor(store):
        # Nothing new (most pulls): no commit, so no open pvp reads its queue again for it.
        return done
    with store.transaction() as db:
        partners_changed = False
        for item in items:
            if not isinstance(item, dict):
                continue
            kind, item_id = item.get("kind"), str(item.get("id", ""))
            data = None if item.get("deleted") else item.get("data")
            done.items += 1
            if kind == "partner" and item_id:
                partners_changed |= _save_partner(db, item_id, data, now)
                done.partners += 1
            elif kind == "site" and isinstance(data, dict):
                db.execute(
                    "UPDATE pull_state SET site = ? WHERE id = 1",
                    [json.dumps({"id": item_id, **data}, sort_keys=True)],
                )
            elif kind == hub_rooms.KIND and item_id:
                hub_rooms.save_item(db, item_id, data)
            elif kind == hub_documents.KIND and item_id:
                done.documents += hub_documents.save_item(db, item_id, data, now)
            elif kind == appointments.KIND and item_id:
                what = appointments.save(
                    db, item_id, data if isinstance(data, dict) else None, config.site.timezone, now
                )
                done.appointments += what != "ignored"
                if what == "cancelled":
                    found = appointments.get(db, item_id)
                    if found is not None and found.cancelled_after_arrival:
                        done.cancelled_after_arrival.append(item_id)
        db.execute(
            "UPDATE pull_state SET cursor = ?, last_pull_at = ?,"
            " directory_version = directory_version + ? WHERE id = 1",
            [new_cursor, to_iso(now), int(partners_changed)],
        )
    return done


def _save_partner(db: Writer, partner_id: str, data: Any, now: datetime) -> bool:
    """Store one partner of the feed (retired when deleted: its name stays for the
    reports); True when it changed anything."""
    if not isinstance(data, dict):
        cursor_ = db.execute(
            "UPDATE hub_partners SET retired = 1, updated_at = ? WHERE id = ? AND retired = 0",
            [to_iso(now), partner_id],
        )
        return cursor_.rowcount > 0
    body = json.dumps(data, sort_keys=True)
    old = db.execute("SELECT body, retired FROM hub_partners WHERE id = ?", [partner_id]).fetchone()
    if old is not None and old[0] == body and not old[1]:
        return False
    db.execute(
        """INSERT INTO hub_partners (id, body, retired, updated_at) VALUES (?, ?, 0, ?)
           ON CONFLICT (id) DO UPDATE SET body = excluded.body, retired = 0,
               updated_at = excluded.updated_at""",
        [partner_id, body, to_iso(now)],
    )
    return True


def pull(worker: SyncWorker, config: Config) -> Pulled:
    """Pull every page the hub has for this site now, with the worker's client and token
    (the caller holds the lease). Never raises for the network: `error` says it."""
    from .sync import Retryable, TokenRefused

    total = Pulled()
    for _page in range(MAX_PAGES):
        try:
            page = _get(worker, cursor(worker.store))
            done = apply_page(worker.store, config, page)
        except (Retryable, PullRefused) as exc:
            total.error = exc.words
            total.token_refused = getattr(exc, "token", False)
            log.info("pull failed: %s", exc.words)
            break
        except TokenRefused as exc:
            total.error = exc.words
            total.token_refused = True
            log.warning("pull stopped: %s", exc.words)
            break
        total.pages += 1
        total.items += done.items
        total.partners += done.partners
        total.appointments += done.appointments
        total.documents += done.documents
        total.cancelled_after_arrival += done.cancelled_after_arrival
        if not page.get("more"):
            break
    if not total.token_refused:
        # Documents to print: their bytes, then the receipts due (retried every pull).
        try:
            settled = hub_documents.settle(worker)
            total.downloaded = settled.downloaded
            # Documents sent to the agent: whether the agent opened them yet.
            total.opened = hub_uploads.follow(worker)
        except TokenRefused as exc:
            total.error, total.token_refused = exc.words, True
    if total.items:
        log.info(
            "pulled %d items (%d partners, %d appointments) in %d pages",
            total.items, total.partners, total.appointments, total.pages,
        )  # fmt: skip
    return total


def _get(worker: SyncWorker, after: str | None) -> dict[str, Any]:
    from .sync import Retryable

    headers = {"Authorization": f"Bearer {worker._token()}"}
    params = {"cursor": after} if after else {}
    try:
        response = worker.client.get(PULL_PATH, params=params, headers=headers)
    except httpx.TimeoutException:
        raise Retryable(
            _("The hub did not answer within {seconds} s.").format(
                seconds=f"{worker.timeouts.total:g}"
            )
        ) from None
    except httpx.TransportError as exc:
        raise Retryable(
            _("Cannot reach the hub {url} ({error}).").format(
                url=worker.hub.url, error=str(exc) or type(exc).__name__
            )
        ) from None
    status = response.status_code
    if status == 401:
        raise PullRefused(worker.token_refused_words(), token=True)
    if status == 400 and after:
        # A cursor the hub no longer knows (a hub restored from a backup): start over;
        # the whole directory and the site's appointments come again, applied as updates.
        log.warning("pull: the hub refused the cursor; pulling everything again")
        with worker.store.transaction() as db:
            db.execute("UPDATE pull_state SET cursor = NULL WHERE id = 1")
        return _get(worker, None)
    if status != 200:
        raise Retryable(_("The hub had a problem (HTTP {status}).").format(status=status), status)
    try:
        answer: dict[str, Any] = response.json()
    except ValueError:
        raise PullRefused(_("The hub's answer to the pull was not understood.")) from None
    return answer


class Puller:
    """When the worker pulls: at once on start, then every `pull_seconds`; in between, a
    document's receipt the desk just made due is sent on its own at the worker's next look
    (one indexed read per look), unless the last exchange failed (then the period's pull
    retries it: no hammering of a hub that is down)."""

    def __init__(self, worker: SyncWorker, config: Config) -> None:
        self.worker = worker
        self.config = config
        self.period = config.hub.pull_seconds if config.hub else 10.0
        self._next = 0.0
        self.last: Pulled | None = None

    def due(self) -> bool:
        now = time.monotonic()
        if now >= self._next:
            return True
        failing = self.last is not None and self.last.error is not None
        return not failing and hub_documents.receipts_due(self.worker.store)

    def run(self) -> Pulled:
        now = time.monotonic()
        if now < self._next:  # only receipts are due
            from .sync import TokenRefused

            done = Pulled()
            try:
                done.error = hub_documents.settle(self.worker).error
            except TokenRefused as exc:
                done.error, done.token_refused = exc.words, True
            self.last = done
            return done
        self._next = now + self.period
        self.last = pull(self.worker, self.config)
        return self.last
