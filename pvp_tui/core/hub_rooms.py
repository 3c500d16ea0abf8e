"""The visio room from the region's hub (F5 with `[hub]` configured).

The hub makes the visit's room just in time (`POST /api/v1/site/visits/{id}/room`: the
partner's URL pattern, the state's Visio, or the appointment's own room) and shows the
same room to the agent on their page. The desk asks it with a short timeout; when the
hub does not answer, or has no room to give (the visit not pushed yet, no rule for the
partner, its room API down), the partner's room in the site's own config is used, and
staff are told so in words. The room's URL is never logged.
"""

from __future__ import annotations

import logging
import ssl
from dataclasses import dataclass

import httpx

from .config import Hub
from .i18n import _

log = logging.getLogger("pvp.hub_rooms")
TIMEOUT_S = 3.0  # the desk waits this long at most before using its own room


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
