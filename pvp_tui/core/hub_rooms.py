"""The visio room from the region's hub (F5 with `[hub]` configured).

The hub makes the visit's room just in time (`POST /api/v1/site/visits/{id}/room`: the
partner's URL pattern, the state's Visio, or the appointment's own room) and shows the
same room to the agent on their page. The desk asks it with a short timeout; when the
hub does not answer, or has no room to give (the visit not pushed yet, no rule for the
partner, its room API down), the partner's room in the site's own config is used, and
staff are told so in words. The room's URL is never logged.

When the agent opens the room from their page, the hub records it and the site's pull
brings it (kind "room": the time only, never the address): it becomes the visit's
`agent_opened_room` event (written by the pull, once; not sent back to the hub), which the
session screen shows ("L'agent a ouvert la visio à 10:42").
"""

from __future__ import annotations

import logging
import ssl
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import httpx

from .clock import to_iso
from .config import Hub
from .events import AGENT_OPENED_ROOM
from .i18n import _
from .store import Store, Writer

log = logging.getLogger("pvp.hub_rooms")
TIMEOUT_S = 3.0  # the desk waits this long at most before using its own room
KIND = "room"  # the pull feed's kind: the agent opened the visit's room
_EVENT_IDS = uuid.UUID("5b0a4c1e-2d7f-4e8a-9c3b-7f1d2e6a8b40")  # one event id per visit


@dataclass(frozen=True)
class HubRoom:
    url: str | None  # the room for the kiosk, or None: use the partner's configured room
    notice: str | None  # what to tell staff when falling back (None when the hub answered)
    kind: str = "link"  # session.start's room_kind: "visio-guest" for a Visio room


def ask_hub(hub: Hub, visit_id: str, timeout: float = TIMEOUT_S) -> HubRoom:
    """The hub's room for this visit, or why the partner's configured room is used."""
    fallback = _("The region's hub did not answer: the partner's usual room is used.")
    try:
        token = hub.read_token()
    except OSError:
        return HubRoom(None, _("The hub's token cannot be read: the partner's usual room is used."))
    verify: ssl.SSLContext | bool = True
    if hub.ca_file is not None:
        try:
            verify = ssl.create_default_context(cafile=str(hub.ca_file))
        except (OSError, ssl.SSLError):
            return HubRoom(None, fallback)
    try:
        with httpx.Client(base_url=hub.url, verify=verify, timeout=timeout) as client:
            answer = client.post(
                f"/api/v1/site/visits/{visit_id}/room",
                headers={"Authorization": f"Bearer {token}", "User-Agent": "pvp-relais"},
            )
    except httpx.HTTPError as exc:
        log.info("room from the hub: %s", type(exc).__name__)
        return HubRoom(None, fallback)
    if answer.status_code == 200:
        try:
            body = answer.json()
            url, kind = body.get("kiosk_url"), body.get("kiosk_join")
        except (ValueError, AttributeError):
            url = kind = None
        if isinstance(url, str) and url:
            return HubRoom(url, None, kind if kind == "visio-guest" else "link")
        return HubRoom(None, fallback)
    try:
        code = str(answer.json()["error"]["code"])
    except (ValueError, KeyError, TypeError):
        code = "?"
    log.info("room from the hub: HTTP %s %s", answer.status_code, code)
    if code == "unknown_visit":
        return HubRoom(
            None,
            _(
                "The hub does not know this visit yet (not synced): the partner's usual room "
                "is used."
            ),
        )
    if code == "no_room_rule":
        return HubRoom(None, None)  # the region gives no room for this partner: nothing to say
    return HubRoom(None, _("The hub could not make the room: the partner's usual room is used."))


def save_item(db: Writer, visit_id: str, data: Any) -> bool:
    """Record one `room` item of the pull feed (in the page's transaction): the visit's
    `agent_opened_room` event at the hub's time, once (a repeat, or a visit this site does
    not have, changes nothing). True when it is new."""
    at = data.get("agent_opened_at") if isinstance(data, dict) else None
    if not isinstance(at, str):
        return False
    try:
        when = datetime.fromisoformat(at)
    except ValueError:
        log.warning("pull: a room item's time was not understood; skipped")
        return False
    if when.tzinfo is None:
        return False
    added = db.execute(
        """INSERT INTO events (id, visit_id, site_id, at, type, data, actor)
           SELECT ?, id, site_id, ?, ?, '{}', 'hub' FROM visits WHERE id = ?
           ON CONFLICT (id) DO NOTHING""",
        [
            str(uuid.uuid5(_EVENT_IDS, visit_id)),
            to_iso(when),
            AGENT_OPENED_ROOM,
            visit_id,
        ],
    )
    return added.rowcount > 0


def agent_opened_at(store: Store, visit_id: str) -> datetime | None:
    """When the agent opened this visit's room from their page (the hub's time), if known."""
    rows = store.query(
        "SELECT at FROM events WHERE visit_id = ? AND type = ? ORDER BY at LIMIT 1",
        [visit_id, AGENT_OPENED_ROOM],
    )
    return datetime.fromisoformat(rows[0]["at"]) if rows else None
