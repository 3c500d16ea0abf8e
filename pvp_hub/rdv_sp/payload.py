"""RDV Service Public's appointment (`Rdv`), read into what a site needs, and nothing more.

The sender's object (its `RdvBlueprint`, the same in a webhook's `data` and in API v1's
`rdvs`) carries the visitor's address, birth date, family situation, affiliation number,
notes and more. The models below declare only the fields a site uses and ignore the rest:
what is not declared is never read, never validated, never stored.

Times come as Ruby prints them (`2022-01-01 08:00:00 +0100`) or as ISO 8601
(`2022-01-01T08:00:00.000+01:00`); both are read, and a time without its offset is refused.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError

# The appointment's statuses (`Rdv.status`): unknown is "to come" (or not filled in yet).
STATUSES = ("unknown", "seen", "noshow", "excused", "revoked")
CANCELLED = frozenset({"excused", "revoked"})
EVENTS = ("created", "updated", "destroyed")

# `Rdv#visio_url`: a "visio" motive's room, rebuilt from the uuid (not in the payload).
VISIO_ROOT = "https://webconf.numerique.gouv.fr/RdvServicePublic"
# A custom link is kept only on these hosts (RDV Service Public's own allowed list).
VISIO_HOSTS = frozenset(
    {
        "webinaire.numerique.gouv.fr",
        "webconf.numerique.gouv.fr",
        "teams.microsoft.com",
        "meet.google.com",
        "zoom.us",
        "meet.jit.si",
    }
)
_RUBY_FORMAT = "%Y-%m-%d %H:%M:%S %z"
_MAX_NAME = 120
_MAX_PHONE = 32


class PayloadError(ValueError):
    """A delivery or an API page that is not RDV Service Public's documented shape.
    `problems`: one line per mistake, naming its place (never a value: it may be personal)."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("; ".join(problems))


def parse_time(value: Any) -> datetime:
    """`2022-01-01 08:00:00 +0100` or ISO 8601, with its offset (else ValueError)."""
    if isinstance(value, datetime):
        moment = value
    elif isinstance(value, str):
        text = value.strip()
        try:
            moment = datetime.strptime(text, _RUBY_FORMAT)
        except ValueError:
            try:
                moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
            except ValueError:
                raise ValueError(
                    "not a time (expected 2022-01-01 08:00:00 +0100 or ISO 8601)"
                ) from None
    else:
        raise ValueError("not a time (expected a text)")
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError("a time without its offset from UTC")
    return moment


Time = Annotated[datetime, BeforeValidator(parse_time)]
_LAX = ConfigDict(extra="ignore", frozen=True)


class _Ref(BaseModel):
    model_config = _LAX
    id: int


class _Motif(BaseModel):
    model_config = _LAX
    id: int
    location_type: str | None = None
    service_id: int | None = None


class _User(BaseModel):
    # Only how to call the visitor and how to warn them: the rest of a user is ignored.
    model_config = _LAX
    first_name: str | None = None
    last_name: str | None = None
    phone_number_formatted: str | None = None
    phone_number: str | None = None


class _Participation(BaseModel):
    model_config = _LAX
    status: str = "unknown"
    user: _User | None = None


class _Rdv(BaseModel):
    model_config = _LAX
    id: int
    uuid: uuid.UUID
    status: Literal["unknown", "seen", "noshow", "excused", "revoked"]
    starts_at: Time
    ends_at: Time | None = None
    duration_in_min: int | None = None
    collectif: bool = False
    organisation: _Ref
    lieu: _Ref | None = None
    motif: _Motif
    participations: list[_Participation] = Field(default_factory=list)
    users: list[_User] = Field(default_factory=list)  # deprecated by the sender; a fallback
    visio_url: str | None = None  # newer versions: a custom link, on an allowed host only


class _Meta(BaseModel):
    model_config = _LAX
    model: str
    event: Literal["created", "updated", "destroyed"]
    webhook_reason: str | None = None
    timestamp: Time


@dataclass(frozen=True)
class Appointment:
    """One RDV Service Public appointment, as the hub keeps it for a site."""

    organisation_id: int
    rdv_id: int
    uuid: uuid.UUID
    status: str  # one of STATUSES
    starts_at: datetime
    ends_at: datetime | None
    lieu_id: int | None
    motif_id: int
    service_id: int | None
    visio: bool
    room_url: str | None  # the room RDV Service Public gives the visitor and the agent
    name: str | None  # the name to call the visitor by (an individual appointment only)
    phone: str | None  # to warn the visitor (E.164 when the sender has it)

    @property
    def cancelled(self) -> bool:
        return self.status in CANCELLED

    @property
    def external_id(self) -> str:
        """The sender's id, stable across every delivery of this appointment."""
        return str(self.rdv_id)


@dataclass(frozen=True)
class Delivery:
    """One webhook delivery. `appointment` is None for another model (a `lieu`, a `user`…:
    an endpoint may be subscribed to more than appointments; those are acknowledged and
    ignored). `timestamp` orders deliveries of one appointment: they repeat and arrive
    out of order, and only the latest state counts."""

    model: str
    event: str  # created, updated or destroyed
    reason: str | None  # "rgpd" for the sender's data-protection clean-up
    timestamp: datetime
    appointment: Appointment | None


def _problems(exc: ValidationError, prefix: str) -> list[str]:
    lines = []
    for error in exc.errors(include_url=False, include_input=False):
        place = ".".join(str(part) for part in error["loc"])
        lines.append(f"{prefix}{place}: {error['msg']}")
    return lines


def _clip(text: str | None, limit: int) -> str | None:
    if text is None:
        return None
    text = " ".join(text.split())  # no control characters or line breaks kept
    return text[:limit] or None


def _visitor(rdv: _Rdv) -> _User | None:
    """The visitor of an individual appointment: its first participation not cancelled
    (the deprecated `users` list when the sender has no participations)."""
    if rdv.collectif:
        return None  # a group session: no one name to call
    for participation in rdv.participations:
        if participation.status not in CANCELLED and participation.user is not None:
            return participation.user
    if not rdv.participations and rdv.users:
        return rdv.users[0]
    return None


def room_for(rdv_uuid: uuid.UUID, custom: str | None) -> str:
    """The visio room of a "visio" motive: the custom link when it is https on an allowed
    host, else the one RDV Service Public builds from the uuid (`-` and `_` removed)."""
    if custom:
        parts = urlsplit(custom.strip())
        if parts.scheme == "https" and (parts.hostname or "") in VISIO_HOSTS:
            return custom.strip()
    return (VISIO_ROOT + str(rdv_uuid)).replace("-", "").replace("_", "")


def _appointment(rdv: _Rdv) -> Appointment:
    visitor = _visitor(rdv)
    name = phone = None
    if visitor is not None:
        parts = [visitor.first_name or "", visitor.last_name or ""]
        name = _clip(" ".join(part.strip() for part in parts if part.strip()), _MAX_NAME)
        phone = _clip(visitor.phone_number_formatted or visitor.phone_number, _MAX_PHONE)
    visio = rdv.motif.location_type == "visio"
    return Appointment(
        organisation_id=rdv.organisation.id,
        rdv_id=rdv.id,
        uuid=rdv.uuid,
        status=rdv.status,
        starts_at=rdv.starts_at,
        ends_at=rdv.ends_at,
        lieu_id=rdv.lieu.id if rdv.lieu else None,
        motif_id=rdv.motif.id,
        service_id=rdv.motif.service_id,
        visio=visio,
        room_url=room_for(rdv.uuid, rdv.visio_url) if visio else None,
        name=name,
        phone=phone,
    )


def read_appointment(data: Any, *, place: str = "") -> Appointment:
    """One appointment object (webhook `data` or an item of API v1's `rdvs`)."""
    try:
        return _appointment(_Rdv.model_validate(data))
    except ValidationError as exc:
        raise PayloadError(_problems(exc, place)) from None


def read_delivery(body: bytes) -> Delivery:
    """A webhook's body (already verified by its signature): `{"data": …, "meta": …}`."""
    try:
        document = json.loads(body)
    except (ValueError, RecursionError):
        raise PayloadError(["body: not JSON"]) from None
    if not isinstance(document, dict):
        raise PayloadError(["body: not a JSON object"])
    try:
        meta = _Meta.model_validate(document.get("meta"))
    except ValidationError as exc:
        raise PayloadError(_problems(exc, "meta.")) from None
    appointment = None
    if meta.model == "Rdv":
        appointment = read_appointment(document.get("data"), place="data.")
    return Delivery(
        model=meta.model,
        event=meta.event,
        reason=meta.webhook_reason,
        timestamp=meta.timestamp,
        appointment=appointment,
    )
