"""Scanner adapter: SANE through python-sane (``import sane``).

Rules (see docs/bridge-protocol.md and the SANE traps in docs/hardware.md):

* every blocking SANE call runs off the event loop: one dedicated worker thread per
  device for scans, one thread for the global calls (init, device list);
* one scan per device at a time (``scanner_busy``); scans on *different* devices wait for
  each other (:attr:`ScannerService._reading`): SANE backends that fork a reader per scan
  leak pipe ends into each other's children, and two parallel feeder runs of the test
  backend hang forever (verified);
* options are checked against the device's own option list before anything is set
  (python-sane turns a misspelt name into a plain attribute and clamps out-of-range
  values silently); values the device changed anyway are refused;
* the progress callback given to python-sane never lets an exception out (one that does
  crashes the interpreter): :func:`safe_progress` guards it;
* pages are encoded (PNG + thumbnail) in another thread while the next sheet is scanned,
  then assembled into one PDF by :meth:`Spool.add_pages` (img2pdf, lossless);
* every SANE status maps to a stable error code (:data:`SANE_ERRORS`);
* when a scan ends, the memory its pages took goes back to the system
  (:func:`kiosk_bridge.memory.release`).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import logging
import re
import shutil
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kiosk_bridge import memory
from kiosk_bridge.errors import BridgeError
from kiosk_bridge.spool import THUMB_BOX, Spool, new_id

log = logging.getLogger("kiosk_bridge.scanner")

# sane_strstatus() texts -> error codes.
SANE_ERRORS: dict[str, str] = {
    "Device busy": "scanner_busy",
    "Document feeder jammed": "scanner_jammed",
    "Scanner cover is open": "scanner_cover_open",
    "Document feeder out of documents": "scanner_no_documents",
    "Error during device I/O": "scanner_io_error",
    "Out of memory": "scanner_io_error",
    "Operation not supported": "scanner_io_error",
    "Invalid argument": "scanner_io_error",
    "Access to resource has been denied": "scanner_access_denied",
}
NO_DOCS = "Document feeder out of documents"
CANCELLED = "Operation was canceled"

TYPE_BOOL, TYPE_INT, TYPE_FIXED, TYPE_STRING, TYPE_BUTTON, TYPE_GROUP = range(6)
CAP_SOFT_SELECT, CAP_INACTIVE = 1, 32
COMMON_DPI = (75, 100, 150, 200, 240, 300, 400, 600, 1200)
PNG_LEVEL = 1  # fast zlib level: scans are big, the PDF keeps the PNG stream as is
A4_MM = (210.0, 297.0)
ENCODE_BACKLOG = 1  # scanned pages waiting for the encoder, at most
Emit = Callable[[str, dict[str, Any]], None]

# SANE's state is per process: sane_exit/sane_init must never run while a handle is open
# or while another thread lists devices. One lock for init/exit/get_devices/open/close,
# shared by every ScannerService of the process, and a count of open handles.
_SANE_LOCK = threading.Lock()
_SANE = {"initialised": False, "open_handles": 0}


def sane_error(exc: BaseException, device: str, *, opening: bool = False) -> BridgeError:
    """Map a python-sane failure to a BridgeError with a stable code."""
    text = str(exc)
    if opening and text == "Invalid argument":
        return BridgeError("scanner_gone", device=device)
    code = SANE_ERRORS.get(text, "scanner_io_error")
    return BridgeError(code, device=device, details={"sane": text})


def safe_progress(fn: Callable[[int, int], None]) -> Callable[[int, int], None]:
    """A callback for python-sane's ``snap(progress=...)`` that can never raise."""

    def progress(lines: int, total: int) -> None:
        # Anything raised here would crash the interpreter (python-sane bug).
        with contextlib.suppress(BaseException):
            fn(lines, total)

    return progress


def snap(dev: Any, no_cancel: bool, progress: Callable[[int, int], None]) -> Any:
    """``SaneDev.snap`` without its extra copy of the page (``bytes(data)``): one page at
    300 dpi colour is 25 MB."""
    from PIL import Image

    data, width, height, samples, _size = dev.dev.snap(no_cancel, False, progress)
    if not data:
        raise RuntimeError("Scanner returned no data")
    mode = "RGB" if samples == 3 else "L"
    return Image.frombuffer(mode, (width, height), data, "raw", mode, 0, 1)


# -- option checking (pure) ----------------------------------------------------------


@dataclass(frozen=True)
class OptionInfo:
    index: int
    name: str
    type: int
    size: int
    cap: int
    constraint: Any

    @classmethod
    def from_tuple(cls, t: tuple[Any, ...]) -> OptionInfo:
        return cls(t[0], t[1] or "", t[4], t[6], t[7], t[8])

    @property
    def py_name(self) -> str:
        return self.name.replace("-", "_")

    @property
    def active(self) -> bool:
        return not self.cap & CAP_INACTIVE

    @property
    def settable(self) -> bool:
        return bool(self.cap & CAP_SOFT_SELECT)


def check_option(
    device: str, opt: OptionInfo | None, name: str, value: Any, *, now: bool = True
) -> Any:
    """Return ``value`` coerced for the device, or raise ``bad_option``.

    ``now=False`` skips the "active" test: an option may become active once another one
    is set (read-limit-size after read-limit), so the final check happens when setting.
    """

    def bad(detail: str) -> BridgeError:
        return BridgeError("bad_option", device=device, detail=detail, details={"option": name})

    if opt is None:
        raise bad(f"no option named '{name}' on this device")
    if opt.type in (TYPE_GROUP, TYPE_BUTTON):
        raise bad(f"'{name}' is not a value option")
    if now and not opt.active:
        raise bad(f"'{name}' is inactive with the current settings")
    if not opt.settable:
        raise bad(f"'{name}' cannot be set by software")
    c = opt.constraint
    if opt.type == TYPE_BOOL:
        if not isinstance(value, bool):
            raise bad(f"'{name}' takes true or false")
        return value
    if opt.type in (TYPE_INT, TYPE_FIXED):
        if opt.size > 4:
            raise bad(f"'{name}' is an array option (not supported)")
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise bad(f"'{name}' takes a number")
        if opt.type == TYPE_INT:
            if isinstance(value, float) and not value.is_integer():
                raise bad(f"'{name}' takes an integer")
            value = int(value)
        else:
            value = float(value)
        if isinstance(c, tuple):
            lo, hi, quant = c
            if not lo <= value <= hi:
                raise bad(f"'{name}' must be between {lo:g} and {hi:g}")
            if quant and opt.type == TYPE_INT and (value - lo) % quant:
                raise bad(f"'{name}' must be a multiple of {quant:g} from {lo:g}")
        elif isinstance(c, list) and not any(abs(value - v) < 1e-6 for v in c):
            raise bad(f"'{name}' must be one of {', '.join(f'{v:g}' for v in c)}")
        return value
    if opt.type == TYPE_STRING:
        if not isinstance(value, str):
            raise bad(f"'{name}' takes a string")
        if isinstance(c, list) and value not in c:
            raise bad(f"'{name}' must be one of {', '.join(map(str, c))[:200]}")
        if len(value.encode("latin-1", "replace")) >= opt.size:
            raise bad(f"'{name}' is too long")
        return value
    raise bad(f"'{name}' has an unsupported type")


def pick(values: list[str] | None, pattern: str, avoid: str | None = None) -> str | None:
    for v in values or []:
        if re.search(pattern, v, re.I) and not (avoid and re.search(avoid, v, re.I)):
            return v
    for v in values or []:
        if re.search(pattern, v, re.I):
            return v
    return None


SOURCE_PATTERNS = {"flatbed": r"flatbed|platen|normal", "adf": r"adf|feeder|automatic"}
MODE_PATTERNS = {"color": r"colou?r|rgb", "gray": r"gr[ae]y"}


def capabilities(opts: dict[str, OptionInfo]) -> dict[str, Any]:
    """Sources, modes and resolutions of a device, in protocol words."""
    src = opts.get("source")
    src_values = src.constraint if src and isinstance(src.constraint, list) else []
    sources = [k for k, pat in SOURCE_PATTERNS.items() if pick(src_values, pat)]
    if not src_values:
        sources = ["flatbed"]
    mode = opts.get("mode")
    mode_values = mode.constraint if mode and isinstance(mode.constraint, list) else []
    modes = [k for k, pat in MODE_PATTERNS.items() if pick(mode_values, pat)]
    res = opts.get("resolution")
    resolutions: list[int] = []
    res_range = None
    if res is not None:
        if isinstance(res.constraint, tuple):
            lo, hi, _q = res.constraint
            res_range = {"min": lo, "max": hi, "step": _q}
            resolutions = [d for d in COMMON_DPI if lo <= d <= hi]
        elif isinstance(res.constraint, list):
            resolutions = [int(v) for v in res.constraint]
    return {
        "sources": sources,
        "modes": modes,
        "resolutions": resolutions,
        "resolution_range": res_range,
    }


# -- the service ---------------------------------------------------------------------


@dataclass
class ScanJob:
    id: str
    device: str
    source: str
    mode: str
    resolution: int
    max_pages: int
    options: dict[str, Any]
    document: str | None
    emit: Emit
    cancel: threading.Event = field(default_factory=threading.Event)
    handle: Any = None
    pages: list[tuple[Path, Path]] = field(default_factory=list)
    scanned: int = 0
    base_page: int = 0
    last_activity: float = field(default_factory=time.monotonic)
    last_progress: float = 0.0
    timed_out: bool = False
    future: asyncio.Future[dict[str, Any]] | None = None
    backlog: threading.BoundedSemaphore = field(
        default_factory=lambda: threading.BoundedSemaphore(ENCODE_BACKLOG)
    )

    def progress(self, lines: int, total: int) -> None:
        now = time.monotonic()
        self.last_activity = now
        if now - self.last_progress < 0.2 and lines != total:
            return
        self.last_progress = now
        frac = round(min(1.0, lines / total), 3) if total > 0 else None
        self.emit(
            "scan.progress",
            {
                "scan": self.id,
                "device": self.device,
                "page": self.base_page + self.scanned + 1,
                "sheet": self.scanned + 1,
                "fraction": frac,
            },
        )


class ScannerService:
    def __init__(
        self,
        spool: Spool,
        emit: Emit,
        *,
        max_pages: int = 100,
        scan_timeout: float = 300.0,
    ) -> None:
        self.spool = spool
        self.emit = emit
        self.max_pages = max_pages
        self.scan_timeout = scan_timeout
        self._global = ThreadPoolExecutor(1, thread_name_prefix="sane")
        # Per device: one thread reads sheets, one encodes them (in order) meanwhile.
        self._device_threads: dict[str, ThreadPoolExecutor] = {}
        self._encoders: dict[str, ThreadPoolExecutor] = {}
        self._active: dict[str, ScanJob] = {}  # device -> job
        self._caps: dict[str, dict[str, Any]] = {}
        self._devices: list[tuple[str, str, str, str]] = []
        self._sane_lock = _SANE_LOCK
        self._reading = threading.Lock()  # one device reads at a time (see module doc)

    # -- global SANE calls (one thread) -----------------------------------------------
    def _init_sync(self) -> None:
        import sane

        if not _SANE["initialised"]:
            sane.init()
            _SANE["initialised"] = True

    def _refresh_sync(self) -> list[tuple[str, str, str, str]]:
        import sane

        with self._sane_lock:
            self._init_sync()
            if _SANE["open_handles"] == 0:
                # Re-initialise to see hot-plugged devices (only with no open handle).
                with contextlib.suppress(Exception):
                    sane.exit()
                sane.init()
            self._devices = [(d[0], d[1], d[2], d[3]) for d in sane.get_devices()]
        return self._devices

    def _probe_sync(self, name: str) -> tuple[dict[str, Any] | None, str]:
        """(capabilities, status): last known capabilities when it cannot be opened now."""
        import sane

        if name in self._active:
            return self._caps.get(name), "scanning"
        with self._sane_lock:
            try:
                dev = sane.open(name)
            except Exception as exc:
                log.info("scanner %s cannot be opened: %s", name, exc)
                return self._caps.get(name), "unavailable"
            try:
                opts = {o.name: o for o in map(OptionInfo.from_tuple, dev.get_options()) if o.name}
                self._caps[name] = capabilities(opts)
            finally:
                dev.close()
        return self._caps[name], "ready"

    def _open_sync(self, name: str) -> Any:
        import sane

        for attempt in range(3):
            with self._sane_lock:
                self._init_sync()
                try:
                    dev = sane.open(name)
                except Exception as exc:
                    failure = sane_error(exc, name, opening=True)
                else:
                    _SANE["open_handles"] += 1
                    return dev
            if failure.code != "scanner_busy" or attempt == 2:
                raise failure
            time.sleep(0.2)  # a device list probe may hold it for a moment
        raise BridgeError("scanner_busy", device=name)

    def _close_sync(self, dev: Any) -> None:
        with self._sane_lock:
            with contextlib.suppress(Exception):
                dev.close()
            _SANE["open_handles"] -= 1

    async def _run_global(self, fn: Callable[..., Any], *args: Any) -> Any:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._global, fn, *args)

    async def list_devices(self) -> list[dict[str, Any]]:
        try:
            devices = await self._run_global(self._refresh_sync)
        except Exception as exc:
            log.warning("SANE device list failed: %s", exc)
            raise sane_error(exc, "*") from None
        out = []
        for name, vendor, model, kind in devices:
            caps, status = await self._run_global(self._probe_sync, name)
            job = self._active.get(name)
            out.append(
                {
                    "device": name,
                    "vendor": vendor,
                    "model": model,
                    "type": kind,
                    "status": "scanning" if job else status,
                    "scan": job.id if job else None,
                    **(caps or {"sources": [], "modes": [], "resolutions": []}),
                }
            )
        return out

    async def refresh(self) -> None:
        """Re-read the device list (cheap; no device is opened)."""
        try:
            await self._run_global(self._refresh_sync)
        except Exception as exc:
            log.warning("SANE device list failed: %s", exc)
            self._devices = []

    def status(self) -> dict[str, Any]:
        """Cheap status for health: known devices and active scans (no SANE call)."""
        return {
            "devices": [d[0] for d in self._devices],
            "scanning": {dev: job.id for dev, job in self._active.items()},
        }

    # -- scanning -------------------------------------------------------------------------
    def _thread_for(self, device: str) -> ThreadPoolExecutor:
        if device not in self._device_threads:
            n = len(self._device_threads)
            self._device_threads[device] = ThreadPoolExecutor(1, thread_name_prefix=f"scan-{n}")
            self._encoders[device] = ThreadPoolExecutor(1, thread_name_prefix=f"encode-{n}")
        return self._device_threads[device]

    async def scan(self, params: dict[str, Any]) -> dict[str, Any]:
        device = params["device"]
        if device in self._active:
            raise BridgeError("scanner_busy", device=device)
        if not self._devices:
            await self._run_global(self._refresh_sync)
        if device not in (d[0] for d in self._devices):
            await self._run_global(self._refresh_sync)
            if device not in (d[0] for d in self._devices):
                raise BridgeError("scanner_gone", device=device)
        base_page = 0
        if params.get("document"):
            doc = await asyncio.to_thread(self.spool.get, params["document"])
            base_page = doc.pages
        await asyncio.to_thread(self.spool.ensure_space, 0)
        source = params["source"]
        max_pages = params.get("max_pages") or self.max_pages
        if source == "flatbed":
            max_pages = 1
        job = ScanJob(
            id=new_id("scan"),
            device=device,
            source=source,
            mode=params["mode"],
            resolution=params["resolution"],
            max_pages=min(max_pages, self.max_pages),
            options=dict(params.get("options") or {}),
            document=params.get("document"),
            emit=self._safe_emit,
            base_page=base_page,
        )
        if device in self._active:  # re-check after the awaits above
            raise BridgeError("scanner_busy", device=device)
        self._active[device] = job
        loop = asyncio.get_running_loop()
        watchdog = asyncio.create_task(self._watchdog(job))
        try:
            work = loop.run_in_executor(self._thread_for(device), self._scan_sync, job)
            job.future = work
            return await asyncio.shield(work)
        finally:
            watchdog.cancel()
            if self._active.get(device) is job:
                del self._active[device]

    def _safe_emit(self, event: str, data: dict[str, Any]) -> None:
        try:
            self.emit(event, data)
        except Exception:  # events are best effort, never a reason to fail a scan
            log.exception("event %s not sent", event)

    async def _watchdog(self, job: ScanJob) -> None:
        while True:
            await asyncio.sleep(min(5.0, self.scan_timeout / 4))
            if time.monotonic() - job.last_activity > self.scan_timeout:
                log.warning("scan %s: no data for %.0f s, cancelling", job.id, self.scan_timeout)
                job.timed_out = True
                await self.cancel(job.id)
                return

    def find(self, scan_id: str | None, device: str | None) -> ScanJob:
        for job in self._active.values():
            if (scan_id and job.id == scan_id) or (device and job.device == device):
                return job
        raise BridgeError("scan_not_found")

    async def cancel(self, scan_id: str | None = None, device: str | None = None) -> ScanJob:
        job = self.find(scan_id, device)
        job.cancel.set()
        handle = job.handle
        if handle is not None:
            # sane_cancel may be called from another thread while sane_read blocks.
            with contextlib.suppress(Exception):
                await asyncio.to_thread(handle.cancel)
        if job.future is not None:
            # Reply once the scan has really stopped, so the page count is final.
            with contextlib.suppress(Exception):
                await asyncio.wait_for(asyncio.shield(job.future), timeout=60)
        return job

    def _set_options(self, dev: Any, job: ScanJob) -> list[tuple[str, Any]]:
        """Check then set the job's options; returns what to restore afterwards."""
        infos = {o.name: o for o in map(OptionInfo.from_tuple, dev.get_options()) if o.name}
        wanted: list[tuple[str, Any]] = []
        src = infos.get("source")
        if src is not None and isinstance(src.constraint, list):
            value = pick(src.constraint, SOURCE_PATTERNS[job.source], avoid="duplex|back")
            if value is None:
                raise BridgeError(
                    "bad_option",
                    device=job.device,
                    detail=f"no {job.source} source on this device",
                    details={"option": "source"},
                )
            wanted.append(("source", value))
        elif job.source == "adf":
            raise BridgeError(
                "bad_option", device=job.device, detail="this device has no document feeder"
            )
        mode = infos.get("mode")
        if mode is not None and isinstance(mode.constraint, list):
            value = pick(mode.constraint, MODE_PATTERNS[job.mode])
            if value is None:
                raise BridgeError(
                    "bad_option",
                    device=job.device,
                    detail=f"no {job.mode} mode on this device",
                    details={"option": "mode"},
                )
            wanted.append(("mode", value))
        wanted.append(("resolution", job.resolution))
        for key, size in (("br-x", A4_MM[0]), ("br-y", A4_MM[1])):
            opt = infos.get(key)
            if opt and opt.settable and opt.active and isinstance(opt.constraint, tuple):
                wanted.append((key, float(min(size, opt.constraint[1]))))
        for key in ("tl-x", "tl-y"):
            opt = infos.get(key)
            if opt and opt.settable and opt.active and isinstance(opt.constraint, tuple):
                wanted.append((key, float(opt.constraint[0])))
        for raw_name, value in job.options.items():
            name = str(raw_name).replace("_", "-")
            wanted = [(k, v) for k, v in wanted if k != name]
            wanted.append((name, value))
        # Check everything before setting anything.
        for name, value in wanted:
            check_option(job.device, infos.get(name), name, value, now=False)
        restore: list[tuple[str, Any]] = []
        for name, value in wanted:
            infos = {o.name: o for o in map(OptionInfo.from_tuple, dev.get_options()) if o.name}
            opt = infos.get(name)
            value = check_option(job.device, opt, name, value)
            assert opt is not None
            with contextlib.suppress(Exception):
                restore.append((opt.py_name, getattr(dev, opt.py_name)))
            try:
                setattr(dev, opt.py_name, value)
            except (TypeError, AttributeError) as exc:
                raise BridgeError(
                    "bad_option", device=job.device, detail=str(exc), details={"option": name}
                ) from None
            except Exception as exc:
                if str(exc) == "Invalid argument":
                    raise BridgeError(
                        "bad_option",
                        device=job.device,
                        detail=f"value {value!r} refused for '{name}'",
                        details={"option": name},
                    ) from None
                raise
            got = getattr(dev, opt.py_name)
            same = abs(got - value) < 0.01 if isinstance(value, float) else got == value
            if not same:
                raise BridgeError(
                    "bad_option",
                    device=job.device,
                    detail=f"'{name}' = {value!r} became {got!r} on the device",
                    details={"option": name},
                )
        return restore

    def _scan_sync(self, job: ScanJob) -> dict[str, Any]:
        """Runs in the device's own thread: open, set options, read sheets, assemble."""
        work = self.spool.work_dir()
        encoded: list[Future[tuple[Path, Path]]] = []
        failure: BridgeError | None = None
        try:
            try:
                with self._reading:
                    failure = self._scan_device(job, work, encoded)
            finally:
                wait(encoded)  # never delete the work folder under a running encoder
            pages = [f.result() for f in encoded]
            doc = None
            if pages:
                with self.spool.doc_lock(job.document or job.id):
                    doc = self.spool.add_pages(
                        job.document,
                        [p for p, _t in pages],
                        [t for _p, t in pages],
                        {"device": job.device, "resolution": job.resolution, "mode": job.mode},
                    )
            cancelled = job.cancel.is_set()
            if failure is not None:
                failure.details = {
                    **(failure.details or {}),
                    "pages_kept": len(pages),
                    "document": doc.id if doc else job.document,
                }
                raise failure
            result = {
                "scan": job.id,
                "document": doc.public() if doc else None,
                "pages_added": len(pages),
                "cancelled": cancelled,
                "timed_out": job.timed_out,
            }
            self._safe_emit(
                "scan.done",
                {
                    "scan": job.id,
                    "device": job.device,
                    "document": doc.id if doc else job.document,
                    "pages_added": len(pages),
                    "pages": doc.pages if doc else job.base_page,
                    "cancelled": cancelled,
                },
            )
            return result
        except BridgeError as err:
            self._safe_emit(
                "scan.failed",
                {"scan": job.id, "device": job.device, "error": err.to_dict()},
            )
            raise
        except Exception as exc:
            log.exception("scan %s failed", job.id)
            internal = BridgeError("internal_error")
            self._safe_emit(
                "scan.failed",
                {"scan": job.id, "device": job.device, "error": internal.to_dict()},
            )
            raise internal from exc
        finally:
            shutil.rmtree(work, ignore_errors=True)
            # Every page buffer, PNG and PDF of this scan is free now: give it back.
            memory.release()

    def _scan_device(
        self, job: ScanJob, work: Path, encoded: list[Future[tuple[Path, Path]]]
    ) -> BridgeError | None:
        """Open the device, set options, read sheets, then restore and close it."""
        if job.cancel.is_set():
            return None
        dev = self._open_sync(job.device)
        job.handle = dev
        failure: BridgeError | None = None
        restore: list[tuple[str, Any]] = []
        try:
            restore = self._set_options(dev, job)
            if job.cancel.is_set():
                raise _Cancelled
            failure = self._read_sheets(dev, job, work, encoded)
        except _Cancelled:
            pass
        finally:
            job.handle = None
            with contextlib.suppress(Exception):
                dev.cancel()
            for name, value in reversed(restore):
                with contextlib.suppress(Exception):
                    setattr(dev, name, value)
            self._close_sync(dev)
        return failure

    def _read_sheets(
        self, dev: Any, job: ScanJob, work: Path, encoded: list[Future[tuple[Path, Path]]]
    ) -> BridgeError | None:
        adf = job.source == "adf"
        progress = safe_progress(job.progress)
        while job.scanned < job.max_pages and not job.cancel.is_set():
            try:
                dev.start()
                params = dev.get_parameters()
                image = snap(dev, adf, progress)
            except Exception as exc:
                if job.cancel.is_set() or str(exc) == CANCELLED:
                    return None
                if adf and job.scanned > 0 and str(exc) == NO_DOCS:
                    return None  # the feeder is empty: normal end of a feeder run
                return sane_error(exc, job.device)
            if job.cancel.is_set():
                return None  # a page cut short by scanner.cancel is dropped
            expected = params[2][1] if params and len(params) > 2 else -1
            if expected > 0 and image.size[1] < expected:
                return BridgeError(
                    "scanner_io_error", device=job.device, details={"sane": "truncated page"}
                )
            job.scanned += 1
            job.last_activity = time.monotonic()
            # At most ENCODE_BACKLOG raw pages wait for the encoder: a fast feeder must not
            # pile up 25 MB images in memory while PNGs are written.
            job.backlog.acquire()
            encoder = self._encoders[job.device]
            encoded.append(encoder.submit(self._encode, job, job.scanned, image, work))
            del image
            if not adf:
                break
        return None

    def _encode(self, job: ScanJob, n: int, image: Any, work: Path) -> tuple[Path, Path]:
        """PNG of the page + a small thumbnail; announces the page with ``scan.page``."""
        try:
            return self._encode_page(job, n, image, work)
        finally:
            job.backlog.release()

    def _encode_page(self, job: ScanJob, n: int, image: Any, work: Path) -> tuple[Path, Path]:
        page = work / f"{n:04d}.png"
        thumb = work / f"{n:04d}.t.png"
        image.save(page, "PNG", compress_level=PNG_LEVEL)
        factor = max(1, min(image.size[0] // THUMB_BOX[0], image.size[1] // THUMB_BOX[1]))
        small = image.reduce(factor) if factor > 1 else image.copy()
        small.thumbnail(THUMB_BOX)
        small.save(thumb, "PNG", optimize=True)
        self._safe_emit(
            "scan.page",
            {
                "scan": job.id,
                "device": job.device,
                "sheet": n,
                "page": job.base_page + n,
                "width": image.size[0],
                "height": image.size[1],
                "thumbnail": base64.b64encode(thumb.read_bytes()).decode(),
            },
        )
        return page, thumb

    def close(self) -> None:
        for job in self._active.values():
            job.cancel.set()
            if job.handle is not None:
                with contextlib.suppress(Exception):
                    job.handle.cancel()
        for ex in [*self._device_threads.values(), *self._encoders.values()]:
            ex.shutdown(wait=True, cancel_futures=True)
        self._global.shutdown(wait=False, cancel_futures=True)


class _Cancelled(Exception):
    pass
