"""Documents the desk sends to the agent through the hub (docs/sync.md, "Documents to the
agent").

Three steps, each in its own place:

1. **Queued** by the desk (`queue`, on the app's loop): the visitor's consent is checked
   (`documents.require_consent`, the one rule), the PDF fetched from the kiosk's bridge
   (`documents.get`, sha256 checked by the bridge client), and in one transaction the
   visit's `document_sent` event, the upload's row (`hub_uploads`, state `waiting`) and
   its bytes (`hub_upload_content`: the site's spool) are written. No HTTP here.
2. **Sent** by the sync worker, the lease holder (`Uploader`, one of its tasks, in its
   thread): `POST /site/documents` (idempotent: the hub answers where its copy ends),
   then `PUT …/chunks/{start}` from there, CHUNK bytes first, then twice as many after a
   chunk that took under FAST_SECONDS (up to the hub's `chunk_max`, and to a limit a
   413 taught: `SyncWorker.chunk_limit`), half as many after one over SLOW_SECONDS; the
   next upload starts at the size the last one reached (`SyncWorker.chunk_next`, back
   to CHUNK after a cut). A cut (the link down, the hub killed, `pvp` restarted) loses
   at most the chunk in flight: the next try asks the hub again and resumes from its
   `received_bytes`. A document failing on its own never holds the others
   (`send_all`); after TRIES_MAX failures in a row it is given up. The hub checks the
   sha256 of the whole once the last chunk is in (`ready`); the site then marks it
   `sent`, and at the end of the turn erases its own copy of the bytes (`erase_sent`,
   secure_delete: the spool keeps nothing sent).
3. **Opened**: for each sent document not yet opened, the pull asks the hub for its
   state (`GET /site/documents/{id}`) and records `opened_at` (`follow`).

Erasure: the visitor unticking consent, staff deleting the scan or changing its pages
stops the upload and erases the spool's copy in that event's own transaction
(`withdraw`; the hub drops its copy when that event is pushed; a changed scan may be
sent again, as a new upload); a visit closing erases its bytes in its own transaction
(`erase_visit`, from `FrontDesk._set_status`), and `FrontDesk.purge_personal_data`
sweeps what is left (`erase_closed`). No visitor name is ever sent or logged: ids,
sizes and codes only.
"""

from __future__ import annotations

import hashlib
import logging
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import httpx

from pvp_common.document_ids import site_document_id

from . import spools
from .clock import to_iso
from .models import OPEN_STATUSES
from .store import Reader, Store, Writer

if TYPE_CHECKING:
    from .sync import SyncWorker

log = logging.getLogger(__name__)

START_PATH = "/api/v1/site/documents"
CHUNK = 1024 * 1024  # the first PUT: ~8 s at 1 Mbit/s, so a cut loses little
CHUNK_MIN = 256 * 1024
CHUNK_MAX_SENT = 64 * 1024 * 1024  # a bound on the doubling (the hub's chunk_max is less)
FAST_SECONDS = 1.0  # a chunk sent faster than this: the next one is twice as large...
SLOW_SECONDS = 10.0  # ...slower than this: half as large (within CHUNK_MIN, the hub's max)
BUDGET_SECONDS = 5.0  # the uploader's turn: then the worker pushes and pulls again
RETRY_MAX_SECONDS = 60.0
# A document failing on its own (404 unknown_visit, a 5xx on this PDF...) is tried again
# at its own pace (doubling from the worker's wait_initial up to RETRY_MAX_SECONDS) while
# the others go on; after TRIES_MAX failures in a row, once GIVE_UP_SECONDS have passed
# since it was queued, it is given up: `refused`, its error "gave_up: <the last one>".
TRIES_MAX = 10
GIVE_UP_SECONDS = 15 * 60
GAVE_UP = "gave_up"
# The hub as a whole, not this document: the turn stops and nothing is counted against it.
HUB_WIDE = (429, 502, 503, 504)
STATES = ("waiting", "sent", "opened", "refused", "erased")
FINAL = ("opened", "refused", "erased")
UNDERWAY = ("waiting", "sent", "opened")  # queued and not given up: not queued again


@dataclass(frozen=True)
class Upload:
    """One document sent (or to send) to the agent, as the desk sees it (no bytes)."""

    id: str  # the hub's id (site_document_id)
    document: str  # the bridge's id (doc_...)
    visit_id: str
    doc_type: str
    size: int
    sha256: str
    state: str  # waiting, sent, opened, refused, erased
    sent_bytes: int  # what the hub holds
    queued_at: str
    sent_at: str | None
    opened_at: str | None
    error: str | None

    @property
    def fraction(self) -> float:
        return min(1.0, self.sent_bytes / self.size) if self.size else 0.0


_COLUMNS = """id, document, visit_id, doc_type, size, sha256, state, sent_bytes, queued_at,
    sent_at, opened_at, error"""


def of_visit(store: Store, visit_id: str) -> list[Upload]:
    with store.snapshot() as db:
        rows = db.execute(
            f"SELECT {_COLUMNS} FROM hub_uploads WHERE visit_id = ? ORDER BY queued_at, id",
            [visit_id],
        ).fetchall()
    return [Upload(*row) for row in rows]


def get(store: Store, upload_id: str) -> Upload | None:
    with store.snapshot() as db:
        row = db.execute(f"SELECT {_COLUMNS} FROM hub_uploads WHERE id = ?", [upload_id]).fetchone()
    return Upload(*row) if row else None


def spooled(store: Store, upload_id: str) -> bytes | None:
    """The spool's copy of an upload's bytes (None once sent or erased)."""
    rows = store.query("SELECT content FROM hub_upload_content WHERE upload_id = ?", [upload_id])
    return bytes(rows[0]["content"]) if rows else None


def hub_id(site_slug: str, document: str, version: str | None = None) -> str:
    """The hub's id of a document's upload: its first content under the document's own id,
    a later one (the pages changed: `version` its sha256) under that content's."""
    return str(site_document_id(site_slug, document, version))


# ------------------------------------------------------------------- the desk's side
def record(
    db: Writer,
    *,
    site_slug: str,
    document: str,
    visit_id: str,
    doc_type: str,
    data: bytes,
    now: datetime,
    sha256: str | None = None,
) -> Upload:
    """Queue the bytes for the hub, in the caller's transaction (the one that records
    `document_sent`). A content already queued keeps its row, and no bytes are added
    (sent once: the caller checks `state_of` first); a new content of a document queued
    before (its pages changed since) gets an upload of its own (`hub_id`). `sha256`: the
    bytes' own, computed as they were received (`BridgeClient.fetch_document`, through
    `DocumentLog.send_to_agent`); hashed here otherwise."""
    digest = sha256 or hashlib.sha256(data).hexdigest()
    before = db.execute("SELECT 1 FROM hub_uploads WHERE document = ?", [document]).fetchone()
    upload_id = hub_id(site_slug, document, digest if before is not None else None)
    at = to_iso(now)
    added = db.execute(
        """INSERT INTO hub_uploads (id, document, visit_id, doc_type, size, sha256, state,
               queued_at, updated_at)
           VALUES (?, ?, ?, ?, ?, ?, 'waiting', ?, ?) ON CONFLICT (id) DO NOTHING""",
        [
            upload_id,
            document,
            visit_id,
            doc_type,
            len(data),
            digest,
            at,
            at,
        ],
    )
    if added.rowcount > 0:  # never bytes for a row already there (refused, erased...)
        db.execute(
            "INSERT INTO hub_upload_content (upload_id, content) VALUES (?, ?)"
            " ON CONFLICT (upload_id) DO NOTHING",
            [upload_id, data],
        )
    row = db.execute(f"SELECT {_COLUMNS} FROM hub_uploads WHERE id = ?", [upload_id]).fetchone()
    return Upload(*row)


def state_of(db: Reader, document: str, sha256: str) -> str | None:
    """The upload state of this content of the document (None: never queued). Queued once
    only: `waiting`, `sent`, `opened` say it is on its way; `refused`, `erased` that it
    never will be. A new content (pages changed) is a new upload."""
    row = db.execute(
        "SELECT state FROM hub_uploads WHERE document = ? AND sha256 = ?"
        " ORDER BY queued_at DESC LIMIT 1",
        [document, sha256],
    ).fetchone()
    return str(row[0]) if row is not None else None


def withdraw(db: Writer, document: str, now: datetime, keep: str | None = None) -> int:
    """The visitor withdrew consent, or staff deleted the scan or changed its pages: the
    document's uploads (but the one of content `keep`, the pages as they are now) stop if
    not yet whole on the hub, and the spool's copies are erased, in the caller's
    transaction (the hub drops its copies when that event is pushed). Returns how many
    spooled copies went."""
    ids = [
        row[0]
        for row in db.execute(
            "SELECT c.upload_id FROM hub_upload_content c JOIN hub_uploads u"
            " ON u.id = c.upload_id WHERE u.document = ? AND u.sha256 IS NOT ?",
            [document, keep],
        )
    ]
    return _erase(db, ids, now)


def _closed_sql(open_statuses: tuple[str, ...]) -> str:
    return spools.closed_sql("hub_upload_content", "upload_id", "hub_uploads", open_statuses)


def has_closed(db: Reader, open_statuses: tuple[str, ...]) -> bool:
    """Whether a closed (or unknown) visit still has a document's bytes in the spool."""
    return spools.has_closed(db, _closed_sql(open_statuses), open_statuses)


def erase_closed(db: Writer, open_statuses: tuple[str, ...]) -> int:
    """Erase the spool's bytes of closed (or unknown) visits, in the caller's transaction
    (secure_delete); an upload not finished then is never sent. Returns how many. A visit
    closing erases its own at once (`erase_visit`): this sweeps what a crash left."""
    ids = [row[0] for row in db.execute(_closed_sql(open_statuses), list(open_statuses))]
    return _erase(db, ids, datetime.now(UTC))


def erase_visit(db: Writer, visit_id: str, now: datetime) -> int:
    """The visit closed (FrontDesk._set_status, in its transaction): the spool's bytes of
    its uploads are erased, an unsent one becomes `erased`. Returns how many."""
    ids = [
        row[0]
        for row in db.execute(
            "SELECT c.upload_id FROM hub_upload_content c JOIN hub_uploads u"
            " ON u.id = c.upload_id WHERE u.visit_id = ?",
            [visit_id],
        )
    ]
    return _erase(db, ids, now)


def _erase(db: Writer, ids: list[str], now: datetime) -> int:
    for upload_id in ids:
        db.execute("DELETE FROM hub_upload_content WHERE upload_id = ?", [upload_id])
        db.execute(
            "UPDATE hub_uploads SET state = 'erased', updated_at = ? WHERE id = ?"
            " AND state = 'waiting'",
            [to_iso(now), upload_id],
        )
    return len(ids)


# ----------------------------------------------------------------- the worker's side
class Problem(Exception):
    """An exchange that failed: `words` for the log and the panel (no name), `final`
    when trying again cannot help (the hub refused the document), `hub_wide` when the
    link or the hub as a whole failed (the next documents would fail too)."""

    def __init__(
        self,
        words: str,
        final: bool = False,
        code: str | None = None,
        too_large: bool = False,
        hub_wide: bool = False,
    ) -> None:
        super().__init__(words)
        self.words = words
        self.final = final
        self.code = code
        self.too_large = too_large  # a chunk over a limit on the way (a proxy's, the hub's)
        self.hub_wide = hub_wide


def _headers(worker: SyncWorker) -> dict[str, str]:
    return {"Authorization": f"Bearer {worker._token()}"}


def _answer(response: httpx.Response) -> dict[str, Any]:
    """The hub's JSON object; {} for anything else (not JSON, a list, a string...)."""
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def _moment(value: object) -> datetime | None:
    """An ISO 8601 time with its offset (the hub's), or None (missing, malformed, naive)."""
    if not isinstance(value, str):
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else None


def _error_code(response: httpx.Response) -> str:
    error = _answer(response).get("error")
    return str(error.get("code", "")) if isinstance(error, dict) else ""


def _check(worker: SyncWorker, response: httpx.Response) -> dict[str, Any]:
    """The hub's state of the document, or a Problem saying what to do (TokenRefused for
    a 401: the worker stops, as for events)."""
    status = response.status_code
    if status in (200, 201):
        return _answer(response)
    code = _error_code(response)
    if status == 401:
        from .sync import TokenRefused

        raise TokenRefused(worker.token_refused_words())
    if status == 413 and code != "document_too_large":
        # A chunk too large for a proxy in front of the hub (nginx's client_max_body_size:
        # its own page, no code) or for the hub (chunk_too_large): smaller ones will pass.
        words = f"HTTP 413 {code or 'without a code (a proxy?)'}"
        raise Problem(words, code=code or "body_too_large", too_large=True)
    if status in HUB_WIDE:
        raise Problem(f"HTTP {status} {code}".strip(), code=code, hub_wide=True)
    if code == "id_taken":  # another document holds this id on the hub: never this one
        raise Problem("HTTP 409 id_taken", final=True, code=code)
    if status in (408, 409, 425) or status >= 500 or code == "unknown_visit":
        # 409 wrong_offset: asked again below; unknown_visit: its events are not pushed yet.
        raise Problem(f"HTTP {status} {code}".strip(), code=code)
    if code == "sha256_mismatch":
        raise Problem("HTTP 422 sha256_mismatch: sent again from byte 0", code=code)
    raise Problem(f"HTTP {status} {code}".strip(), final=True, code=code)


def _start(worker: SyncWorker, row: dict[str, Any]) -> dict[str, Any]:
    body = {
        "id": row["id"],
        "visit_id": row["visit_id"],
        "type": row["doc_type"],
        "size": row["size"],
        "sha256": row["sha256"],
        "consent": True,  # queued only with it; unticked since: the row is erased
    }
    try:
        response = worker.client.post(START_PATH, json=body, headers=_headers(worker))
    except httpx.HTTPError as exc:
        raise Problem(f"hub unreachable ({type(exc).__name__})", hub_wide=True) from None
    return _check(worker, response)


def _put(worker: SyncWorker, upload_id: str, start: int, data: bytes) -> dict[str, Any]:
    headers = _headers(worker) | {"Content-Type": "application/octet-stream"}
    try:
        response = worker.client.put(
            f"{START_PATH}/{upload_id}/chunks/{start}", content=data, headers=headers
        )
    except httpx.HTTPError as exc:
        raise Problem(f"hub unreachable ({type(exc).__name__})", hub_wide=True) from None
    return _check(worker, response)


def _chunk(store: Store, upload_id: str, start: int, length: int) -> bytes | None:
    """Bytes [start, start+length) of the spool's copy (None: erased meanwhile). Read in
    place (sqlite3's incremental blob I/O on the row's rowid): `substr` on the column
    would load the whole blob, up to 30 MB, for each chunk."""
    with store.snapshot() as db:
        row = db.execute(
            "SELECT rowid FROM hub_upload_content WHERE upload_id = ?", [upload_id]
        ).fetchone()
        if row is None:
            return None
        with db.conn.blobopen("hub_upload_content", "content", row[0], readonly=True) as blob:
            blob.seek(min(start, len(blob)))
            return blob.read(length)


def _progress(store: Store, upload_id: str, state: dict[str, Any]) -> None:
    now = to_iso(datetime.now(UTC))
    with store.transaction() as db:
        db.execute(
            # Failures in a row: the count starts again once the hub's copy grew.
            "UPDATE hub_uploads SET tries = CASE WHEN ?1 > sent_bytes THEN 0 ELSE tries END,"
            " sent_bytes = ?1, error = NULL, updated_at = ?2 WHERE id = ?3 AND state = 'waiting'",
            [int(state.get("received_bytes") or 0), now, upload_id],
        )


def _sent(store: Store, upload_id: str, state: dict[str, Any]) -> None:
    """Whole and checked on the hub: `sent` (its copy in the spool is erased at the end
    of the turn, `erase_sent`)."""
    now = to_iso(datetime.now(UTC))
    with store.transaction() as db:
        db.execute(
            """UPDATE hub_uploads SET state = 'sent', sent_bytes = size,
                   sent_at = coalesce(sent_at, ?), error = NULL, updated_at = ?
               WHERE id = ? AND state = 'waiting'""",
            [now, now, upload_id],
        )


_NOT_WAITING = """SELECT c.upload_id FROM hub_upload_content c JOIN hub_uploads u
    ON u.id = c.upload_id WHERE u.state <> 'waiting'"""


def erase_sent(store: Store) -> int:
    """Erase the spool's copy of every upload no longer waiting (sent: the hub holds it
    whole and checked), secure_delete; returns how many. At the end of each uploader's
    turn (`send_all`, and every turn of `Uploader`, which also sweeps what a process
    killed between "sent" and here left): overwriting a document's pages takes as long
    as writing them, and the agent can open it meanwhile. Consent withdrawn and a visit
    closing erase in their own transaction, whatever the upload's state."""
    if not store.query(_NOT_WAITING + " LIMIT 1"):
        return 0
    with store.transaction() as db:
        ids = [row[0] for row in db.execute(_NOT_WAITING)]
        for upload_id in ids:
            db.execute("DELETE FROM hub_upload_content WHERE upload_id = ?", [upload_id])
    # The spool's transaction left its pages in the WAL (`checkpoint=False`): copied now,
    # after the erase, only their zeros reach the database file, and the WAL is cut when
    # no reader holds it (never waiting for one: the upkeep tries again).
    store.tidy(vacuum_pages=0)
    return len(ids)


def _failed(store: Store, upload_id: str, problem: Problem) -> bool:
    """Record the failure on the row; True when the upload is over (`refused`: the hub
    refused it, or it was given up after TRIES_MAX failures in a row and GIVE_UP_SECONDS)."""
    moment = datetime.now(UTC)
    now = to_iso(moment)
    with store.transaction() as db:
        error = problem.code or problem.words
        final = problem.final
        if not final and not problem.hub_wide:
            row = db.execute(
                "SELECT tries, queued_at FROM hub_uploads WHERE id = ?", [upload_id]
            ).fetchone()
            if row is not None and row[0] + 1 >= TRIES_MAX:
                age = (moment - datetime.fromisoformat(row[1])).total_seconds()
                if age >= GIVE_UP_SECONDS:
                    final, error = True, f"{GAVE_UP}: {problem.words}"
        if final:
            db.execute(
                "UPDATE hub_uploads SET state = 'refused', tries = tries + 1, error = ?,"
                " updated_at = ? WHERE id = ? AND state = 'waiting'",
                [error, now, upload_id],
            )
            db.execute("DELETE FROM hub_upload_content WHERE upload_id = ?", [upload_id])
        elif problem.hub_wide:  # not this document's fault: not counted against it
            db.execute("UPDATE hub_uploads SET error = ? WHERE id = ?", [problem.words, upload_id])
        else:
            db.execute(
                "UPDATE hub_uploads SET tries = tries + 1, error = ?, updated_at = ? WHERE id = ?",
                [problem.words, now, upload_id],
            )
    return final


def send_one(worker: SyncWorker, row: dict[str, Any], deadline: float | None = None) -> bool:
    """Send one upload from where the hub's copy ends, chunk by chunk, until it is whole
    (True) or `deadline` (time.monotonic) passes (False: the next turn resumes). Raises
    Problem when an exchange fails (recorded on the row first)."""
    store, upload_id = worker.store, row["id"]
    # Where the last upload to this hub left the size (a fast link: larger from the start).
    size = min(worker.chunk_next or CHUNK, worker.chunk_limit or CHUNK_MAX_SENT)
    try:
        state = _start(worker, row)
        log.info(
            "document %s: the hub holds %s of %d bytes; sending from there",
            upload_id, state.get("received_bytes"), row["size"],
        )  # fmt: skip
        while True:
            if state.get("state") == "ready":
                _sent(store, upload_id, state)
                log.info("document %s sent to the hub (%d bytes)", upload_id, row["size"])
                return True
            if state.get("state") == "deleted":
                raise Problem("HTTP 410 document_deleted", final=True, code="document_deleted")
            start = int(state.get("received_bytes") or 0)
            _progress(store, upload_id, state)
            if deadline is not None and time.monotonic() >= deadline:
                return False
            if worker._stop.is_set() or worker._lease_lost.is_set():
                return False
            size = min(size, int(state.get("chunk_max") or size), worker.chunk_limit or size)
            data = _chunk(store, upload_id, start, size)
            if data is None:
                return False  # erased meanwhile (consent withdrawn, visit closed)
            began = time.monotonic()
            try:
                state = _put(worker, upload_id, start, data)
                took = time.monotonic() - began
                if took < FAST_SECONDS:  # a fast link: fewer, larger requests
                    size = min(size * 2, int(state.get("chunk_max") or size * 2))
                elif took > SLOW_SECONDS:  # a slow one: a cut loses less
                    size = max(CHUNK_MIN, size // 2)
                worker.chunk_next = size
            except Problem as exc:
                if exc.too_large and len(data) > CHUNK_MIN:
                    # Half as large, down to CHUNK_MIN; remembered for this hub (the
                    # worker's life) so that the next chunks and uploads stay under it.
                    size = max(CHUNK_MIN, len(data) // 2)
                    worker.chunk_limit = size
                    log.info(
                        "document %s: a chunk of %d bytes refused (%s): %d from now on",
                        upload_id, len(data), exc.words, size,
                    )  # fmt: skip
                    continue
                if exc.code not in ("wrong_offset", "sha256_mismatch"):
                    raise
                state = _start(worker, row)  # where the hub's copy ends now
    except Problem as exc:
        if exc.hub_wide:
            worker.chunk_next = None  # a cut: the next chunks start small again
        exc.final = _failed(store, upload_id, exc)
        log.info(
            "document %s %s: %s", upload_id, "given up" if exc.final else "not sent yet", exc.words
        )
        raise


_OPEN_MARKS = ", ".join("?" * len(OPEN_STATUSES))


def _waiting(store: Store) -> list[dict[str, Any]]:
    return store.query(
        "SELECT u.id, u.visit_id, u.doc_type, u.size, u.sha256, u.tries, u.updated_at"
        " FROM hub_uploads u JOIN hub_upload_content c ON c.upload_id = u.id"
        " JOIN visits v ON v.id = u.visit_id"  # only while the visit is open
        f" WHERE u.state = 'waiting' AND v.status IN ({_OPEN_MARKS})"
        " ORDER BY u.queued_at, u.id",
        list(OPEN_STATUSES),
    )


def _not_yet(worker: SyncWorker, row: dict[str, Any], now: datetime) -> bool:
    """Whether a document that failed on its own waits a little more before its next try."""
    if not row["tries"]:
        return False
    wait = min(worker.wait_initial * 2 ** (row["tries"] - 1), RETRY_MAX_SECONDS)
    return (now - datetime.fromisoformat(row["updated_at"])).total_seconds() < wait


def waiting(store: Store) -> bool:
    return bool(store.query("SELECT 1 FROM hub_uploads WHERE state = 'waiting' LIMIT 1"))


@dataclass
class Sent:
    sent: int = 0
    error: str | None = None  # the last failure's words
    stopped: bool = False  # by the link or the hub as a whole (the rest waits)


def send_all(worker: SyncWorker, budget: float | None = None, *, paced: bool = False) -> Sent:
    """Send every waiting upload, oldest first (`pvp sync --once`; the Uploader with a
    budget, `paced`: a document that failed on its own waits its turn). A document's own
    failure moves on to the next one; the link or the hub failing stops the turn."""
    done = Sent()
    deadline = None if budget is None else time.monotonic() + budget
    for row in _waiting(worker.store):
        if paced and _not_yet(worker, row, datetime.now(UTC)):
            continue
        try:
            if send_one(worker, row, deadline):
                done.sent += 1
            else:
                break
        except Problem as exc:
            done.error = exc.words
            if exc.hub_wide:
                done.stopped = True
                break  # the hub or the link: the next ones would fail too
    erase_sent(worker.store)  # the spool keeps nothing sent
    return done


class Uploader:
    """The sync worker's task: a turn of at most BUDGET_SECONDS of chunks, between the
    outbox's batches (a new event goes before the rest of a long upload); after the link
    or the hub failed, the next turn waits (doubling, up to RETRY_MAX_SECONDS); a document
    that failed on its own waits at its own pace (`_not_yet`)."""

    def __init__(self, budget: float = BUDGET_SECONDS) -> None:
        self.budget = budget
        self._not_before = 0.0
        self._failures = 0

    def __call__(self, worker: SyncWorker) -> None:
        erase_sent(worker.store)  # what a process killed after "sent" left
        if time.monotonic() < self._not_before or not waiting(worker.store):
            return
        if worker.outbox.has_work():
            return  # the visit's events first (the hub needs the visit)
        from .sync import TokenRefused

        try:
            done = send_all(worker, self.budget, paced=True)
        except TokenRefused as exc:  # a new token needs a restart: the worker stops
            worker.stop_for_token(exc.words)
            return
        if not done.stopped:
            self._failures = 0
            return
        self._failures += 1
        wait = min(worker.wait_initial * 2 ** (self._failures - 1), RETRY_MAX_SECONDS)
        self._not_before = time.monotonic() + wait


# ---------------------------------------------------------------------- opened or not
def follow(worker: SyncWorker) -> int:
    """Ask the hub about each sent document not yet opened (at the pull's pace): its
    `opened_at` is recorded. Returns how many were newly opened."""
    # Only while the visit is open: once it closed, the agent's reading no longer matters.
    rows = worker.store.query(
        "SELECT u.id FROM hub_uploads u JOIN visits v ON v.id = u.visit_id"
        f" WHERE u.state = 'sent' AND v.status IN ({_OPEN_MARKS})",
        list(OPEN_STATUSES),
    )
    opened = 0
    for row in rows:
        try:
            response = worker.client.get(f"{START_PATH}/{row['id']}", headers=_headers(worker))
        except httpx.HTTPError as exc:
            log.info("document %s: state not read (%s)", row["id"], type(exc).__name__)
            return opened
        if response.status_code != 200:
            continue
        at = _moment(_answer(response).get("opened_at"))
        if at is not None:
            with worker.store.transaction() as db:
                db.execute(
                    "UPDATE hub_uploads SET state = 'opened', opened_at = ?, updated_at = ?"
                    " WHERE id = ? AND state = 'sent'",
                    [to_iso(at), to_iso(datetime.now(UTC)), row["id"]],
                )
            opened += 1
    return opened
