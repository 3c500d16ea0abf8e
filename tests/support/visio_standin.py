"""A stand-in for the state's Visio (suitenumerique/meet) server-to-server API, written from
its published `docs/openapi.yaml`: `POST application/token/` (JSON: client_id,
client_secret, grant_type=client_credentials, scope = the delegated user's e-mail) ->
`{access_token, token_type, expires_in, scope}`; `POST rooms/` with `Authorization:
Bearer <token>` -> 201 `{id, slug, access_level, url, telephony, configuration}`.

Visio itself cannot run here (LiveKit, Keycloak, its operator's feature flags); the hub
calls this one over real HTTP, on loopback, in a thread of the test process.
"""

from __future__ import annotations

import secrets
import threading
import uuid
from dataclasses import dataclass, field
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from tests.support.processes import free_port, wait_for

BASE = "/external-api/v1.0/"


@dataclass
class VisioStandIn:
    client_id: str = "pvp-hub"
    client_secret: str = field(default_factory=lambda: secrets.token_hex(16))
    users: tuple[str, ...] = ("rooms@caf.example.fr",)
    room_host: str = "visio.example.gouv.fr"
    rooms: list[dict[str, Any]] = field(default_factory=list)
    token_requests: list[dict[str, Any]] = field(default_factory=list)
    port: int = field(default_factory=free_port)
    _tokens: dict[str, str] = field(default_factory=dict)

    @property
    def api(self) -> str:
        return f"http://127.0.0.1:{self.port}{BASE}"

    async def token(self, request: Request) -> JSONResponse:
        body = await request.json()
        self.token_requests.append(body)
        if body.get("grant_type") != "client_credentials":
            return JSONResponse({"error": "Invalid grant type"}, 400)
        if (body.get("client_id"), body.get("client_secret")) != (
            self.client_id,
            self.client_secret,
        ):
            return JSONResponse({"error": "Invalid credentials"}, 401)
        if body.get("scope") not in self.users:
            return JSONResponse({"error": "User not found."}, 400)
        token = secrets.token_urlsafe(24)
        self._tokens[token] = body["scope"]
        return JSONResponse(
            {
                "access_token": token,
                "token_type": "Bearer",
                "expires_in": 3600,
                "scope": "rooms:list rooms:retrieve rooms:create",
            }
        )

    async def create_room(self, request: Request) -> JSONResponse:
        auth = request.headers.get("authorization", "")
        if not auth.startswith("Bearer ") or auth[7:] not in self._tokens:
            return JSONResponse({"detail": "Invalid token."}, 401)
        body = await request.json() if await request.body() else {}
        slug = "-".join(secrets.token_hex(2) for _ in range(3))
        room = {
            "id": str(uuid.uuid4()),
            "slug": slug,
            "access_level": body.get("access_level", "trusted"),
            "url": f"https://{self.room_host}/{slug}",
            "telephony": {"enabled": False},
            "configuration": body.get("configuration", {}),
            "owner": self._tokens[auth[7:]],
        }
        self.rooms.append(room)
        return JSONResponse({k: v for k, v in room.items() if k != "owner"}, 201)

    def app(self) -> Starlette:
        return Starlette(
            routes=[
                Route(f"{BASE}application/token/", self.token, methods=["POST"]),
                Route(f"{BASE}rooms/", self.create_room, methods=["POST"]),
            ]
        )


class Running:
    """The stand-in served by uvicorn in a thread, stopped at the end."""

    def __init__(self, standin: VisioStandIn) -> None:
        self.standin = standin
        config = uvicorn.Config(
            standin.app(), host="127.0.0.1", port=standin.port, log_level="warning"
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> VisioStandIn:
        self.thread.start()
        wait_for(lambda: self.server.started, 10, "the Visio stand-in", poll=0.05)
        return self.standin

    def __exit__(self, *_exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(10)
