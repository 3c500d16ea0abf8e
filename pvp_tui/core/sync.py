"""The site's sync worker: sends the outbox to the hub, in order, in batches, exactly once.

- **Batches.** The oldest outbox rows not yet in a batch become one batch (at most
  BATCH_EVENTS events and BATCH_BYTES of body), given an Idempotency-Key; the key and the
  exact body are committed in the site's database *before* the first try, so every retry,
  by this process or another after a crash, sends the same bytes under the same key.
- **Answers** (docs/hub.md, "What a site's sync worker does with the answers"): a 2xx
  deletes the batch and its rows (sent); 408/409/425/429/5xx, timeouts and connection
  errors are retried with exponential backoff and jitter by stamina, honouring
  Retry-After; 401 stops the worker (a token cannot fix itself); any other 4xx holds the
  batch aside (`held`, never dropped: `pvp sync --status` shows it, `--retry-held` sends
  its events again under a new key) and the worker goes on with the next one.
- **One worker per database.** A lease in `sync_state` (holder, expiry LEASE_SECONDS
  ahead), taken and renewed in `BEGIN IMMEDIATE` transactions by a heartbeat thread; a
  process whose holder died takes over once the lease expires.
- **Threads only.** `SyncWorker.start()` runs it in a daemon thread with its own
  database connection; nothing here touches an event loop.

See docs/sync.md. No visitor name is ever logged or sent (pvp_tui.core.outbox).
"""

from __future__ import annotations

import email.utils
import json
import logging
import os
import socket
import sqlite3
import ssl
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import stamina

from .clock import to_iso
from .config import Hub
from .errors import PvpError
from .i18n import _, ngettext
from .store import Store

log = logging.getLogger(__name__)

PUSH_PATH = "/api/v1/site/events"
BATCH_EVENTS = 500  # the hub's default max_events_per_push
BATCH_BYTES = 512 * 1024  # half the hub's default max_body_bytes
LEASE_SECONDS = 15.0
RENEW_SECONDS = 5.0
POLL_SECONDS = 0.5  # how often an idle worker looks for new rows (or a free lease)
RETRY_AFTER_MAX = 600.0  # a Retry-After longer than this is cut down to it
RETRYABLE_STATUSES = frozenset({408, 409, 425, 429})


@dataclass(frozen=True)
class Timeouts:
    """Seconds: to connect, for each read or write, and for the whole exchange."""

    connect: float = 5.0
    read: float = 20.0
    total: float = 30.0


# -------------------------------------------------------------------------- outcomes


class Retryable(Exception):
    """The hub may or may not have applied the batch: send the same key and body again."""

    def __init__(self, words: str, status: int | None = None, retry_after: float | None = None):
        super().__init__(words)
        self.words = words
        self.status = status
        self.retry_after = retry_after


class Refused(Exception):
    """The hub refused the batch (4xx other than 401): nothing of it was stored."""

    def __init__(self, words: str, status: int) -> None:
        super().__init__(words)
        self.words = words
        self.status = status


class TokenRefused(Exception):
    """401, or no token to send: retrying will not help."""

    def __init__(self, words: str) -> None:
        super().__init__(words)
        self.words = words


class Stopped(Exception):
    """The worker was asked to stop, or lost its lease, between two tries."""


@dataclass(frozen=True)
class Batch:
    id: int
    key: str
    body: bytes
    events: int


@dataclass
class Drained:
    """What one `drain` did (counts only)."""

    batches: int = 0
    events: int = 0
    applied: int = 0
    duplicates: int = 0
    held: int = 0
    error: str | None = None  # why it stopped early (words for staff), None when empty
    token_refused: bool = False
    answers: list[dict[str, Any]] = field(default_factory=list)


@dataclass(frozen=True)
class SyncStatus:
    configured: bool
    waiting: int  # events not yet acknowledged (held ones excluded)
    oldest_queued_at: datetime | None
    held_batches: int
    held_events: int
    held_errors: tuple[str, ...]
    last_success_at: datetime | None
    last_error: str | None
    last_error_at: datetime | None
    failing_since: datetime | None
    sent: int
    worker_active: bool
    lease_until: float

    @property
    def online(self) -> bool:
        return self.failing_since is None


# --------------------------------------------------------------------- the outbox side


def _now_iso() -> str:
    return to_iso(datetime.now(UTC))


def _when(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text) if text else None


class Outbox:
    """The outbox's tables, read and written in short transactions (never while sending)."""

    def __init__(self, store: Store) -> None:
        self.store = store

    # The lease ------------------------------------------------------------------------
    def take_lease(self, holder: str, seconds: float = LEASE_SECONDS) -> bool:
        """Take or renew the lease; False when another live holder has it."""
        now = time.time()
        with self.store.transaction() as db:
            row = db.execute("SELECT holder, lease_until FROM sync_state WHERE id = 1").fetchone()
            if row is not None and row[0] not in (None, holder) and row[1] > now:
                return False
            db.execute(
                "UPDATE sync_state SET holder = ?, lease_until = ? WHERE id = 1",
                [holder, now + seconds],
            )
        return True

    def release_lease(self, holder: str) -> None:
        with self.store.transaction() as db:
            db.execute(
                "UPDATE sync_state SET lease_until = 0 WHERE id = 1 AND holder = ?", [holder]
            )

    # Batches --------------------------------------------------------------------------
    def next_batch(
        self, max_events: int = BATCH_EVENTS, max_bytes: int = BATCH_BYTES
    ) -> Batch | None:
        """The batch to send now: the oldest one made and not acknowledged yet (same key,
        same bytes), else a new one of the oldest rows; None when nothing waits."""
        with self.store.transaction() as db:
            row = db.execute(
                "SELECT id, key, body, events FROM outbox_batches WHERE state = 'pending' "
                "ORDER BY id LIMIT 1"
            ).fetchone()
            if row is not None:
                return Batch(row[0], row[1], bytes(row[2]), row[3])
            rows = db.execute(
                "SELECT seq, body FROM outbox WHERE batch_id IS NULL ORDER BY seq LIMIT ?",
                [max_events],
            ).fetchall()
            if not rows:
                return None
            bodies: list[str] = []
            size = len('{"events":[]}')
            last_seq = rows[0][0]
            for seq, body in rows:
                if bodies and size + len(body.encode()) + 1 > max_bytes:
                    break
                bodies.append(body)
                size += len(body.encode()) + 1
                last_seq = seq
            payload = ('{"events":[' + ",".join(bodies) + "]}").encode()
            key = str(uuid.uuid4())
            cursor = db.conn.execute(
                "INSERT INTO outbox_batches (key, body, events, made_at) VALUES (?, ?, ?, ?)",
                [key, payload, len(bodies), _now_iso()],
            )
            batch_id = int(cursor.lastrowid or 0)
            db.execute(
                "UPDATE outbox SET batch_id = ? WHERE batch_id IS NULL AND seq <= ?",
                [batch_id, last_seq],
            )
            return Batch(batch_id, key, payload, len(bodies))

    def sent(self, batch: Batch) -> None:
        """The hub answered 2xx: the batch and its rows leave the outbox."""
        with self.store.transaction() as db:
            db.execute("DELETE FROM outbox WHERE batch_id = ?", [batch.id])
            db.execute("DELETE FROM outbox_batches WHERE id = ?", [batch.id])
            db.execute(
                "UPDATE sync_state SET last_success_at = ?, failing_since = NULL, "
                "sent = sent + ? WHERE id = 1",
                [_now_iso(), batch.events],
            )

    def failed(self, words: str, batch: Batch | None = None, status: int | None = None) -> None:
        """A try failed (the batch stays as it is, for the next try)."""
        now = _now_iso()
        with self.store.transaction() as db:
            db.execute(
                "UPDATE sync_state SET last_error = ?, last_error_at = ?, "
                "failing_since = COALESCE(failing_since, ?) WHERE id = 1",
                [words, now, now],
            )
            if batch is not None:
                db.execute(
                    "UPDATE outbox_batches SET tries = tries + 1, status = ?, error = ? "
                    "WHERE id = ?",
                    [status, words, batch.id],
                )

    def hold(self, batch: Batch, status: int, words: str) -> None:
        """The hub refused the batch: kept aside with why, never dropped."""
        now = _now_iso()
        with self.store.transaction() as db:
            db.execute(
                "UPDATE outbox_batches SET state = 'held', tries = tries + 1, status = ?, "
                "error = ? WHERE id = ?",
                [status, words, batch.id],
            )
            # The hub answered: the link works, so this is no outage.
            db.execute(
                "UPDATE sync_state SET last_error = ?, last_error_at = ?, "
                "failing_since = NULL WHERE id = 1",
                [words, now],
            )

    def retry_held(self) -> int:
        """Put the held batches' events back in line (they get a new key); how many."""
        with self.store.transaction() as db:
            ids = [
                row[0] for row in db.execute("SELECT id FROM outbox_batches WHERE state = 'held'")
            ]
            count = 0
            for batch_id in ids:
                cursor = db.execute(
                    "UPDATE outbox SET batch_id = NULL WHERE batch_id = ?", [batch_id]
                )
                count += cursor.rowcount
                db.execute("DELETE FROM outbox_batches WHERE id = ?", [batch_id])
            return count

    def has_work(self) -> bool:
        rows = self.store.query(
            "SELECT EXISTS (SELECT 1 FROM outbox WHERE batch_id IS NULL) "
            "OR EXISTS (SELECT 1 FROM outbox_batches WHERE state = 'pending') AS work"
        )
        return bool(rows[0]["work"])

    def status(self, configured: bool = True) -> SyncStatus:
        with self.store.snapshot() as db:
            waiting, oldest = db.execute(
                "SELECT count(*), min(queued_at) FROM outbox o WHERE o.batch_id IS NULL "
                "OR o.batch_id IN (SELECT id FROM outbox_batches WHERE state = 'pending')"
            ).fetchone()
            held = db.execute(
                "SELECT count(*), coalesce(sum(events), 0) FROM outbox_batches WHERE state = 'held'"
            ).fetchone()
            errors = tuple(
                row[0]
                for row in db.execute(
                    "SELECT error FROM outbox_batches WHERE state = 'held' ORDER BY id LIMIT 5"
                )
            )
            state = db.execute(
                "SELECT holder, lease_until, last_success_at, last_error, last_error_at, "
                "failing_since, sent FROM sync_state WHERE id = 1"
            ).fetchone()
        return SyncStatus(
            configured=configured,
            waiting=int(waiting),
            oldest_queued_at=_when(oldest),
            held_batches=int(held[0]),
            held_events=int(held[1]),
            held_errors=errors,
            last_success_at=_when(state[2]),
            last_error=state[3],
            last_error_at=_when(state[4]),
            failing_since=_when(state[5]),
            sent=int(state[6]),
            worker_active=float(state[1]) > time.time(),
            lease_until=float(state[1]),
        )


# ------------------------------------------------------------------------ the sender


def _retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("Retry-After")
    if not value:
        return None
    try:
        seconds = float(value)
    except ValueError:
        moment = email.utils.parsedate_to_datetime(value) if value else None
        if moment is None:
            return None
        seconds = (moment - datetime.now(UTC)).total_seconds()
    return max(0.0, min(seconds, RETRY_AFTER_MAX))


def _backoff(exc: Exception) -> bool | float:
    """stamina's hook: retry what may succeed later, after Retry-After when given."""
    if isinstance(exc, Retryable):
        return exc.retry_after if exc.retry_after is not None else True
    return False


def _error_words(status: int, body: bytes) -> tuple[str, str]:
    """The hub's refusal as (code, problems) from its documented error shape."""
    try:
        error = json.loads(body)["error"]
        code = str(error.get("code", ""))
        problems = "; ".join(str(p) for p in error.get("problems", [])[:5])
        return code, problems or str(error.get("message", ""))
    except (ValueError, KeyError, TypeError, AttributeError):
        return "", ""


# The worker's connection checkpoints the WAL by itself from this many pages on (32 MiB
# of 4 KiB pages; the desks' connections keep SQLite's 1,000 and the upkeep runs every
# minute): a scan spooled for the hub goes through the WAL without a checkpoint until its
# bytes are erased, and only the zeros of its pages reach the database file
# (hub_uploads.erase_sent, docs/sync.md).
WORKER_AUTOCHECKPOINT_PAGES = 8192


class SyncWorker:
    """Sends one database's outbox to its hub. `drain()` for once; `start()` for a thread."""

    def __init__(
        self,
        store: Store,
        hub: Hub,
        *,
        timeouts: Timeouts | None = None,
        holder: str | None = None,
        on_change: Callable[[], None] | None = None,
        wait_initial: float = 0.5,
        max_events: int = BATCH_EVENTS,
        tasks: Sequence[Callable[[SyncWorker], None]] = (),
    ) -> None:
        self.outbox = Outbox(store)
        self.store = store
        # The worker's small writes (the outbox, an upload's progress) leave a large
        # write's checkpoint to the erase at the end of the uploader's turn (hub_uploads).
        store.set_autocheckpoint(WORKER_AUTOCHECKPOINT_PAGES)
        self.hub = hub
        self.timeouts = timeouts or Timeouts()
        self.holder = holder or f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self.on_change = on_change
        self.wait_initial = wait_initial
        self.max_events = max_events
        self.tasks = tuple(tasks)  # run between two drains by the lease holder (site_status)
        self._stop = threading.Event()
        self._lease_lost = threading.Event()
        self._client: httpx.Client | None = None
        self._thread: threading.Thread | None = None
        self._heartbeat: threading.Thread | None = None
        self.stopped_by_token = False
        # The largest chunk of a document that went through to this hub (a proxy's limit
        # found by a 413; pvp_tui.core.hub_uploads): None until one was refused.
        self.chunk_limit: int | None = None
        # The chunk size the last upload to this hub reached (doubled after fast chunks,
        # halved after slow ones; None after a cut): the next upload starts there.
        self.chunk_next: int | None = None
        # pvp_tui.core.pull.Puller: pulls the hub's changes between sends, in this thread.
        self.puller: Any = None

    # The HTTP client -----------------------------------------------------------------
    @property
    def client(self) -> httpx.Client:
        if self._client is None:
            verify: ssl.SSLContext | bool = True
            if self.hub.ca_file is not None:
                verify = ssl.create_default_context(cafile=str(self.hub.ca_file))
            t = self.timeouts
            self._client = httpx.Client(
                base_url=self.hub.url,
                verify=verify,
                timeout=httpx.Timeout(
                    connect=t.connect, read=min(t.read, t.total), write=t.read, pool=t.connect
                ),
                limits=httpx.Limits(max_connections=1, keepalive_expiry=60),
                headers={"User-Agent": "pvp-relais-sync"},
            )
        return self._client

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None

    def _token(self) -> str:
        try:
            token = self.hub.read_token()
        except OSError as exc:
            raise TokenRefused(
                _("Cannot read the hub token file {path} ({error}).").format(
                    path=self.hub.token_file, error=exc.strerror or exc
                )
            ) from None
        if not token:
            raise TokenRefused(
                _("The hub token file {path} is empty.").format(path=self.hub.token_file)
            )
        return token

    def token_refused_words(self) -> str:
        """What a 401 says, whichever exchange got it (events, pull, documents)."""
        return _(
            "The hub refused the site's token (401): it is missing, unknown or "
            "revoked. Ask the region for a new token file ({path})."
        ).format(path=self.hub.token_file)

    def stop_for_token(self, words: str) -> None:
        """A 401 (or no token): recorded for the status, and this worker stops (`run`
        returns after the task that got it; a new token needs a restart)."""
        log.warning("sync stopped: %s", words)
        self.outbox.failed(words)
        self.stopped_by_token = True
        self._stop.set()
        self._changed()

    def exchange(self, batch: Batch) -> dict[str, Any]:
        """One POST of the batch; its answer, or Retryable / Refused / TokenRefused."""
        headers = {
            "Authorization": f"Bearer {self._token()}",
            "Idempotency-Key": batch.key,
            "Content-Type": "application/json",
        }
        deadline = time.monotonic() + self.timeouts.total
        try:
            with self.client.stream("POST", PUSH_PATH, content=batch.body, headers=headers) as r:
                chunks = []
                for chunk in r.iter_bytes():
                    chunks.append(chunk)
                    if time.monotonic() > deadline:
                        raise httpx.ReadTimeout("the whole exchange took too long")
                if time.monotonic() > deadline:
                    raise httpx.ReadTimeout("the whole exchange took too long")
                body = b"".join(chunks)
                response = r
        except httpx.TimeoutException:
            raise Retryable(
                _("The hub did not answer within {seconds} s.").format(
                    seconds=f"{self.timeouts.total:g}"
                )
            ) from None
        except httpx.TransportError as exc:
            raise Retryable(
                _("Cannot reach the hub {url} ({error}).").format(
                    url=self.hub.url, error=str(exc) or type(exc).__name__
                )
            ) from None
        status = response.status_code
        if 200 <= status < 300:
            try:
                answer: dict[str, Any] = json.loads(body)
            except ValueError:
                answer = {}
            return answer
        code, problems = _error_words(status, body)
        if status == 401:
            raise TokenRefused(self.token_refused_words())
        if status in RETRYABLE_STATUSES or status >= 500:
            words = (
                _("The hub asked to wait (HTTP {status}).")
                if status in (409, 425, 429)
                else _("The hub had a problem (HTTP {status}).")
            ).format(status=status)
            raise Retryable(words, status, _retry_after(response))
        raise Refused(
            ngettext(
                "The hub refused a batch of {n} event (HTTP {status} {code}): {problems}",
                "The hub refused a batch of {n} events (HTTP {status} {code}): {problems}",
                batch.events,
            ).format(n=batch.events, status=status, code=code, problems=problems),
            status,
        )

    def send(self, batch: Batch, *, timeout: float | None = None) -> dict[str, Any]:
        """Send one batch until the hub answers for it: retried with backoff and jitter
        (stamina), each failed try recorded at once for the status and the badge."""
        for attempt in stamina.retry_context(
            on=_backoff,
            attempts=None,
            timeout=timeout,
            wait_initial=self.wait_initial,
            wait_max=self.hub.retry_max_seconds,
            wait_jitter=min(1.0, self.hub.retry_max_seconds),
        ):
            with attempt:
                if self._stop.is_set() or self._lease_lost.is_set():
                    raise Stopped
                try:
                    return self.exchange(batch)
                except Retryable as exc:
                    log.info(
                        "batch %s (%d events): try %d failed: %s",
                        batch.key, batch.events, attempt.num, exc.words,
                    )  # fmt: skip
                    self.outbox.failed(exc.words, batch, exc.status)
                    self._changed()
                    raise
        raise AssertionError("unreachable")  # stamina re-raises the last error

    def drain(self, *, timeout: float | None = None) -> Drained:
        """Send every waiting batch (the caller holds the lease). `timeout`: give up a
        batch's retries after that many seconds (None: keep trying until stopped)."""
        done = Drained()
        while not self._stop.is_set() and not self._lease_lost.is_set():
            batch = self.outbox.next_batch(self.max_events)
            if batch is None:
                break
            try:
                answer = self.send(batch, timeout=timeout)
            except Retryable as exc:
                done.error = exc.words
                break
            except Stopped:
                break
            except TokenRefused as exc:
                log.warning("sync stopped: %s", exc.words)
                self.outbox.failed(exc.words, batch, 401)
                done.error = exc.words
                done.token_refused = True
                self._changed()
                break
            except Refused as exc:
                log.warning("batch %s held: %s", batch.key, exc.words)
                self.outbox.hold(batch, exc.status, exc.words)
                done.held += batch.events
                self._changed()
                continue
            self.outbox.sent(batch)
            done.batches += 1
            done.events += batch.events
            done.applied += int(answer.get("applied", 0))
            done.duplicates += int(answer.get("duplicates", 0))
            done.answers.append(answer)
            log.info(
                "batch %s sent: %d events, %s applied, %s duplicates",
                batch.key, batch.events, answer.get("applied"), answer.get("duplicates"),
            )  # fmt: skip
            self._changed()
        return done

    def _changed(self) -> None:
        if self.on_change is not None:
            try:
                self.on_change()
            except Exception:  # a failing listener must not stop the sending
                log.exception("sync listener failed")

    # The lease and the thread ----------------------------------------------------------
    def acquire(self) -> bool:
        """Take the lease and keep it renewed by a heartbeat thread; False if held."""
        if not self.outbox.take_lease(self.holder):
            return False
        self._lease_lost.clear()
        if self._heartbeat is None or not self._heartbeat.is_alive():
            self._heartbeat = threading.Thread(
                target=self._renew, name="pvp-sync-lease", daemon=True
            )
            self._heartbeat.start()
        return True

    def _renew(self) -> None:
        while not self._stop.wait(RENEW_SECONDS):
            try:
                if not self.outbox.take_lease(self.holder):
                    log.warning("sync lease taken by another process: this one stops sending")
                    self._lease_lost.set()
                    return
            except Exception:  # the database busy for a moment: try again next time
                log.exception("sync lease renewal failed")

    def run(self) -> None:
        """Until stopped: hold the lease (or wait for it), send what waits, then look for
        new rows every POLL_SECONDS. A refused token ends it."""
        if self._thread is None:  # run in a thread its caller made: stop() waits for it
            self._thread = threading.current_thread()
        try:
            while not self._stop.is_set():
                try:
                    if (
                        self._heartbeat is None or self._lease_lost.is_set()
                    ) and not self.acquire():
                        self._stop.wait(POLL_SECONDS * 2)
                        continue
                    if self.outbox.has_work():
                        result = self.drain()
                        if result.token_refused:
                            self.stopped_by_token = True
                            return
                        if result.error is not None:
                            continue
                    if self.puller is not None and self.puller.due():
                        pulled = self.puller.run()
                        if pulled.token_refused:
                            self.stopped_by_token = True
                            return
                    self._run_tasks()
                    if self.stopped_by_token:  # a task got a 401 (the documents' uploader)
                        return
                except (PvpError, sqlite3.Error) as exc:
                    # The database locked past its timeout, or the disk full: nothing was
                    # half-written (each step is one transaction); try again shortly.
                    log.warning("sync worker: database error: %s", exc)
                    self._stop.wait(1.0)
                    continue
                self._stop.wait(POLL_SECONDS)
        finally:
            self._release()

    def _run_tasks(self) -> None:
        """The holder's other duties (the site's status), each with the worker at hand;
        one that fails is logged and does not stop the sending."""
        for task in self.tasks:
            if self._stop.is_set() or self._lease_lost.is_set():
                return
            try:
                task(self)
            except Exception:
                log.exception("sync task %r failed", task)

    def _release(self) -> None:
        self._stop.set()
        try:
            self.outbox.release_lease(self.holder)
        except Exception:
            log.exception("sync lease release failed")
        self.close()

    def start(self) -> SyncWorker:
        self._thread = threading.Thread(target=self.run, name="pvp-sync", daemon=True)
        self._thread.start()
        return self

    def stop(self, wait: float = 2.0) -> None:
        self._stop.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout=wait)


def open_worker(path: Path, hub: Hub, **kwargs: Any) -> SyncWorker:
    """A worker on its own connection to the database at `path` (never the app's)."""
    return SyncWorker(Store(path), hub, **kwargs)
