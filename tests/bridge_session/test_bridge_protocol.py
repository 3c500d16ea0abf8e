"""session.* over the wire: a real pvp-bridge process, its client library, a real call."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from kiosk_bridge.client import BridgeClient, BridgeError
from tests.support.bridge_daemons import REPO, BridgeProcess
from tests.support.farend import FarEnd


def bridge_config(chromium: str, profiles: Path) -> str:
    return f"""
[session]
chromium = "{chromium}"
headless = true
fake_media = true
profile_dir = "{profiles}"
stats_interval = 1

[session.partners.caf]
prefix = "C"
domains = ["127.0.0.1"]
display_name = "query:name"
"""


def browsers_using(profiles: Path) -> list[int]:
    """Processes whose command line names a profile under `profiles`."""
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                cmdline = (entry / "cmdline").read_bytes().decode(errors="ignore")
            except OSError:
                continue
            if f"--user-data-dir={profiles}" in cmdline:
                pids.append(int(entry.name))
    return pids


@pytest.fixture
def bridge(chromium: str, tmp_path: Path) -> Iterator[BridgeProcess]:
    # No CUPS or SANE here: the session does not need them and the bridge starts anyway.
    env = {"CUPS_SERVER": "127.0.0.1:9", "SANE_CONFIG_DIR": str(tmp_path)}
    proc = BridgeProcess(
        tmp_path / "bridge", env, config=bridge_config(chromium, tmp_path / "profiles")
    )
    proc.start()
    try:
        yield proc
    finally:
        proc.stop()


class Events:
    def __init__(self) -> None:
        self.items: list[tuple[str, Any]] = []

    def __call__(self, event: str, data: Any) -> None:
        if event.startswith("session."):
            self.items.append((event, data))

    async def wait(self, pred: Any, what: str, timeout: float = 20) -> Any:
        for _ in range(int(timeout / 0.05)):
            for event, data in self.items:
                if pred(event, data):
                    return data
            await asyncio.sleep(0.05)
        raise AssertionError(f"no {what}; got {[(e, d.get('state')) for e, d in self.items]}")

    async def state(self, state: str) -> Any:
        return await self.wait(
            lambda e, d: e == "session.state" and d["state"] == state, f"state {state}"
        )


async def test_start_watch_and_end_a_call_through_the_bridge(
    bridge: BridgeProcess, tmp_path: Path
) -> None:
    events = Events()
    async with BridgeClient(bridge.url, bridge.token) as client, FarEnd() as far:
        client.subscribe(events)
        hello = await client.request("hello")
        assert {"session.start", "session.end", "session.status"} <= set(hello["methods"])
        assert {"session.state", "session.stats"} <= set(hello["events"])

        started = await client.request(
            "session.start", {"room_url": far.room_url("C-007"), "display_name": "C-007"}
        )
        assert started["state"] == "connecting" and started["display_name"] == "C-007"
        await events.state("in_call")
        stats = await events.wait(lambda e, d: e == "session.stats" and d["fps"], "stats")
        assert stats["quality"] == "good" and stats["width"] == 320
        status = await client.request("session.status")
        assert status["state"] == "in_call" and status["agent_joined_at"]
        assert browsers_using(tmp_path / "profiles")

        with pytest.raises(BridgeError) as busy:
            await client.request(
                "session.start", {"room_url": far.room_url("C-008"), "display_name": "C-008"}
            )
        assert busy.value.code == "session_busy" and busy.value.retryable
        assert "C-007" in busy.value.message["fr"]

        ended = await client.request("session.end")
        assert ended["state"] == "idle" and ended["last"]["reason"] == "ended_by_staff"
        await events.state("idle")
        assert browsers_using(tmp_path / "profiles") == []
        assert list((tmp_path / "profiles").iterdir()) == []
        assert far.names == ["C-007"]


@pytest.mark.parametrize(
    ("params", "code"),
    [
        (
            {"room_url": "http://127.0.0.1:9/r", "display_name": "Marie Curie"},
            "invalid_display_name",
        ),
        ({"room_url": "https://evil.example/r", "display_name": "C-001"}, "room_not_allowed"),
        ({"room_url": "http://127.0.0.1:9/r", "display_name": "Z-001"}, "unknown_partner"),
        ({"room_url": "http://127.0.0.1:9/r"}, "bad_params"),
    ],
)
async def test_refusals_have_stable_codes_and_french_messages(
    bridge: BridgeProcess, params: dict[str, str], code: str
) -> None:
    async with BridgeClient(bridge.url, bridge.token) as client:
        with pytest.raises(BridgeError) as err:
            await client.request("session.start", params)
        assert err.value.code == code and not err.value.retryable
        assert err.value.message["fr"] and err.value.message["en"]
        assert (await client.request("session.status"))["state"] == "idle"


async def test_bridge_stopped_mid_call_closes_the_browser(
    bridge: BridgeProcess, tmp_path: Path
) -> None:
    events = Events()
    async with BridgeClient(bridge.url, bridge.token, reconnect=False) as client, FarEnd() as far:
        client.subscribe(events)
        await client.request(
            "session.start", {"room_url": far.room_url("C-009"), "display_name": "C-009"}
        )
        await events.state("in_call")
        assert browsers_using(tmp_path / "profiles")
        bridge.stop()  # SIGTERM: the bridge's own shutdown path
    assert browsers_using(tmp_path / "profiles") == []
    assert list((tmp_path / "profiles").iterdir()) == []
    assert "ended (bridge_shutdown)" in bridge.log.read_text()


def test_config_mistakes_stop_the_bridge_with_one_line_each(tmp_path: Path) -> None:
    config = tmp_path / "bridge.toml"
    config.write_text('[session]\nheadless = "no"\n[session.partners.caf]\nprefix = "c"\n')
    token = tmp_path / "token"
    token.write_text("x" * 32)
    run = subprocess.run(
        [sys.executable, "-m", "kiosk_bridge", "--config", str(config), "--token-file", str(token)],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=30,
    )
    assert run.returncode == 2
    assert run.stderr.splitlines() == [
        f"pvp-bridge: {config}: session.headless: must be true or false",
        f"pvp-bridge: {config}: session.partners.caf.prefix: must be the ticket prefix, "
        "1 to 3 capital letters",
    ]
