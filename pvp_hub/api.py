"""The hub's web service: FastAPI, JSON under /api/v1.

Handlers are thin: they read the request, hand the work to `sync` in a worker thread
(one thread hop and one database connection per request, the token checked on that same
connection) and return its answer as it is.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import inspect
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Annotated, Any

import anyio.to_thread
import orjson
from fastapi import APIRouter, Depends, FastAPI, Header, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.utils import get_openapi
from fastapi.responses import JSONResponse, PlainTextResponse, RedirectResponse, Response
from fastapi.security import APIKeyCookie, HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel, Field, ValidationError
from sqlalchemy import Engine, text
from sqlalchemy.exc import OperationalError
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Route

from pvp_tui.core import report_store

from . import (
    agents,
    documents,
    documents_api,
    people,
    region_report,
    rooms,
    site_status,
    sync,
    web,
)
from .config import HubConfig, config_path, load_hub_config
from .database import make_engine
from .errors import HubError
from .pg_async import AsyncDatabase
from .presence import LAST_SEEN
from .rdv_sp import inbox as rdv_inbox
from .rdv_sp import intake as rdv_intake
from .rdv_sp import signature as rdv_signature
from .rdv_sp.payload import PayloadError
from .steps import Work, run_sync
from .web.agent import visits_json
from .web.render import error_page
from .web.sessions import SESSION_COOKIE, NotYours, SignInRequired, current_session, sign_in_url
from .wire import (
    AgentVisits,
    ErrorBody,
    PullPage,
    PushBatch,
    PushResult,
    RdvSpAnswer,
    RoomAnswer,
    SiteInfo,
    SiteStatus,
    StatusResult,
    VisitView,
)

log = logging.getLogger("pvp_hub")
API = "/api/v1"
RDV_SP_MAX_BYTES = 1 << 20  # an appointment with its participants: a few KiB
PURGE_EVERY_S = 15 * 60
RDV_SP_LOOK_EVERY_S = 5 * 60  # how often a process looks for a catch-up due
VERSION = "1.0.0"

CURSOR_MAX = 40
LIMIT_MAX = 10_000

bearer = HTTPBearer(auto_error=False, description="The site's token (pvp-hub admin token issue)")
Credentials = Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]
# Declared for the document; the handler reads the session itself (web.sessions).
session_cookie = APIKeyCookie(
    name=SESSION_COOKIE,
    scheme_name="AgentSession",
    auto_error=False,
    description="The agent's session, set by signing in at /connexion",
)
SessionCookie = Annotated[str | None, Depends(session_cookie)]


def _errors(*codes: int) -> dict[int | str, dict[str, Any]]:
    return {code: {"model": ErrorBody} for code in codes}


def create_app(config: HubConfig, engine: Engine | None = None) -> FastAPI:
    engine = engine or make_engine(config.database_url)
    limits = config.limits
    applier = rdv_inbox.Applier(engine, limits.rdv_sp_gather_ms / 1000)
    # The site routes' work (token, GET /site, push, pull) runs on asyncpg on the event
    # loop on PostgreSQL (pg_async.py), on the engine in the thread pool on SQLite.
    on_loop = (
        AsyncDatabase(engine, config.connections) if engine.dialect.name == "postgresql" else None
    )

    async def run_site_work(work: Work[Any]) -> Any:
        if on_loop is not None:
            return await on_loop.run(work)
        return await run_in_threadpool(run_sync, engine, work)

    @contextlib.asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        # Every request's work runs in this pool: its size bounds the requests at the
        # database at once. A burst then waits here, cheaply, instead of 40 threads
        # fighting for the GIL and 40 connections for the cores (measured: the CPU per
        # request at 284 req/s fell from 2.6-2.8 to 2.0-2.3 ms, PostgreSQL's from 2.5-2.7
        # to 1.1-1.3 ms; docs/hub.md).
        anyio.to_thread.current_default_thread_limiter().total_tokens = config.threads
        tune_gc()
        tasks = [
            asyncio.create_task(_purge_loop(engine, app.state.documents)),
            asyncio.create_task(_idle_uploads_loop(app.state.documents)),
            asyncio.create_task(_last_seen_loop(engine, limits.last_seen_seconds)),
            asyncio.create_task(_rdv_sp_loop(engine)),
        ]
        applier.start()  # what a hub killed after answering left is applied now
        yield
        await run_in_threadpool(applier.stop)
        await run_in_threadpool(reports.close)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        if on_loop is not None:
            await on_loop.close()
        try:
            await run_in_threadpool(LAST_SEEN.flush, engine)  # what this process saw last
        except Exception:
            log.exception("could not write the sites' last-seen times at shutdown")
        engine.dispose()

    app = HubApp(
        title="pvp-hub",
        version=VERSION,
        summary="The regional hub of PVP Relais: sites push their visit events and pull "
        "their directory.",
        lifespan=lifespan,
        openapi_url=f"{API}/openapi.json",
        docs_url=None,  # Swagger UI loads its assets from a CDN: the hub serves none
        redoc_url=None,
    )

    app.state.engine = engine
    app.state.documents = documents.Documents(engine, config.documents)
    reports = app.state.reports = region_report.Reports(
        engine, config.database_url, config.report_processes
    )
    for router in web.routers():
        app.include_router(router)
    app.include_router(documents_api.router)

    @app.exception_handler(HubError)
    async def hub_error(request: Request, exc: HubError) -> Response:
        if not request.url.path.startswith(API):
            return error_page(request, exc.status, exc.message, exc.headers)
        return JSONResponse(exc.body(), exc.status, headers=exc.headers)

    @app.exception_handler(SignInRequired)
    async def sign_in_first(_request: Request, exc: SignInRequired) -> Response:
        return RedirectResponse(sign_in_url(exc.next_path), 303)

    @app.exception_handler(NotYours)
    async def not_yours(request: Request, _exc: NotYours) -> Response:
        return error_page(request, 404)

    @app.exception_handler(OperationalError)
    async def database_unavailable(request: Request, exc: OperationalError) -> Response:
        # SQLite busy past its timeout, PostgreSQL down or restarting: nothing was stored,
        # and the site's retry (same key, same body) will be applied once.
        # The driver's own message only: SQLAlchemy's would add the statement's parameters.
        log.warning("database unavailable: %s", str(exc.orig).splitlines()[0][:200])
        error = HubError(
            503,
            "database_unavailable",
            "the hub's database is busy or unavailable: retry shortly",
            headers={"Retry-After": "2"},
        )
        if not request.url.path.startswith(API):
            return error_page(request, 503, headers=error.headers)
        return JSONResponse(error.body(), 503, headers=error.headers)

    @app.exception_handler(RequestValidationError)
    async def bad_request(_request: Request, exc: RequestValidationError) -> JSONResponse:
        problems = [f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors()]
        error = HubError(422, "invalid_request", "the request is not valid", problems)
        return JSONResponse(error.body(), 422)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        if not request.url.path.startswith(API):
            return error_page(request, exc.status_code, headers=getattr(exc, "headers", None))
        code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
        body = {"error": {"code": code, "message": str(exc.detail)}}
        return JSONResponse(body, exc.status_code, headers=getattr(exc, "headers", None))

    @app.get(f"{API}/health", tags=["service"], summary="Is the hub up, with its database?")
    async def health() -> JSONResponse:
        try:
            await run_in_threadpool(_ping, engine)
        except Exception:
            log.exception("health check: the database does not answer")
            return JSONResponse({"status": "database unavailable"}, 503)
        return JSONResponse({"status": "ok"})

    # The site routes are the hot path (2,840 sites syncing every 10 s): each is a bare
    # Starlette endpoint that reads its headers and query itself, without FastAPI's
    # dependency solving and validation per request. FastAPI still writes their part of
    # the OpenAPI document, from the declarations in `documented` (never mounted), and
    # the error answers are those FastAPI gave.
    async def site_route(request: Request) -> Response:
        answer = await run_site_work(sync.site_info_work(_bearer(request)))
        return SiteAnswer(answer)

    async def push_route(request: Request) -> Response:
        _require_json(request)
        body = await _read_body(request, limits.max_body_bytes)
        key = request.headers.get("idempotency-key")
        work = sync.push_work(_bearer(request), key, body, limits)
        status, answer = await run_site_work(work)
        return SiteAnswer(answer, status)

    async def pull_route(request: Request) -> Response:
        cursor, limit = _pull_query(request)
        page_size = min(limit or limits.pull_page_size, limits.pull_page_size)
        answer = await run_site_work(sync.pull_work(_bearer(request), cursor, page_size))
        return SiteAnswer(answer)

    async def visit_route(request: Request) -> Response:
        visit_id = request.path_params["visit_id"]
        answer = await run_in_threadpool(sync.visit_view, engine, _bearer(request), visit_id)
        return JSONResponse(answer)

    # First in the list: the router tries each route in turn, and FastAPI's own routes
    # and included routers cost a few microseconds each to pass over (a sixth of the
    # hub's CPU per request in a profile of the async path, with them at the end).
    app.router.routes[0:0] = [
        _route(f"{API}/site", site_route, "GET"),
        _route(f"{API}/site/events", push_route, "POST"),
        _route(f"{API}/site/changes", pull_route, "GET"),
        _route(f"{API}/site/visits/{{visit_id}}", visit_route, "GET"),
    ]
    # And the three a site calls every few seconds go around the middleware and the
    # router altogether (HubApp.__call__); the routes above serve them otherwise.
    app.site_routes = {
        ("GET", f"{API}/site"): site_route,
        ("POST", f"{API}/site/events"): push_route,
        ("GET", f"{API}/site/changes"): pull_route,
    }

    @app.post(
        f"{API}/rdv-sp/{{endpoint}}/webhook",
        tags=["rdv-service-public"],
        summary="A webhook delivery of RDV Service Public (one URL per connected organisation)",
        description="Signed with `X-Lapin-Signature` (hex HMAC-SHA256 of the raw body with "
        "the organisation's secret). A delivery verified and read is kept in the hub's "
        "inbox and answered `received`; it is applied within moments, each appointment's "
        "latest state once (a repeated or older delivery changes nothing). "
        "`pvp-hub admin rdv-sp add` prints the URL.",
        response_model=RdvSpAnswer,
        responses=_errors(401, 413, 422, 503),
    )
    async def rdv_sp_webhook(endpoint: str, request: Request) -> JSONResponse:
        body = await _read_body(request, RDV_SP_MAX_BYTES, "not a delivery of RDV Service Public")
        header = request.headers.get(rdv_signature.HEADER)
        try:
            outcome = await run_in_threadpool(rdv_inbox.receive, engine, endpoint, body, header)
        except rdv_intake.Unauthorized:
            raise HubError(
                401,
                "bad_signature",
                "unknown endpoint, or X-Lapin-Signature is not the signature of this body",
            ) from None
        except PayloadError as exc:
            raise HubError(
                422, "invalid_delivery", "not a delivery of RDV Service Public", exc.problems
            ) from None
        return JSONResponse({"outcome": outcome})

    @app.post(
        f"{API}/site/visits/{{visit_id}}/room",
        tags=["sites"],
        summary="The visit's visio room, made now through the partner's room rule if it "
        "has none yet (the same room on every call)",
        description="An appointment booked with a room keeps it; else the partner's URL "
        "pattern (a Jitsi Meet server) or its room API (the state's Visio). 409 "
        "`no_room_rule` / `room_refused` / `visit_closed` and 502 `room_api_failed`: the "
        "site falls back to its own configured room. Another site's visit, or none: 404.",
        response_model=RoomAnswer,
        responses=_errors(401, 404, 409, 502),
    )
    async def visit_room(
        visit_id: str, request: Request, _credentials: Credentials
    ) -> JSONResponse:
        answer = await run_in_threadpool(rooms.room_for_visit, engine, _bearer(request), visit_id)
        return JSONResponse(answer)

    @app.get(
        f"{API}/agent/visits",
        tags=["agents"],
        summary="Today's visits of the signed-in agent's partner at the agent's sites",
        response_model=AgentVisits,
        responses=_errors(401, 403),
    )
    async def agent_visits(request: Request, _cookie: SessionCookie) -> JSONResponse:
        session = await current_session(request)
        if session is None:
            raise HubError(
                401, "sign_in_required", "sign in first: no live session (signed out or expired)"
            )
        if session.person.kind != "agent":
            raise HubError(403, "agents_only", "this is an agent's view")
        day = await run_in_threadpool(agents.today, engine, session.person.id)
        if day is None:
            raise HubError(401, "sign_in_required", "sign in first: no live session")
        return JSONResponse(visits_json(day, request))

    @app.put(
        f"{API}/site/status",
        tags=["sites"],
        summary="Say the site's queue, its kiosks' health and its app's version (the "
        "latest by its own clock is kept)",
        response_model=StatusResult,
        responses=_errors(400, 401, 413, 415, 422),
        openapi_extra={
            "requestBody": {
                "required": True,
                "content": {
                    "application/json": {"schema": {"$ref": "#/components/schemas/SiteStatus"}}
                },
            }
        },
    )
    async def put_status(request: Request, _credentials: Credentials) -> JSONResponse:
        _require_json(request)
        body = await _read_body(
            request, site_status.max_bytes(limits), "a status is counts and short codes only"
        )
        answer = await run_in_threadpool(
            site_status.put_status, engine, _bearer(request), body, limits
        )
        return JSONResponse(answer)

    def openapi() -> dict[str, Any]:
        if app.openapi_schema:
            return app.openapi_schema
        schema = get_openapi(
            title=app.title,
            version=app.version,
            summary=app.summary,
            routes=[*app.routes, *documented.routes],
        )
        # The push and status bodies are parsed by their handlers (strictly, and a push
        # hashed for idempotency), so their models are added to the document by hand.
        components = schema.setdefault("components", {}).setdefault("schemas", {})
        for model in (PushBatch, SiteStatus):
            body = model.model_json_schema(ref_template="#/components/schemas/{model}")
            components.update(body.pop("$defs", {}))
            components[model.__name__] = body
        for name in ("HTTPValidationError", "ValidationError"):
            components.pop(name, None)  # every 4xx here is an ErrorBody
        # Required in fact (400 without it, with a plain message rather than a 422).
        push = schema["paths"][f"{API}/site/events"]["post"]
        for parameter in push["parameters"]:
            if parameter["name"] == "Idempotency-Key":
                parameter["required"] = True
                parameter["schema"] = {"type": "string", "minLength": 1, "maxLength": 100}
        app.openapi_schema = schema
        return schema

    app.openapi = openapi  # type: ignore[method-assign]
    return app


class SiteAnswer(JSONResponse):
    """A site route's JSON answer, written by orjson: the same JSON as JSONResponse's
    (compact, UTF-8), in a tenth of the time (json.dumps was a tenth of a request's
    Python on the site routes). Where JSONResponse refuses a float that is not finite,
    orjson writes null: none reaches an answer (a push's data never holds one:
    `sync.parse_batch`). A value orjson does not take (an integer beyond 64 bits) goes
    through JSONResponse's own way."""

    def render(self, content: Any) -> bytes:
        try:
            return orjson.dumps(content)
        except orjson.JSONEncodeError:
            return super().render(content)


class HubApp(FastAPI):
    """The FastAPI app, with a short way in for the site routes a site calls every few
    seconds (`site_routes`: method and exact path -> endpoint). FastAPI's middleware stack
    (server errors, telemetry, body limit, exception handlers, exit stack) and Starlette's
    router cost about 25 µs per request on those routes (the framework's part: 55 against
    30 µs, measured with the database stubbed), which use none of it: each endpoint reads
    its request itself. Here such a request goes to its endpoint straight; an exception
    is answered by the app's own handler for it (the same as through the stack: HubError,
    OperationalError...), any other by a plain 500 as Starlette's ServerErrorMiddleware
    gives, and raised on for the server's log. Any other method, path, a root path, or
    FastAPI's telemetry switched on: the whole stack, as before. Whether telemetry is on
    is asked again each second, not at each request (asking reads the environment and
    OpenTelemetry's providers: 10 to 25 µs)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.site_routes: dict[tuple[str, str], Callable[[Request], Awaitable[Response]]] = {}
        self._telemetry_asked = -1.0  # time.monotonic() of the last answer
        self._telemetry_on = True

    def _telemetry_enabled(self) -> bool:
        now = time.monotonic()
        if now - self._telemetry_asked >= 1.0:
            self._telemetry_on = self._native_telemetry.enabled()
            self._telemetry_asked = now
        return self._telemetry_on

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http" and not scope.get("root_path") and not self.root_path:
            endpoint = self.site_routes.get((scope["method"], scope["path"]))
            if endpoint is not None and not self._telemetry_enabled():
                await self._site_request(endpoint, scope, receive, send)
                return
        await super().__call__(scope, receive, send)

    async def _site_request(
        self,
        endpoint: Callable[[Request], Awaitable[Response]],
        scope: Any,
        receive: Any,
        send: Any,
    ) -> None:
        scope["app"] = self
        request = Request(scope, receive)
        try:
            response = await endpoint(request)
        except Exception as exc:
            handler = next(
                (self.exception_handlers[cls] for cls in type(exc).__mro__
                 if cls in self.exception_handlers),
                None,
            )  # fmt: skip
            if handler is None:
                await PlainTextResponse("Internal Server Error", 500)(scope, receive, send)
                raise
            answer = handler(request, exc)
            response = await answer if inspect.isawaitable(answer) else answer
        await response(scope, receive, send)


# What the OpenAPI document says of the site routes, written as FastAPI routes on a
# router that is never mounted: the bare endpoints in `create_app` serve them.
documented = APIRouter()


@documented.get(
    f"{API}/site",
    tags=["sites"],
    summary="The site this token belongs to, and the hub's clock",
    response_model=SiteInfo,
    responses=_errors(401),
)
async def whoami(credentials: Credentials) -> JSONResponse:
    raise NotImplementedError  # served by site_route


@documented.post(
    f"{API}/site/events",
    tags=["sites"],
    summary="Push a batch of the site's visit events (applied exactly once)",
    response_model=PushResult,
    responses=_errors(400, 401, 403, 409, 413, 415, 422),
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/PushBatch"}}},
        }
    },
)
async def push_events(
    credentials: Credentials,
    idempotency_key: Annotated[
        str | None,
        Header(
            alias="Idempotency-Key",
            description="Made by the site for this batch (a UUID), sent again unchanged "
            "on every retry: the same key and body get the first answer again.",
        ),
    ] = None,
) -> JSONResponse:
    raise NotImplementedError  # served by push_route


@documented.get(
    f"{API}/site/changes",
    tags=["sites"],
    summary="Pull what changed for the site since a cursor (directory, permanences, rooms)",
    response_model=PullPage,
    responses=_errors(400, 401, 422),
)
async def pull_changes(
    credentials: Credentials,
    cursor: Annotated[
        str | None, Query(max_length=CURSOR_MAX, description="From the last page")
    ] = None,
    limit: Annotated[int | None, Query(ge=1, le=LIMIT_MAX)] = None,
) -> JSONResponse:
    raise NotImplementedError  # served by pull_route


@documented.get(
    f"{API}/site/visits/{{visit_id}}",
    tags=["sites"],
    summary="One of the site's visits, as the hub has it",
    response_model=VisitView,
    responses=_errors(401, 404, 422),
)
async def get_visit(visit_id: str, credentials: Credentials) -> JSONResponse:
    raise NotImplementedError  # served by visit_route


def _route(path: str, endpoint: Callable[[Request], Awaitable[Response]], method: str) -> Route:
    route = Route(path, endpoint, methods=[method])
    route.methods = {method}  # Starlette adds HEAD to GET; FastAPI's routes did not (405)
    return route


def _bearer(request: Request) -> str | None:
    """The token of an `Authorization: Bearer` header, read as FastAPI's HTTPBearer does."""
    authorization = request.headers.get("authorization")
    if not authorization:
        return None
    scheme, _, token = authorization.partition(" ")
    token = token.strip()
    if not scheme or not token or scheme.lower() != "bearer":
        return None
    return token


class _PullQuery(BaseModel):
    """The pull's query, as FastAPI validated it: only to name what is wrong."""

    cursor: str | None = Field(None, max_length=CURSOR_MAX)
    limit: int | None = Field(None, ge=1, le=LIMIT_MAX)


def _pull_query(request: Request) -> tuple[str | None, int | None]:
    """The pull's cursor and limit; 422 `invalid_request` as FastAPI answered it."""
    query = request.query_params
    cursor, limit = query.get("cursor"), query.get("limit")
    # The usual case without pydantic; anything else is judged by the model.
    if (cursor is None or len(cursor) <= CURSOR_MAX) and (
        limit is None or (limit.isascii() and limit.isdigit() and 1 <= int(limit) <= LIMIT_MAX)
    ):
        return cursor, None if limit is None else int(limit)
    given = {
        name: value for name, value in (("cursor", cursor), ("limit", limit)) if value is not None
    }
    try:
        parsed = _PullQuery.model_validate(given)
    except ValidationError as exc:
        problems = [f"query.{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors()]
        raise HubError(422, "invalid_request", "the request is not valid", problems) from None
    return parsed.cursor, parsed.limit


def _require_json(request: Request) -> None:
    kind = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if kind != "application/json":
        raise HubError(415, "unsupported_media_type", "send the body as application/json")


async def _read_body(
    request: Request, limit: int, hint: str = "send fewer events per push"
) -> bytes:
    """The body, refused with 413 as soon as it is known to be larger than `limit`."""
    too_large = HubError(413, "body_too_large", f"the body is larger than {limit} bytes: {hint}")
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise too_large
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise too_large
        chunks.append(chunk)
    return b"".join(chunks)


# Young objects between two collections of the youngest generation (Python's default:
# 2,000). A request makes thousands of short-lived objects; with the default, the
# collector ran every few requests and its full collections walked the whole heap
# (FastAPI's, SQLAlchemy's and pydantic's objects: a few hundred thousand), pausing every
# request in flight: at 284 requests/s the hub's p95 was 70-96 ms against 8-12 ms with
# this (docs/hub.md). Cycles are still collected, a little later.
GC_YOUNG_THRESHOLD = 50_000


def tune_gc() -> None:
    """Once the app is built: what exists now lives as long as the process, so the
    collector stops walking it (gc.freeze), and it runs less often."""
    gc.collect()
    gc.freeze()
    _young, middle, old = gc.get_threshold()
    gc.set_threshold(GC_YOUNG_THRESHOLD, middle, old)


def _ping(engine: Engine) -> None:
    with engine.connect() as conn:
        conn.execute(text("SELECT 1"))


async def _rdv_sp_loop(engine: Engine) -> None:
    """RDV Service Public's catch-up: at start, then hourly per organisation (one hub
    process each time), so a lost webhook or a hub that was down leaves no site without
    its appointments."""
    while True:
        try:
            await run_in_threadpool(rdv_intake.scheduled_catch_up, engine)
        except Exception:
            log.exception("RDV Service Public catch-up failed; trying again later")
        await asyncio.sleep(RDV_SP_LOOK_EVERY_S)


async def _purge_loop(engine: Engine, papers: documents.Documents) -> None:
    while True:
        try:
            counts = await run_in_threadpool(sync.purge, engine)
            counts |= await run_in_threadpool(people.purge, engine)
            counts |= await run_in_threadpool(documents.purge, engine, papers.clock)
            counts["report_scratch_removed"] = await run_in_threadpool(
                report_store.remove_stale_scratch
            )
            if any(counts.values()):
                log.info("purge: %s", counts)
        except Exception:
            log.exception("purge failed; trying again later")
        await asyncio.sleep(PURGE_EVERY_S)


async def _idle_uploads_loop(papers: documents.Documents) -> None:
    """Uploads this process was taking (their plain chunks held), idle past their time,
    are forgotten even when no chunk comes (a quiet hub): checked twice within that time."""
    while True:
        await asyncio.sleep(papers.idle_upload_seconds / 2)
        papers.forget_idle_uploads()


async def _last_seen_loop(engine: Engine, every: float) -> None:
    while True:
        await asyncio.sleep(every)
        try:
            await run_in_threadpool(LAST_SEEN.flush, engine)
        except Exception:
            log.exception("could not write the sites' last-seen times; trying again later")


def app_from_env() -> FastAPI:
    """uvicorn's factory: the settings come from PVP_HUB_* (set by `pvp-hub serve`)."""
    return create_app(load_hub_config(config_path(None)))
