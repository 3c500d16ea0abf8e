"""Signing in and out: `/connexion` (the form and its answer) and `/deconnexion`.

The form is protected before any session exists (login CSRF: a stranger's page must not
sign a visitor in under the stranger's account): a random token in a cookie of its own
(`pvp_hub_form`, SameSite=Strict) and in a hidden field, compared in constant time, and
no form posted from another site (`sessions.same_origin`). Both checks come before the
password's check, so a forged post costs the hub no argon2 work and counts no failure.
The password is checked in the thread pool (argon2id, about 135 ms: never on the event
loop); `people.sign_in` throttles failures per login.
"""

from __future__ import annotations

import hmac
import math
import re
import secrets
from datetime import UTC, datetime

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData

from .. import people
from ..errors import HubError
from .home import HOME_OF
from .render import error_page, page
from .sessions import (
    SESSION_COOKIE,
    SIGN_IN_PATH,
    csrf_ok,
    current_session,
    safe_next,
    same_origin,
)

router = APIRouter(include_in_schema=False)

SIGN_OUT_PATH = "/deconnexion"
FORM_COOKIE = "pvp_hub_form"
_TOKEN_RE = re.compile(r"^[A-Za-z0-9_-]{43}$")  # secrets.token_urlsafe(32)
MAX_FORM_BYTES = 8192  # a login, a password, a path and a token
MAX_LOGIN = 254
MAX_PASSWORD = 1024  # argon2 takes any length: a longer one is someone else's test


def _secure(request: Request) -> bool:
    # "https" behind the proxy: uvicorn sets the scheme from X-Forwarded-Proto, believed
    # only from forwarded_allow_ips.
    return request.url.scheme == "https"


def set_session_cookie(
    response: Response, request: Request, session: people.Session, now: datetime
) -> None:
    response.set_cookie(
        SESSION_COOKIE,
        session.token,
        max_age=max(int((session.expires_at - now).total_seconds()), 0),
        path="/",
        httponly=True,
        samesite="lax",
        secure=_secure(request),
    )


def _form_token(request: Request) -> str:
    """The browser's form token: kept while it lasts (several tabs share it), else new."""
    kept = request.cookies.get(FORM_COOKIE, "")
    return kept if _TOKEN_RE.match(kept) else secrets.token_urlsafe(32)


def _form_token_ok(request: Request, form: FormData) -> bool:
    kept, sent = request.cookies.get(FORM_COOKIE, ""), form.get("form_token")
    return (
        bool(_TOKEN_RE.match(kept))
        and isinstance(sent, str)
        and hmac.compare_digest(kept.encode(), sent.encode())
    )


def _form(
    request: Request,
    suite: str,
    status: int = 200,
    login: str = "",
    problem: str | None = None,
    minutes: int = 0,
    headers: dict[str, str] | None = None,
) -> HTMLResponse:
    """The sign-in form; the password is never sent back."""
    token = _form_token(request)
    response = page(
        request,
        "signin.html",
        status,
        headers,
        form_token=token,
        suite=safe_next(suite) if suite else "",
        login=login,
        problem=problem,
        minutes=minutes,
    )
    response.set_cookie(
        FORM_COOKIE,
        token,
        path=SIGN_IN_PATH,
        httponly=True,
        samesite="strict",
        secure=_secure(request),
    )  # no Max-Age: it lasts as long as the browser's session
    return response


async def _read_form(request: Request) -> FormData | None:
    """The posted form, or None when it is too large to be one of the hub's."""
    declared = request.headers.get("content-length", "")
    if not declared.isdigit() or int(declared) > MAX_FORM_BYTES:
        return None
    return await request.form(max_files=0, max_fields=10)


def _text(form: FormData, name: str) -> str:
    value = form.get(name)
    return value if isinstance(value, str) else ""


@router.get(SIGN_IN_PATH)
async def sign_in_form(request: Request, suite: str = "") -> Response:
    session = await current_session(request)
    if session is not None:
        return RedirectResponse(HOME_OF[session.person.kind], 303)
    return _form(request, suite)


@router.post(SIGN_IN_PATH)
async def sign_in(request: Request) -> Response:
    form = await _read_form(request)
    if form is None:
        return error_page(request, 413)
    suite, login = _text(form, "suite"), _text(form, "login").strip()[:MAX_LOGIN]
    if not same_origin(request):
        return _form(request, suite, 403, "", "expired")  # nothing of theirs sent back
    if not _form_token_ok(request, form):
        # A form whose cookie is gone (or never came): a fresh form, no session.
        return _form(request, suite, 403, login, "expired")
    password = _text(form, "password")
    if not login or not password:
        return _form(request, suite, 400, login, "empty")
    if "\x00" in login or len(password) > MAX_PASSWORD:
        # No account has such a login or password (PostgreSQL refuses NUL in text).
        return _form(request, suite, 401, login, "wrong")
    engine = request.app.state.engine
    try:
        session = await run_in_threadpool(people.sign_in, engine, login, password)
    except HubError as refusal:
        if refusal.status == 429:
            wait = int(refusal.headers.get("Retry-After", "60"))
            return _form(
                request,
                suite,
                429,
                login,
                "throttled",
                max(1, math.ceil((wait - 1) / 60)),  # people's wait has a second added
                {"Retry-After": str(wait)},
            )
        if refusal.status == 401:
            return _form(request, suite, 401, login, "wrong")
        raise
    previous = request.cookies.get(SESSION_COOKIE)
    if previous and previous != session.token:
        await run_in_threadpool(people.sign_out, engine, previous)  # one session per browser
    response = RedirectResponse(safe_next(suite), 303)
    set_session_cookie(response, request, session, datetime.now(UTC))
    response.delete_cookie(FORM_COOKIE, path=SIGN_IN_PATH, httponly=True, samesite="strict")
    return response


@router.post(SIGN_OUT_PATH)
async def sign_out(request: Request) -> Response:
    session = await current_session(request)
    response: Response = RedirectResponse(SIGN_IN_PATH, 303)
    if session is not None:
        form = await _read_form(request)
        sent = _text(form, "csrf") if form is not None else None
        if not same_origin(request) or not csrf_ok(session, sent):
            return error_page(request, 403)
        await run_in_threadpool(people.sign_out, request.app.state.engine, session.token)
    response.delete_cookie(
        SESSION_COOKIE, path="/", httponly=True, samesite="lax", secure=_secure(request)
    )
    return response
