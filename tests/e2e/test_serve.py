"""`pvp serve`: the app in a browser through textual-serve, on 127.0.0.1 unless a token
protects it. The real `pvp serve` process; the page, then the websocket that runs pvp."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import aiohttp
import pytest

from .conftest import Site
from .harness import PVP, free_port, wait_port

pytestmark = pytest.mark.timeout(90)

TOKEN = "s3cret-token-for-the-tests-0123456789"


@contextlib.contextmanager
def serve(site: Site, *args: str, **env: str) -> Iterator[int]:
    port = free_port()
    log = site.db.with_name(f"serve-{port}.log")
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [PVP, "serve", "--port", str(port), *args],
            env={**os.environ, **site.env(), **env},
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its pvp children go with it at teardown
        )
    try:
        try:
            wait_port(port, timeout=30)
        except TimeoutError:
            raise AssertionError(log.read_text()) from None
        yield port
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def _listening_on(port: int) -> set[str]:
    out = subprocess.run(
        ["ss", "-Htln", f"sport = :{port}"], capture_output=True, text=True, check=True
    ).stdout
    return {line.split()[3].rsplit(":", 1)[0] for line in out.splitlines() if line.strip()}


async def _screen_text(url: str, headers: dict[str, str], until: str) -> str:
    """Open the page's websocket (as textual.js does) and read pvp's output until `until`."""
    received = ""
    async with aiohttp.ClientSession(headers=headers) as http, http.ws_connect(url) as ws:
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


async def test_serves_pvp_on_loopback_by_default(site: Site) -> None:
    with serve(site) as port:
        assert _listening_on(port) == {"127.0.0.1"}
        async with (
            aiohttp.ClientSession() as http,
            http.get(f"http://127.0.0.1:{port}/") as page,
        ):
            assert page.status == 200
            html = await page.text()
        assert f"ws://127.0.0.1:{port}/ws" in html
        text = await _screen_text(f"ws://127.0.0.1:{port}/ws?width=80&height=24", {}, "En attente")
        assert "En attente" in text  # pvp itself, in French, through the browser's socket


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
    with serve(site, "--host", "0.0.0.0", "--token-file", str(token_file)) as port:
        assert _listening_on(port) in ({"0.0.0.0"}, {"*"})
        base = f"http://127.0.0.1:{port}"
        # a browser keeps cookies for an IP address; aiohttp only when told (unsafe=True)
        async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
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
    with serve(site, "--host", "0.0.0.0", PVP_SERVE_TOKEN=TOKEN) as port:
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
