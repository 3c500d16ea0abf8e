"""`pvp serve`: the app in a browser through textual-serve, on 127.0.0.1 unless a token
protects it. The real `pvp serve` process; the page, then the websocket that runs pvp.
Without a token, a one-time link; foreign origins and foreign Host names are refused."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import os
import re
import shutil
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import aiohttp
import pytest
import websockets

from tests.support.processes import stop_group
from tests.support.terminals import PVP, free_port, wait_port

from .conftest import Site

pytestmark = pytest.mark.timeout(90)

TOKEN = "s3cret-token-for-the-tests-0123456789"
CHROMIUM = "/usr/bin/chromium"


@dataclass
class Served:
    """A running `pvp serve`: its port, what it printed, its stdin (Enter: a new link)."""

    port: int
    log: Path
    proc: subprocess.Popen[bytes]

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def links(self, count: int = 1) -> list[str]:
        """The one-time links printed so far, once there are at least `count`."""
        deadline = time.monotonic() + 15
        while True:
            found = re.findall(r"http://\S+\?t=[\w-]+", self.log.read_text())
            if len(found) >= count or time.monotonic() > deadline:
                return found
            time.sleep(0.05)

    def press_enter(self) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(b"\n")
        self.proc.stdin.flush()


@contextlib.contextmanager
def serve(site: Site, *args: str, **env: str) -> Iterator[Served]:
    port = free_port()
    log = site.db.with_name(f"serve-{port}.log")
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [PVP, "serve", "--port", str(port), *args],
            env={**os.environ, **site.env(), **env},
            stdin=subprocess.PIPE,  # stays open: Enter asks for a new link
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its pvp children go with it at teardown
        )
    try:
        try:
            wait_port(port, timeout=30)
        except TimeoutError:
            raise AssertionError(log.read_text()) from None
        yield Served(port, log, proc)
    finally:
        stop_group(proc)
        if proc.stdin is not None:
            proc.stdin.close()


def _listening_on(port: int) -> set[str]:
    out = subprocess.run(
        ["ss", "-Htln", f"sport = :{port}"], capture_output=True, text=True, check=True
    ).stdout
    return {line.split()[3].rsplit(":", 1)[0] for line in out.splitlines() if line.strip()}


def _browser() -> aiohttp.ClientSession:
    # a browser keeps cookies for an IP address; aiohttp only when told (unsafe=True)
    return aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True))


async def _screen_text(
    url: str, headers: dict[str, str], until: str, http: aiohttp.ClientSession | None = None
) -> str:
    """Open the page's websocket (as textual.js does) and read pvp's output until `until`."""
    received = ""
    async with contextlib.AsyncExitStack() as stack:
        if http is None:
            http = await stack.enter_async_context(aiohttp.ClientSession())
        ws = await stack.enter_async_context(http.ws_connect(url, headers=headers))
        deadline = time.monotonic() + 30
        while until not in received and time.monotonic() < deadline:
            message = await ws.receive(timeout=30)
            if message.type == aiohttp.WSMsgType.BINARY:
                received += message.data.decode("utf-8", "replace")
            elif message.type == aiohttp.WSMsgType.TEXT:
                received += message.data
            else:
                break
    return received


async def _sign_in(http: aiohttp.ClientSession, link: str) -> aiohttp.ClientResponse:
    async with http.get(link, allow_redirects=False) as response:
        await response.read()
        return response


async def test_serves_pvp_on_loopback_by_default(site: Site) -> None:
    with serve(site) as served:
        port = served.port
        assert _listening_on(port) == {"127.0.0.1"}
        [link] = served.links()
        assert link.startswith(f"http://127.0.0.1:{port}/?t=")
        async with _browser() as http:
            response = await _sign_in(http, link)
            assert response.status == 302
            assert response.headers["Location"] == "/"  # the secret leaves the address bar
            cookie = response.headers["Set-Cookie"]
            for attribute in ("HttpOnly", "SameSite=Strict", "Path=/"):
                assert attribute in cookie, cookie
            async with http.get(served.base + "/") as page:
                assert page.status == 200
                html = await page.text()
            assert f"ws://127.0.0.1:{port}/ws" in html
            text = await _screen_text(
                f"ws://127.0.0.1:{port}/ws?width=80&height=24", {}, "En attente", http
            )
        assert "En attente" in text  # pvp itself, in French, through the browser's socket


async def test_without_a_link_nothing_is_served(site: Site) -> None:
    with serve(site) as served:
        async with _browser() as http:
            for path in ("/", "/static/js/textual.js", "/ws", "/download/x"):
                async with http.get(served.base + path, allow_redirects=False) as response:
                    assert response.status == 401, path
                    text = await response.text()
                    assert "lien" in text and "Entrée" in text and "pvp serve" in text, text
            with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
                await _screen_text(f"ws://127.0.0.1:{served.port}/ws", {}, "En attente", http)
            assert refused.value.status == 401
            http.cookie_jar.update_cookies(
                {f"pvp_serve_session_{served.port}": "made-up-session-0123456789"}
            )
            async with http.get(served.base + "/", allow_redirects=False) as response:
                assert response.status == 401
            response = await _sign_in(http, served.base + "/?t=made-up-link-0123456789")
            assert response.status == 403


async def test_a_link_works_once_and_enter_prints_another(site: Site) -> None:
    with serve(site) as served:
        [link] = served.links()
        async with _browser() as first:
            assert (await _sign_in(first, link)).status == 302
            async with first.get(served.base + "/") as page:
                assert page.status == 200
        assert "vient de servir" in served.log.read_text()  # the terminal says it was used
        async with _browser() as second:  # another browser, the same link
            async with second.get(link, allow_redirects=False) as response:
                assert response.status == 403
                assert "déjà servi" in await response.text()
            async with second.get(served.base + "/", allow_redirects=False) as response:
                assert response.status == 401
            served.press_enter()
            links = served.links(2)
            assert len(links) == 2 and links[1] != link
            assert (await _sign_in(second, links[1])).status == 302
            async with second.get(served.base + "/static/js/textual.js") as script:
                assert script.status == 200


async def test_a_foreign_origin_is_refused_even_with_the_cookie(site: Site) -> None:
    with serve(site) as served:
        url = f"ws://127.0.0.1:{served.port}/ws"
        async with _browser() as http:
            assert (await _sign_in(http, served.links()[0])).status == 302
            for origin in ("https://evil.example", "null", f"http://localhost:{served.port}"):
                with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
                    await _screen_text(url, {"Origin": origin}, "En attente", http)
                assert refused.value.status == 403, origin
            async with http.get(
                served.base + "/", headers={"Origin": "https://evil.example"}
            ) as response:
                assert response.status == 403
                assert "autre site" in await response.text()
            # the page's own origin, as the browser sends it, is welcome
            text = await _screen_text(url, {"Origin": served.base}, "En attente", http)
            assert "En attente" in text


async def test_a_foreign_origin_is_refused_with_a_token_too(site: Site) -> None:
    with serve(site, "--host", "0.0.0.0", PVP_SERVE_TOKEN=TOKEN) as served:
        headers = {"Authorization": f"Bearer {TOKEN}", "Origin": "https://evil.example"}
        with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
            await _screen_text(f"ws://127.0.0.1:{served.port}/ws", headers, "En attente")
        assert refused.value.status == 403


async def test_a_foreign_host_name_is_refused(site: Site) -> None:
    """DNS rebinding: evil.example resolves to 127.0.0.1, its page talks to pvp serve with
    `Host: evil.example:PORT`; the cookie would not even be sent, the link must not work."""
    with serve(site) as served:
        port = served.port
        evil = {"Host": f"evil.example:{port}"}
        [link] = served.links()
        async with _browser() as http:
            async with http.get(link, headers=evil, allow_redirects=False) as response:
                assert response.status == 403
                assert "adresse" in await response.text()
            assert (await _sign_in(http, link)).status == 302  # not spent by the refusal
            for path in ("/", "/static/js/textual.js"):
                async with http.get(served.base + path, headers=evil) as response:
                    assert response.status == 403, path
            with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
                await _screen_text(f"ws://127.0.0.1:{port}/ws", evil, "En attente", http)
            assert refused.value.status == 403
            async with http.get(f"http://localhost:{port}/") as response:
                assert response.status == 401  # a loopback name is fine; no cookie for it


_URL = re.compile(r"""(?:https?:)?//[^\s"'()<>]+""")


def _outside(text: str, port: int) -> list[str]:
    """URLs in `text` that point anywhere but this server."""
    own = (f"127.0.0.1:{port}",)
    return [u for u in _URL.findall(text) if urlsplit(u).netloc not in own]


async def test_the_page_is_pvp_relais_in_french_and_local(site: Site) -> None:
    with serve(site) as served:
        async with _browser() as http:
            await _sign_in(http, served.links()[0])
            async with http.get(served.base + "/") as page:
                html = await page.text()
            assert '<html lang="fr">' in html
            assert "PVP Relais" in html and "Démarrage de pvp" in html and "Relancer" in html
            assert "Textual" not in html and "<svg" not in html and ">Start<" not in html
            assert _outside(html, served.port) == []
            async with http.get(served.base + "/static/css/xterm.css") as css:
                rules = re.sub(r"/\*.*?\*/", "", await css.text(), flags=re.S)  # not comments
                assert _outside(rules, served.port) == []


async def test_the_page_is_in_english_with_lang_en(site: Site) -> None:
    with serve(site, "--lang", "en") as served:
        async with _browser() as http:
            await _sign_in(http, served.links()[0])
            async with http.get(served.base + "/") as page:
                html = await page.text()
        assert '<html lang="en">' in html and "Starting pvp" in html and ">Start<" in html
        async with _browser() as http, http.get(served.base + "/") as response:
            assert response.status == 401
            assert "no access link" in await response.text()


def test_refuses_other_addresses_without_a_token(site: Site) -> None:
    port = free_port()
    result = subprocess.run(
        [PVP, "serve", "--host", "0.0.0.0", "--port", str(port)],
        env={**os.environ, **site.env()},
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert result.returncode == 2
    assert len(result.stderr.strip().splitlines()) == 1
    assert "jeton" in result.stderr and "0.0.0.0" in result.stderr
    assert _listening_on(port) == set()


def test_refuses_a_short_or_unreadable_token(site: Site, tmp_path: Path) -> None:
    short = tmp_path / "short"
    short.write_text("abc\n")
    for token_file in (short, tmp_path / "missing"):
        result = subprocess.run(
            [PVP, "serve", "--host", "0.0.0.0", "--token-file", str(token_file)],
            env={**os.environ, **site.env()},
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
        assert result.returncode == 2, result.stderr
        assert str(token_file) in result.stderr or "16" in result.stderr


async def test_with_a_token_every_request_needs_it(site: Site, tmp_path: Path) -> None:
    token_file = tmp_path / "serve-token"
    token_file.write_text(TOKEN + "\n")
    token_file.chmod(0o600)
    with serve(site, "--host", "0.0.0.0", "--token-file", str(token_file)) as served:
        port = served.port
        assert _listening_on(port) in ({"0.0.0.0"}, {"*"})
        base = f"http://127.0.0.1:{port}"
        async with _browser() as http:
            for path in ("/", "/ws", "/static/js/textual.js", "/?token=wrong-token-0123456789"):
                async with http.get(base + path, allow_redirects=False) as response:
                    assert response.status == 401, path
                    assert "jeton" in await response.text()
            async with http.get(f"{base}/?token={TOKEN}", allow_redirects=False) as response:
                assert response.status == 302
                assert "token" not in response.headers["Location"]
            # the session now holds the cookie: page, assets and socket work
            async with http.get(base + "/") as page:
                assert page.status == 200
            async with http.get(base + "/static/js/textual.js") as script:
                assert script.status == 200
        text = await _screen_text(
            f"ws://127.0.0.1:{port}/ws", {"Authorization": f"Bearer {TOKEN}"}, "En attente"
        )
        assert "En attente" in text


async def test_the_token_does_not_reach_pvp(site: Site) -> None:
    with serve(site, "--host", "0.0.0.0", PVP_SERVE_TOKEN=TOKEN) as served:
        port = served.port
        url = f"ws://127.0.0.1:{port}/ws"
        async with (
            aiohttp.ClientSession(headers={"Authorization": f"Bearer {TOKEN}"}) as http,
            http.ws_connect(url) as ws,
        ):
            await ws.receive(timeout=30)  # pvp has started
            children = _descendants(_server_pid(port))
            assert children
            for pid in children:
                environ = Path(f"/proc/{pid}/environ").read_bytes()
                assert b"PVP_SERVE_TOKEN" not in environ and TOKEN.encode() not in environ


def _server_pid(port: int) -> int:
    out = subprocess.run(
        ["ss", "-Htlnp", f"sport = :{port}"], capture_output=True, text=True, check=True
    ).stdout
    return int(out.split("pid=")[1].split(",")[0])


def _descendants(pid: int) -> list[int]:
    out = subprocess.run(
        ["ps", "-o", "pid=", "--ppid", str(pid)], capture_output=True, text=True, check=False
    ).stdout
    children = [int(p) for p in out.split()]
    return children + [d for c in children for d in _descendants(c)]


CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--window-size=1100,700",
)


@contextlib.contextmanager
def chromium(profile: Path) -> Iterator[str]:
    """A headless Chromium with a fresh profile; yields its DevTools websocket URL."""
    proc = subprocess.Popen(
        [CHROMIUM, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", "--remote-debugging-port=0"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        active = profile / "DevToolsActivePort"
        deadline = time.monotonic() + 30
        while not (active.exists() and len(active.read_text().split()) == 2):
            assert time.monotonic() < deadline and proc.poll() is None, "chromium did not start"
            time.sleep(0.1)
        port, path = active.read_text().split()
        yield f"ws://127.0.0.1:{port}{path}"
    finally:
        stop_group(proc)


class DevTools:
    """Just enough of the DevTools protocol: commands to one page, its events kept."""

    def __init__(self, ws: Any) -> None:
        self.ws = ws
        self.session = ""
        self.events: list[dict[str, Any]] = []
        self._next = 0

    async def send(self, method: str, **params: Any) -> dict[str, Any]:
        self._next += 1
        message: dict[str, Any] = {"id": self._next, "method": method, "params": params}
        if self.session:
            message["sessionId"] = self.session
        await self.ws.send(json.dumps(message))
        while True:
            reply = json.loads(await asyncio.wait_for(self.ws.recv(), 30))
            if reply.get("id") == self._next:
                assert "error" not in reply, reply
                result: dict[str, Any] = reply["result"]
                return result
            self.events.append(reply)

    def requested(self) -> list[str]:
        urls = []
        for event in self.events:
            if event.get("method") == "Network.requestWillBeSent":
                urls.append(event["params"]["request"]["url"])
            elif event.get("method") == "Network.webSocketCreated":
                urls.append(event["params"]["url"])
        return urls


@pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="chromium is not installed")
@pytest.mark.timeout(120)
async def test_chromium_runs_pvp_from_this_machine_only(site: Site, tmp_path: Path) -> None:
    """A real browser opens the one-time link: every request it makes goes to pvp serve
    (no web font, nothing from another host) and the terminal shows pvp."""
    with serve(site) as served, chromium(tmp_path / "profile") as devtools_url:
        own = f"127.0.0.1:{served.port}"
        async with websockets.connect(devtools_url, max_size=2**26) as ws:
            tools = DevTools(ws)
            target = await tools.send("Target.createTarget", url="about:blank")
            attached = await tools.send(
                "Target.attachToTarget", targetId=target["targetId"], flatten=True
            )
            tools.session = attached["sessionId"]
            await tools.send("Network.enable")
            await tools.send("Page.enable")
            await tools.send("Page.navigate", url=served.links()[0])
            deadline = time.monotonic() + 40
            shown = False
            while not shown and time.monotonic() < deadline:
                await asyncio.sleep(0.5)
                check = "document.body !== null && document.body.classList.contains('-first-byte')"
                result = await tools.send("Runtime.evaluate", expression=check)
                shown = result["result"].get("value") is True
            assert shown, "the terminal never received pvp's screen"
            await asyncio.sleep(3)  # let pvp draw its first screen
            location = await tools.send("Runtime.evaluate", expression="location.href")
            assert location["result"]["value"] == f"http://{own}/"  # the secret is gone
            shot = await tools.send("Page.captureScreenshot", format="png")
            picture = tmp_path / "serve.png"
            picture.write_bytes(base64.b64decode(shot["data"]))
            if keep := os.environ.get("PVP_SERVE_SCREENSHOT"):
                shutil.copy(picture, keep)
            requested = tools.requested()
        assert any(url.startswith(f"ws://{own}/ws") for url in requested), requested
        outside = [u for u in requested if urlsplit(u).netloc != own and u != "about:blank"]
        assert outside == [], outside
