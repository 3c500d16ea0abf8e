"""The agent's page, `/agent`: today's visits of their partner at their sites (the data
and its scope are `agents.today`'s). The same data as JSON is `GET /api/v1/agent/visits`
(`api.py`), drawn by `visits_json` here."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from pvp_tui.core import i18n
from pvp_tui.core.models import Status

from .. import agents, people
from .render import error_page, language_of, page
from .sessions import require_agent

router = APIRouter(include_in_schema=False)


def status_label(status: str | None) -> str:
    """The front desk's own word for a status, in the current language."""
    if status is None:
        return ""
    try:
        return Status(status).label
    except ValueError:
        return status


@router.get("/agent")
async def agent_home(
    request: Request, session: Annotated[people.Session, Depends(require_agent)]
) -> Response:
    day = await run_in_threadpool(agents.today, request.app.state.engine, session.person.id)
    if day is None:  # disabled between the session's check and this query
        return error_page(request, 404)
    return page(request, "agent.html", session=session, day=day, status_cell=status_cell)


def status_cell(status: str | None) -> str:
    """The status as a table cell starts: "En attente" (the desk's words are lowercase,
    made to sit inside a sentence)."""
    label = status_label(status)
    return label[:1].upper() + label[1:]


def visits_json(day: agents.AgentDay, request: Request) -> dict[str, Any]:
    with i18n.using_language(language_of(request)):
        return {
            "partner": day.partner_slug,
            "partner_name": day.partner_name,
            "sites": [{"id": s.slug, "name": s.name} for s in day.sites],
            "visits": [
                {
                    "id": str(v.id),
                    "ticket": v.ticket,
                    "site": v.site.slug,
                    "site_name": v.site.name,
                    "status": v.status,
                    "status_label": status_label(v.status) or None,
                    "since": v.since.isoformat(),
                    "since_local": f"{v.local_since:%H:%M}",
                    "visitor_name": v.visitor_name,
                }
                for v in day.visits
            ],
        }
