"""A Visio guest: the kiosk's bridge types the ticket in the lobby's name field and presses
join, through a real pvp-bridge process and headless Chromium, on a copy of Visio's lobby
(tests/support/visio_standin.py: a controlled field that sees only real input events, and
the same `request-entry` knock as Visio's frontend)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest

from kiosk_bridge.client import BridgeClient, BridgeError
from tests.bridge_session.test_bridge_protocol import Events, browsers_using
from tests.support.bridge_daemons import BridgeProcess
from tests.support.visio_standin import Running, VisioStandIn


def bridge_config(chromium: str, profiles: Path) -> str:
    return f"""
[session]
chromium = "{chromium}"
headless = true
fake_media = true
profile_dir = "{profiles}"
stats_interval = 1

[session.timeouts]
lobby = 3

[session.partners.caf]
prefix = "C"
domains = ["127.0.0.1"]
"""


@pytest.fixture
def bridge(chromium: str, tmp_path: Path) -> Iterator[BridgeProcess]:
    env = {"CUPS_SERVER": "127.0.0.1:9", "SANE_CONFIG_DIR": str(tmp_path)}
    proc = BridgeProcess(
        tmp_path / "bridge", env, config=bridge_config(chromium, tmp_path / "profiles")
    )
    proc.start()
    try:
        yield proc
    finally:
        proc.stop()


@pytest.fixture
def visio() -> Iterator[VisioStandIn]:
    standin = VisioStandIn()
    standin.room_base = f"http://127.0.0.1:{standin.port}"
    with Running(standin) as running:
        yield running


async def _until(predicate: object, what: str, timeout: float = 20) -> None:
    for _ in range(int(timeout / 0.05)):
        if callable(predicate) and predicate():
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"no {what}")


async def test_the_bridge_types_the_ticket_in_the_lobby_and_knocks(
    bridge: BridgeProcess, visio: VisioStandIn, tmp_path: Path
) -> None:
    room = visio.make_room("rooms@caf.example.fr")
    events = Events()
    async with BridgeClient(bridge.url, bridge.token) as client:
        assert "visio_guest" in client.features  # the desk sends room_kind only then
        client.subscribe(events)
        started = await client.request(
            "session.start",
            {"room_url": room["url"], "display_name": "C-007", "room_kind": "visio-guest"},
        )
        assert started["display_name"] == "C-007"
        # The page's own state took the ticket (input events), then join knocked with it.
        await _until(lambda: len(visio.entry_requests) >= 2, "knocks every second")
        assert visio.room_fetches == ["C-007"]
        assert {r["username"] for r in visio.entry_requests} == {"C-007"}
        assert {r["room"] for r in visio.entry_requests} == {room["slug"]}
        assert not any(e == "session.state" and d["state"] == "failed" for e, d in events.items)
        await client.request("session.end")
        await events.state("idle")
    assert browsers_using(tmp_path / "profiles") == []
    text = bridge.log.read_text()
    assert "joined the lobby as a guest" in text
    assert room["slug"] not in text  # the room's address is never logged


async def test_a_lobby_without_its_form_fails_clearly(
    bridge: BridgeProcess, visio: VisioStandIn, tmp_path: Path
) -> None:
    visio.lobby = False
    room = visio.make_room("rooms@caf.example.fr")
    events = Events()
    async with BridgeClient(bridge.url, bridge.token) as client:
        client.subscribe(events)
        await client.request(
            "session.start",
            {"room_url": room["url"], "display_name": "C-008", "room_kind": "visio-guest"},
        )
        failed = await events.state("failed")
        assert failed["reason"] == "lobby_unavailable"
        assert failed["detail"] == "no name field in the page"
        assert "salle d'attente" in failed["message"]["fr"]
        await events.state("idle")
    assert browsers_using(tmp_path / "profiles") == []
    assert visio.entry_requests == []


async def test_a_lobby_that_stops_answering_while_joining_fails_clearly(
    bridge: BridgeProcess, visio: VisioStandIn, tmp_path: Path
) -> None:
    """The page hangs when the ticket is typed: DevTools' input gets no answer. The
    session fails at once with lobby_unavailable (not 15 minutes later, not in silence)."""
    visio.hang_on_input = True
    room = visio.make_room("rooms@caf.example.fr")
    events = Events()
    async with BridgeClient(bridge.url, bridge.token) as client:
        client.subscribe(events)
        await client.request(
            "session.start",
            {"room_url": room["url"], "display_name": "C-010", "room_kind": "visio-guest"},
        )
        failed = await events.state("failed")
        assert failed["reason"] == "lobby_unavailable"
        assert failed["detail"] == "the page did not answer while joining"
        await events.state("idle")
    assert browsers_using(tmp_path / "profiles") == []
    assert visio.entry_requests == []


async def test_a_plain_link_room_is_not_typed_into(
    bridge: BridgeProcess, visio: VisioStandIn
) -> None:
    room = visio.make_room("rooms@caf.example.fr")
    events = Events()
    async with BridgeClient(bridge.url, bridge.token) as client:
        client.subscribe(events)
        with pytest.raises(BridgeError) as bad:
            await client.request(
                "session.start",
                {"room_url": room["url"], "display_name": "C-009", "room_kind": "webinar"},
            )
        assert bad.value.code == "invalid_room_kind"
        await client.request("session.start", {"room_url": room["url"], "display_name": "C-009"})
        await events.wait(lambda e, d: e == "session.state" and d["state"] == "connecting", "load")
        await asyncio.sleep(1.5)  # the form is up after 0.3 s: nobody types in it
        await client.request("session.end")
        await events.state("idle")
    assert visio.entry_requests == [] and visio.room_fetches == []
