"""The kiosk's Chromium: launched in its own process group, driven over the DevTools protocol.

Chromium outlives its parent when the parent dies, so every browser this module starts is
recorded (process group + profile folder) until `Chromium.kill()` has run; an atexit hook,
a signal hook and a sweep at the next start (`sweep_stale_profiles`) kill what was missed.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import itertools
import json
import logging
import os
import shutil
import signal
import tempfile
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import Any

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

log = logging.getLogger(__name__)

PROFILE_PREFIX = "pvp-bridge-chromium-"
_OWNER_FILE = "pvp-bridge-owner.json"

# Quiet start on a closed network, media without a prompt, no first-run UI (docs/session.md).
BASE_FLAGS = (
    "--remote-debugging-address=127.0.0.1",
    "--remote-debugging-port=0",
    "--use-fake-ui-for-media-stream",
    "--autoplay-policy=no-user-gesture-required",
    "--no-first-run",
    "--no-default-browser-check",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-quic",
    "--disable-features=Translate,MediaRouter,OptimizationHints",
    "--password-store=basic",
    "--noerrdialogs",
)
FAKE_MEDIA_FLAGS = ("--use-fake-device-for-media-stream",)


class BrowserError(Exception):
    """The browser could not be started or reached; `reason` is a stable code."""

    def __init__(self, reason: str, message: str) -> None:
        self.reason = reason
        super().__init__(message)


class CDPError(Exception):
    """A DevTools command answered with an error."""

    def __init__(self, method: str, error: dict[str, Any]) -> None:
        self.method = method
        self.code = error.get("code")
        super().__init__(f"{method}: {error.get('message', 'error')}")


class CDPClosed(Exception):
    """The DevTools connection is gone (the browser exited or crashed)."""


EventHandler = Callable[[dict[str, Any], str | None], None]


class CDPConnection:
    """One websocket to the browser; flat sessions (`sessionId`) multiplexed on it."""

    def __init__(self, ws: ClientConnection) -> None:
        self._ws = ws
        self._ids = itertools.count(1)
        self._pending: dict[int, tuple[str, asyncio.Future[dict[str, Any]]]] = {}
        self._handlers: dict[str, list[EventHandler]] = {}
        self._close_callbacks: list[Callable[[], None]] = []
        self.closed = asyncio.Event()
        self._reader = asyncio.create_task(self._read(), name="cdp-reader")

    @classmethod
    async def connect(cls, url: str, timeout: float = 10.0) -> CDPConnection:
        # proxy=None: never send the DevTools socket through a proxy from the environment.
        ws = await connect(url, max_size=None, proxy=None, open_timeout=timeout, ping_interval=None)
        return cls(ws)

    def on(self, method: str, handler: EventHandler) -> None:
        self._handlers.setdefault(method, []).append(handler)

    def on_close(self, callback: Callable[[], None]) -> None:
        self._close_callbacks.append(callback)

    async def send(
        self,
        method: str,
        params: dict[str, Any] | None = None,
        session_id: str | None = None,
        timeout: float = 10.0,
    ) -> dict[str, Any]:
        if self.closed.is_set():
            raise CDPClosed(f"{method}: the DevTools connection is closed")
        msg_id = next(self._ids)
        message: dict[str, Any] = {"id": msg_id, "method": method, "params": params or {}}
        if session_id is not None:
            message["sessionId"] = session_id
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._pending[msg_id] = (method, future)
        try:
            await self._ws.send(json.dumps(message))
            return await asyncio.wait_for(future, timeout)
        except ConnectionClosed as exc:
            raise CDPClosed(f"{method}: the DevTools connection is closed") from exc
        finally:
            self._pending.pop(msg_id, None)

    async def _read(self) -> None:
        try:
            async for raw in self._ws:
                try:
                    message = json.loads(raw)
                except ValueError:
                    continue
                self._dispatch(message)
        except ConnectionClosed:
            pass
        finally:
            self.closed.set()
            for method, future in list(self._pending.values()):
                if not future.done():
                    future.set_exception(CDPClosed(f"{method}: the DevTools connection closed"))
            for callback in self._close_callbacks:
                try:
                    callback()
                except Exception:  # a broken callback must not hide the others
                    log.exception("CDP close callback failed")

    def _dispatch(self, message: dict[str, Any]) -> None:
        if "id" in message:
            entry = self._pending.get(message["id"])
            if entry is None:
                return
            method, future = entry
            if future.done():
                return
            if "error" in message:
                future.set_exception(CDPError(method, message["error"]))
            else:
                future.set_result(message.get("result", {}))
            return
        event = message.get("method")
        if not isinstance(event, str):
            return
        for handler in self._handlers.get(event, ()):
            try:
                handler(message.get("params", {}), message.get("sessionId"))
            except Exception:
                log.exception("CDP handler for %s failed", event)

    async def close(self) -> None:
        with contextlib.suppress(Exception):
            await self._ws.close()
        self._reader.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await self._reader
        self.closed.set()


@dataclass(frozen=True)
class LaunchOptions:
    binary: str = "chromium"
    headless: bool = False
    kiosk: bool = True
    fake_media: bool = False
    extra_flags: tuple[str, ...] = ()
    start_timeout: float = 20.0
    profile_root: Path | None = None  # None: the system temp folder
    profile_prefix: str = ""  # after PROFILE_PREFIX, e.g. "screen-" for the kiosk's screen
    env: dict[str, str] = field(default_factory=dict)

    def argv(self, profile: Path) -> list[str]:
        args = [self.binary, *BASE_FLAGS, f"--user-data-dir={profile}"]
        if self.fake_media:
            args += FAKE_MEDIA_FLAGS
        if self.headless:
            args.append("--headless=new")
        elif self.kiosk:
            args.append("--kiosk")
        if os.geteuid() == 0:
            args.append("--no-sandbox")  # Chromium refuses to run as root with its sandbox
        args += list(self.extra_flags)
        args.append("about:blank")
        return args


# pid of the process group leader -> profile folder, for every browser not yet cleaned up.
_LIVE: dict[int, Path] = {}


class Chromium:
    """A running Chromium: its process group, its throwaway profile, its DevTools socket."""

    def __init__(self, proc: asyncio.subprocess.Process, profile: Path) -> None:
        self.proc = proc
        self.pid = proc.pid
        self.pgid = proc.pid  # start_new_session=True: the browser leads its own group
        self.profile = profile
        self.cdp: CDPConnection | None = None
        self._killed = False

    @classmethod
    async def launch(cls, options: LaunchOptions) -> Chromium:
        """Start Chromium and connect to it; on any failure nothing is left behind."""
        root = options.profile_root or Path(tempfile.gettempdir())
        root.mkdir(parents=True, exist_ok=True)
        profile = Path(tempfile.mkdtemp(prefix=PROFILE_PREFIX + options.profile_prefix, dir=root))
        env = {**os.environ, **options.env}
        try:
            proc = await asyncio.create_subprocess_exec(
                *options.argv(profile),
                stdin=asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.DEVNULL,
                stderr=asyncio.subprocess.DEVNULL,
                start_new_session=True,
                env=env,
            )
        except OSError as exc:
            shutil.rmtree(profile, ignore_errors=True)
            raise BrowserError(
                "browser_not_found",
                f"Cannot start the browser {options.binary!r} ({exc.strerror}). "
                "Install Chromium or set [session] chromium in the bridge config.",
            ) from exc
        browser = cls(proc, profile)
        _LIVE[browser.pgid] = profile
        _write_owner(profile, browser.pgid)
        try:
            url = await browser._wait_devtools_url(options.start_timeout)
            browser.cdp = await CDPConnection.connect(url, timeout=options.start_timeout)
        except BaseException:
            await browser.kill()
            raise
        return browser

    async def _wait_devtools_url(self, timeout: float) -> str:
        # With --remote-debugging-port=0 Chromium picks a free port and writes it, with the
        # browser socket's path, into DevToolsActivePort: no port race, no HTTP polling.
        port_file = self.profile / "DevToolsActivePort"
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.returncode is not None:
                raise BrowserError(
                    "browser_failed",
                    f"The browser exited at start (code {self.proc.returncode}). "
                    "Check [session] chromium and flags in the bridge config.",
                )
            with contextlib.suppress(OSError):
                lines = port_file.read_text().split()
                if len(lines) >= 2:
                    return f"ws://127.0.0.1:{int(lines[0])}{lines[1]}"
            await asyncio.sleep(0.02)
        raise BrowserError(
            "browser_failed",
            f"The browser did not open its DevTools socket within {timeout:g} s.",
        )

    @property
    def alive(self) -> bool:
        return self.proc.returncode is None

    async def kill(self) -> None:
        """Kill the whole process group and delete the profile. Safe to call twice."""
        if self._killed:
            return
        self._killed = True
        if self.cdp is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self.cdp.close(), 1.0)
        kill_group(self.pgid)
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self.proc.wait(), 5.0)
        # Children may take a moment to die after SIGKILL; they could still write files.
        for _ in range(50):
            if not group_members(self.pgid):
                break
            kill_group(self.pgid)
            await asyncio.sleep(0.02)
        remove_profile(self.profile)
        _LIVE.pop(self.pgid, None)


def kill_group(pgid: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signal.SIGKILL)


def group_members(pgid: int) -> list[int]:
    """Live (non-zombie) processes in a process group, read from /proc."""
    members = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # Fields after the command name (which may contain spaces) start after the last ')'.
        fields = stat[stat.rfind(")") + 2 :].split()
        if len(fields) >= 3 and fields[0] != "Z" and int(fields[2]) == pgid:
            members.append(int(entry.name))
    return members


def remove_profile(profile: Path) -> None:
    for _ in range(5):
        shutil.rmtree(profile, ignore_errors=True)
        if not profile.exists():
            return
        time.sleep(0.05)
    log.warning("could not delete the browser profile %s", profile)


def _write_owner(profile: Path, pgid: int) -> None:
    with contextlib.suppress(OSError):
        (profile / _OWNER_FILE).write_text(json.dumps({"bridge_pid": os.getpid(), "pgid": pgid}))


def _cmdline_has(pid: int, needle: str) -> bool:
    try:
        return needle in (Path("/proc") / str(pid) / "cmdline").read_bytes().decode(errors="ignore")
    except OSError:
        return False


def sweep_stale_profiles(roots: Iterable[Path] | None = None) -> int:
    """Kill browsers and delete profiles left by a bridge that died without cleaning up.

    Only groups whose processes were started with that very profile folder are killed, so
    another program's Chromium is never touched. Returns how many profiles were removed.
    """
    removed = 0
    for root in roots or (Path(tempfile.gettempdir()),):
        if not root.is_dir():
            continue
        for profile in root.glob(PROFILE_PREFIX + "*"):
            try:
                owner = json.loads((profile / _OWNER_FILE).read_text())
                bridge_pid, pgid = int(owner["bridge_pid"]), int(owner["pgid"])
            except (OSError, ValueError, KeyError, TypeError):
                continue  # not ours, or still being created
            if bridge_pid != os.getpid() and _pid_alive(bridge_pid):
                continue  # another bridge's live browser
            if pgid in _LIVE:
                continue
            needle = f"--user-data-dir={profile}"
            if any(_cmdline_has(pid, needle) for pid in group_members(pgid)):
                kill_group(pgid)
                _wait_group_gone(pgid, 2.0)
            remove_profile(profile)
            removed += 1
    return removed


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    stat = Path(f"/proc/{pid}/stat")
    with contextlib.suppress(OSError):
        text = stat.read_text()
        return text[text.rfind(")") + 2 :].split()[0] != "Z"
    return True


def _wait_group_gone(pgid: int, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while group_members(pgid) and time.monotonic() < deadline:
        time.sleep(0.02)


def kill_all_now() -> None:
    """Synchronous last resort (atexit, fatal signal): kill every browser we started."""
    for pgid, profile in list(_LIVE.items()):
        kill_group(pgid)
        _wait_group_gone(pgid, 2.0)  # a dying process may still write into its profile
        remove_profile(profile)
        _LIVE.pop(pgid, None)


_hooks_installed = False


def install_exit_hooks() -> None:
    """Kill our browsers at interpreter exit and on SIGTERM/SIGHUP left at their default.

    A handler the server installs later (loop.add_signal_handler) takes precedence; the
    server then ends sessions itself (SessionManager.close) and atexit remains the net.
    """
    global _hooks_installed
    if _hooks_installed:
        return
    _hooks_installed = True
    atexit.register(kill_all_now)
    for signum in (signal.SIGTERM, signal.SIGHUP):
        if signal.getsignal(signum) is signal.SIG_DFL:
            with contextlib.suppress(ValueError):  # not the main thread
                signal.signal(signum, _die_cleanly)


def _die_cleanly(signum: int, frame: FrameType | None) -> None:
    kill_all_now()
    signal.signal(signum, signal.SIG_DFL)
    os.kill(os.getpid(), signum)
