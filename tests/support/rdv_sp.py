"""A stand-in for RDV Service Public, written from its documented formats (it cannot run
here): the appointment object of its API v1 (`RdvBlueprint`, as in its swagger's example,
with every personal field a real one carries), webhook deliveries signed as its
`WebhookJob` signs them, and its API v1's sign-in and paginated listing served over real
HTTP on loopback.

Values are invented; the shapes, names, time formats and behaviours are the sender's:
- times as Ruby prints them (`2022-01-01 08:00:00 +0100`), or ISO 8601 on request;
- `X-Lapin-Signature`: lowercase hex HMAC-SHA256 of the exact body with the secret;
- sign-in answers the `access-token`, `client`, `uid` headers; one account holds one token
  at a time (`max_number_of_devices = 1`): a new sign-in ends the previous token;
- listing: 100 a page, `meta.next_page` null on the last page.
"""

from __future__ import annotations

import json
import secrets
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from pvp_hub.rdv_sp.signature import sign

PAGE_SIZE = 100
# What a real appointment carries about its visitor and the sender never needs to tell
# a site: the tests look for each of these in whatever the hub keeps.
PERSONAL = {
    "address": "20 avenue de Ségur, Paris, 75012",
    "birth_date": "1985-07-20",
    "affiliation_number": "39012093812038",
    "family_situation": "divorced",
    "notes": "Dossier RSA en cours, enfant malade",
    "email": "usager.exemple@lapin.fr",
}


def ruby_time(moment: datetime) -> str:
    """`2022-01-01 08:00:00 +0100`: how the sender's examples print a time."""
    return moment.strftime("%Y-%m-%d %H:%M:%S %z")


def rdv(
    rdv_id: int,
    starts_at: datetime,
    *,
    organisation_id: int = 309,
    lieu_id: int | None = 97,
    motif_id: int = 157,
    service_id: int = 407,
    location_type: str = "public_office",
    status: str = "unknown",
    first_name: str = "Marc",
    last_name: str = "MOREAU",
    phone: str = "+33646258745",
    minutes: int = 45,
    rdv_uuid: uuid.UUID | None = None,
    iso: bool = False,
    collectif: bool = False,
    participations: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """One appointment object, field for field as the API's example shows it."""
    ends_at = starts_at + timedelta(minutes=minutes)
    stamp = (lambda m: m.isoformat(timespec="milliseconds")) if iso else ruby_time
    user = {
        "id": 68 + rdv_id,
        "address": PERSONAL["address"],
        "address_details": None,
        "affiliation_number": PERSONAL["affiliation_number"],
        "birth_date": PERSONAL["birth_date"],
        "birth_name": None,
        "caisse_affiliation": "caf",
        "case_number": None,
        "created_at": stamp(starts_at - timedelta(days=3)),
        "email": PERSONAL["email"],
        "family_situation": PERSONAL["family_situation"],
        "first_name": first_name,
        "invitation_accepted_at": None,
        "invitation_created_at": None,
        "last_name": last_name,
        "logement": "locataire",
        "notes": PERSONAL["notes"],
        "notify_by_email": True,
        "notify_by_sms": True,
        "number_of_children": 2,
        "phone_number": phone.removeprefix("+33"),
        "phone_number_formatted": phone,
        "responsible": None,
        "responsible_id": None,
        "user_profiles": None,
    }
    if participations is None:
        participations = [
            {
                "id": 13 + rdv_id,
                "created_by": "agent",
                "created_by_agent_prescripteur": False,
                "created_by_id": 275,
                "created_by_type": "Agent",
                "send_lifecycle_notifications": True,
                "send_reminder_notification": True,
                "status": status,
                "user": user,
            }
        ]
    cancelled = status in ("excused", "revoked", "noshow")
    return {
        "id": rdv_id,
        "address": PERSONAL["address"],
        "agents": [
            {
                "id": 275,
                "email": "agent_1@lapin.fr",
                "first_name": "Pascale",
                "inclusion_connect_open_id_sub": None,
                "last_name": "Prévost",
            }
        ],
        "cancelled_at": stamp(starts_at - timedelta(hours=1)) if cancelled else None,
        "collectif": collectif,
        "context": PERSONAL["notes"],
        "created_by": "agent",
        "created_by_id": 275,
        "created_by_type": "Agent",
        "duration_in_min": minutes,
        "ends_at": stamp(ends_at),
        "lieu": None
        if lieu_id is None
        else {
            "id": lieu_id,
            "address": "1 rue de la Mairie, Leyme, 46120",
            "name": "France Services de Leyme",
            "organisation_id": organisation_id,
            "phone_number": None,
            "single_use": False,
        },
        "max_participants_count": None,
        "motif": {
            "id": motif_id,
            "bookable_by": "everyone",
            "bookable_publicly": True,
            "collectif": collectif,
            "deleted_at": None,
            "follow_up": False,
            "instruction_for_rdv": None,
            "location_type": location_type,
            "motif_category": {"id": 141, "name": "Accompagnement", "short_name": "accomp"},
            "name": "Rendez-vous en visio",
            "organisation_id": organisation_id,
            "service_id": service_id,
        },
        "name": None,
        "organisation": {
            "id": organisation_id,
            "email": None,
            "name": "CAF du Lot",
            "phone_number": None,
            "verticale": "rdv_solidarites",
        },
        "participations": participations,
        "starts_at": stamp(starts_at),
        "status": status,
        "users": [user],
        "users_count": 1,
        "uuid": str(rdv_uuid or uuid.uuid4()),
    }


def delivery(
    secret: str,
    data: dict[str, Any],
    event: str,
    timestamp: datetime,
    *,
    model: str = "Rdv",
    reason: str | None = None,
) -> tuple[bytes, dict[str, str]]:
    """A webhook request's body and headers, as `WebhookJob` sends them."""
    body = json.dumps(
        {
            "data": data,
            "meta": {
                "model": model,
                "event": event,
                "webhook_reason": reason,
                "timestamp": ruby_time(timestamp),
            },
        },
        ensure_ascii=False,
    ).encode("utf-8")
    headers = {
        "Content-Type": "application/json; charset=utf-8",
        "X-Lapin-Signature": sign(secret, body),
    }
    return body, headers


class StandIn:
    """RDV Service Public's API v1, as far as a hub uses it. `faults`: statuses to answer
    (once each, in order) before the next listing is served, e.g. [429, 500]."""

    def __init__(self, email: str, password: str) -> None:
        self.email = email
        self.password = password
        self.appointments: dict[int, list[dict[str, Any]]] = {}  # organisation → rdvs
        self.faults: list[int] = []
        self.token: str | None = None
        self.client = secrets.token_urlsafe(16)
        self.sign_ins = 0
        self.requests: list[str] = []
        self.lock = threading.Lock()

    def sign_in(self) -> str:
        self.sign_ins += 1
        self.token = secrets.token_urlsafe(16)  # the previous token ends here
        return self.token

    def listing(self, organisation: int, query: dict[str, list[str]]) -> dict[str, Any]:
        items = self.appointments.get(organisation, [])
        after = query.get("starts_after", [None])[0]
        before = query.get("starts_before", [None])[0]

        def starts(item: dict[str, Any]) -> datetime | None:
            text = item["starts_at"]
            for read in (
                lambda t: datetime.strptime(t, "%Y-%m-%d %H:%M:%S %z"),
                datetime.fromisoformat,
            ):
                try:
                    return read(text)
                except ValueError:
                    pass
            return None  # a test's malformed item: listed whatever the range

        def bound(text: str) -> datetime:
            moment = datetime.fromisoformat(text)
            if moment.tzinfo is None:  # a date: the server's zone (Paris)
                moment = moment.replace(tzinfo=datetime.now().astimezone().tzinfo)
            return moment

        chosen = [
            item
            for item in items
            if (after is None or (starts(item) or bound(after)) >= bound(after))
            and (before is None or (starts(item) or bound(before)) <= bound(before))
        ]
        page = int(query.get("page", ["1"])[0])
        total_pages = max(1, -(-len(chosen) // PAGE_SIZE))
        start = (page - 1) * PAGE_SIZE
        return {
            "rdvs": chosen[start : start + PAGE_SIZE],
            "meta": {
                "current_page": page,
                "next_page": page + 1 if page < total_pages else None,
                "prev_page": page - 1 if page > 1 else None,
                "total_pages": total_pages,
                "total_count": len(chosen),
            },
        }


def _handler(stand_in: StandIn) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:  # quiet
            pass

        def _answer(self, status: int, body: Any, headers: dict[str, str] | None = None) -> None:
            raw = json.dumps(body).encode("utf-8")
            self.send_response(status)
            self.send_header("Content-Type", "application/json; charset=utf-8")
            self.send_header("Content-Length", str(len(raw)))
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(raw)

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", "0"))
            body = json.loads(self.rfile.read(length) or b"{}")
            with stand_in.lock:
                stand_in.requests.append(f"POST {self.path}")
                if self.path != "/api/v1/auth/sign_in":
                    return self._answer(404, {"error": "not found"})
                if body.get("email") != stand_in.email or body.get("password") != stand_in.password:
                    return self._answer(401, {"errors": ["Identifiants invalides"]})
                token = stand_in.sign_in()
                self._answer(
                    200,
                    {"data": {"id": 1, "email": stand_in.email, "role": "admin"}},
                    {"access-token": token, "client": stand_in.client, "uid": stand_in.email},
                )

        def do_GET(self) -> None:
            parts = urlsplit(self.path)
            with stand_in.lock:
                stand_in.requests.append(f"GET {parts.path}?{parts.query}")
                if stand_in.faults:
                    status = stand_in.faults.pop(0)
                    wait = {"Retry-After": "1"} if status == 429 else {}
                    return self._answer(status, {"error": "fault"}, wait)
                if (
                    stand_in.token is None
                    or self.headers.get("access-token") != stand_in.token
                    or self.headers.get("client") != stand_in.client
                    or self.headers.get("uid") != stand_in.email
                ):
                    return self._answer(401, {"errors": ["Vous devez vous connecter"]})
                segments = parts.path.strip("/").split("/")
                if (
                    len(segments) != 5
                    or segments[:3] != ["api", "v1", "organisations"]
                    or segments[4] != "rdvs"
                    or not segments[3].isdigit()
                ):
                    return self._answer(404, {"error": "not found"})
                organisation = int(segments[3])
                if organisation not in stand_in.appointments:
                    return self._answer(404, {"error": "not found"})
                self._answer(200, stand_in.listing(organisation, parse_qs(parts.query)))

    return Handler


@contextmanager
def serving(stand_in: StandIn) -> Iterator[str]:
    """The stand-in on a loopback port, for the time of the block; yields its root URL."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(stand_in))
    thread = threading.Thread(target=server.serve_forever, name="rdv-sp-stand-in", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
