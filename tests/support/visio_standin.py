"""A stand-in for the state's Visio (suitenumerique/meet) server-to-server API, written from
its published `docs/openapi.yaml`: `POST application/token/` (JSON: client_id,
client_secret, grant_type=client_credentials, scope = the delegated user's e-mail) ->
`{access_token, token_type, expires_in, scope}`; `POST rooms/` with `Authorization:
Bearer <token>` -> 201 `{id, slug, access_level, url, telephony, configuration}`.

Visio itself cannot run here (LiveKit, Keycloak, its operator's feature flags); the hub
calls this one over real HTTP, on loopback, in a thread of the test process.

It also serves a room's page as a guest sees it (`GET /{slug}`: the lobby), a small copy
of Visio's frontend (`src/frontend/src/features/rooms/components/Lobby.tsx`, `Join.tsx`,
`primitives/Form.tsx`, `primitives/Field.tsx`, `hooks/useLobby.ts`,
`api/requestEntry.ts`, `api/fetchRoom.ts`, French strings from `locales/fr/rooms.json`):
the form renders once the app has started; its text field (react-aria: a `<label>`,
`<input id="input-name" aria-label="Votre nom" autocomplete="name" maxlength="50">`) is
*controlled*: the username lives in the app's state, changed only by `input` events, so
a value written into the DOM without them is not seen (as with React); "Rejoindre"
(`<button type="submit">`) fetches the room (`GET /api/v1.0/rooms/{slug}/?username=`),
and with no LiveKit token (a trusted room, not signed in) knocks with
`POST /api/v1.0/rooms/{slug}/request-entry/ {"username"}` every second, showing
"Demande de participation…". An empty name shows "Votre nom ne peut pas être vide".
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
from starlette.responses import HTMLResponse, JSONResponse
from starlette.routing import Route

from tests.support.processes import free_port, wait_for

BASE = "/external-api/v1.0/"
API = "/api/v1.0/"

LOBBY_PAGE = """<!doctype html>
<html lang="fr"><head><meta charset="utf-8"><title>Visio</title>
<style>body{font-family:sans-serif} .field{margin:1rem 0} label{display:block}
input{width:100%} .error{color:#b00}</style></head>
<body><div id="root"><p>Chargement…</p></div>
<script>
(() => {
  const slug = location.pathname.split("/").filter(Boolean)[0];
  const root = document.getElementById("root");
  const state = {username: localStorage.getItem("username") || "", status: "idle", error: null};
  const api = (path, init) => fetch("/api/v1.0" + path, Object.assign(
    {headers: {"Content-Type": "application/json"}, credentials: "include"}, init || {}))
    .then((r) => r.json());
  const render = () => {
    if (state.status === "waiting") {
      root.innerHTML = '<h1>Demande de participation…</h1><p>Vous pourrez participer à cet '
        + "appel lorsque quelqu'un vous y autorisera</p>";
      return;
    }
    if (state.status === "accepted") { root.innerHTML = "<h1>Dans la réunion</h1>"; return; }
    if (state.status === "denied") {
      root.innerHTML = "<h1>Vous ne pouvez pas participer à cet appel</h1>"; return;
    }
    root.innerHTML = '<form><div><h1>Rejoindre la réunion ?</h1>'
      + '<div class="field"><label id="label-name" for="input-name">Votre nom</label>'
      + '<input id="input-name" type="text" aria-label="Votre nom" autocomplete="name" '
      + 'maxlength="50" aria-labelledby="label-name">'
      + (state.error ? '<div class="error" role="alert">' + state.error + "</div>" : "")
      + '</div></div><div><button type="submit">Rejoindre</button>'
      + '<button type="button">Annuler</button></div></form>';
    const input = document.getElementById("input-name");
    input.value = state.username;  // controlled: the DOM shows the state
    input.addEventListener("input", (e) => {
      state.username = e.target.value;
      localStorage.setItem("username", state.username);
    });
    root.querySelector("form").addEventListener("submit", (e) => {
      e.preventDefault();
      submit();
    });
  };
  const submit = async () => {
    if (!state.username) { state.error = "Votre nom ne peut pas être vide"; render(); return; }
    const room = await api("/rooms/" + slug + "/?username="
      + encodeURIComponent(state.username));
    if (room.livekit) { state.status = "accepted"; render(); return; }
    state.status = "waiting";
    render();
    const knock = async () => {
      const answer = await api("/rooms/" + slug + "/request-entry/",
        {method: "POST", body: JSON.stringify({username: state.username})});
      if (answer.status === "accepted" || answer.status === "denied") {
        state.status = answer.status; render(); return;
      }
      setTimeout(knock, 1000);
    };
    knock();
  };
  setTimeout(render, 300);  // the app starts, fetches its config, then shows the form
})();
</script></body></html>
"""


HANG_ON_INPUT = '<script>document.addEventListener("input", () => { for (;;) {} }, true);</script>'


@dataclass
class VisioStandIn:
    client_id: str = "pvp-hub"
    client_secret: str = field(default_factory=lambda: secrets.token_hex(16))
    users: tuple[str, ...] = ("rooms@caf.example.fr",)
    room_host: str = "visio.example.gouv.fr"
    room_base: str | None = None  # rooms' URLs start here (default https://room_host)
    lobby: bool = True  # False: the room's page never shows its form (a changed Visio)
    hang_on_input: bool = False  # True: the page's script hangs on the first key typed
    rooms: list[dict[str, Any]] = field(default_factory=list)
    room_fetches: list[str | None] = field(default_factory=list)
    entry_requests: list[dict[str, Any]] = field(default_factory=list)
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
        room = self.make_room(self._tokens[auth[7:]], body)
        return JSONResponse({k: v for k, v in room.items() if k != "owner"}, 201)

    def make_room(self, owner: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
        body = body or {}
        slug = "-".join(secrets.token_hex(2) for _ in range(3))
        base = self.room_base or f"https://{self.room_host}"
        room = {
            "id": str(uuid.uuid4()),
            "slug": slug,
            "access_level": body.get("access_level", "trusted"),
            "url": f"{base}/{slug}",
            "telephony": {"enabled": False},
            "configuration": body.get("configuration", {}),
            "owner": owner,
        }
        self.rooms.append(room)
        return room

    def _room(self, slug: str) -> dict[str, Any] | None:
        return next((r for r in self.rooms if r["slug"] == slug), None)

    async def room_page(self, request: Request) -> HTMLResponse:
        if self._room(request.path_params["slug"]) is None:
            return HTMLResponse("<h1>Page introuvable</h1>", 404)
        if not self.lobby:
            return HTMLResponse("<!doctype html><p>Chargement…</p>")
        if self.hang_on_input:  # a page stuck in its own script: DevTools gets no answer
            return HTMLResponse(LOBBY_PAGE.replace("</body>", HANG_ON_INPUT + "</body>"))
        return HTMLResponse(LOBBY_PAGE)

    async def room_info(self, request: Request) -> JSONResponse:
        """`GET /api/v1.0/rooms/{slug}/`: a guest of a trusted room gets no LiveKit token."""
        room = self._room(request.path_params["slug"])
        if room is None:
            return JSONResponse({"detail": "Not found."}, 404)
        self.room_fetches.append(request.query_params.get("username"))
        return JSONResponse(
            {"id": room["id"], "slug": room["slug"], "access_level": room["access_level"]}
        )

    async def request_entry(self, request: Request) -> JSONResponse:
        room = self._room(request.path_params["slug"])
        if room is None:
            return JSONResponse({"detail": "Not found."}, 404)
        body = await request.json()
        self.entry_requests.append({"room": room["slug"], **body})
        return JSONResponse({"status": "waiting", "livekit": None})

    def app(self) -> Starlette:
        return Starlette(
            routes=[
                Route(f"{BASE}application/token/", self.token, methods=["POST"]),
                Route(f"{BASE}rooms/", self.create_room, methods=["POST"]),
                Route(f"{API}rooms/{{slug}}/", self.room_info, methods=["GET"]),
                Route(f"{API}rooms/{{slug}}/request-entry/", self.request_entry, methods=["POST"]),
                Route("/{slug}", self.room_page, methods=["GET"]),
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
