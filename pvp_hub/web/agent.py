"""The agent's page, `/agent`: today's visits of their partner at their sites (the data
and its scope are `agents.today`'s). The same data as JSON is `GET /api/v1/agent/visits`
(`api.py`), drawn by `visits_json` here."""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Callable
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import FileResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from pvp_tui.core import i18n
from pvp_tui.core.i18n import N_, _
from pvp_tui.core.models import Need, Status

from .. import agents, people
from .render import STATIC, error_page, language_of, page
from .sessions import require_agent, same_origin

router = APIRouter(include_in_schema=False)
REFRESH_SECONDS = 5  # how often the agent's page asks for its list (agent-live.js)
# The page's first drawing holds this many rows (a laptop shows 15): a long list's first
# paint is not held up by 200 rows, the rest comes by agent-live.js's first poll, at once.
FIRST_ROWS = 40


def need_words(needs: tuple[str, ...]) -> str:
    """A visit's accessibility needs in words ("sign-language interpreter, …")."""
    words = []
    for need in needs:
        try:
            words.append(Need(need).label)
        except ValueError:
            words.append(need)
    return ", ".join(words)


def version(day: agents.AgentDay) -> str:
    """Changes whenever anything the live list shows changes (agent-live.js swaps then)."""
    digest = hashlib.sha256()
    for v in day.visits:
        if v.active:
            digest.update(
                repr(
                    (v.id, v.ticket, v.status, v.kiosk, v.in_room, v.has_room,
                     v.agent_opened_at, v.waited_minutes, v.needs, v.visitor_name)
                ).encode()
            )  # fmt: skip
    return digest.hexdigest()[:16]


class RowWords:
    """The live list's words, each translated once per page and not once per row (200
    rows: most of the drawing's time went to gettext). Made per request, first used
    while the page is drawn, so in the reader's language."""

    def __init__(self) -> None:
        self._seen: dict[tuple[str, Any], str] = {}

    def _once(self, kind: str, key: Any, make: Callable[[], str]) -> str:
        found = self._seen.get((kind, key))
        if found is None:
            found = self._seen[(kind, key)] = make()
        return found

    def status(self, status: str | None) -> str:
        return self._once("status", status, lambda: status_cell(status))

    def needs(self, needs: tuple[str, ...]) -> str:
        return self._once("needs", needs, lambda: need_words(needs))

    def minutes(self, minutes: int) -> str:
        return self._once(
            "minutes",
            minutes,
            lambda: i18n.ngettext("%(num)d min", "%(num)d min", minutes) % {"num": minutes},
        )

    def announce(self, ticket: str | None, site: str) -> str:
        """What a screen reader hears when the row is new (escaped by the template)."""
        words = self._once(
            "announce", None, lambda: i18n.gettext("New visitor: %(ticket)s at %(site)s.")
        )
        return words % {"ticket": ticket or "", "site": site}


def _context(day: agents.AgentDay) -> dict[str, Any]:
    return {
        "day": day,
        "status_cell": status_cell,
        "need_words": need_words,
        "words": RowWords(),
        "version": version(day),
        "refresh_seconds": REFRESH_SECONDS,
    }


@router.get("/static/agent-live.js")
async def live_script() -> Response:
    return FileResponse(
        STATIC / "agent-live.js",
        media_type="text/javascript",
        headers={"Cache-Control": "max-age=3600", "X-Content-Type-Options": "nosniff"},
    )


# The live list's columns: the cards' labels (the narrow layout) are written once per
# language in a stylesheet, not as an attribute on each of the 1,800 cells of 200 rows.
CARD_LABELS = {
    "ticket": N_("Ticket"),
    "site": N_("Site"),
    "kiosk": N_("Kiosk"),
    "status": N_("Status"),
    "waited": N_("Waited"),
    "needs": N_("Accessibility needs"),
    "name": N_("Visitor's name"),
    "room": N_("Visio"),
    "documents": N_("Documents"),
}


def _css_string(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", " ") + '"'


@router.get("/static/agent-cards.{language}.css")
async def card_labels(language: str) -> Response:
    """The cards' column names in one language (linked by the page for narrow screens)."""
    if language not in i18n.LANGUAGES:
        return Response(status_code=404)
    with i18n.using_language(language):
        rules = [
            f'table.visitors td[data-k="{key}"]::before {{ content: {_css_string(_(label))}; }}'
            for key, label in CARD_LABELS.items()
        ]
    return Response(
        "\n".join(rules) + "\n",
        media_type="text/css",
        headers={"Cache-Control": "max-age=3600", "X-Content-Type-Options": "nosniff"},
    )


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
    first_rows = None if request.query_params.get("tout") else FIRST_ROWS
    return page(request, "agent.html", session=session, first_rows=first_rows, **_context(day))


@router.get("/agent/visiteurs")
async def agent_live(
    request: Request, session: Annotated[people.Session, Depends(require_agent)]
) -> Response:
    """The live list alone, for agent-live.js (the same HTML as in the page); 204 when
    nothing shown changed since the version the page has (`?v=`): no drawing, no bytes."""
    day = await run_in_threadpool(agents.today, request.app.state.engine, session.person.id)
    if day is None:
        return error_page(request, 404)
    context = _context(day)
    if request.query_params.get("v") == context["version"]:
        return Response(status_code=204, headers={"Cache-Control": "no-store"})
    return page(request, "_agent_live.html", **context)


@router.get("/agent/visites/{visit_id}/visio")
async def open_room(
    visit_id: str,
    request: Request,
    session: Annotated[people.Session, Depends(require_agent)],
) -> Response:
    """The agent opens the visit's room: recorded (the site sees it in the visit's view),
    then on to the room. Only from the hub's own page (a link from another site could
    otherwise record an opening the agent never made); any other visit: one plain 404."""
    if not same_origin(request):
        return error_page(request, 403)
    try:
        wanted = uuid.UUID(visit_id)
    except ValueError:
        return error_page(request, 404)
    url = await run_in_threadpool(
        agents.room_url, request.app.state.engine, session.person.id, wanted
    )
    if url is None:
        return error_page(request, 404)
    return RedirectResponse(url, 303, headers={"Cache-Control": "no-store"})


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
                    "kiosk": v.kiosk,
                    "in_room": v.in_room,
                    "needs": list(v.needs),
                    "needs_labels": [need_words((n,)) for n in v.needs],
                    "waited_minutes": v.waited_minutes,
                    "room": v.has_room,
                }
                for v in day.visits
            ],
        }
