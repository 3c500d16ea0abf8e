"""Who may use `pvp serve`, checked on every request before textual-serve sees it.

1. The Host header must name this server (the bound address, or --public-url): a page of
   another site whose name resolves to 127.0.0.1 (DNS rebinding) is refused.
2. An Origin header, when the browser sends one (always on a websocket), must be this
   server's own origin: a page of another site cannot open the socket that runs pvp, even
   though the browser would send it the cookie.
3. A secret. With a configured token: `?token=TOKEN` once (kept in a cookie), the cookie,
   or `Authorization: Bearer TOKEN`. Without one: one-time links, `/?t=SECRET`, each
   exchanged once for a session cookie (HttpOnly, SameSite=Strict) and then refused;
   `pvp serve` prints a new link when Enter is pressed in its terminal. Links and sessions
   live in the process's memory only: a restart signs every browser out.

Secrets are compared with hmac.compare_digest. Refusals are a short plain page in the
user's language that says how to get in, never the app.
"""

from __future__ import annotations

import hmac
import ipaddress
import secrets
import socket
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from aiohttp import web

from ..core.i18n import _

TOKEN_COOKIE = "pvp_serve_token"
TOKEN_PARAM = "token"
LINK_PARAM = "t"
WILDCARDS = ("0.0.0.0", "::", "")

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False  # a host name: it may resolve to anything


def _same(candidate: str | None, secret: str) -> bool:
    return candidate is not None and hmac.compare_digest(candidate.encode(), secret.encode())


@dataclass(frozen=True)
class Address:
    """The names and ports a browser's Host header may carry to reach this server."""

    names: frozenset[str]
    ports: frozenset[int | None]
    any_ip: bool  # bound to every address: any IP literal reaches it (never a DNS name)
    public_origin: str

    @classmethod
    def of(cls, host: str, port: int, public_url: str) -> Address:
        public = urlsplit(public_url)
        names = {host.strip("[]").lower()}
        any_ip = host in WILDCARDS
        if any_ip:
            names |= {"localhost", socket.gethostname().lower(), socket.getfqdn().lower()}
        elif host == "localhost":
            names |= {"127.0.0.1", "::1"}
        elif is_loopback(host):
            names.add("localhost")
        if public.hostname:
            names.add(public.hostname)
        # a Host without a port: the scheme's default port, allowed when the public URL has it
        ports: set[int | None] = {port, public.port}
        origin = f"{public.scheme}://{public.netloc}".lower()
        return cls(frozenset(names), frozenset(ports), any_ip, origin)

    def host_ok(self, header: str) -> bool:
        try:
            parts = urlsplit(f"//{header}")
            name, port = parts.hostname, parts.port
        except ValueError:
            return False
        if not name or port not in self.ports:
            return False
        if name in self.names:
            return True
        if self.any_ip:
            try:
                ipaddress.ip_address(name)
            except ValueError:
                return False
            return True
        return False

    def origin_ok(self, origin: str, request: web.Request) -> bool:
        own = f"{request.scheme}://{request.host}".lower()
        return origin.lower() in (own, self.public_origin)


class Gate:
    """The secrets of one `pvp serve` process: a configured token, or one-time links."""

    def __init__(self, token: str | None, port: int) -> None:
        self.token = token
        self.cookie = TOKEN_COOKIE if token is not None else f"pvp_serve_session_{port}"
        self._links: list[str] = []  # unused one-time links
        self._sessions: list[str] = []  # cookies handed out in exchange for a link

    def new_link(self) -> str:
        link = secrets.token_urlsafe(32)
        self._links.append(link)
        return link

    def redeem(self, candidate: str) -> str | None:
        """A new session for an unused link (which is then used up); None otherwise."""
        found = [link for link in self._links if _same(candidate, link)]
        if not found:
            return None
        self._links.remove(found[0])
        session = secrets.token_urlsafe(32)
        self._sessions.append(session)
        return session

    def cookie_ok(self, candidate: str | None) -> bool:
        if self.token is not None:
            return _same(candidate, self.token)
        return any([_same(candidate, session) for session in self._sessions])


def refusal(status: int, text: str) -> web.Response:
    return web.Response(status=status, text=text + "\n", headers={"Cache-Control": "no-store"})


def _clean_redirect(request: web.Request, drop: str) -> web.HTTPFound:
    """The same address without the secret, so that it stays out of the history."""
    query = {k: v for k, v in request.query.items() if k != drop}
    response = web.HTTPFound(request.rel_url.with_query(query))
    response.headers["Cache-Control"] = "no-store"
    return response


def middleware(gate: Gate, address: Address, on_link_used: Callable[[], None]) -> Any:
    @web.middleware
    async def guard(request: web.Request, handler: Handler) -> web.StreamResponse:
        if not address.host_ok(request.headers.get("Host", "")):
            return refusal(
                403,
                _(
                    "PVP Relais: refused, this address is not the one pvp serve listens on. "
                    "Open the address that pvp serve printed in its terminal."
                ),
            )
        origin = request.headers.get("Origin")
        if origin is not None and not address.origin_ok(origin, request):
            return refusal(403, _("PVP Relais: refused, this request comes from another site."))
        if gate.token is not None:
            return await _with_token(gate, gate.token, request, handler)
        return await _with_links(gate, request, handler, on_link_used)

    return guard


async def _with_token(
    gate: Gate, token: str, request: web.Request, handler: Handler
) -> web.StreamResponse:
    header = request.headers.get("Authorization", "")
    bearer = header[7:] if header.startswith("Bearer ") else None
    if gate.cookie_ok(request.cookies.get(gate.cookie)) or _same(bearer, token):
        return await handler(request)
    if _same(request.query.get(TOKEN_PARAM), token):
        response = _clean_redirect(request, TOKEN_PARAM)
        response.set_cookie(gate.cookie, token, httponly=True, samesite="Strict", path="/")
        return response
    return refusal(
        401,
        _(
            "PVP Relais: access token missing or wrong. Open this address with "
            "?token=… (ask the site's admin)."
        ),
    )


async def _with_links(
    gate: Gate, request: web.Request, handler: Handler, on_link_used: Callable[[], None]
) -> web.StreamResponse:
    link = request.query.get(LINK_PARAM)
    if gate.cookie_ok(request.cookies.get(gate.cookie)):
        if link is not None:  # already in: the link is not spent on this browser again
            return _clean_redirect(request, LINK_PARAM)
        return await handler(request)
    if link is not None:
        session = gate.redeem(link)
        if session is None:
            return refusal(
                403,
                _(
                    "PVP Relais: this link has already been used (each link works only "
                    "once) or is wrong. Ask for a new one: press Enter in the terminal where "
                    "pvp serve runs, and open the link it prints."
                ),
            )
        on_link_used()
        response = _clean_redirect(request, LINK_PARAM)
        response.set_cookie(gate.cookie, session, httponly=True, samesite="Strict", path="/")
        return response
    return refusal(
        401,
        _(
            "PVP Relais: access refused, this browser has no access link. Ask for one: "
            "press Enter in the terminal where pvp serve runs, and open the link it prints "
            "(it works only once)."
        ),
    )
