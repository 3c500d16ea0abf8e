"""Printer adapter: CUPS through pycups (``import cups``).

* pycups keeps per-thread state in a Connection: each worker thread has its own
  (``threading.local``), dropped and rebuilt after any connection failure so that a
  restarted cupsd is found again;
* states and reasons are translated into plain words (:data:`PRINTER_REASONS`);
  "offline" has no CUPS reason: it is inferred from the printer message plus a job that
  sits unprocessed for ``offline_after`` seconds;
* a job the bridge accepted is written to ``SPOOL/state/print-jobs.json`` (an intent
  before submitting, the job id right after), so a restarted bridge finds its jobs again
  in CUPS and keeps reporting them with ``print.job`` events.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import re
import secrets
import shutil
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from kiosk_bridge.errors import BridgeError

log = logging.getLogger("kiosk_bridge.printer")

JOB_STATES = {
    3: "pending",
    4: "held",
    5: "processing",
    6: "stopped",
    7: "canceled",
    8: "aborted",
    9: "completed",
}
FINAL = {"canceled", "aborted", "completed"}
PRINTER_STATES = {3: "idle", 4: "printing", 5: "stopped"}

# Plain words for printer-state-reasons (suffixes -error/-warning/-report stripped).
PRINTER_REASONS: dict[str, tuple[str, str, str, str]] = {
    # cups keyword: (code, severity, fr, en)
    "media-empty": ("paper_out", "error", "Plus de papier", "Out of paper"),
    "media-needed": ("paper_out", "error", "Plus de papier", "Out of paper"),
    "media-low": ("paper_low", "warning", "Papier bientôt épuisé", "Paper low"),
    "media-jam": ("paper_jam", "error", "Bourrage papier", "Paper jam"),
    "toner-low": ("toner_low", "warning", "Toner bientôt vide", "Toner low"),
    "toner-empty": ("toner_empty", "error", "Toner vide", "Toner empty"),
    "marker-supply-low": ("toner_low", "warning", "Encre bientôt vide", "Ink low"),
    "marker-supply-empty": ("toner_empty", "error", "Encre vide", "Ink empty"),
    "door-open": ("door_open", "error", "Capot ouvert", "Door open"),
    "cover-open": ("door_open", "error", "Capot ouvert", "Cover open"),
    "paused": ("paused", "error", "En pause", "Paused"),
    "offline": ("offline", "error", "Hors ligne", "Offline"),
    "connecting-to-device": ("offline", "error", "Hors ligne", "Offline"),
    "shutdown": ("offline", "error", "Hors ligne", "Offline"),
}
EXTRA_REASONS = {
    "rejecting": ("rejecting", "error", "Refuse les travaux", "Rejecting jobs"),
    "offline": ("offline", "error", "Hors ligne", "Offline"),
}
JOB_REASONS = {
    "job-completed-successfully": "completed",
    "job-canceled-by-user": "canceled_by_user",
    "job-canceled-by-operator": "canceled_by_operator",
    "job-canceled-at-device": "canceled_at_printer",
    "aborted-by-system": "aborted_by_system",
    "job-aborted-by-system": "aborted_by_system",
    "document-format-error": "unprintable",
    "document-unprintable-error": "unprintable",
    "job-printing": "printing",
    "job-queued": "queued",
    "job-incoming": "queued",
    "printer-stopped": "printer_paused",
    "job-hold-until-specified": "held",
    "processing-to-stop-point": "stopping",
    "job-stopped": "stopped",
}
OFFLINE_MESSAGE = re.compile(
    r"may not exist or is unavailable|unable to connect|not responding|"
    r"waiting for printer to become available|unreachable|connection refused",
    re.I,
)
Emit = Callable[[str, dict[str, Any]], None]


def plain_reason(keyword: str) -> dict[str, Any] | None:
    """One printer-state-reasons keyword in plain words (None: not worth showing)."""
    base = re.sub(r"-(error|warning|report)$", "", keyword)
    if base in ("none", "") or base.startswith("cups-"):
        return None
    known = PRINTER_REASONS.get(base)
    if known is None:
        return {
            "code": "other",
            "cups": keyword,
            "severity": "warning",
            "message": {"fr": keyword, "en": keyword},
        }
    code, severity, fr, en = known
    return {"code": code, "cups": keyword, "severity": severity, "message": {"fr": fr, "en": en}}


def _extra(code: str) -> dict[str, Any]:
    c, severity, fr, en = EXTRA_REASONS[code]
    return {"code": c, "cups": None, "severity": severity, "message": {"fr": fr, "en": en}}


def as_list(value: Any) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    return [str(v) for v in value]


CUPS_PRINTER_REJECTING = 0x80000  # printer-type bit (getPrinters has no accepting attr)


def accepting(attrs: dict[str, Any]) -> bool:
    if "printer-is-accepting-jobs" in attrs:
        return bool(attrs["printer-is-accepting-jobs"])
    return not int(attrs.get("printer-type", 0)) & CUPS_PRINTER_REJECTING


def describe_printer(
    name: str, attrs: dict[str, Any], *, default: str | None, offline: bool
) -> dict[str, Any]:
    """A CUPS printer's attributes in protocol words."""
    reasons = [r for r in map(plain_reason, as_list(attrs.get("printer-state-reasons"))) if r]
    if not accepting(attrs):
        reasons.append(_extra("rejecting"))
    if offline and not any(r["code"] == "offline" for r in reasons):
        reasons.append(_extra("offline"))
    seen: set[str] = set()
    unique = [r for r in reasons if not (r["code"] in seen or seen.add(r["code"]))]  # type: ignore[func-returns-value]
    return {
        "name": name,
        "state": PRINTER_STATES.get(int(attrs.get("printer-state", 3)), "unknown"),
        "accepting": accepting(attrs),
        "reasons": unique,
        "message": attrs.get("printer-state-message", "") or "",
        "info": attrs.get("printer-info", "") or "",
        "location": attrs.get("printer-location", "") or "",
        "model": attrs.get("printer-make-and-model", "") or "",
        "default": name == default,
    }


def final_reason(state: str, reasons: list[str], message: str) -> str | None:
    """Why a job ended, in one word (None while it runs)."""
    if state == "completed":
        return "completed"
    if state == "canceled":
        if "canceled_by_user" in reasons or "canceled_by_operator" in reasons:
            return "canceled_by_user"
        if "canceled_at_printer" in reasons or re.search(r"canceled at printer", message, re.I):
            return "canceled_at_printer"
        return "canceled"
    if state == "aborted":
        for r in ("job_lost", "unprintable", "aborted_by_system"):
            if r in reasons:
                return r
        return "aborted"
    return None


def job_reasons(value: Any) -> list[str]:
    out = []
    for r in as_list(value):
        if r == "none" or r.startswith("cups-"):
            continue
        out.append(JOB_REASONS.get(r, r))
    return out


@dataclass
class TrackedJob:
    job: int
    printer: str
    document: str
    title: str
    copies: int
    duplex: bool
    submitted: float
    state: str = "pending"
    reasons: list[str] = field(default_factory=list)
    printer_reasons: list[str] = field(default_factory=list)
    message: str = ""
    final: bool = False
    finished: float | None = None
    reason: str | None = None
    cancel_requested: bool = False

    def public(self) -> dict[str, Any]:
        d = asdict(self)
        d.pop("title")
        return d


class JobStore:
    """Accepted jobs and submit intents, persisted atomically in one small JSON file."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.jobs: dict[int, TrackedJob] = {}
        self.intents: dict[str, dict[str, Any]] = {}
        self._lock = threading.Lock()
        try:
            raw = json.loads(path.read_text())
        except FileNotFoundError:
            return
        except ValueError:
            log.error("%s is unreadable; starting with no tracked print jobs", path)
            return
        for j in raw.get("jobs", []):
            job = TrackedJob(**j)
            self.jobs[job.job] = job
        self.intents = dict(raw.get("intents", {}))

    def save(self) -> None:
        with self._lock:
            data = json.dumps(
                {"jobs": [asdict(j) for j in self.jobs.values()], "intents": self.intents}
            ).encode()
            tmp = self.path.with_name(f".{self.path.name}.{secrets.token_hex(4)}")
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "wb") as f:
                f.write(data)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, self.path)

    def forget_older_than(self, cutoff: float) -> int:
        """Forget finished jobs older than `cutoff`; returns how many (save them then)."""
        old = [k for k, j in self.jobs.items() if j.final and (j.finished or 0) < cutoff]
        for k in old:
            del self.jobs[k]
        return len(old)


class PrinterService:
    def __init__(
        self,
        state_file: Path,
        emit: Emit,
        *,
        allowed: tuple[str, ...] = (),
        offline_after: float = 10.0,
        keep_finished_s: float = 24 * 3600,
    ) -> None:
        self.emit = emit
        self.allowed = allowed
        self.offline_after = offline_after
        self.keep_finished_s = keep_finished_s
        self.store = JobStore(state_file)
        self._pool = ThreadPoolExecutor(2, thread_name_prefix="cups")
        self._local = threading.local()
        self._wake = asyncio.Event()
        self._monitor: asyncio.Task[None] | None = None
        self.cups_ok: bool | None = None

    # -- connections ------------------------------------------------------------------------
    def _conn(self) -> Any:
        import cups

        conn = getattr(self._local, "conn", None)
        if conn is None:
            try:
                conn = cups.Connection()
            except RuntimeError:
                self.cups_ok = False
                raise BridgeError("printer_unavailable") from None
            self._local.conn = conn
        return conn

    def _call_sync(self, fn: Callable[..., Any], *args: Any) -> Any:
        import cups

        try:
            result = fn(self._conn(), *args)
        except BridgeError:
            raise
        except cups.IPPError as exc:
            status = exc.args[0] if exc.args else 0
            if status in (1282, 1283) or status < 0x400:  # service unavailable / http
                self._local.conn = None
                self.cups_ok = False
                raise BridgeError("printer_unavailable", details={"ipp": status}) from None
            raise
        except (cups.HTTPError, RuntimeError) as exc:
            self._local.conn = None
            self.cups_ok = False
            raise BridgeError("printer_unavailable", details={"cups": str(exc)}) from None
        self.cups_ok = True
        return result

    async def call(self, fn: Callable[..., Any], *args: Any) -> Any:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._pool, self._call_sync, fn, *args)

    # -- listing --------------------------------------------------------------------------------
    @staticmethod
    def _snapshot(conn: Any) -> tuple[dict[str, Any], str | None, dict[int, dict[str, Any]]]:
        printers = conn.getPrinters()
        default = conn.getDefault()
        jobs = conn.getJobs(
            which_jobs="not-completed",
            requested_attributes=[
                "job-id",
                "job-state",
                "job-printer-uri",
                "time-at-processing",
                "time-at-creation",
            ],
        )
        return printers, default, jobs

    def _offline_printers(
        self, printers: dict[str, Any], jobs: dict[int, dict[str, Any]]
    ) -> set[str]:
        now = time.time()
        stuck: set[str] = set()
        for attrs in jobs.values():
            uri = str(attrs.get("job-printer-uri", ""))
            name = uri.rsplit("/", 1)[-1]
            since = attrs.get("time-at-processing") or attrs.get("time-at-creation") or now
            if now - float(since) >= self.offline_after:
                stuck.add(name)
        return {
            name
            for name, attrs in printers.items()
            if name in stuck and OFFLINE_MESSAGE.search(attrs.get("printer-state-message", ""))
        }

    def _visible(self, name: str) -> bool:
        return not self.allowed or name in self.allowed

    async def list_printers(self) -> list[dict[str, Any]]:
        printers, default, jobs = await self.call(self._snapshot)
        offline = self._offline_printers(printers, jobs)
        return [
            describe_printer(name, attrs, default=default, offline=name in offline)
            for name, attrs in sorted(printers.items())
            if self._visible(name)
        ]

    async def health(self) -> dict[str, Any]:
        try:
            printers = await self.list_printers()
        except BridgeError:
            return {"cups": "down", "printers": []}
        return {
            "cups": "ok",
            "printers": [
                {
                    "name": p["name"],
                    "state": p["state"],
                    "reasons": [r["code"] for r in p["reasons"]],
                }
                for p in printers
            ],
        }

    # -- printing ---------------------------------------------------------------------------------
    async def print_file(
        self, path: Path, document: str, printer: str, copies: int, duplex: bool, work_dir: Path
    ) -> TrackedJob:
        if not self._visible(printer):
            raise BridgeError("printer_not_found", printer=printer)
        printers = await self.call(lambda c: c.getPrinters())
        attrs = printers.get(printer)
        if attrs is None:
            raise BridgeError("printer_not_found", printer=printer)
        if not accepting(attrs):
            raise BridgeError("printer_rejecting", printer=printer)
        if int(attrs.get("printer-state", 3)) == 5:
            raise BridgeError("printer_paused", printer=printer)
        nonce = secrets.token_hex(4)
        title = f"pvp-{document}-{nonce}"
        options = {"copies": str(copies)}
        options["sides"] = "two-sided-long-edge" if duplex else "one-sided"
        self.store.intents[nonce] = {
            "title": title,
            "printer": printer,
            "document": document,
            "copies": copies,
            "duplex": duplex,
            "submitted": time.time(),
        }
        await asyncio.to_thread(self.store.save)

        # CUPS hides job-name from unauthenticated readers (JobPrivateValues), but not
        # document-name-supplied, the submitted file's base name: submit a link named
        # after the title so that recover() can always find the job again.
        named = work_dir / f"{title}{path.suffix}"

        def submit(conn: Any) -> int:
            import cups

            try:
                os.link(path, named)
            except OSError:
                shutil.copyfile(path, named)
            try:
                return int(conn.printFile(printer, str(named), title, options))
            except cups.IPPError as exc:
                status = exc.args[0] if exc.args else 0
                if status == 1280:
                    raise BridgeError("printer_not_found", printer=printer) from None
                if status == 1286:
                    raise BridgeError("printer_rejecting", printer=printer) from None
                raise
            finally:
                with contextlib.suppress(OSError):
                    named.unlink()

        try:
            job_id = await self.call(submit)
        except BaseException:
            self.store.intents.pop(nonce, None)
            await asyncio.to_thread(self.store.save)
            raise
        intent = self.store.intents.pop(nonce)
        job = TrackedJob(job=job_id, **intent)
        self.store.jobs[job_id] = job
        await asyncio.to_thread(self.store.save)
        log.info("print job %s on %s for %s", job_id, printer, document)
        self._wake.set()
        return job

    async def cancel(self, job_id: int) -> TrackedJob:
        job = self.store.jobs.get(job_id)
        if job is None:
            raise BridgeError("job_not_found", job=job_id)
        if job.final:
            raise BridgeError("job_finished", job=job_id)

        def cancel(conn: Any) -> None:
            import cups

            try:
                conn.cancelJob(job_id, False)
            except cups.IPPError as exc:
                status = exc.args[0] if exc.args else 0
                if status == 1028:
                    raise BridgeError("job_finished", job=job_id) from None
                if status == 1030:
                    raise BridgeError("job_not_found", job=job_id) from None
                raise

        job.cancel_requested = True
        await self.call(cancel)
        await self.refresh([job])
        return job

    async def jobs(self, printer: str | None, active_only: bool) -> list[TrackedJob]:
        jobs = [
            j
            for j in self.store.jobs.values()
            if (printer is None or j.printer == printer) and not (active_only and j.final)
        ]
        with contextlib.suppress(BridgeError):
            await self.refresh([j for j in jobs if not j.final])
        return sorted(jobs, key=lambda j: j.job)

    # -- following jobs --------------------------------------------------------------------------
    def _poll_sync(self, conn: Any, jobs: list[TrackedJob]) -> list[TrackedJob]:
        import cups

        changed = []
        printers: dict[str, Any] | None = None
        now = time.time()
        for job in jobs:
            try:
                attrs = conn.getJobAttributes(job.job)
            except cups.IPPError as exc:
                if exc.args and exc.args[0] == 1030:  # CUPS forgot it
                    job.state, job.final, job.finished = "aborted", True, now
                    job.reasons, job.reason = ["job_lost"], "job_lost"
                    changed.append(job)
                    continue
                raise
            state = JOB_STATES.get(int(attrs.get("job-state", 3)), "pending")
            reasons = job_reasons(attrs.get("job-state-reasons"))
            message = str(attrs.get("job-printer-state-message", "") or "")
            printer_reasons: list[str] = []
            if state not in FINAL:
                if printers is None:
                    printers = conn.getPrinters()
                pattrs = printers.get(job.printer, {})
                printer_reasons = [
                    r["code"]
                    for r in map(plain_reason, as_list(pattrs.get("printer-state-reasons")))
                    if r
                ]
                since = attrs.get("time-at-processing") or attrs.get("time-at-creation") or now
                pmessage = str(pattrs.get("printer-state-message", ""))
                if now - float(since) >= self.offline_after and OFFLINE_MESSAGE.search(pmessage):
                    printer_reasons.append("offline")
                message = message or pmessage
            key = (state, reasons, printer_reasons)
            if key != (job.state, job.reasons, job.printer_reasons):
                job.state, job.reasons, job.printer_reasons = state, reasons, printer_reasons
                job.message = message
                if state in FINAL:
                    job.final, job.finished = True, now
                    job.reason = final_reason(
                        state, [*reasons, *(["canceled_by_user"] * job.cancel_requested)], message
                    )
                    job.reasons = [r for r in reasons if r != "stopping"]
                changed.append(job)
        return changed

    async def refresh(self, jobs: list[TrackedJob]) -> None:
        if not jobs:
            return
        changed = await self.call(self._poll_sync, jobs)
        if changed:
            await asyncio.to_thread(self.store.save)
        for job in changed:
            self.emit("print.job", job.public())

    async def recover(self) -> None:
        """After a restart: adopt submit intents CUPS did accept, then follow every job."""
        if self.store.intents:
            try:
                all_jobs = await self.call(
                    lambda c: c.getJobs(
                        which_jobs="all",
                        requested_attributes=["job-id", "job-name", "document-name-supplied"],
                    )
                )
            except BridgeError:
                return  # cupsd down: try again on the next start or poll
            by_title: dict[str, int] = {}
            for j, a in all_jobs.items():
                by_title[str(a.get("job-name"))] = int(j)
                by_title[str(a.get("document-name-supplied", "")).rsplit(".", 1)[0]] = int(j)
            for nonce, intent in list(self.store.intents.items()):
                job_id = by_title.get(intent["title"])
                if job_id is not None:
                    self.store.jobs[job_id] = TrackedJob(job=job_id, **intent)
                    log.info("recovered print job %s from a submit in progress", job_id)
                del self.store.intents[nonce]
            await asyncio.to_thread(self.store.save)
        self._wake.set()

    async def start(self) -> None:
        """Find the jobs of a previous run (before any client can ask), then follow them."""
        try:
            await self.recover()
        except Exception:
            log.exception("could not recover print jobs; they stay in the state file")
        self._monitor = asyncio.create_task(self._follow(), name="print-monitor")

    async def _follow(self) -> None:
        while True:
            active = [j for j in self.store.jobs.values() if not j.final]
            if not active:
                if self.store.forget_older_than(time.time() - self.keep_finished_s):
                    try:  # the state file holds a day's jobs, not a month's
                        await asyncio.to_thread(self.store.save)
                    except OSError as exc:
                        log.warning("could not save the print jobs' state: %s", exc)
                self._wake.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), timeout=5.0)
                continue
            try:
                await self.refresh(active)
            except BridgeError:
                await asyncio.sleep(1.0)  # cupsd down: jobs stay tracked
                continue
            except Exception:
                log.exception("print job poll failed")
                await asyncio.sleep(1.0)
                continue
            young = any(time.time() - j.submitted < 10 for j in active)
            await asyncio.sleep(0.02 if young else 0.25)

    async def close(self) -> None:
        if self._monitor is not None:
            self._monitor.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._monitor
        self._pool.shutdown(wait=False, cancel_futures=True)
