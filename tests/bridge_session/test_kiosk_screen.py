"""The kiosk's own screen through a real pvp-bridge process and its headless Chromium:
what the visitor sees at each step, the wipe between visitors, the staff's tools.

The page is read through a DevTools connection of the test's own (tests.bridge_session.peek),
the way the visitor sees it: its text, its URL, a screenshot, a finger on the glass."""

from __future__ import annotations

import asyncio
import base64
import io
import os
import signal
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from PIL import Image, ImageChops, ImageStat

from kiosk_bridge.client import BridgeClient, BridgeError
from kiosk_bridge.session.browser import group_members
from tests.bridge_session.peek import Peek, owner_group, profiles
from tests.support.bridge_daemons import BridgeProcess
from tests.support.farend import FarEnd

SITE = "Maison France Services de Leyme"
VISITOR = "Marie Curie"  # what must never reach the kiosk's screen


def screen_config(
    chromium: str, profiles: Path, language: str = "fr", logo: Path | None = None
) -> str:
    return f"""
[session]
chromium = "{chromium}"
headless = true
fake_media = true
profile_dir = "{profiles}"
stats_interval = 1
extra_flags = ["--window-size=1280,720"]

[session.partners.caf]
prefix = "C"
domains = ["127.0.0.1"]
display_name = "query:name"

[screen]
enabled = true
site_name = "{SITE}"
language = "{language}"
logo = "{logo or ""}"
after_call_seconds = 120

[screen.partner_names]
caf = "CAF"
"""


@pytest.fixture
def bridge(chromium: str, tmp_path: Path) -> Iterator[BridgeProcess]:
    # No CUPS or SANE here: the screen does not need them and the bridge starts anyway.
    env = {"CUPS_SERVER": "127.0.0.1:9", "SANE_CONFIG_DIR": str(tmp_path)}
    logo = tmp_path / "logo.png"
    Image.new("RGB", (120, 60), (200, 30, 30)).save(logo)
    proc = BridgeProcess(
        tmp_path / "bridge", env, config=screen_config(chromium, tmp_path / "profiles", logo=logo)
    )
    proc.start()
    try:
        yield proc
    finally:
        proc.stop()


def distance(a: Image.Image, b: Image.Image) -> float:
    """Mean difference (0-255) of two pictures brought to 32x18 pixels."""
    size = (32, 18)
    small_a = a.resize(size, Image.Resampling.BOX)
    small_b = b.resize(size, Image.Resampling.BOX)
    return max(ImageStat.Stat(ImageChops.difference(small_a, small_b)).mean)


class Events:
    def __init__(self) -> None:
        self.items: list[tuple[str, Any]] = []

    def __call__(self, event: str, data: Any) -> None:
        self.items.append((event, data))

    async def wait(self, event: str, pred: Any = lambda d: True, timeout: float = 30) -> Any:
        for _ in range(int(timeout / 0.05)):
            for name, data in self.items:
                if name == event and pred(data):
                    return data
            await asyncio.sleep(0.05)
        raise AssertionError(f"no {event}; got {[(e, d.get('view')) for e, d in self.items]}")


@pytest.fixture
async def kiosk(
    bridge: BridgeProcess, tmp_path: Path
) -> AsyncIterator[tuple[BridgeClient, Events, Peek]]:
    events = Events()
    async with BridgeClient(bridge.url, bridge.token) as client:
        client.subscribe(events)
        peek = await Peek.open(tmp_path / "profiles")
        try:
            yield client, events, peek
        finally:
            await peek.close()


async def test_idle_at_start_says_where_and_what_to_do(kiosk: Any) -> None:
    client, _, peek = kiosk
    await peek.wait_view("idle")
    text = await peek.text()
    assert SITE in text and "Bienvenue" in text and "adressez-vous à l'accueil" in text
    assert (await peek.url()).startswith("file://")  # the bridge's own page, no server
    await peek.wait("document.getElementById('logo').naturalWidth === 120", "the site's logo")
    assert not await peek.eval("document.getElementById('logo').hidden")
    status = await client.request("kiosk.status")
    assert status["enabled"] and status["view"] == "idle" and status["browser"]
    hello = await client.request("hello")
    assert {"kiosk.screenshot", "kiosk.reload", "kiosk.restart_browser"} <= set(hello["methods"])
    assert {"kiosk.screen", "kiosk.satisfaction"} <= set(hello["events"])


async def test_preparing_shows_ticket_partner_and_a_live_check_never_a_name(kiosk: Any) -> None:
    client, _, peek = kiosk
    await peek.wait_view("idle")
    with pytest.raises(BridgeError) as refused:
        await client.request("kiosk.prepare", {"display_name": VISITOR})
    assert refused.value.code == "invalid_display_name"

    status = await client.request("kiosk.prepare", {"display_name": "C-007", "partner": "caf"})
    assert status["view"] == "preparing" and status["ticket"] == "C-007"
    await peek.wait_view("preparing")
    text = await peek.text()
    assert "C-007" in text and "Votre conseiller CAF va vous rejoindre" in text
    assert "faites signe à l'accueil" in text  # what to do if nothing happens
    # The camera's live preview and a sound level that moves (the fake microphone beeps).
    await peek.wait("document.getElementById('preview').srcObject?.active === true", "preview")
    await peek.wait("parseInt(document.getElementById('level').style.height) > 0", "level")
    url, html = await peek.url(), await peek.eval("document.documentElement.outerHTML")
    assert "C-007" not in url and "Marie" not in url and VISITOR not in html


async def test_call_then_thanks_touch_answer_then_documents_then_idle(
    kiosk: Any, tmp_path: Path
) -> None:
    client, events, peek = kiosk
    async with FarEnd() as far:
        await client.request("kiosk.prepare", {"display_name": "C-007"})
        await peek.wait_view("preparing")
        started = await client.request(
            "session.start", {"room_url": far.room_url("C-007"), "display_name": "C-007"}
        )
        await peek.wait_view("call")
        assert not await peek.eval("!!document.getElementById('preview').srcObject")
        await events.wait("session.state", lambda d: d["state"] == "in_call")
        await client.request("session.end")
    await peek.wait_view("thanks")
    text = await peek.text()
    assert "Merci" in text and "Touchez un visage" in text and "C-007" not in text

    await peek.touch('[data-answer="good"]')
    answer = await events.wait("kiosk.satisfaction")
    assert answer["answer"] == "good" and answer["session"] == started["session"]
    assert answer["display_name"] == "C-007" and set(answer) == {
        "session",
        "display_name",
        "partner",
        "answer",
        "at",
    }
    await peek.wait_view("documents")
    assert "N'oubliez pas vos documents" in await peek.text()
    await peek.touch('[data-answer="bad"]')  # a second touch is not a second answer
    assert [e for e, _ in events.items].count("kiosk.satisfaction") == 1

    assert (await client.request("kiosk.idle"))["view"] == "idle"
    await peek.wait_view("idle")


async def test_nothing_of_a_visitor_reaches_the_next_one(kiosk: Any, tmp_path: Path) -> None:
    client, events, screen = kiosk
    profiles = tmp_path / "profiles"
    async with FarEnd() as far:
        await client.request(
            "session.start", {"room_url": far.room_url("C-007"), "display_name": "C-007"}
        )
        await events.wait("session.state", lambda d: d["state"] == "in_call")
        room = await Peek.open(profiles, screen=False)
        first_profile = room.profile
        await room.eval(
            "document.cookie = 'visitor=C-007; max-age=86400';"
            "localStorage.setItem('left', 'by C-007'); sessionStorage.setItem('s', '1');"
            "caches.open('c').then((c) => c.put('/x', new Response('y')))"
        )
        assert "visitor=C-007" in await room.eval("document.cookie")
        await room.close()
        await client.request("session.end")
        await screen.wait_view("thanks")
        assert not first_profile.exists()

        await client.request(
            "session.start", {"room_url": far.room_url("C-008"), "display_name": "C-008"}
        )
        await events.wait(
            "session.state", lambda d: d["state"] == "in_call" and d["display_name"] == "C-008"
        )
        room = await Peek.open(profiles, screen=False)
        assert room.profile != first_profile
        seen = await room.eval(
            "(async () => [document.cookie, localStorage.length, sessionStorage.length,"
            " (await caches.keys()).length, history.length])()"
        )
        await room.close()
        assert seen[:4] == ["", 0, 0, 0]
        await screen.wait_view("call")
        assert "C-008" in await screen.text()
        await client.request("session.end")


async def test_screenshot_is_what_the_page_shows(kiosk: Any) -> None:
    client, _, peek = kiosk
    await client.request("kiosk.prepare", {"display_name": "C-012"})
    await peek.wait_view("preparing")
    await client.request("kiosk.idle")
    await peek.wait_view("idle")

    small = await client.request("kiosk.screenshot")
    assert small["type"] == "image/png" and small["view"] == "idle"
    image = Image.open(io.BytesIO(base64.b64decode(small["data"]))).convert("RGB")
    assert image.size == (480, small["height"]) and small["width"] == 480

    seen = await peek.screenshot()  # the page as a person sees it, at full size
    assert seen.width == 1280 and abs(seen.height * 480 / 1280 - image.height) <= 1
    # Chromium draws the small one at its size (text re-rasterized, not shrunk): compare
    # the two pictures at a coarse size, where only what the page shows counts.
    assert distance(image, seen) < 3, distance(image, seen)  # measured: 1.0
    assert image.getpixel((5, 200)) == (0x0B, 0x1D, 0x3A)  # the page's background
    # "Bienvenue" in yellow: some of the title's band holds the accent colour.
    band = image.crop((0, 80, 480, 160)).getcolors(100_000) or []
    assert any(abs(c[0] - 0xFF) < 8 and abs(c[1] - 0xD8) < 8 and c[2] < 0x70 for _, c in band)

    await client.request("kiosk.prepare", {"display_name": "C-012"})
    await peek.wait_view("preparing")
    other = distance(image, await peek.screenshot())
    assert other > 10, other  # the measure tells two pages apart (measured: 21)

    large = await client.request("kiosk.screenshot", {"width": 100_000})
    assert large["width"] == 1280  # bounded by the page (and screenshot_max_width)
    with pytest.raises(BridgeError) as tiny:
        await client.request("kiosk.screenshot", {"width": 10})
    assert tiny.value.code == "bad_params"


async def test_staff_tools_are_refused_during_a_call(kiosk: Any) -> None:
    client, events, _ = kiosk
    async with FarEnd() as far:
        await client.request(
            "session.start", {"room_url": far.room_url("C-007"), "display_name": "C-007"}
        )
        await events.wait("session.state", lambda d: d["state"] == "in_call")
        for method in ("kiosk.screenshot", "kiosk.reload", "kiosk.restart_browser"):
            with pytest.raises(BridgeError) as refused:
                await client.request(method)
            assert refused.value.code == "call_in_progress" and refused.value.retryable
            assert "C-007" in refused.value.message["fr"]
        await client.request("session.end")


async def test_killed_browser_comes_back_to_idle(kiosk: Any, tmp_path: Path) -> None:
    client, events, peek = kiosk
    await peek.wait_view("idle")
    old = peek.profile
    group = owner_group(old)
    await peek.close()
    os.killpg(group, signal.SIGKILL)
    restarted = await events.wait("kiosk.screen", lambda d: d["reason"] == "browser_restarted")
    assert restarted["restarts"] == 1
    fresh = await Peek.open(tmp_path / "profiles")
    try:
        assert fresh.profile != old and not old.exists()
        await fresh.wait_view("idle")
        assert SITE in await fresh.text()
    finally:
        await fresh.close()
    assert group_members(group) == []

    before = (await client.request("kiosk.status"))["restarts"]
    await client.request("kiosk.restart_browser")
    await events.wait("kiosk.screen", lambda d: d["restarts"] == before + 1)
    again = await Peek.open(tmp_path / "profiles")
    try:
        await again.wait_view("idle")
    finally:
        await again.close()
    reloaded = await client.request("kiosk.reload")
    assert reloaded["reason"] == "reloaded"


async def test_the_page_cannot_be_left_for_another_address(kiosk: Any) -> None:
    _, _, peek = kiosk
    await peek.wait_view("idle")
    await peek.eval("location.href = 'about:blank'")
    await peek.wait(
        "location.protocol === 'file:' && document.body.dataset.view === 'idle'", "our page back"
    )
    assert "Bienvenue" in await peek.text()


async def test_every_exit_of_the_bridge_takes_its_screen_browser_along(
    bridge: BridgeProcess, tmp_path: Path
) -> None:
    profiles = tmp_path / "profiles"
    peek = await Peek.open(profiles)
    first, group = peek.profile, owner_group(peek.profile)
    await peek.close()
    bridge.stop()  # SIGTERM: the bridge's own shutdown path
    assert group_members(group) == [] and not first.exists()

    bridge.start()
    peek = await Peek.open(profiles)
    second, group = peek.profile, owner_group(peek.profile)
    await peek.close()
    bridge.kill()  # SIGKILL, as in a power cut: Chromium outlives it...
    assert group_members(group) and second.exists()
    bridge.start()  # ...until the next start sweeps it, then shows its own screen
    peek = await Peek.open(profiles)
    try:
        assert peek.profile != second and not second.exists()
        assert group_members(group) == []
        await peek.wait_view("idle")
    finally:
        await peek.close()


async def test_a_screen_browser_lost_during_a_call_comes_back_after_it(
    kiosk: Any, tmp_path: Path
) -> None:
    client, events, peek = kiosk
    await peek.wait_view("idle")
    group = owner_group(peek.profile)
    await peek.close()
    async with FarEnd() as far:
        await client.request(
            "session.start", {"room_url": far.room_url("C-007"), "display_name": "C-007"}
        )
        await events.wait("session.state", lambda d: d["state"] == "in_call")
        os.killpg(group, signal.SIGKILL)
        # Not relaunched over the call: a new full-screen window would cover it.
        await events.wait("kiosk.screen", lambda d: d["reason"] == "browser_waits_for_call_end")
        assert not [p for p in profiles(tmp_path / "profiles", True) if p.exists()]
        assert not (await client.request("kiosk.status"))["browser"]
        await client.request("session.end")
    await events.wait("kiosk.screen", lambda d: d["reason"] == "browser_restarted")
    fresh = await Peek.open(tmp_path / "profiles")
    try:
        await fresh.wait_view("thanks")  # the call ended with the agent there
    finally:
        await fresh.close()
