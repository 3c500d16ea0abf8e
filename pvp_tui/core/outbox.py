"""The transactional outbox: what the hub must receive, written with the change itself.

`FrontDesk.append_event` (the visit log's one writer) calls `enqueue` inside the same
`BEGIN IMMEDIATE` transaction as the event, so a crash cannot keep the one and lose the
other. Only a site with a `[hub]` in its config keeps an outbox: a hub-less site would
grow it forever for nobody. The sync worker (`pvp_tui.core.sync`) sends it; see
docs/sync.md. Plain SQL and json only: this module is on every action's path.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from . import events
from .store import Writer

log = logging.getLogger(__name__)

# Never sent in an event's data (the hub refuses them too): a visitor's details.
PERSONAL_KEYS = frozenset({"name", "phone", "note", "visitor", "visitor_name"})
# Events never queued: the front desk records no consent to share a name yet, so a
# name_shared event (the one event that may carry a name) is kept off the wire entirely.
NOT_SENT = frozenset({events.NAME_SHARED})


def push_shape(
    event_id: str, visit_id: str, kind: str, at: str, data: dict[str, Any]
) -> dict[str, Any]:
    """One event as the hub's `POST /site/events` takes it (id, visit_id, type, at with
    its zone, data without any visitor detail)."""
    clean = {key: value for key, value in data.items() if key not in PERSONAL_KEYS}
    if len(clean) != len(data):
        # A bug, never a visitor's data in the log: only the keys' names are logged.
        log.warning("event %s (%s): personal keys left out of the outbox", event_id, kind)
    return {"id": event_id, "visit_id": visit_id, "type": kind, "at": at, "data": clean}


def enqueue(
    db: Writer, event_id: str, visit_id: str, kind: str, at: str, data: dict[str, Any], now: str
) -> None:
    """Queue one event for the hub, in the caller's write transaction."""
    if kind in NOT_SENT:
        return
    body = json.dumps(
        push_shape(event_id, visit_id, kind, at, data),
        separators=(",", ":"),
        sort_keys=True,
        ensure_ascii=False,
    )
    db.conn.execute(
        "INSERT INTO outbox (event_id, body, queued_at) VALUES (?, ?, ?)", [event_id, body, now]
    )
