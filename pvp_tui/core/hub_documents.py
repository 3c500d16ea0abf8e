"""Documents an agent sent to print at this site (docs/sync.md, "Documents to print").

The hub names each one in the site's pull feed (kind "document"); `save_item` records it
in the pull's transaction. Then the sync worker, in its own thread (`settle`): downloads
its bytes (`…/{id}/content`, size and sha256 checked against the feed's), keeps them in
the store (`hub_document_content`, apart from the trace, never for a closed visit, and
erased with secure_delete in the transaction that closes the visit: `erase_visit`;
`erase_closed` sweeps what a crash left), and tells the hub `received`; once the desk printed it
(`mark_printed`, `mark_print_failed`), `printed` or `print_failed` with the bridge's code.
Every receipt is retried until the hub answers 2xx; the hub keeps each step's first time,
so sending one twice changes nothing.

No download or HTTP inside a transaction; no visitor name anywhere (the notice names the
ticket).
"""

from __future__ import annotations

import hashlib
import logging
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import httpx

from . import spools
from .clock import to_iso
from .models import OPEN_STATUSES
from .store import Reader, Store, Writer

if TYPE_CHECKING:
    from .sync import SyncWorker

log = logging.getLogger(__name__)

KIND = "document"
CONTENT_PATH = re.compile(r"^/api/v1/site/documents/[0-9a-f-]{36}/content$")
SHA256 = re.compile(r"^[0-9a-f]{64}$")
REASON = re.compile(r"^[a-z0-9_]{1,40}$")  # the hub's rule for a print_failed reason
MAX_BYTES = 64 * 1024 * 1024  # above any hub's [documents] max_bytes (30 MB by default)
MAX_TRIES = 20  # downloads tried before the document is left as failed (the hub keeps it)


@dataclass(frozen=True)
class HubDocument:
    """One document to print, as the desk sees it (no bytes)."""

    id: str
    visit_id: str
    ticket: str | None
    doc_type: str
    pages: int | None
    size: int
    state: str  # pending, received, printed, print_failed, gone, erased
    received_at: str | None
    printed_at: str | None
    print_error: str | None

    @property
    def printable(self) -> bool:
        return self.state in ("received", "printed", "print_failed")


def save_item(db: Writer, item_id: str, data: Any, now: datetime) -> bool:
    """Record one `document` item of the pull feed (in the page's transaction); True when
    it is new. A deleted item (the hub dropped its bytes) leaves a copy already received
    alone; one not yet downloaded becomes `gone`."""
    if not isinstance(data, dict):
        db.execute(
            "UPDATE hub_documents SET state = 'gone', updated_at = ? WHERE id = ? "
            "AND state = 'pending'",
            [to_iso(now), item_id],
        )
        return False
    visit_id, sha, path = data.get("visit_id"), data.get("sha256"), data.get("content")
    size, pages = data.get("size"), data.get("pages")
    if not (
        isinstance(visit_id, str)
        and isinstance(sha, str)
        and SHA256.match(sha)
        and isinstance(path, str)
        and CONTENT_PATH.match(path)
        and isinstance(size, int)
        and 0 < size <= MAX_BYTES
    ):
        log.warning("pull: document %s not understood; skipped", item_id)
        return False
    added = db.execute(
        """INSERT INTO hub_documents (id, visit_id, doc_type, pages, size, sha256,
               content_path, sent_at, updated_at)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO NOTHING""",
        [
            item_id,
            visit_id,
            str(data.get("type") or "other")[:40],
            pages if isinstance(pages, int) else None,
            size,
            sha,
            path,
            data.get("sent_at") if isinstance(data.get("sent_at"), str) else None,
            to_iso(now),
        ],
    )
    return added.rowcount > 0


# ------------------------------------------------------------------- the desk's side
_COLUMNS = """d.id, d.visit_id, v.ticket, d.doc_type, d.pages, d.size, d.state,
    d.received_at, d.printed_at, d.print_error"""


def _doc(row: Any) -> HubDocument:
    return HubDocument(*row)


def of_visit(store: Store, visit_id: str) -> list[HubDocument]:
    with store.snapshot() as db:
        rows = db.execute(
            f"SELECT {_COLUMNS} FROM hub_documents d LEFT JOIN visits v ON v.id = d.visit_id"
            " WHERE d.visit_id = ? ORDER BY d.sent_at, d.id",
            [visit_id],
        ).fetchall()
    return [_doc(row) for row in rows]


def received(store: Store) -> list[HubDocument]:
    """Every document whose bytes are here, not yet printed (the queue screen's notice)."""
    with store.snapshot() as db:
        rows = db.execute(
            f"SELECT {_COLUMNS} FROM hub_documents d LEFT JOIN visits v ON v.id = d.visit_id"
            " WHERE d.state IN ('received', 'print_failed') ORDER BY d.received_at"
        ).fetchall()
    return [_doc(row) for row in rows]


def content(store: Store, document_id: str) -> bytes | None:
    rows = store.query(
        "SELECT content FROM hub_document_content WHERE document_id = ?", [document_id]
    )
    return bytes(rows[0]["content"]) if rows else None


def receipts_due(store: Store) -> bool:
    """Whether a receipt waits for the hub (the sync worker's look, twice a second)."""
    return bool(store.query("SELECT 1 FROM hub_documents WHERE receipt_due IS NOT NULL LIMIT 1"))


def mark_printed(store: Store, document_id: str, now: datetime | None = None) -> None:
    """The kiosk printed it: the hub is told `printed` (by the worker, retried)."""
    at = to_iso(now or datetime.now(UTC))
    with store.transaction() as db:
        db.execute(
            """UPDATE hub_documents SET state = 'printed', printed_at = coalesce(printed_at, ?),
                   print_error = NULL, receipt_due = 'printed', receipt_reason = NULL,
                   updated_at = ?
               WHERE id = ? AND state IN ('received', 'printed', 'print_failed')""",
            [at, at, document_id],
        )


def mark_print_failed(
    store: Store, document_id: str, reason: str, now: datetime | None = None
) -> None:
    """The kiosk could not print it: the hub is told `print_failed` with the bridge's code
    (a code the hub would refuse becomes `printer_error`). A printed one stays printed."""
    code = reason.lower() if REASON.match(reason.lower()) else "printer_error"
    at = to_iso(now or datetime.now(UTC))
    with store.transaction() as db:
        db.execute(
            """UPDATE hub_documents SET state = 'print_failed', print_error = ?,
                   receipt_due = 'print_failed', receipt_reason = ?, updated_at = ?
               WHERE id = ? AND state IN ('received', 'print_failed')""",
            [code, code, at, document_id],
        )


def _closed_content_sql(open_statuses: tuple[str, ...]) -> str:
    return spools.closed_sql("hub_document_content", "document_id", "hub_documents", open_statuses)


def has_closed(db: Reader, open_statuses: tuple[str, ...]) -> bool:
    """Whether a closed (or unknown) visit still has a document's bytes here."""
    return spools.has_closed(db, _closed_content_sql(open_statuses), open_statuses)


def erase_closed(db: Writer, open_statuses: tuple[str, ...]) -> int:
    """Erase the bytes of the documents of closed or unknown visits (in the caller's transaction,
    whose store deletes with secure_delete); the trace stays. Returns how many. A visit
    closing erases its own at once (`erase_visit`): this sweeps what a crash left."""
    sql = _closed_content_sql(open_statuses)
    return _erase(db, [row[0] for row in db.execute(sql, list(open_statuses)).fetchall()])


def erase_visit(db: Writer, visit_id: str) -> int:
    """The visit closed (FrontDesk._set_status, in its transaction): the bytes of the
    documents the agent sent it are erased, the trace stays. Returns how many."""
    ids = [
        row[0]
        for row in db.execute(
            "SELECT c.document_id FROM hub_document_content c JOIN hub_documents d"
            " ON d.id = c.document_id WHERE d.visit_id = ?",
            [visit_id],
        )
    ]
    return _erase(db, ids)


def _erase(db: Writer, ids: list[str]) -> int:
    for document_id in ids:
        db.execute("DELETE FROM hub_document_content WHERE document_id = ?", [document_id])
        db.execute(
            "UPDATE hub_documents SET state = CASE WHEN state = 'printed' THEN state"
            " ELSE 'erased' END WHERE id = ?",
            [document_id],
        )
    return len(ids)


# ----------------------------------------------------------------- the worker's side
@dataclass
class Settled:
    downloaded: int = 0
    receipts: int = 0
    error: str | None = None


def settle(worker: SyncWorker) -> Settled:
    """Download what the feed named and send the receipts due (the worker's thread)."""
    done = Settled()
    store = worker.store
    pending = store.query(
        "SELECT id, size, sha256, content_path FROM hub_documents"
        " WHERE state = 'pending' AND tries < ? ORDER BY sent_at",
        [MAX_TRIES],
    )
    for row in pending:
        problem = _download(worker, row)
        if problem is None:
            done.downloaded += 1
        else:
            done.error = problem
            log.info("document %s not downloaded: %s", row["id"], problem)
    due = store.query(
        "SELECT id, receipt_due, receipt_reason FROM hub_documents WHERE receipt_due IS NOT NULL"
    )
    for row in due:
        problem = _send_receipt(worker, row["id"], row["receipt_due"], row["receipt_reason"])
        if problem is None:
            done.receipts += 1
            with store.transaction() as db:  # only if no later step came meanwhile
                db.execute(
                    "UPDATE hub_documents SET receipt_due = NULL, receipt_reason = NULL"
                    " WHERE id = ? AND receipt_due = ? AND receipt_reason IS ?",
                    [row["id"], row["receipt_due"], row["receipt_reason"]],
                )
        else:
            done.error = problem
            log.info("receipt %s for %s not sent: %s", row["receipt_due"], row["id"], problem)
    return done


def _headers(worker: SyncWorker) -> dict[str, str]:
    return {"Authorization": f"Bearer {worker._token()}"}


def _download(worker: SyncWorker, row: dict[str, Any]) -> str | None:
    """One document's bytes, checked and stored; the problem in words, else None."""
    store = worker.store
    try:
        response = worker.client.get(row["content_path"], headers=_headers(worker))
    except httpx.HTTPError as exc:
        return f"hub unreachable ({type(exc).__name__})"
    now = to_iso(datetime.now(UTC))
    if response.status_code in (404, 410):
        with store.transaction() as db:
            db.execute(
                "UPDATE hub_documents SET state = 'gone', error = ?, updated_at = ?"
                " WHERE id = ? AND state = 'pending'",
                [f"HTTP {response.status_code}", now, row["id"]],
            )
        return f"gone from the hub (HTTP {response.status_code})"
    data = response.content
    problem = None
    if response.status_code != 200:
        problem = f"HTTP {response.status_code}"
    elif len(data) != row["size"] or hashlib.sha256(data).hexdigest() != row["sha256"]:
        problem = "size or sha256 differs from the feed's"
    if problem is not None:
        with store.transaction() as db:
            db.execute(
                "UPDATE hub_documents SET tries = tries + 1, error = ?, updated_at = ?"
                " WHERE id = ?",
                [problem, now, row["id"]],
            )
        return problem
    keep(store, row["id"], data)
    return None


def keep(store: Store, document_id: str, data: bytes, now: datetime | None = None) -> None:
    """A pending document's checked bytes, kept on the visit while it is open (`spools`:
    none for a closed or unknown visit, whose trace says `erased`); `received` is owed to
    the hub either way (the bytes came)."""
    at = to_iso(now or datetime.now(UTC))
    with store.transaction() as db:
        kept = spools.visit_open(db, "hub_documents", document_id, OPEN_STATUSES)
        if kept:
            db.execute(
                "INSERT INTO hub_document_content (document_id, content) VALUES (?, ?)"
                " ON CONFLICT (document_id) DO NOTHING",
                [document_id, data],
            )
        db.execute(
            """UPDATE hub_documents SET state = ?, received_at = ?, error = NULL,
                   receipt_due = coalesce(receipt_due, 'received'), updated_at = ?
               WHERE id = ? AND state = 'pending'""",
            ["received" if kept else "erased", at, at, document_id],
        )


def _send_receipt(
    worker: SyncWorker, document_id: str, step: str, reason: str | None
) -> str | None:
    body: dict[str, Any] = {"step": step} | ({"reason": reason} if reason else {})
    try:
        response = worker.client.post(
            f"/api/v1/site/documents/{document_id}/receipts", json=body, headers=_headers(worker)
        )
    except httpx.HTTPError as exc:
        return f"hub unreachable ({type(exc).__name__})"
    if response.status_code == 404:
        # The hub no longer has it (another hub restored...): nothing left to tell.
        return None
    if response.status_code != 200:
        return f"HTTP {response.status_code}"
    return None
