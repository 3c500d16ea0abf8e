"""The site's document routes under /api/v1/site: send a scanned document to the agent in
resumable chunks, fetch a document to print, say what became of it. The rules are
`documents.Documents`'s (app.state.documents); handlers only read the request."""

from __future__ import annotations

import uuid
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import JSONResponse, Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from .documents import CHUNK_MAX, ERASE_REASONS, Documents
from .errors import HubError
from .wire import ErrorBody

API = "/api/v1"
bearer = HTTPBearer(auto_error=False, description="The site's token (pvp-hub admin token issue)")
Credentials = Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]
router = APIRouter(tags=["documents"])


def _errors(*codes: int) -> dict[int | str, dict[str, Any]]:
    return {code: {"model": ErrorBody} for code in codes}


class DocumentStart(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: uuid.UUID = Field(description="The site's own id of the document (the same on retries)")
    visit_id: uuid.UUID = Field(description="One of the site's visits, pushed before")
    type: str = Field(pattern=r"^[a-z0-9_]{1,40}$", description="The document's type code")
    size: int = Field(ge=1, description="Bytes of the PDF")
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$", description="Of the whole PDF (lowercase hex)")
    consent: bool = Field(description="The visitor agreed to send it (must be true)")


class DocumentState(BaseModel):
    id: str
    visit_id: str
    direction: Literal["to_agent", "to_site"]
    type: str
    size: int
    sha256: str
    state: Literal["uploading", "ready", "deleted"]
    received_bytes: int = Field(description="Bytes the hub holds: where the next chunk starts")
    chunk_max: int = Field(description="The largest chunk the hub takes")
    pages: int | None
    stripped: list[str] = Field(description="Active content removed (javascript, launch, ...)")
    opened_at: str | None = Field(description="When the agent first viewed it")
    received_at: str | None
    printed_at: str | None
    print_failed_at: str | None
    print_error: str | None
    deleted_reason: str | None


class Receipt(BaseModel):
    model_config = ConfigDict(extra="forbid")

    step: Literal["received", "printed", "print_failed"]
    reason: str | None = Field(
        None, description="With print_failed: the printer's trouble as a code (out_of_paper)"
    )


class Erased(BaseModel):
    erased: int


def _service(request: Request) -> Documents:
    service: Documents = request.app.state.documents
    return service


def _token(credentials: HTTPAuthorizationCredentials | None) -> str | None:
    return credentials.credentials if credentials is not None else None


@router.post(
    f"{API}/site/documents",
    summary="Announce a document to send to the agent (then PUT its chunks)",
    description="Idempotent: the same id with the same facts answers 200 with its state "
    "(received_bytes says where to resume). Refused without the visitor's consent.",
    status_code=201,
    response_model=DocumentState,
    responses=_errors(400, 401, 404, 409, 413, 422, 503),
)
async def start_document(
    body: DocumentStart, request: Request, credentials: Credentials
) -> JSONResponse:
    status, answer = await run_in_threadpool(
        _service(request).start_upload, _token(credentials), body.model_dump()
    )
    return JSONResponse(answer, status)


@router.put(
    f"{API}/site/documents/{{document_id}}/chunks/{{start}}",
    summary="Send the document's bytes from `start` (where the hub's copy ends)",
    description="A chunk the hub already holds is a no-op; another start than "
    "received_bytes is 409. The last chunk completes the document: its sha256 is checked "
    "(422 sha256_mismatch: the hub dropped the bytes, send again from 0), then its content "
    "(422 not_a_valid_pdf).",
    response_model=DocumentState,
    responses=_errors(401, 404, 409, 410, 413, 422, 503),
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "application/octet-stream": {"schema": {"type": "string", "format": "binary"}}
            },
        }
    },
)
async def put_chunk(
    document_id: uuid.UUID,
    start: Annotated[int, Path(ge=0)],
    request: Request,
    credentials: Credentials,
) -> JSONResponse:
    data = await _read_chunk(request)
    answer = await run_in_threadpool(
        _service(request).put_chunk, _token(credentials), document_id, start, data
    )
    return JSONResponse(answer)


@router.get(
    f"{API}/site/documents/{{document_id}}",
    summary="Where one of the site's documents stands (bytes received, opened, printed)",
    response_model=DocumentState,
    responses=_errors(401, 404, 422),
)
async def get_document(
    document_id: uuid.UUID, request: Request, credentials: Credentials
) -> JSONResponse:
    answer = await run_in_threadpool(_service(request).site_view, _token(credentials), document_id)
    return JSONResponse(answer)


@router.get(
    f"{API}/site/documents/{{document_id}}/content",
    summary="The PDF an agent sent to print (named in the pull feed, kind document)",
    response_class=Response,
    responses={200: {"content": {"application/pdf": {}}}, **_errors(401, 404, 410, 422, 503)},
)
async def document_content(
    document_id: uuid.UUID, request: Request, credentials: Credentials
) -> Response:
    data = await run_in_threadpool(
        _service(request).content_for_site, _token(credentials), document_id
    )
    return Response(data, media_type="application/pdf", headers={"Cache-Control": "no-store"})


@router.post(
    f"{API}/site/documents/{{document_id}}/receipts",
    summary="Say a document to print was received, printed, or failed to print",
    response_model=DocumentState,
    responses=_errors(400, 401, 404, 422),
)
async def post_receipt(
    document_id: uuid.UUID, body: Receipt, request: Request, credentials: Credentials
) -> JSONResponse:
    answer = await run_in_threadpool(
        _service(request).receipt, _token(credentials), document_id, body.step, body.reason
    )
    return JSONResponse(answer)


@router.delete(
    f"{API}/site/visits/{{visit_id}}/documents",
    summary="Delete the bytes of a visit's documents at once (the visitor withdrew consent)",
    response_model=Erased,
    responses=_errors(401, 404, 422),
)
async def erase_visit_documents(
    visit_id: uuid.UUID,
    request: Request,
    credentials: Credentials,
    reason: Annotated[
        Literal["consent_withdrawn", "visit_closed"], Query(description=str(ERASE_REASONS))
    ] = "consent_withdrawn",
) -> JSONResponse:
    answer = await run_in_threadpool(
        _service(request).erase_visit, _token(credentials), visit_id, reason
    )
    return JSONResponse(answer)


async def _read_chunk(request: Request) -> bytes:
    too_large = HubError(
        413, "chunk_too_large", f"a chunk is at most {CHUNK_MAX} bytes: send smaller ones"
    )
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > CHUNK_MAX:
        raise too_large
    parts, size = [], 0
    async for part in request.stream():
        size += len(part)
        if size > CHUNK_MAX:
            raise too_large
        parts.append(part)
    return b"".join(parts)
