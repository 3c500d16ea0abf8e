"""Who is signed in: the session cookie, the pages' guards, the forms' CSRF check.

The cookie holds a random token whose SHA-256 only is stored (`people`); it is HttpOnly,
SameSite=Lax, and Secure whenever the request came over HTTPS (behind the reverse proxy,
whose X-Forwarded-Proto the hub believes only from `forwarded_allow_ips`). Every form
that changes something carries the session's CSRF secret, compared in constant time.
"""

from __future__ import annotations

import hmac
from urllib.parse import quote, urlsplit

from fastapi import Request
from starlette.concurrency import run_in_threadpool

from .. import people

SESSION_COOKIE = "pvp_hub_session"
SIGN_IN_PATH = "/connexion"


class SignInRequired(Exception):
    """No live session: the page answers with a redirect to the sign-in form."""

    def __init__(self, next_path: str) -> None:
        super().__init__(next_path)
        self.next_path = next_path


class NotYours(Exception):
    """Signed in, but this page is not for this person: one plain 404, as for a page that
    does not exist (it tells nothing about what exists elsewhere)."""


def sign_in_url(next_path: str) -> str:
    return f"{SIGN_IN_PATH}?suite={quote(next_path, safe='/')}"


def safe_next(value: str | None) -> str:
    """Where to go after signing in: a path on this hub only (never //elsewhere; no
    control character or space, which browsers drop from a URL: "/\t/evil" is "//evil")."""
    if (
        not value
        or len(value) > 2000
        or not value.startswith("/")
        or value.startswith("//")
        or "\\" in value
        or any(ord(ch) <= 0x20 or ord(ch) == 0x7F for ch in value)
    ):
        return "/"
    return value


def same_origin(request: Request) -> bool:
    """False for a form posted from another site: `Sec-Fetch-Site` says so (any value but
    same-origin or none: a sibling subdomain is refused too), or `Origin` names another
    host than the one this request was sent to (or is "null", as from a sandboxed frame).
    A client that sends neither header (an old browser, a script) is let through: the
    forms' tokens are the check that holds for every client."""
    fetch_site = request.headers.get("sec-fetch-site")
    if fetch_site is not None and fetch_site not in ("same-origin", "none"):
        return False
    origin = request.headers.get("origin")
    if origin is None:
        return True
    host = request.headers.get("host", "")
    return origin != "null" and urlsplit(origin).netloc.lower() == host.lower()


async def current_session(request: Request) -> people.Session | None:
    token = request.cookies.get(SESSION_COOKIE)
    if not token:
        return None
    engine = request.app.state.engine
    return await run_in_threadpool(people.session_person, engine, token)


async def require(request: Request, *kinds: str) -> people.Session:
    """The live session of an agent or admin (as `kinds` allow), else SignInRequired
    (no session, or an expired one) or NotYours (another kind of person)."""
    session = await current_session(request)
    if session is None:
        path = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        raise SignInRequired(path)
    if kinds and session.person.kind not in kinds:
        raise NotYours()
    return session


async def require_admin(request: Request) -> people.Session:
    return await require(request, "admin")


async def require_agent(request: Request) -> people.Session:
    return await require(request, "agent")


def csrf_ok(session: people.Session, sent: str | None) -> bool:
    return bool(sent) and hmac.compare_digest(session.csrf.encode(), str(sent).encode())
