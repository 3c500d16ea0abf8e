"""Papers between a site and its partner's agents, both ways (docs/hub.md, "Documents").

A site sends a visit's scanned document to the agent in chunks (resumable, the sha256
checked end to end once whole); an agent sends a PDF to print to the visit's site, which
learns of it in its pull feed (kind "document") and says "received", then "printed" or
"print_failed". Every document is checked by content (`check_pdf`), encrypted at rest
(`Sealer`), and its bytes are dropped by `purge` after its last receipt (or at once when
the visitor withdraws consent); the row stays as the trace, without them.

No web framework here: `documents_api` (the site's routes) and `web.documents` (the
agent's pages) call these functions from the thread pool.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import io
import logging
import os
import re
import threading
import uuid
import weakref
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from pathlib import Path
from time import monotonic
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Connection, Engine, and_, func, select, update

from pvp_common.document_ids import PURGED_BY_STAFF, site_document_id
from pvp_tui.core import events as event_types

from .agents import _agent_is
from .auth import SiteIdentity, authenticate_site
from .config import DocumentSettings
from .database import is_postgresql, read_transaction, write_transaction
from .directory import record_change
from .errors import HubError
from .schema import agents, document_chunks, documents, partners, sites, visits

Clock = Callable[[], datetime]
log = logging.getLogger("pvp_hub.documents")

KIND = "document"  # the change log's kind, and the pull feed's
TO_AGENT = "to_agent"  # scanned at the kiosk, for the agent
TO_SITE = "to_site"  # from the agent, to print at the kiosk
CHUNK_MAX = 4 * 1024 * 1024  # one PUT of an upload
KEEP_AT_MOST = timedelta(days=7)
STEPS = ("received", "printed", "print_failed")
REASON = re.compile(r"^[a-z0-9_]{1,40}$")  # a printer's trouble, as a code (no free text)
TYPE = re.compile(r"^[a-z0-9_]{1,40}$")
ERASE_REASONS = ("consent_withdrawn", "visit_closed")
KEY_BYTES = 32
_FORMAT = b"\x01"  # the sealed blob's layout: version, nonce (12), ciphertext + tag
SEALED_OVERHEAD = 1 + 12 + 16  # a sealed blob's bytes beyond its clear text


def _now() -> datetime:
    return datetime.now(UTC)


def end_of_day(now: datetime, zone: str) -> datetime:
    """The next midnight at the site (UTC): a document with no receipt yet is kept until
    then, so by evening no paper of the day is stored."""
    tz = ZoneInfo(zone)
    return datetime.combine(now.astimezone(tz).date() + timedelta(days=1), time(0), tz).astimezone(
        UTC
    )


# ------------------------------------------------------------------------- encryption
class DocumentKeyError(ValueError):
    """The key file is missing or not 32 random bytes in base64."""


def load_key(path: Path) -> bytes:
    """The documents' key from `path`: 32 bytes, base64 (`head -c 32 /dev/urandom | base64`)."""
    try:
        text = path.read_text("ascii").strip()
    except (OSError, UnicodeDecodeError) as exc:
        raise DocumentKeyError(f"documents.key_file: cannot read {path} ({exc})") from None
    try:
        key = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        key = b""
    if len(key) != KEY_BYTES:
        raise DocumentKeyError(
            f"documents.key_file: {path} must hold {KEY_BYTES} random bytes in base64 "
            "(make one with: head -c 32 /dev/urandom | base64 > FILE; chmod 600 FILE)"
        )
    return key


class Sealer:
    """AES-256-GCM with a fresh nonce per blob; the document's id (and a chunk's first
    byte) as associated data, so a blob moved to another row does not open."""

    def __init__(self, key: bytes) -> None:
        from cryptography.hazmat.primitives.ciphers.aead import AESGCM

        self._aead = AESGCM(key)

    @staticmethod
    def _aad(document_id: uuid.UUID, start: int | None) -> bytes:
        return document_id.bytes if start is None else document_id.bytes + b"@%d" % start

    def seal(self, document_id: uuid.UUID, data: bytes, start: int | None = None) -> bytes:
        nonce = os.urandom(12)
        return _FORMAT + nonce + self._aead.encrypt(nonce, data, self._aad(document_id, start))

    def open(self, document_id: uuid.UUID, blob: bytes, start: int | None = None) -> bytes:
        if blob[:1] != _FORMAT:
            raise ValueError("unknown sealed format")
        return self._aead.decrypt(blob[1:13], blob[13:], self._aad(document_id, start))


def _nonce(sealed: bytes) -> bytes:
    """A sealed blob's nonce: fresh for every blob, so it tells one stored chunk from
    another stored at the same place later (after the chunks were dropped)."""
    return sealed[1:13]


# ------------------------------------------------------------- uploads in this process
@dataclass
class Running:
    """An upload as this process took it, chunk after chunk from byte 0: the sha256 so
    far, its plain chunks (for the PDF check) and the nonce of each chunk it stored."""

    sha: Any
    parts: list[bytes]  # the plain chunks, in order
    nonces: list[tuple[int, bytes]]  # (first byte, nonce), in order
    end: int  # where the next chunk must start to follow on; also the bytes held
    touched: float  # monotonic() at the last chunk


class Uploads:
    """The uploads whose chunks come to this process in order from byte 0: their running
    sha256 and their plain chunks, so the last chunk's check needs neither reading the
    chunks back, nor opening them, nor hashing the whole again. Only a shortcut: the
    chunks stored are the truth. A chunk that does not follow the one before (it came to
    another hub process, a restart, a retry) forgets the upload, and `_complete` reads
    the chunks back, opens and hashes them; it also compares the nonces of the chunks
    stored with those kept here, so a running upload never vouches for other bytes.

    Why the plain chunks are kept: the PDF check needs the whole file in clear in memory
    at the last chunk anyway, so holding its chunks for the seconds an upload lasts adds
    no exposure beyond that, and it saves reading the file back and opening it (10-20 ms
    of the last chunk of a 6 MB scan on SQLite on a shared 2-core machine, more under
    load, on the path a visitor waits for). What bounds it, so no page stays in the heap
    once the upload is over:
    - `take` (the last chunk's `_complete`) removes the upload: its bytes leave here for
      the check and go with it;
    - `_drop` (consent withdrawn, pages changed, visit erased, purge) forgets the
      documents in every `Uploads` of the process (`_forget`);
    - an upload without a chunk for `max_idle` seconds is forgotten: checked at each
      `add` and `take` of any upload, and by the hub's timer every `max_idle / 2`
      (`trim`), so even on a quiet hub an abandoned upload (or one whose last chunk went
      to another hub process) goes within `max_idle` (plus half of it at most);
    - at most `max_bytes` held and `max_uploads` uploads at once: beyond, the oldest (the
      longest without a chunk) are forgotten first, and their last chunk reads back."""

    def __init__(
        self, max_bytes: int = 64 * 1024 * 1024, max_uploads: int = 64, max_idle: float = 120.0
    ) -> None:
        self.max_bytes = max_bytes
        self.max_uploads = max_uploads
        self.max_idle = max_idle
        self._running: dict[uuid.UUID, Running] = {}
        self._lock = threading.Lock()
        with _LIVE_LOCK:
            _LIVE.add(self)

    def add(self, document_id: uuid.UUID, start: int, data: bytes, nonce: bytes) -> None:
        """A chunk stored (committed) by this process: hashed, and kept until `take`."""
        now = monotonic()
        with self._lock:
            running = self._running.pop(document_id, None)
            if start == 0:
                running = Running(hashlib.sha256(), [], [], 0, now)
            if running is None or running.end != start:
                return  # not from the start, or after a chunk taken elsewhere: forgotten
            running.sha.update(data)
            running.parts.append(data)
            running.nonces.append((start, nonce))
            running.end, running.touched = start + len(data), now
            self._running[document_id] = running  # the newest last
            self._trim(now)

    def take(self, document_id: uuid.UUID) -> Running | None:
        """The upload, removed from here (its bytes with it)."""
        with self._lock:
            self._trim(monotonic())
            return self._running.pop(document_id, None)

    def forget(self, ids: Iterable[uuid.UUID]) -> None:
        with self._lock:
            for document_id in ids:
                self._running.pop(document_id, None)

    def trim(self) -> None:
        """Forget the uploads idle for `max_idle` seconds (the hub's timer calls this)."""
        with self._lock:
            self._trim(monotonic())

    def held(self) -> int:
        """The plain bytes held, all uploads together."""
        with self._lock:
            return sum(running.end for running in self._running.values())

    def __len__(self) -> int:
        return len(self._running)

    def _trim(self, now: float) -> None:
        held = sum(running.end for running in self._running.values())
        for document_id, running in list(self._running.items()):  # the oldest first
            if (
                held <= self.max_bytes
                and len(self._running) <= self.max_uploads
                and now - running.touched <= self.max_idle
            ):
                break
            del self._running[document_id]
            held -= running.end


# Every `Uploads` of this process (one per `Documents`): a document's chunks dropped on any
# connection of this process are forgotten by all (`_drop`).
_LIVE: weakref.WeakSet[Uploads] = weakref.WeakSet()
_LIVE_LOCK = threading.Lock()


def _forget(ids: list[uuid.UUID]) -> None:
    with _LIVE_LOCK:
        live = list(_LIVE)
    for uploads in live:
        uploads.forget(ids)


# ---------------------------------------------------------------------- content checks
@dataclass(frozen=True)
class CheckedPdf:
    data: bytes  # as received, or re-written without its active content
    pages: int
    stripped: tuple[str, ...]  # what was removed: javascript, launch, open_action, ...


# Actions that run something or reach outside the document: neutralised wherever found.
_ACTIVE = {
    "/JavaScript": "javascript",
    "/Launch": "launch",
    "/SubmitForm": "submit_form",
    "/ImportData": "import_data",
    "/GoToE": "embedded_goto",
    "/GoToR": "remote_goto",
    "/URI": "uri",
    "/RichMediaExecute": "rich_media",
}


def refused(message: str) -> HubError:
    return HubError(422, "not_a_valid_pdf", message)


def check_pdf(data: bytes, max_pages: int) -> CheckedPdf:
    """`data` as a PDF fit to show and print, or a 422 that says what is wrong.

    Active content is stripped, not refused: forms agents send (Cerfa) often carry
    JavaScript for their fields, which printing and reading never need. A damaged PDF
    may open and still break anywhere after (pages, names or keys that are not UTF-8,
    a save): what the parser raises on a bad file (`_file_errors`), in any step, is that
    refusal, never a 500. Anything else (MemoryError, RecursionError, a bug of ours) is
    the hub's trouble, not the file's: it propagates (a 5xx, which the site retries)
    instead of a refusal that drops the chunks and makes staff scan the paper again."""
    import pikepdf

    if not data.lstrip(b"\x00\t\n\r ")[:5] == b"%PDF-":
        raise refused("this is not a PDF: only PDF documents are accepted (export or scan to PDF)")
    try:
        return _checked(data, max_pages)
    except HubError:
        raise
    except pikepdf.PasswordError:
        raise refused("this PDF is protected by a password: send it without one") from None
    except _file_errors() as exc:
        if not _file_at_fault(exc):
            raise
        raise refused(
            "this is not a valid PDF: it cannot be read (damaged or incomplete); "
            "export or scan it again"
        ) from None


def _file_errors() -> tuple[type[Exception], ...]:
    """What reading a damaged file raises: the parser's own errors (qpdf's, a stream
    that does not decode...) and the shapes its objects take on bad input, found by
    fuzzing (a name or key not in UTF-8, a key missing, an object of another kind)."""
    import pikepdf

    return (pikepdf.PikepdfError, UnicodeDecodeError, KeyError, TypeError, ValueError)


def _file_at_fault(exc: BaseException) -> bool:
    """A `_file_errors` that is not the hub's own trouble (pikepdf missing a module)."""
    import pikepdf

    return not isinstance(exc, pikepdf.DependencyError)


def _checked(data: bytes, max_pages: int) -> CheckedPdf:
    import pikepdf

    try:
        pdf = pikepdf.open(io.BytesIO(data))
    except _file_errors() as exc:
        if isinstance(exc, pikepdf.PasswordError) or not _file_at_fault(exc):
            raise
        raise refused(f"this is not a valid PDF (damaged or incomplete): {exc}"[:300]) from None
    with pdf:
        pages = len(pdf.pages)
        if pages == 0:
            raise refused("this PDF has no page")
        if pages > max_pages:
            raise refused(f"this PDF has {pages} pages: at most {max_pages} are accepted")
        stripped = _strip_active_content(pdf)
        if not stripped:
            return CheckedPdf(data, pages, ())
        out = io.BytesIO()
        pdf.save(out)
        return CheckedPdf(out.getvalue(), pages, tuple(sorted(stripped)))


def _strip_active_content(pdf: Any) -> set[str]:
    import pikepdf

    found: set[str] = set()
    root = pdf.Root
    for key, label in (("/OpenAction", "open_action"), ("/AA", "additional_actions")):
        if key in root:
            del root[key]
            found.add(label)
    names = root.get("/Names")
    if isinstance(names, pikepdf.Dictionary):
        for key, label in (("/JavaScript", "javascript"), ("/EmbeddedFiles", "embedded_files")):
            if key in names:
                del names[key]
                found.add(label)
    acroform = root.get("/AcroForm")
    if isinstance(acroform, pikepdf.Dictionary) and "/XFA" in acroform:
        del acroform["/XFA"]  # XFA forms carry their own scripts
        found.add("xfa")
    for obj in _dictionaries(pdf):
        if "/AA" in obj:
            del obj["/AA"]
            found.add("additional_actions")
        kind = obj.get("/S")
        if kind is not None and str(kind) in _ACTIVE:
            found.add(_ACTIVE[str(kind)])
            for key in list(obj.keys()):
                if key != "/Type":
                    del obj[key]
            obj["/S"] = pikepdf.Name("/Named")  # a harmless action: next page at most
            obj["/N"] = pikepdf.Name("/NextPage")
        if "/EF" in obj and str(obj.get("/Type", "")) in ("/Filespec", ""):
            del obj["/EF"]
            found.add("embedded_files")
    return found


def _dictionaries(pdf: Any) -> Iterator[Any]:
    """Every dictionary of the file: the indirect objects and what they hold directly."""
    import pikepdf

    def walk(obj: Any, depth: int) -> Iterator[Any]:
        if depth > 32:
            return
        if isinstance(obj, pikepdf.Dictionary | pikepdf.Stream):
            holder = obj.stream_dict if isinstance(obj, pikepdf.Stream) else obj
            yield holder
            for key in list(holder.keys()):
                child = holder.get(key)
                if isinstance(child, pikepdf.Object) and not child.is_indirect:
                    yield from walk(child, depth + 1)
        elif isinstance(obj, pikepdf.Array):
            for child in obj:
                if isinstance(child, pikepdf.Object) and not child.is_indirect:
                    yield from walk(child, depth + 1)

    for obj in pdf.objects:
        yield from walk(obj, 0)


# ---------------------------------------------------------------------------- service
class Documents:
    """The documents' rules on one engine, with the region's key and limits."""

    def __init__(self, engine: Engine, settings: DocumentSettings, clock: Clock = _now) -> None:
        self.engine = engine
        self.settings = settings
        self.clock = clock
        self._sealer = Sealer(load_key(settings.key_file)) if settings.key_file else None
        self._uploads = Uploads()

    def forget_idle_uploads(self) -> None:
        """The hub's timer: running uploads idle for their `max_idle` go, their plain
        chunks with them (`Uploads.trim`)."""
        self._uploads.trim()

    @property
    def idle_upload_seconds(self) -> float:
        return self._uploads.max_idle

    def require_key(self) -> None:
        """Refuse at once (503, saying what to set) when the hub takes no document."""
        _ = self.sealer

    @property
    def sealer(self) -> Sealer:
        if self._sealer is None:
            raise HubError(
                503,
                "documents_disabled",
                "this hub takes no document: its administrator sets documents.key_file "
                "(or PVP_HUB_DOCUMENTS_KEY_FILE) in the hub's config",
            )
        return self._sealer

    # --------------------------------------------------------------- site -> agent
    def start_upload(self, token: str | None, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        """Announce a document (its id, the visit, type, size, sha256, the consent):
        201 when new, 200 with its state when announced before with the same facts."""
        self.require_key()
        now = self.clock()
        with write_transaction(self.engine) as conn:
            site = authenticate_site(conn, token)
            if body["consent"] is not True:
                raise HubError(
                    422,
                    "consent_required",
                    "the visitor's consent to send this document is not recorded: tick it "
                    "in the documents panel first",
                )
            if body["size"] > self.settings.max_bytes:
                raise HubError(
                    413,
                    "document_too_large",
                    f"a document is at most {self.settings.max_bytes} bytes: scan fewer pages "
                    "or in a lower resolution",
                )
            owner = conn.execute(
                select(visits.c.site_id).where(visits.c.id == body["visit_id"])
            ).scalar_one_or_none()
            if owner != site.id:
                raise HubError(
                    404,
                    "unknown_visit",
                    "this site has no such visit on the hub: push its events first",
                )
            found = _locked(conn, body["id"])
            if found is not None:
                same = (
                    found.site_id == site.id
                    and found.direction == TO_AGENT
                    and found.visit_id == body["visit_id"]
                    and (found.doc_type, found.size, found.sha256)
                    == (body["type"], body["size"], body["sha256"])
                )
                if not same:
                    raise HubError(
                        409, "id_taken", "this document id is already used: make a new one"
                    )
                return 200, _state(found)
            conn.execute(
                documents.insert().values(
                    id=body["id"],
                    region_id=site.region_id,
                    site_id=site.id,
                    visit_id=body["visit_id"],
                    direction=TO_AGENT,
                    doc_type=body["type"],
                    size=body["size"],
                    sha256=body["sha256"],
                    state="uploading",
                    received_bytes=0,
                    created_at=now,
                    delete_after=end_of_day(now, site.timezone),
                )
            )
            row = _locked(conn, body["id"])
        return 201, _state(row)

    def put_chunk(
        self, token: str | None, document_id: uuid.UUID, start: int, data: bytes
    ) -> dict[str, Any]:
        """Store the bytes from `start` (where the hub's copy ends); a chunk the hub has
        already is a no-op. The last one completes the document: sha256, then content."""
        sealed = self.sealer.seal(document_id, data, start) if data else b""  # before the lock
        with write_transaction(self.engine) as conn:
            site = authenticate_site(conn, token)
            row = _site_document(conn, site, document_id, TO_AGENT, lock=True)
            if row.state == "deleted":
                raise _gone(row)
            if row.state == "ready" or start + len(data) <= row.received_bytes:
                complete = row.state == "uploading" and row.received_bytes == row.size
                if not complete:
                    return _state(row)
                stored = False
            else:
                if start != row.received_bytes:
                    raise HubError(
                        409,
                        "wrong_offset",
                        f"the hub has {row.received_bytes} bytes of this document: send "
                        f"from byte {row.received_bytes}",
                    )
                if not data:
                    raise HubError(422, "empty_chunk", "a chunk holds at least one byte")
                if start + len(data) > row.size:
                    raise HubError(
                        422,
                        "beyond_size",
                        f"this chunk ends after the {row.size} bytes announced",
                    )
                conn.execute(
                    document_chunks.insert().values(
                        document_id=document_id,
                        start_byte=start,
                        data=sealed,
                    )
                )
                conn.execute(
                    update(documents)
                    .where(documents.c.id == document_id)
                    .values(received_bytes=start + len(data))
                )
                stored = True
        if stored:  # committed: this process's running upload follows it (or forgets it)
            self._uploads.add(document_id, start, data, _nonce(sealed))
            if start + len(data) < row.size:
                return _state(row, received_bytes=start + len(data))
        return self._complete(site, document_id)

    def _complete(self, site: SiteIdentity, document_id: uuid.UUID) -> dict[str, Any]:
        """The whole upload: checked end to end and by content outside any write, then
        kept sealed in its chunks (or, with its active content stripped, in one piece;
        or refused, its chunks dropped).

        The sha256 and the bytes for the PDF check come from this process's running upload
        (`Uploads`, taken out of it here) when every chunk stored is one it took, in order
        (the nonces stored are those it sealed); else (chunks that came to another hub
        process, a restart, an upload forgotten) the chunks are read back, opened (their
        tags checked) and hashed."""
        sealer = self.sealer
        running = self._uploads.take(document_id)
        parts: list[tuple[int, bytes]] = []
        with read_transaction(self.engine) as conn:
            row = _site_document(conn, site, document_id, TO_AGENT)
            if running is not None and _stored_nonces(conn, document_id) != running.nonces:
                running = None  # not the chunks this process hashed: read them back
            if running is None:
                parts = _sealed_chunks(conn, document_id)
        if running is not None:
            whole, digest = b"".join(running.parts), running.sha.hexdigest()
            running.parts.clear()  # the whole only, from here
        else:
            whole = b"".join(sealer.open(document_id, blob, start) for start, blob in parts)
            digest = hashlib.sha256(whole).hexdigest()
        del running, parts
        problem: HubError | None = None
        checked: CheckedPdf | None = None
        sealed = b""
        if len(whole) != row.size or digest != row.sha256:
            problem = HubError(
                422,
                "sha256_mismatch",
                "the bytes received do not have the announced sha256: the hub dropped them; "
                "send the document again from byte 0",
            )
        else:
            try:
                checked = check_pdf(whole, self.settings.max_pages)
            except HubError as exc:
                problem = exc
            else:
                if checked.stripped:  # re-written: kept in one piece (sealed outside the write)
                    sealed = sealer.seal(document_id, checked.data)
        del whole
        now = self.clock()
        with write_transaction(self.engine) as conn:
            row = _site_document(conn, site, document_id, TO_AGENT, lock=True)
            if row.state != "uploading":
                return _state(row)  # a retry completed it meanwhile
            values: dict[str, Any]
            if checked is not None:
                values = {
                    "state": "ready",
                    "ready_at": now,
                    "pages": checked.pages,
                    "stripped": ",".join(checked.stripped) or None,
                }
                if sealed:
                    values["content"] = sealed
            elif problem is not None and problem.code == "sha256_mismatch":
                values = {"received_bytes": 0}
            else:
                values = {"state": "deleted", "deleted_at": now, "deleted_reason": "refused"}
            if checked is None or sealed:  # the chunks stay only as the document itself
                conn.execute(
                    document_chunks.delete().where(document_chunks.c.document_id == document_id)
                )
            conn.execute(update(documents).where(documents.c.id == document_id).values(values))
            row = _locked(conn, document_id)
        if problem is not None:
            raise problem
        return _state(row)

    def site_view(self, token: str | None, document_id: uuid.UUID) -> dict[str, Any]:
        """Where a document of the site stands: bytes received, opened, printed..."""
        with read_transaction(self.engine) as conn:
            site = authenticate_site(conn, token)
            return _state(_site_document(conn, site, document_id, None))

    # --------------------------------------------------------------- agent -> site
    def content_for_site(self, token: str | None, document_id: uuid.UUID) -> bytes:
        sealer = self.sealer
        with read_transaction(self.engine) as conn:
            site = authenticate_site(conn, token)
            row = _site_document(conn, site, document_id, TO_SITE)
            blob = _content(conn, document_id) if row.state != "deleted" else None
            if blob is None:
                raise _gone(row)
        return sealer.open(document_id, blob)

    def receipt(
        self, token: str | None, document_id: uuid.UUID, step: str, reason: str | None
    ) -> dict[str, Any]:
        """The site says a document to print was received, printed, or failed to print
        (with the printer's trouble as a code). Each step keeps its first time."""
        if step not in STEPS:
            raise HubError(422, "unknown_step", f"step must be one of {', '.join(STEPS)}")
        if step == "print_failed" and (reason is None or not REASON.match(reason)):
            raise HubError(
                422,
                "reason_required",
                "print_failed needs a reason code (lowercase letters, digits, _), "
                "e.g. out_of_paper",
            )
        now = self.clock()
        with write_transaction(self.engine) as conn:
            site = authenticate_site(conn, token)
            row = _site_document(conn, site, document_id, TO_SITE, lock=True)
            values: dict[str, Any] = {}
            if row.received_at is None:
                values["received_at"] = now
            if step == "printed" and row.printed_at is None:
                values["printed_at"] = now
            if step == "print_failed" and row.printed_at is None:
                values |= {"print_failed_at": now, "print_error": reason}
            if values:
                values["delete_after"] = self._keep_until(row, now, site.timezone)
                conn.execute(update(documents).where(documents.c.id == document_id).values(values))
            row = _locked(conn, document_id)
        return _state(row)

    def erase_visit(self, token: str | None, visit_id: uuid.UUID, reason: str) -> dict[str, int]:
        """Drop the bytes of every document of a visit at once (the visitor withdrew
        consent, or the visit closed): the trace stays."""
        if reason not in ERASE_REASONS:
            raise HubError(422, "unknown_reason", f"reason must be one of {ERASE_REASONS}")
        now = self.clock()
        with write_transaction(self.engine) as conn:
            site = authenticate_site(conn, token)
            owner = conn.execute(
                select(visits.c.site_id).where(visits.c.id == visit_id)
            ).scalar_one_or_none()
            if owner != site.id:
                raise HubError(404, "unknown_visit", "this site has no such visit on the hub")
            ids = list(
                conn.execute(
                    select(documents.c.id).where(
                        documents.c.visit_id == visit_id, documents.c.state != "deleted"
                    )
                ).scalars()
            )
            _drop(conn, ids, now, reason)
            for document_id in ids:
                record_change(conn, site.region_id, KIND, document_id, site_id=site.id)
        return {"erased": len(ids)}

    def _keep_until(self, row: Any, now: datetime, zone: str) -> datetime:
        """Until when a document is kept after a receipt at `now`: the configured delay,
        else the end of the site's day; never beyond 7 days after it came."""
        minutes = self.settings.keep_after_receipt_minutes
        keep = end_of_day(now, zone) if minutes is None else now + timedelta(minutes=minutes)
        return min(keep, row.created_at + KEEP_AT_MOST)

    # ------------------------------------------------------------------ the agent
    def visit_documents(self, agent_id: uuid.UUID, visit_id: uuid.UUID) -> AgentVisitDocs | None:
        """The visit and its documents (newest first), or None when the agent may not
        see the visit (another partner, another site, unknown: all alike)."""
        with read_transaction(self.engine) as conn:
            visit = _agent_visit(conn, agent_id, visit_id)
            if visit is None:
                return None
            rows = conn.execute(
                select(*_TRACE)
                .where(documents.c.visit_id == visit_id)
                .order_by(documents.c.created_at.desc(), documents.c.id)
            ).all()
        return AgentVisitDocs(
            visit.id, visit.ticket, visit.site_name, visit.timezone, [_trace(r) for r in rows]
        )

    def open_for_agent(self, agent_id: uuid.UUID, document_id: uuid.UUID) -> Opened | None:
        """The document for the agent, its first view recorded as "opened" (the site sees
        it); None for a document the agent may not see or that is gone. Its sealed pieces
        are read in one transaction and every tag is checked (each piece opened, then let
        go: about 2 ms for a 6 MB scan) before "opened" is recorded and before any answer:
        a piece that does not open (the hub's key changed, a damaged chunk) raises
        `DocumentUnreadable`, nothing recorded. The pieces are opened again one by one as
        they are sent (the whole is never held in clear); one failing then raises from
        the stream, so the server cuts the connection: the browser sees a failed download,
        not a short one."""
        sealer = self.sealer
        with read_transaction(self.engine) as conn:
            row = conn.execute(select(*_TRACE).where(documents.c.id == document_id)).first()
            if row is None or _agent_visit(conn, agent_id, row.visit_id) is None:
                return None
            if row.state != "ready":
                return None
            whole = _content(conn, document_id)
            pieces: list[tuple[int | None, bytes]]
            if whole is not None:  # re-written (active content stripped), or to print
                pieces = [(None, whole)]
            else:  # kept as it came, in its chunks
                pieces = list(_sealed_chunks(conn, document_id))
            if not pieces:
                return None
            zone = _site_zone(conn, row.site_id)
        from cryptography.exceptions import InvalidTag

        try:
            for start, blob in pieces:
                sealer.open(document_id, blob, start)
        except (InvalidTag, ValueError):
            log.error(
                "document %s does not open: the hub's documents key changed, or its stored "
                "bytes are damaged; nothing was sent to the agent",
                document_id,
            )
            raise DocumentUnreadable(document_id) from None
        trace = _trace(row)
        if row.direction == TO_AGENT and row.opened_at is None:
            now = self.clock()
            with write_transaction(self.engine) as conn:
                locked = _locked(conn, document_id)
                if locked is not None and locked.opened_at is None:
                    conn.execute(
                        update(documents)
                        .where(documents.c.id == document_id)
                        .values(
                            opened_at=now,
                            opened_by=agent_id,
                            delete_after=self._keep_until(locked, now, zone),
                        )
                    )

        def opened() -> Iterator[bytes]:
            for start, blob in pieces:
                try:
                    piece = sealer.open(document_id, blob, start)
                except Exception:
                    log.error(
                        "document %s: a piece failed while it was sent; the download is cut",
                        document_id,
                    )
                    raise  # out of the response: the server closes the connection
                yield piece

        size = sum(len(blob) - SEALED_OVERHEAD for _start, blob in pieces)
        return Opened(trace, size, opened())

    def upload_from_agent(
        self, agent_id: uuid.UUID, visit_id: uuid.UUID, doc_type: str, data: bytes
    ) -> uuid.UUID | None:
        """A PDF the agent sends to print at the visit's site: checked, sealed, and put
        in the site's pull feed. None when the agent may not see the visit."""
        sealer = self.sealer
        if not TYPE.match(doc_type):
            raise HubError(422, "bad_type", "choose the document's type in the list")
        if len(data) > self.settings.max_bytes:
            raise HubError(
                413,
                "document_too_large",
                f"a document is at most {self.settings.max_bytes // (1024 * 1024)} MB",
            )
        with read_transaction(self.engine) as conn:
            if _agent_visit(conn, agent_id, visit_id) is None:
                return None
        checked = check_pdf(data, self.settings.max_pages)
        document_id = uuid.uuid4()
        sealed = sealer.seal(document_id, checked.data)
        now = self.clock()
        with write_transaction(self.engine) as conn:
            visit = _agent_visit(conn, agent_id, visit_id)
            if visit is None:
                return None
            conn.execute(
                documents.insert().values(
                    id=document_id,
                    region_id=visit.region_id,
                    site_id=visit.site_id,
                    visit_id=visit_id,
                    direction=TO_SITE,
                    doc_type=doc_type,
                    size=len(checked.data),
                    sha256=hashlib.sha256(checked.data).hexdigest(),
                    pages=checked.pages,
                    stripped=",".join(checked.stripped) or None,
                    state="ready",
                    received_bytes=len(checked.data),
                    sent_by_agent=agent_id,
                    created_at=now,
                    ready_at=now,
                    delete_after=end_of_day(now, visit.timezone),
                    content=sealed,
                )
            )
            record_change(conn, visit.region_id, KIND, document_id, site_id=visit.site_id)
        return document_id


@dataclass(frozen=True)
class DocumentTrace:
    """What stays of a document, with or without its bytes."""

    id: uuid.UUID
    direction: str
    doc_type: str
    pages: int | None
    size: int
    sha256: str
    state: str
    stripped: str | None
    sent_by_agent: uuid.UUID | None
    created_at: datetime
    ready_at: datetime | None
    opened_at: datetime | None
    received_at: datetime | None
    printed_at: datetime | None
    print_failed_at: datetime | None
    print_error: str | None
    deleted_at: datetime | None
    deleted_reason: str | None


class DocumentUnreadable(Exception):
    """A document's sealed bytes do not open with this hub's key (the key changed, or
    they are damaged): nothing of it can be given."""


@dataclass(frozen=True)
class Opened:
    """A document the agent opens: its trace, its size, and its bytes opened piece by
    piece (each checked by its tag before it is given)."""

    trace: DocumentTrace
    size: int
    parts: Iterator[bytes]


@dataclass(frozen=True)
class AgentVisitDocs:
    visit_id: uuid.UUID
    ticket: str | None
    site_name: str
    timezone: str
    documents: list[DocumentTrace]


_TRACE = (
    documents.c.id,
    documents.c.site_id,
    documents.c.visit_id,
    documents.c.direction,
    documents.c.doc_type,
    documents.c.pages,
    documents.c.size,
    documents.c.sha256,
    documents.c.state,
    documents.c.stripped,
    documents.c.sent_by_agent,
    documents.c.created_at,
    documents.c.ready_at,
    documents.c.opened_at,
    documents.c.received_at,
    documents.c.printed_at,
    documents.c.print_failed_at,
    documents.c.print_error,
    documents.c.deleted_at,
    documents.c.deleted_reason,
)


def _trace(row: Any) -> DocumentTrace:
    return DocumentTrace(
        **{name: getattr(row, name) for name in DocumentTrace.__dataclass_fields__}
    )


# The row without its sealed bytes: selecting `content` would read a whole document
# (up to max_bytes) where only its state is wanted.
_ROW = tuple(column for column in documents.c if column.name != "content")


def _locked(conn: Connection, document_id: uuid.UUID) -> Any:
    """The document's row (not its bytes), locked against other writers until the
    transaction ends."""
    query = select(*_ROW).where(documents.c.id == document_id)
    if is_postgresql(conn):
        query = query.with_for_update()
    return conn.execute(query).first()


def _site_document(
    conn: Connection,
    site: SiteIdentity,
    document_id: uuid.UUID,
    direction: str | None,
    lock: bool = False,
) -> Any:
    """A document of this site (one way, or either); 404 for any other, existing or not."""
    row = (
        _locked(conn, document_id)
        if lock
        else conn.execute(select(*_ROW).where(documents.c.id == document_id)).first()
    )
    if row is None or row.site_id != site.id or direction not in (None, row.direction):
        raise HubError(404, "unknown_document", "this site has no such document on the hub")
    return row


def _gone(row: Any) -> HubError:
    return HubError(
        410,
        "document_deleted",
        f"this document's bytes were deleted ({row.deleted_reason or 'expired'}); its trace stays",
    )


def _state(row: Any, **changed: Any) -> dict[str, Any]:
    values = {**row._mapping, **changed}

    def when(key: str) -> str | None:
        value = values[key]
        return value.isoformat() if value is not None else None

    return {
        "id": str(values["id"]),
        "visit_id": str(values["visit_id"]),
        "direction": values["direction"],
        "type": values["doc_type"],
        "size": values["size"],
        "sha256": values["sha256"],
        "state": values["state"],
        "received_bytes": values["received_bytes"],
        "chunk_max": CHUNK_MAX,
        "pages": values["pages"],
        "stripped": values["stripped"].split(",") if values["stripped"] else [],
        "opened_at": when("opened_at"),
        "received_at": when("received_at"),
        "printed_at": when("printed_at"),
        "print_failed_at": when("print_failed_at"),
        "print_error": values["print_error"],
        "deleted_reason": values["deleted_reason"],
    }


def _agent_visit(conn: Connection, agent_id: uuid.UUID, visit_id: uuid.UUID) -> Any:
    """The visit when the live agent may see it (its partner, one of its sites), else None:
    the scope is in the SQL, as in `agents.today`."""
    return conn.execute(
        select(
            visits.c.id,
            visits.c.ticket,
            visits.c.site_id,
            sites.c.region_id,
            sites.c.name.label("site_name"),
            sites.c.timezone,
        )
        .join(sites, sites.c.id == visits.c.site_id)
        .join(agents, _agent_is(agent_id))
        .join(
            partners,
            and_(partners.c.id == agents.c.partner_id, partners.c.slug == visits.c.partner),
        )
        .where(visits.c.id == visit_id)
    ).first()


def _content(conn: Connection, document_id: uuid.UUID) -> bytes | None:
    """The sealed whole of a document kept in one piece (None: kept in its chunks, or
    deleted)."""
    value = conn.execute(
        select(documents.c.content).where(documents.c.id == document_id)
    ).scalar_one_or_none()
    return None if value is None else bytes(value)


def _sealed_chunks(conn: Connection, document_id: uuid.UUID) -> list[tuple[int, bytes]]:
    """A document's chunks as stored (sealed), with where each starts, in order."""
    return [
        (start, bytes(blob))
        for start, blob in conn.execute(
            select(document_chunks.c.start_byte, document_chunks.c.data)
            .where(document_chunks.c.document_id == document_id)
            .order_by(document_chunks.c.start_byte)
        )
    ]


def _stored_nonces(conn: Connection, document_id: uuid.UUID) -> list[tuple[int, bytes]]:
    """The (first byte, nonce) of a document's chunks as stored, in order (`_nonce`, read
    in the database: not the chunks themselves)."""
    return [
        (start, bytes(nonce))
        for start, nonce in conn.execute(
            select(document_chunks.c.start_byte, func.substr(document_chunks.c.data, 2, 12))
            .where(document_chunks.c.document_id == document_id)
            .order_by(document_chunks.c.start_byte)
        )
    ]


def _site_zone(conn: Connection, site_id: uuid.UUID) -> str:
    return str(conn.execute(select(sites.c.timezone).where(sites.c.id == site_id)).scalar_one())


def _drop(conn: Connection, ids: list[uuid.UUID], now: datetime, reason: str) -> None:
    """The documents' bytes deleted (their chunks and content), the trace kept; this
    process's running uploads of them (their plain chunks) forgotten."""
    if not ids:
        return
    _forget(ids)
    conn.execute(document_chunks.delete().where(document_chunks.c.document_id.in_(ids)))
    conn.execute(
        update(documents)
        .where(documents.c.id.in_(ids))
        .values(state="deleted", content=None, deleted_at=now, deleted_reason=reason)
    )


# ------------------------------------------------------------------- the site's events
def withdrawn(rows: list[dict[str, Any]]) -> list[tuple[Any, str, str | None, str]]:
    """What a push's events take back from the agent: (visit, bridge document, the
    content to keep or None, reason) for each document whose consent the visitor withdrew
    (`document_updated`, `consent: false`), whose pages staff changed (`document_updated`
    with a new sha256: only that content may stay) or that staff deleted during the visit
    (`document_purged`, reason "deleted"; a visit's end leaves the hub's retention to it)."""
    found: list[tuple[Any, str, str | None, str]] = []
    for row in rows:
        data, kind = row["data"], row["type"]
        document = data.get("document")
        if not document:
            continue
        if kind == event_types.DOCUMENT_UPDATED and data.get("consent") is False:
            found.append((row["visit_id"], str(document), None, "consent_withdrawn"))
        elif kind == event_types.DOCUMENT_UPDATED and data.get("sha256"):
            found.append((row["visit_id"], str(document), str(data["sha256"]), "document_changed"))
        elif kind == event_types.DOCUMENT_PURGED and data.get("reason") == PURGED_BY_STAFF:
            found.append((row["visit_id"], str(document), None, "document_deleted"))
    return found


def on_new_events(conn: Connection, site: SiteIdentity, rows: list[dict[str, Any]]) -> None:
    """In a push's transaction: the copies of a scan the site took back (`withdrawn`) lose
    their bytes at once: every content sent of that document (its first under the
    document's id, a later one under its content's: `site_document_id`), but the one kept."""
    wanted = withdrawn(rows)
    if not wanted:
        return
    held = conn.execute(
        select(documents.c.id, documents.c.visit_id, documents.c.sha256).where(
            documents.c.visit_id.in_(list({visit for visit, *_ in wanted})),
            documents.c.site_id == site.id,
            documents.c.direction == TO_AGENT,
            documents.c.state != "deleted",
        )
    ).all()
    now = _now()
    dropped: set[uuid.UUID] = set()
    for visit, document, keep, reason in wanted:
        ids = [
            row.id
            for row in held
            if row.visit_id == visit
            and row.id not in dropped
            and row.sha256 != keep
            and row.id
            in (
                site_document_id(site.slug, document),
                site_document_id(site.slug, document, row.sha256),
            )
        ]
        _drop(conn, ids, now, reason)
        dropped.update(ids)


# ------------------------------------------------------------------------ pull feed
def feed_items(
    conn: Connection, site_id: uuid.UUID, wanted: set[uuid.UUID]
) -> dict[uuid.UUID, dict[str, Any]]:
    """The documents to print among `wanted`, as the site's pull feed shows them; one
    deleted (or another site's) is absent, so the feed says it is deleted."""
    rows = conn.execute(
        select(*_TRACE).where(
            documents.c.id.in_(wanted),
            documents.c.site_id == site_id,
            documents.c.direction == TO_SITE,
            documents.c.state == "ready",
        )
    ).all()
    return {
        row.id: {
            "visit_id": str(row.visit_id),
            "type": row.doc_type,
            "pages": row.pages,
            "size": row.size,
            "sha256": row.sha256,
            "sent_at": row.created_at.isoformat(),
            "content": f"/api/v1/site/documents/{row.id}/content",
        }
        for row in rows
    }


# ---------------------------------------------------------------------------- purge
def purge(engine: Engine, clock: Clock = _now) -> dict[str, int]:
    """Drop the bytes of every document past its time (after its last receipt, never
    beyond 7 days); the trace stays. A site learns of its documents to print going."""
    now = clock()
    with write_transaction(engine) as conn:
        due = conn.execute(
            select(
                documents.c.id, documents.c.region_id, documents.c.site_id, documents.c.direction
            )
            .where(documents.c.state != "deleted", documents.c.delete_after <= now)
            .limit(500)
        ).all()
        _drop(conn, [row.id for row in due], now, "expired")
        for row in due:
            if row.direction == TO_SITE:
                record_change(conn, row.region_id, KIND, row.id, site_id=row.site_id)
    return {"documents_deleted": len(due)}
