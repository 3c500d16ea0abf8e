"""A visit's visio room, made just in time when the site asks for it (F5 at the desk).

Where the room comes from, first match wins:

1. the room the visit already has (asked again: the same room, never a second one);
2. the appointment's own room, when the visit was checked in for a hub appointment that
   has one (RDV Service Public gives a visio link): the `checked_in` event's
   `appointment` field names it (a hook: sites do not send it yet);
3. the partner's room rule: a URL pattern (`{ticket}`, `{site}`: a Jitsi Meet server,
   which reads the ticket as the display name from the URL fragment and skips its
   pre-join screen), or the state's Visio through its server-to-server API (client
   credentials -> token -> `POST rooms/`; the kiosk joins as a guest in the lobby and
   the bridge types the ticket there: no URL parameter names a Visio guest).

The room is stored on the visit (`visit_rooms`) once: two requests at the same moment
get the same room. The URL is never logged (it may let anyone in); errors name the
partner and the HTTP status only. The Visio call happens outside any transaction.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote, urljoin

import httpx
from sqlalchemy import Connection, Engine, insert, select
from sqlalchemy.dialects import postgresql, sqlite

from pvp_common.rooms import RoomRefused, host_allowed, judge_room_url
from pvp_tui.core.config import room_address
from pvp_tui.core.models import Status

from .auth import authenticate_site
from .database import read_transaction, write_transaction
from .errors import HubError
from .schema import appointments, events, partners, room_api_clients, visit_rooms, visits

log = logging.getLogger("pvp_hub.rooms")
KIND = "room"  # the change log's kind, and the pull feed's: the agent opened the room
Clock = Callable[[], datetime]
_FINAL = frozenset(s.value for s in Status if s.is_final)
API_TIMEOUT_S = 5.0  # the desk waits for this (and falls back to its own room after)

# Jitsi Meet reads JSON values from the fragment (strings JSON-quoted): the ticket as the
# display name, and no pre-join screen (the kiosk has nobody to click "join").
JITSI_PREJOIN_OFF = "config.prejoinConfig.enabled=false"


def _now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class Room:
    url: str  # as the agent opens it
    kiosk_url: str  # as the kiosk opens it (the ticket as display name, when the platform reads it)
    source: str  # url, api, appointment
    created_at: datetime
    agent_opened_at: datetime | None

    def as_json(self) -> dict[str, Any]:
        return {
            "url": self.url,
            "kiosk_url": self.kiosk_url,
            "source": self.source,
            # how the kiosk joins: a Visio room (made through its API) is joined as a guest
            # whose ticket the bridge types in the lobby; the others name it in the URL
            "kiosk_join": "visio-guest" if self.source == "api" else "link",
            "created_at": self.created_at.isoformat(),
            "agent_opened_at": self.agent_opened_at.isoformat() if self.agent_opened_at else None,
        }


class RoomUnavailable(HubError):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(502 if code == "room_api_failed" else 409, code, message)


def jitsi_kiosk_url(url: str, ticket: str) -> str:
    """The room with the ticket as display name and the pre-join screen skipped, in the
    fragment (`#userInfo.displayName=%22C-007%22&config.prejoinConfig.enabled=false`)."""
    base, _, fragment = url.partition("#")
    parts = [p for p in fragment.split("&") if p]
    parts += [f"userInfo.displayName={quote(chr(34) + ticket + chr(34), safe='')}"]
    parts += [JITSI_PREJOIN_OFF]
    return f"{base}#{'&'.join(parts)}"


def _stored(conn: Connection, visit_id: uuid.UUID) -> Room | None:
    row = conn.execute(select(visit_rooms).where(visit_rooms.c.visit_id == visit_id)).first()
    if row is None:
        return None
    return Room(row.url, row.kiosk_url, row.source, row.created_at, row.agent_opened_at)


@dataclass(frozen=True)
class _Plan:
    """What the room will be made from, read in one short transaction."""

    visit_id: uuid.UUID
    ticket: str
    partner: str
    site_slug: str
    rule: dict[str, Any] | None
    client: tuple[str, str, str] | None  # client id, secret, scope (Visio)
    appointment_room: str | None


def _appointment_room(conn: Connection, visit_id: uuid.UUID, site_id: uuid.UUID) -> str | None:
    """The hook for appointments: the visit's `checked_in` names a hub appointment of the
    same site (`data.appointment`), whose visio room then is the visit's."""
    data = conn.execute(
        select(events.c.data)
        .where(events.c.visit_id == visit_id, events.c.type == "checked_in")
        .order_by(events.c.at)
        .limit(1)
    ).scalar()
    wanted = data.get("appointment") if isinstance(data, dict) else None
    if not isinstance(wanted, str):
        return None
    try:
        appointment_id = uuid.UUID(wanted)
    except ValueError:
        return None
    room = conn.execute(
        select(appointments.c.room_url).where(
            appointments.c.id == appointment_id, appointments.c.site_id == site_id
        )
    ).scalar()
    return str(room) if room else None


def room_for_visit(
    engine: Engine,
    token: str | None,
    visit_id: str,
    clock: Clock = _now,
    http: httpx.Client | None = None,
) -> dict[str, Any]:
    """`POST /site/visits/{id}/room`: the visit's room, made now if it has none."""
    not_found = HubError(404, "unknown_visit", "this site has no such visit on the hub")
    with read_transaction(engine) as conn:
        site = authenticate_site(conn, token)
        try:
            wanted = uuid.UUID(visit_id)
        except ValueError:
            raise not_found from None
        visit = conn.execute(
            select(visits.c.id, visits.c.ticket, visits.c.partner, visits.c.status).where(
                visits.c.id == wanted, visits.c.site_id == site.id
            )
        ).first()
        if visit is None:
            raise not_found
        room = _stored(conn, wanted)
        if room is not None:
            return room.as_json()
        if visit.status in _FINAL:
            raise HubError(409, "visit_closed", "this visit is over: no room is made for it")
        if not visit.ticket or not visit.partner:
            raise HubError(409, "no_ticket", "this visit has no ticket or partner on the hub yet")
        partner = conn.execute(
            select(partners.c.id, partners.c.room).where(
                partners.c.region_id == site.region_id, partners.c.slug == visit.partner
            )
        ).first()
        client = None
        if partner is not None:
            row = conn.execute(
                select(
                    room_api_clients.c.client_id,
                    room_api_clients.c.client_secret,
                    room_api_clients.c.scope,
                ).where(room_api_clients.c.partner_id == partner.id)
            ).first()
            client = (row.client_id, row.client_secret, row.scope) if row else None
        plan = _Plan(
            wanted,
            visit.ticket,
            visit.partner,
            site.slug,
            partner.room if partner is not None else None,
            client,
            _appointment_room(conn, wanted, site.id),
        )
    url, kiosk_url, source = _make(plan, http)  # outside any transaction: an HTTP call
    return _keep(engine, plan.visit_id, url, kiosk_url, source, clock()).as_json()


def _make(plan: _Plan, http: httpx.Client | None) -> tuple[str, str, str]:
    if plan.appointment_room:
        return plan.appointment_room, plan.appointment_room, "appointment"
    rule = plan.rule
    if not rule:
        raise RoomUnavailable(
            "no_room_rule",
            f"partner {plan.partner} has no room rule on the hub: the site uses its own room",
        )
    domains = list(rule.get("domains") or [])
    if rule.get("kind") == "api":
        url = _visio_room(plan, str(rule["url"]), http)
        kiosk_url = url  # the kiosk waits in Visio's lobby; the bridge types the ticket there
    else:
        url = room_address(str(rule["url"]), plan.ticket, plan.site_slug)
        kiosk_url = jitsi_kiosk_url(url, plan.ticket)
    try:
        _, host = judge_room_url(url)
    except RoomRefused:
        raise RoomUnavailable(
            "room_refused", f"partner {plan.partner}'s room is not a valid https address"
        ) from None
    if not host_allowed(domains, host):
        raise RoomUnavailable(
            "room_refused", f"partner {plan.partner}'s room host {host} is not in its room domains"
        )
    return url, kiosk_url, "api" if rule.get("kind") == "api" else "url"


def _visio_room(plan: _Plan, api: str, http: httpx.Client | None) -> str:
    """A room made through Visio's server-to-server API (suitenumerique/meet, its
    `docs/openapi.yaml`): a token for the delegated user, then `POST rooms/`."""
    if plan.client is None:
        raise RoomUnavailable(
            "room_api_failed",
            f"partner {plan.partner} has no room API client on the hub "
            "(pvp-hub admin partner room-client)",
        )
    client_id, secret, scope = plan.client
    base = api if api.endswith("/") else api + "/"
    own = http is None
    http = http or httpx.Client(timeout=API_TIMEOUT_S, follow_redirects=False)
    try:
        answer = http.post(
            urljoin(base, "application/token/"),
            json={
                "client_id": client_id,
                "client_secret": secret,
                "grant_type": "client_credentials",
                "scope": scope,
            },
        )
        if answer.status_code != 200:
            raise _api_failed(plan.partner, "token", answer.status_code)
        access = answer.json().get("access_token")
        if not isinstance(access, str) or not access:
            raise _api_failed(plan.partner, "token", answer.status_code)
        answer = http.post(
            urljoin(base, "rooms/"),
            json={"access_level": "trusted"},
            headers={"Authorization": f"Bearer {access}"},
        )
        if answer.status_code != 201:
            raise _api_failed(plan.partner, "rooms", answer.status_code)
        url = answer.json().get("url")
        if not isinstance(url, str):
            raise _api_failed(plan.partner, "rooms", answer.status_code)
        return url
    except httpx.HTTPError as exc:
        log.warning("room API of %s: %s", plan.partner, type(exc).__name__)
        raise RoomUnavailable(
            "room_api_failed",
            f"partner {plan.partner}'s room API did not answer: the site uses its own room",
        ) from None
    except ValueError:  # not JSON
        raise _api_failed(plan.partner, "answer", 0) from None
    finally:
        if own:
            http.close()


def _api_failed(partner: str, step: str, status: int) -> RoomUnavailable:
    log.warning("room API of %s: %s answered %s", partner, step, status)
    return RoomUnavailable(
        "room_api_failed",
        f"partner {partner}'s room API refused ({step}: HTTP {status}): the site uses its own room",
    )


def _keep(
    engine: Engine, visit_id: uuid.UUID, url: str, kiosk_url: str, source: str, now: datetime
) -> Room:
    """Store the room unless another request stored one first; the one stored wins."""
    values = {
        "visit_id": visit_id,
        "url": url,
        "kiosk_url": kiosk_url,
        "source": source,
        "created_at": now,
    }
    with write_transaction(engine) as conn:
        dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
        conn.execute(
            dialect.insert(visit_rooms)
            .values(**values)
            .on_conflict_do_nothing(index_elements=["visit_id"])
        )
        room = _stored(conn, visit_id)
    assert room is not None
    return room


def room_of_visit(conn: Connection, visit_id: uuid.UUID) -> Room | None:
    return _stored(conn, visit_id)


def feed_items(
    conn: Connection, site_id: uuid.UUID, wanted: set[uuid.UUID]
) -> dict[uuid.UUID, dict[str, Any]]:
    """The pull feed's "room" items of this site's visits: when the agent opened the room
    from their page (the item's id is the visit's). Never the room's address."""
    rows = conn.execute(
        select(visit_rooms.c.visit_id, visit_rooms.c.agent_opened_at)
        .join(visits, visits.c.id == visit_rooms.c.visit_id)
        .where(visit_rooms.c.visit_id.in_(wanted), visits.c.site_id == site_id)
    )
    return {
        row.visit_id: {
            "agent_opened_at": row.agent_opened_at.isoformat() if row.agent_opened_at else None
        }
        for row in rows
    }


def set_api_client(
    engine: Engine, region: str | None, partner_slug: str, client: tuple[str, str, str]
) -> bool:
    """Store a partner's room API client (replacing any); False when no such partner."""
    from .directory import region_id_of

    client_id, secret, scope = client
    with write_transaction(engine) as conn:
        region_id = region_id_of(conn, region)
        partner_id = conn.execute(
            select(partners.c.id).where(
                partners.c.region_id == region_id, partners.c.slug == partner_slug
            )
        ).scalar()
        if partner_id is None:
            return False
        conn.execute(room_api_clients.delete().where(room_api_clients.c.partner_id == partner_id))
        conn.execute(
            insert(room_api_clients).values(
                partner_id=partner_id,
                client_id=client_id,
                client_secret=secret,
                scope=scope,
                updated_at=_now(),
            )
        )
    return True
