"""The hub's front door: its stylesheet and `/`, which sends each person to their page."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, RedirectResponse, Response

from .render import STATIC
from .sessions import SIGN_IN_PATH, current_session

router = APIRouter(include_in_schema=False)

HOME_OF = {"admin": "/region", "agent": "/agent"}


@router.get("/static/hub.css")
async def stylesheet() -> Response:
    return FileResponse(
        STATIC / "hub.css",
        media_type="text/css",
        headers={"Cache-Control": "max-age=3600", "X-Content-Type-Options": "nosniff"},
    )


@router.get("/")
async def home(request: Request) -> Response:
    session = await current_session(request)
    target = HOME_OF[session.person.kind] if session else SIGN_IN_PATH
    return RedirectResponse(target, 303)
