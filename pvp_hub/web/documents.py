"""The agent's side of a visit's documents: the list with each step, a document shown
inline or downloaded (its first view recorded as "opened"), and the form that sends a
PDF to print at the visit's site. Scope and rules are `documents.Documents`'s; a visit or
document the agent may not see is the plain 404 of a page that does not exist."""

from __future__ import annotations

import functools
import uuid
from datetime import datetime
from typing import Annotated
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse, Response, StreamingResponse
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData, UploadFile
from starlette.formparsers import MultiPartException, MultiPartParser

from pvp_tui.core import i18n
from pvp_tui.core.documents import type_label as core_type_label

from .. import documents, people
from ..errors import HubError
from .render import SECURITY_HEADERS, error_page, language_of, page
from .sessions import csrf_ok, require_agent, same_origin

router = APIRouter(include_in_schema=False)

# The kinds of paper an agent sends to print, in the site's words.
PRINT_TYPES = ("form", "letter", "certificate", "other")

# The PDF's own answer: the browser's PDF viewer needs to run (its plugin and styles),
# nothing else loads, and no other site can frame it. Only for this response.
PDF_HEADERS = {
    **SECURITY_HEADERS,
    "Content-Security-Policy": "default-src 'none'; object-src 'self'; style-src 'unsafe-inline'; "
    "img-src 'self' data:; frame-ancestors 'self'",
    "X-Frame-Options": "SAMEORIGIN",
}


def type_label(code: str) -> str:
    """A document's type in words: the print kinds here, a scan's kinds as the site names
    them (one table, in the site's core), else the code itself made readable."""
    _ = i18n.gettext
    printed = {
        "form": _("Form to sign"),
        "letter": _("Letter"),
        "certificate": _("Certificate"),
        "other": _("Other document"),
    }.get(code)
    if printed is not None:
        return printed
    return core_type_label(code)


def trouble_words(code: str | None) -> str:
    """The printer's trouble as the kiosk's bridge words it (one table, in the bridge)."""
    from kiosk_bridge.printer import EXTRA_REASONS, PRINTER_REASONS

    for _keyword, (known, _severity, fr, en) in [*PRINTER_REASONS.items(), *EXTRA_REASONS.items()]:
        if known == code:
            return fr if i18n.get_language() == "fr" else en
    return code or "?"


def _local(zone: str, moment: datetime) -> str:
    return f"{moment.astimezone(ZoneInfo(zone)):%H:%M}"


def _service(request: Request) -> documents.Documents:
    service: documents.Documents = request.app.state.documents
    return service


def _uuid(text: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(text)
    except ValueError:
        return None


@router.get("/agent/visites/{visit_id}/documents")
async def visit_documents(
    visit_id: str,
    request: Request,
    session: Annotated[people.Session, Depends(require_agent)],
) -> Response:
    return await _visit_page(request, session, visit_id)


async def _visit_page(
    request: Request,
    session: people.Session,
    visit_id: str,
    status: int = 200,
    problem: HubError | None = None,
) -> Response:
    wanted = _uuid(visit_id)
    found = None
    if wanted is not None:
        found = await run_in_threadpool(
            _service(request).visit_documents, session.person.id, wanted
        )
    if found is None:
        return error_page(request, 404)
    return page(
        request,
        "documents.html",
        status,
        session=session,
        visit=found,
        print_types=PRINT_TYPES,
        type_label=type_label,
        local=functools.partial(_local, found.timezone),
        trouble=trouble_words,
        problem=_refusal_words(request, problem) if problem else None,
        sent=request.query_params.get("envoye") == "1",
        enabled=_service(request).settings.key_file is not None,
        max_mb=_service(request).settings.max_bytes // (1024 * 1024),
    )


@router.get("/agent/documents/{document_id}")
async def view_document(
    document_id: str,
    request: Request,
    session: Annotated[people.Session, Depends(require_agent)],
) -> Response:
    wanted = _uuid(document_id)
    found = None
    if wanted is not None:
        try:
            found = await run_in_threadpool(
                _service(request).open_for_agent, session.person.id, wanted
            )
        except documents.DocumentUnreadable:
            return error_page(request, 500, _unreadable_words(request))
    if found is None:
        return error_page(request, 404)
    trace = found.trace
    disposition = "attachment" if request.query_params.get("telecharger") else "inline"
    name = f"{trace.doc_type}-{trace.id.hex[:8]}.pdf"  # no visitor's name, ever
    # Streamed: each sealed piece opened as it goes (a document in chunks is never
    # joined in the hub's memory); every tag was checked before, and a piece failing
    # still cuts the connection (open_for_agent).
    return StreamingResponse(
        found.parts,
        media_type="application/pdf",
        headers={
            **PDF_HEADERS,
            "Content-Disposition": f'{disposition}; filename="{name}"',
            "Content-Length": str(found.size),
        },
    )


@router.post("/agent/visites/{visit_id}/documents")
async def send_document(
    visit_id: str,
    request: Request,
    session: Annotated[people.Session, Depends(require_agent)],
) -> Response:
    service = _service(request)
    wanted = _uuid(visit_id)
    if wanted is None:
        return error_page(request, 404)
    declared = request.headers.get("content-length", "")
    if not declared.isdigit() or int(declared) > service.settings.max_bytes + FORM_EXTRA:
        return await _visit_page(request, session, visit_id, 413, TOO_LARGE)
    try:
        form = await _read_form(request)
    except MultiPartException:
        return await _visit_page(request, session, visit_id, 400, BAD_FORM)
    try:
        if not same_origin(request) or not csrf_ok(session, _text(form.get("csrf"))):
            return error_page(request, 403)
        upload = form.get("fichier")
        doc_type = _text(form.get("type")) or ""
        if not isinstance(upload, UploadFile) or not upload.filename:
            return await _visit_page(request, session, visit_id, 400, NO_FILE)
        data = await upload.read(service.settings.max_bytes + 1)
        try:
            done = await run_in_threadpool(
                service.upload_from_agent, session.person.id, wanted, doc_type, data
            )
        except HubError as refusal:
            if refusal.status >= 500:
                raise
            return await _visit_page(request, session, visit_id, refusal.status, refusal)
    finally:
        await form.close()
    if done is None:
        return error_page(request, 404)
    return RedirectResponse(f"/agent/visites/{wanted}/documents?envoye=1", 303)


def _text(value: object) -> str | None:
    return value if isinstance(value, str) else None


FORM_EXTRA = 64 * 1024  # the form's other fields and its boundaries
TOO_LARGE = HubError(413, "document_too_large", "too large")
BAD_FORM = HubError(400, "bad_form", "send the form again")
NO_FILE = HubError(400, "no_file", "choose a PDF file")


class _InMemoryParser(MultiPartParser):
    """The form's file stays in memory (its size is bounded before): Starlette would
    spill it to a temporary file on disk, in plaintext."""

    spool_max_size = 1 << 30


async def _read_form(request: Request) -> FormData:
    kind = request.headers.get("content-type", "")
    if not kind.startswith("multipart/form-data"):
        raise MultiPartException("not a multipart form")
    parser = _InMemoryParser(
        request.headers, request.stream(), max_files=1, max_fields=10, max_part_size=FORM_EXTRA
    )
    return await parser.parse()


def _unreadable_words(request: Request) -> str:
    with i18n.using_language(language_of(request)):
        return i18n.gettext(
            "This document cannot be opened: the hub's copy is damaged or its key changed. "
            "Ask the site to scan it again; the hub's administrator finds the cause in its log."
        )


def _refusal_words(request: Request, refusal: HubError) -> str:
    """A refusal in the agent's language: the rule's codes, in words."""
    with i18n.using_language(language_of(request)):
        _ = i18n.gettext
        words = {
            "not_a_valid_pdf": _(
                "This file is not a PDF that can be read (or it has a password, or too many "
                "pages): export it to PDF again."
            ),
            "document_too_large": _("This file is too large: send a smaller PDF."),
            "bad_type": _("Choose the document's type in the list."),
            "bad_form": _("The form was not received whole: send it again."),
            "no_file": _("Choose a PDF file to send."),
        }
        return words.get(refusal.code, refusal.message)
