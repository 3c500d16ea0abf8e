"""Traces of the visitor's papers in the store: what was scanned or printed, never the paper.

The bridge keeps the pages (on the kiosk, until the visit ends); the staff PC keeps only
visit events: each document's bridge id, kiosk, type, page count, SHA-256, the visitor's
consent to send it and its states captured -> (sent ->) printed -> purged. No image, no
file name and no visitor name is ever written here.

A document whose visit is closed (done, cancelled, transferred, or closed overnight by
`FrontDesk.start_of_day`) and not yet purged is *pending*: :func:`pending_purges` lists
them, and the kiosk links delete them on the bridge (at once when the visit ends, at the
next connection otherwise) then record `document_purged`.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from typing import Any

from kiosk_bridge.shapes import DocumentInfo

from . import events, hub_uploads
from .clock import Clock
from .errors import PvpError
from .frontdesk import FrontDesk
from .i18n import N_, _
from .kiosks import BridgeError, KioskLinks
from .models import OPEN_STATUSES, Status

log = logging.getLogger("pvp.documents")

# A visit in one of these states no longer needs its papers on the kiosk (a no-show may
# come back to the queue the same day: its papers stay until the bridge's end of day).
# Whether a visit's documents may still change or be sent is another rule: `require_open`.
CLOSED_STATUSES = (Status.DONE, Status.CANCELLED, Status.TRANSFERRED)
DOCUMENT_EVENTS = (
    events.DOCUMENT_CAPTURED,
    events.DOCUMENT_UPDATED,
    events.DOCUMENT_SENT,
    events.DOCUMENT_PRINTED,
    events.DOCUMENT_PURGED,
)

# Labels of the default document types (a site's own types show as written).
TYPE_LABELS = {
    "identity_card": N_("Identity card"),
    "tax_notice": N_("Tax notice"),
    "payslip": N_("Payslip"),
    "proof_of_address": N_("Proof of address"),
    "certificate": N_("Certificate"),
    "other": N_("Other document"),
}


def require_open(status: Status) -> None:
    """The one rule for a visit's documents to be scanned, changed or sent: the visit is
    open (`OPEN_STATUSES`, as the uploader and `FrontDesk._set_status` read it)."""
    if status not in OPEN_STATUSES:
        raise PvpError(
            "visit_closed",
            _(
                "This visit is no longer open (over, no-show, cancelled or transferred): "
                "its documents can no longer change or be sent."
            ),
        )


def require_consent(trace: DocTrace) -> None:
    """The one rule for a document leaving the site: the visitor's consent is recorded."""
    if not trace.consent:
        raise PvpError(
            "no_consent",
            _("The visitor has not agreed to send this document: tick the consent first."),
        )


def require_hub(desk: FrontDesk) -> None:
    """Documents reach the agents through the region's hub: none without a `[hub]`."""
    if desk.config.hub is None:
        raise PvpError(
            "no_hub",
            _("This site has no hub: documents cannot be sent to the agent from here."),
        )


def type_label(doc_type: str) -> str:
    label = TYPE_LABELS.get(doc_type)
    return _(label) if label else doc_type.replace("_", " ")


@dataclass(frozen=True)
class DocTrace:
    """One document of a visit, as the event log knows it."""

    id: str  # the bridge's document id (doc_...)
    visit_id: str
    kiosk: str
    type: str
    pages: int
    sha256: str
    consent: bool = False
    sent: bool = False
    printed: int = 0  # how many print jobs were sent
    purged: bool = False
    captured_at: str = ""

    @property
    def state(self) -> str:
        if self.purged:
            return "purged"
        if self.printed:
            return "printed"
        if self.sent:
            return "sent"
        return "captured"


def fold(rows: Iterable[dict[str, Any]]) -> list[DocTrace]:
    """The documents described by a visit's document events (oldest first)."""
    docs: dict[str, DocTrace] = {}
    for row in rows:
        data = json.loads(row["data"]) if isinstance(row["data"], str) else row["data"]
        doc_id = data.get("document")
        if not doc_id:
            continue
        kind = row["type"]
        current = docs.get(doc_id)
        if kind == events.DOCUMENT_CAPTURED:
            docs[doc_id] = DocTrace(
                id=doc_id,
                visit_id=row["visit_id"],
                kiosk=data.get("kiosk", ""),
                type=data.get("type", "other"),
                pages=int(data.get("pages", 0)),
                sha256=data.get("sha256", ""),
                consent=bool(data.get("consent", False)),
                captured_at=row["at"],
            )
        elif current is None:
            continue
        elif kind == events.DOCUMENT_UPDATED:
            changes = {k: data[k] for k in ("type", "pages", "sha256", "consent") if k in data}
            docs[doc_id] = replace(current, **changes)
        elif kind == events.DOCUMENT_SENT:
            docs[doc_id] = replace(current, sent=True)
        elif kind == events.DOCUMENT_PRINTED:
            docs[doc_id] = replace(current, printed=current.printed + 1)
        elif kind == events.DOCUMENT_PURGED:
            docs[doc_id] = replace(current, purged=True)
    return list(docs.values())


class DocumentLog:
    """Writes and reads the document events of visits (one transaction each)."""

    def __init__(self, desk: FrontDesk, clock: Clock | None = None) -> None:
        self.desk = desk
        self.store = desk.store
        self.clock = clock or desk.clock

    # ----------------------------------------------------------------- reads
    def documents(self, visit_id: str, *, include_purged: bool = False) -> list[DocTrace]:
        rows = self.store.query(_DOCUMENT_ROWS, [visit_id, *DOCUMENT_EVENTS])
        docs = fold(rows)
        return docs if include_purged else [d for d in docs if not d.purged]

    def get(self, visit_id: str, doc_id: str) -> DocTrace | None:
        return next((d for d in self.documents(visit_id) if d.id == doc_id), None)

    def pending_purges(self, kiosk: str | None = None) -> list[DocTrace]:
        """Documents still on a kiosk although their visit is closed."""
        closed = [s.value for s in CLOSED_STATUSES]
        rows = self.store.query(
            f"""SELECT e.visit_id, e.type, e.data, e.at FROM events e
            JOIN visits v ON v.id = e.visit_id
            WHERE e.type IN ({", ".join("?" for _ in DOCUMENT_EVENTS)})
            AND v.status IN ({", ".join("?" for _ in closed)})
            AND e.visit_id IN (SELECT visit_id FROM events WHERE type = ?)
            ORDER BY e.at, e.rowid""",
            [*DOCUMENT_EVENTS, *closed, events.DOCUMENT_CAPTURED],
        )
        docs = [d for d in fold(rows) if not d.purged]
        return [d for d in docs if kiosk is None or d.kiosk == kiosk]

    # ----------------------------------------------------------------- writes
    def captured(
        self, visit_id: str, kiosk: str, document: DocumentInfo, doc_type: str
    ) -> DocTrace:
        """A new scan on the bridge belongs to this visit (consent starts off)."""
        doc_id = str(document["id"])
        data = {
            "document": doc_id,
            "kiosk": kiosk,
            "type": doc_type,
            "pages": int(document["pages"]),
            "sha256": str(document["sha256"]),
            "consent": False,
        }
        self._append(visit_id, events.DOCUMENT_CAPTURED, data, must_be_open=True)
        trace = self.get(visit_id, doc_id)
        assert trace is not None
        return trace

    def updated(self, trace: DocTrace, **changes: Any) -> DocTrace:
        """Type, pages/sha256 (after page edits) or consent changed; no-op when equal."""
        changed = {k: v for k, v in changes.items() if getattr(trace, k) != v}
        if not changed:
            return trace
        also = None
        if changed.get("consent") is False or "sha256" in changed:
            # Consent withdrawn, or the pages changed (what was queued is no longer the
            # document): an upload to the agent stops and the spool's copy goes, at once;
            # a new content may be sent again (`send_to_agent`).
            keep = None if changed.get("consent") is False else changed["sha256"]

            def also(db: Any) -> None:
                hub_uploads.withdraw(db, trace.id, self.clock(), keep)

        self._append(
            trace.visit_id, events.DOCUMENT_UPDATED, {"document": trace.id, **changed}, also=also
        )
        return replace(trace, **changed)

    def sent(self, trace: DocTrace) -> DocTrace:
        require_consent(trace)
        self._append(trace.visit_id, events.DOCUMENT_SENT, {"document": trace.id})
        return replace(trace, sent=True)

    def send_to_agent(
        self, trace: DocTrace, data: bytes, sha256: str | None = None
    ) -> hub_uploads.Upload:
        """Queue the document's bytes (fetched from the kiosk) for the agent: its
        `document_sent` event and the upload's row and bytes in one transaction; the sync
        worker sends them. Refused without consent (read again in the transaction), without
        a hub, for a closed visit, when these bytes are no longer the document's (its pages
        changed while they were fetched), when this content was already sent, or once
        refused or erased (a new scan, or the pages changed, is sent instead). `sha256`:
        the bytes' own, when the fetch computed it (hashed here otherwise)."""
        require_hub(self.desk)
        site = self.desk.config.site.id
        digest = sha256 or hashlib.sha256(data).hexdigest()
        made: list[hub_uploads.Upload] = []

        def check_and_queue(db: Any) -> None:
            latest = next(
                (d for d in fold(_document_rows(db, trace.visit_id)) if d.id == trace.id), None
            )
            if latest is None or latest.purged:
                raise PvpError("document_not_found", _("This document is no longer here."))
            require_consent(latest)
            if latest.sha256 and latest.sha256 != digest:
                # The pages changed (deleted, rotated) while these bytes were fetched: the
                # edit's `updated` had nothing queued to take back, so these old pages
                # must not be queued now either.
                raise PvpError(
                    "document_changed",
                    _("The document changed while it was being sent: press F9 again."),
                )
            state = hub_uploads.state_of(db, trace.id, digest)
            if state in hub_uploads.UNDERWAY:
                raise PvpError(
                    "already_sent", _("This document is already sent or on its way to the agent.")
                )
            if state is not None:  # refused by the hub, or erased (consent withdrawn...)
                raise PvpError(
                    "cannot_send_again",
                    _(
                        "This document can no longer be sent to the agent: the hub refused "
                        "it, or its copy was erased (consent withdrawn). Scan it again to "
                        "send it."
                    ),
                )
            made.append(
                hub_uploads.record(
                    db,
                    site_slug=site,
                    document=trace.id,
                    visit_id=trace.visit_id,
                    doc_type=latest.type,
                    data=data,
                    sha256=digest,
                    now=self.clock(),
                )
            )

        require_consent(trace)
        self._append(
            trace.visit_id,
            events.DOCUMENT_SENT,
            {"document": trace.id},
            must_be_open=True,
            before=check_and_queue,
            # The spool's pages are erased once sent (hub_uploads.erase_sent, which
            # checkpoints then): copied into the database file now, they would be
            # written twice more; the desk does not wait for that copy either.
            checkpoint=False,
        )
        return made[0]

    def printed(
        self, trace: DocTrace, printer: str, copies: int, duplex: bool, job: int | None
    ) -> DocTrace:
        self._append(
            trace.visit_id,
            events.DOCUMENT_PRINTED,
            {
                "document": trace.id,
                "printer": printer,
                "copies": copies,
                "duplex": duplex,
                "pages": trace.pages,
                "job": job,
            },
        )
        return replace(trace, printed=trace.printed + 1)

    def purged(self, trace: DocTrace, reason: str) -> DocTrace:
        """Deleted from the kiosk (by staff, or once the visit closed): an upload to the
        agent not yet whole stops and the spool's copy goes, in the same transaction (the
        hub drops its copy of a scan staff deleted when the event is pushed)."""

        def also(db: Any) -> None:
            hub_uploads.withdraw(db, trace.id, self.clock())

        self._append(
            trace.visit_id,
            events.DOCUMENT_PURGED,
            {"document": trace.id, "kiosk": trace.kiosk, "reason": reason},
            also=also,
        )
        return replace(trace, purged=True)

    def _append(
        self,
        visit_id: str,
        kind: str,
        data: dict[str, Any],
        *,
        must_be_open: bool = False,
        before: Callable[[Any], None] | None = None,
        also: Callable[[Any], None] | None = None,
        checkpoint: bool = True,
    ) -> None:
        """One event in one transaction; `before` may refuse it (raises), `also` writes
        with it; `checkpoint=False`: its commit leaves the WAL's checkpoint to later
        (`Store.transaction`)."""
        with self.store.transaction(checkpoint=checkpoint) as db:
            rows = list(db.query("SELECT status FROM visits WHERE id = ?", [visit_id]))
            if not rows:
                raise PvpError("unknown_visit", _("No such visit."))
            if must_be_open:
                require_open(Status(rows[0]["status"]))
            if before is not None:
                before(db)
            self.desk.append_event(db, visit_id, kind, self.clock(), data)
            if also is not None:
                also(db)


_DOCUMENT_ROWS = f"""SELECT visit_id, type, data, at FROM events
    WHERE visit_id = ? AND type IN ({", ".join("?" for _ in DOCUMENT_EVENTS)})
    ORDER BY at, rowid"""


def _document_rows(db: Any, visit_id: str) -> list[dict[str, Any]]:
    return list(db.query(_DOCUMENT_ROWS, [visit_id, *DOCUMENT_EVENTS]))


async def queue_for_agent(doc_log: DocumentLog, link: Any, trace: DocTrace) -> hub_uploads.Upload:
    """The desk's "send to the agent": the consent rule first (before any transfer), the
    PDF fetched from the kiosk that holds it (sha256 checked), then queued for the sync
    worker (`DocumentLog.send_to_agent`, in a thread). PvpError / BridgeError say why not."""
    require_consent(trace)
    require_hub(doc_log.desk)
    visit = await asyncio.to_thread(doc_log.desk.get, trace.visit_id)
    require_open(visit.status)  # before fetching the PDF; checked again when queued
    fetched = await link.fetch_document(trace.id)
    return await asyncio.to_thread(doc_log.send_to_agent, trace, fetched.data, fetched.sha256)


async def purge_closed(doc_log: DocumentLog, links: KioskLinks) -> list[DocTrace]:
    """Delete from the kiosks the documents of closed visits; returns those purged.

    A kiosk that is down keeps its documents pending: this runs again when it comes
    back (and the bridge's own retention deletes them at the end of the day anyway).
    """
    pending = await asyncio.to_thread(doc_log.pending_purges)
    done: list[DocTrace] = []
    for doc in pending:
        link = links.links.get(doc.kiosk)
        if link is None or not link.state.online:
            continue
        reason = "visit_closed"
        try:
            await link.request("documents.delete", {"document": doc.id}, timeout=15)
        except BridgeError as err:
            if err.code != "document_not_found":
                log.info("document %s not deleted yet: %s", doc.id, err.code)
                continue
            reason = "gone"  # already deleted (retention, another pvp)
        done.append(await asyncio.to_thread(doc_log.purged, doc, reason))
    return done
