"""The shapes of the sync API, as sites send and receive them (and as the OpenAPI
document shows them). Strict: a wrong type or an unknown field is refused, not coerced."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, JsonValue, StringConstraints

from pvp_tui.core import events as event_types

# Every event type a site writes (pvp_tui.core.events is the one list).
EVENT_TYPES = frozenset(
    value for name, value in vars(event_types).items() if name.isupper() and isinstance(value, str)
)
_TYPE_NAMES: list[JsonValue] = [*sorted(EVENT_TYPES)]
STRICT = ConfigDict(extra="forbid", strict=True, frozen=True)


class PushEvent(BaseModel):
    """One event of the site's visit log, as the site recorded it."""

    model_config = STRICT

    id: uuid.UUID = Field(description="The event's globally unique id (a UUID the site made)")
    visit_id: uuid.UUID = Field(description="The site's visit id")
    # Listed in the document; checked by the hub itself, with a message naming the event.
    type: str = Field(
        min_length=1,
        max_length=40,
        description="The event's type, as the site's event log names it",
        json_schema_extra={"enum": _TYPE_NAMES},
    )
    at: AwareDatetime = Field(description="When it happened, with its zone")
    data: dict[str, Any] = Field(
        default_factory=dict,
        description="The event's details; never a visitor's name except in name_shared",
    )


class PushBatch(BaseModel):
    model_config = STRICT

    events: list[PushEvent] = Field(min_length=1)


class PushResult(BaseModel):
    received: int = Field(description="Events in the batch")
    applied: int = Field(description="Events the hub did not have yet")
    duplicates: int = Field(description="Events it already had (sent before): not applied again")


class DirectoryItem(BaseModel):
    kind: str = Field(description="partner, site, appointment or document")
    id: str = Field(
        description="The partner's or the site's id (as in a site's config); an appointment's UUID"
    )
    deleted: bool = False
    data: dict[str, Any] | None = Field(default=None, description="The current state")


class PullPage(BaseModel):
    items: list[DirectoryItem]
    cursor: str = Field(description="Opaque: send it back as ?cursor= for what changes next")
    more: bool = Field(description="True: pull again at once with the new cursor")
    server_time: datetime


class SiteInfo(BaseModel):
    id: str
    name: str
    region: str
    timezone: str
    server_time: datetime = Field(description="The hub's clock, to check the site's")


class VisitRoomState(BaseModel):
    source: Literal["url", "api", "appointment"]
    created_at: datetime
    agent_opened_at: datetime | None = Field(
        description="When the agent first opened the room from their page (none yet: null)"
    )


class VisitView(BaseModel):
    id: uuid.UUID
    ticket: str | None
    partner: str | None
    status: str | None
    events: int
    name_shared: bool
    room: VisitRoomState | None = Field(description="The visit's room, once made (no URL)")


class RoomAnswer(BaseModel):
    url: str = Field(description="The room, as the agent opens it (never logged)")
    kiosk_url: str = Field(
        description="The room as the kiosk opens it: on a Jitsi Meet server, the ticket as "
        "display name and no pre-join screen, in the fragment"
    )
    source: Literal["url", "api", "appointment"] = Field(
        description="url: the partner's URL pattern; api: made by the partner's room API "
        "(Visio); appointment: the room the appointment was booked with"
    )
    kiosk_join: Literal["link", "visio-guest"] = Field(
        description="How the kiosk joins (the bridge's session.start room_kind): link, the "
        "URL names it; visio-guest, a Visio guest whose ticket the bridge types in the lobby"
    )
    created_at: datetime
    agent_opened_at: datetime | None


class AgentSiteView(BaseModel):
    id: str = Field(description="The site's id (as in its config)")
    name: str


class AgentVisitView(BaseModel):
    id: uuid.UUID
    ticket: str | None
    site: str = Field(description="The site's id")
    site_name: str
    status: str | None = Field(description="waiting, called, in_session, done, no_show…")
    status_label: str | None = Field(description="The status in the reader's language")
    since: datetime = Field(description="When the visit took this status (UTC)")
    since_local: str = Field(description="The same, HH:MM at the site")
    visitor_name: str | None = Field(
        description="Only when the visitor agreed to show it, and only on that day"
    )
    kiosk: str | None = Field(description="The kiosk of the visit's last video session")
    in_room: bool = Field(description="The kiosk is in the visit's room now")
    needs: list[str] = Field(description="Accessibility needs (sign_language, transcription…)")
    needs_labels: list[str] = Field(description="The same, in the reader's language")
    waited_minutes: int = Field(description="Minutes since arrival (until now, or the call)")
    room: bool = Field(description="The visit has a room (open it from the agent's page)")


class AgentVisits(BaseModel):
    partner: str = Field(description="The agent's partner's id")
    partner_name: str
    sites: list[AgentSiteView] = Field(description="The sites the agent sees")
    visits: list[AgentVisitView] = Field(description="Today's, each site's own local day")


class RdvSpAnswer(BaseModel):
    outcome: Literal["received", "ignored"] = Field(
        description="received (verified, read and kept: applied within moments, the "
        "appointment's latest state only); ignored (not an appointment)"
    )


# A site's status (PUT /site/status): machine words only, never free text, so no name
# or detail of a visitor can travel in it.
SLUG_PATTERN = r"^[a-z0-9][a-z0-9-]{0,31}$"  # a kiosk's id, as in a site's config
CODE_PATTERN = r"^[a-z][a-z0-9_]{0,39}$"  # a problem: a short machine code
VERSION_PATTERN = r"^[0-9A-Za-z][0-9A-Za-z.+-]{0,39}$"
MAX_KIOSKS = 50  # a site config's own limit (kiosk_count)
MAX_PROBLEMS = 20
MAX_QUEUE = 100_000


class QueueCounts(BaseModel):
    """How many of today's visits are in each live state, at the site."""

    model_config = STRICT

    waiting: int = Field(ge=0, le=MAX_QUEUE)
    called: int = Field(ge=0, le=MAX_QUEUE)
    in_session: int = Field(ge=0, le=MAX_QUEUE)


class KioskHealth(BaseModel):
    model_config = STRICT

    id: str = Field(pattern=SLUG_PATTERN, description="The kiosk's id in the site's config")
    state: Literal["ok", "degraded", "down", "unknown"]
    problems: list[Annotated[str, StringConstraints(pattern=CODE_PATTERN)]] = Field(
        default_factory=list,
        max_length=MAX_PROBLEMS,
        description="Short machine codes (printer_offline, scanner_missing…), no free text",
    )
    checked_at: AwareDatetime = Field(description="When the site last heard from the kiosk")


class SiteStatus(BaseModel):
    """What a site says of itself: its queue, its kiosks' health, its app's version."""

    model_config = STRICT

    checked_at: AwareDatetime = Field(
        description="When the site made this status: the latest one the hub has wins"
    )
    app_version: str = Field(pattern=VERSION_PATTERN, description="pvp's version at the site")
    queue: QueueCounts
    kiosks: list[KioskHealth] = Field(default_factory=list, max_length=MAX_KIOSKS)


class StatusResult(BaseModel):
    stored: bool = Field(
        description="False when the hub already had a status made later (this one is older)"
    )
    status_at: datetime = Field(description="When the status the hub now keeps was made")


class ErrorDetail(BaseModel):
    code: str = Field(description="Stable: clients may match on it")
    message: str
    problems: list[str] | None = Field(default=None, description="One line per mistake")


class ErrorBody(BaseModel):
    error: ErrorDetail
