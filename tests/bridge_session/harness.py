"""Watching a kiosk session under test: its manager's events, a session run in a child
process (tests.bridge_session.session_child), and what a session must leave behind."""

from __future__ import annotations

import asyncio
import contextlib
import json
import sys
import time
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any

from kiosk_bridge.session.browser import group_members
from kiosk_bridge.session.config import SessionConfig


class EventLog:
    """Collects a manager's events; waits on them without sleeping blindly."""

    def __init__(self) -> None:
        self.events: list[tuple[str, dict[str, Any]]] = []
        self._changed = asyncio.Event()

    async def __call__(self, name: str, data: dict[str, Any]) -> None:
        self.events.append((name, data))
        self._changed.set()

    def states(self) -> list[str]:
        return [d["state"] for n, d in self.events if n == "session.state"]

    def stats(self) -> list[dict[str, Any]]:
        return [d for n, d in self.events if n == "session.stats"]

    def last_state(self) -> dict[str, Any]:
        return [d for n, d in self.events if n == "session.state"][-1]

    def state_event(self, state: str) -> dict[str, Any]:
        return next(d for n, d in self.events if n == "session.state" and d["state"] == state)

    async def wait_for(self, predicate: Any, timeout: float, what: str) -> None:
        deadline = time.monotonic() + timeout
        while not predicate():
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError(f"timed out waiting for {what}; states: {self.states()}")
            self._changed.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._changed.wait(), remaining)

    async def wait_state(self, state: str, timeout: float = 20.0) -> dict[str, Any]:
        await self.wait_for(lambda: state in self.states(), timeout, f"state {state}")
        return self.state_event(state)

    async def wait_stats(self, count: int, timeout: float = 20.0) -> list[dict[str, Any]]:
        await self.wait_for(lambda: len(self.stats()) >= count, timeout, f"{count} stats")
        return self.stats()


def with_timeouts(config: SessionConfig, **changes: float) -> SessionConfig:
    return replace(config, timeouts=replace(config.timeouts, **changes))


def assert_browser_gone(pgid: int, profile: Path) -> None:
    assert group_members(pgid) == [], f"browser processes left in group {pgid}"
    assert not profile.exists(), f"browser profile left behind: {profile}"


REPO = Path(__file__).resolve().parents[2]


class Child:
    """tests.bridge_session.session_child in its own process; reads its JSON lines."""

    def __init__(self, proc: asyncio.subprocess.Process) -> None:
        self.proc = proc
        self.lines: list[dict[str, Any]] = []

    @classmethod
    async def start(cls, spec: dict[str, Any], prefix: tuple[str, ...] = ()) -> Child:
        proc = await asyncio.create_subprocess_exec(
            *prefix,
            sys.executable,
            "-m",
            "tests.bridge_session.session_child",
            json.dumps(spec),
            cwd=REPO,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
        )
        return cls(proc)

    async def read_until(
        self, predicate: Any, timeout: float, what: str, start: int = 0
    ) -> dict[str, Any]:
        """The first line from index `start` on that matches, reading more as needed."""
        for line in self.lines[start:]:
            if predicate(line):
                return line
        assert self.proc.stdout is not None
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError(f"child: timed out waiting for {what}: {self.lines[-5:]}")
            try:
                raw = await asyncio.wait_for(self.proc.stdout.readline(), remaining)
            except TimeoutError:
                continue
            if not raw:
                raise AssertionError(f"child exited before {what}: {self.lines[-5:]}")
            line = json.loads(raw)
            self.lines.append(line)
            if predicate(line):
                return line

    async def state(self, state: str, timeout: float = 30.0) -> dict[str, Any]:
        line = await self.read_until(
            lambda x: x.get("event") == "session.state" and x["data"]["state"] == state,
            timeout,
            f"state {state}",
        )
        return dict(line["data"])

    async def send(self, command: str) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(command.encode() + b"\n")
        await self.proc.stdin.drain()

    async def stop(self) -> None:
        """Ask it to quit (it ends its session: no browser left behind), then kill it."""
        if self.proc.returncode is None and self.proc.stdin is not None:
            with contextlib.suppress(OSError):
                self.proc.stdin.write(b"quit\n")
                await self.proc.stdin.drain()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.proc.wait(), 10)
        if self.proc.returncode is None:
            self.proc.kill()
        await self.proc.wait()


def child_spec(
    config: SessionConfig,
    ticket: str,
    *,
    room_url: str | None = None,
    far_end: str | None = None,
    **timeouts: float,
) -> dict[str, Any]:
    """What session_child needs: the [session] table as TOML would give it."""
    return {
        "display_name": ticket,
        "room_url": room_url,
        "far_end": far_end,
        "session": {
            "chromium": config.chromium,
            "headless": True,
            "fake_media": True,
            "profile_dir": str(config.profile_dir),
            "stats_interval": config.stats_interval,
            "timeouts": asdict(config.timeouts) | timeouts,
            "partners": {
                "caf": {"prefix": "C", "domains": ["127.0.0.1"], "display_name": "query:name"}
            },
        },
    }
