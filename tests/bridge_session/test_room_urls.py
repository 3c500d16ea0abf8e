"""Room URLs are judged the way the kiosk's browser reads them: headless Chromium parses
every hostile address, and the bridge may only accept one whose host Chromium loads too."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from kiosk_bridge.session.config import PartnerRooms, RoomRefused, SessionConfig

CONFIG = SessionConfig(
    partners=(
        PartnerRooms("caf", "C", ("*.visio.caf.fr", "webconf.numerique.gouv.fr")),
        PartnerRooms("loc", "L", ("localhost", "127.0.0.1", "::1")),
        PartnerRooms("ipv6", "V", ("2001:db8::1",)),
    )
)

HOSTILE = [
    "https://evil.example\\.visio.caf.fr/room",
    "https://evil.example\\@x.visio.caf.fr/room",
    "https:/\\evil.example/x.visio.caf.fr",
    "https:\\\\evil.example/.visio.caf.fr",
    "https:evil.example/x.visio.caf.fr",
    "https:/evil.example",
    "https://evil%2eexample.visio.caf.fr/room",
    "https://x%2evisio.caf.fr/room",
    "https://x.visio.caf.fr%2f@evil.example/",
    "https://x.visio.caf.fr@evil.example/room",
    "https://user:pass@x.visio.caf.fr/room",
    "https://:@x.visio.caf.fr/room",
    "https://x.visio.caf.fr:443@evil.example/",
    "https://evil.example\t.visio.caf.fr/room",
    "https://evil.example\n.visio.caf.fr/room",
    "https://x.visio.caf.fr\r/room",
    " https://x.visio.caf.fr/room",
    "\x00https://x.visio.caf.fr/room",
    "https://x.visio.caf.fr/room\x01",
    "https://X.Visio.Caf.Fr/room",
    "HTTPS://x.visio.caf.fr/room",
    "https://x.visio.caf.fr./room",
    "https://x..visio.caf.fr/room",
    "https://.x.visio.caf.fr/room",
    "https://x.visio.caf.fr.evil.example/room",
    "https://x.visio.caf.fr\u3002evil.example/room",
    "https://x.visio.caf.fr\uff0eevil.example/",
    "https://\u0432\u0456\u0455\u0456\u043e.visio.caf.fr/room",
    "https://\u0441af.visio.caf.fr/",
    "https://webconf.numerique.gouv.fr\u2025evil.example/",
    "https://webconf\u00ad.numerique.gouv.fr/",
    "https://x.visio.caf.fr\u200b/room",
    "https://[2001:db8::1%25eth0]/",
    "https://[::ffff:127.0.0.1]/",
    "https://0x7f.0.0.1/room",
    "https://2130706433/room",
    "http://127.1/room",
    "https://x_y.visio.caf.fr/room",
    "https://-x.visio.caf.fr/room",
    "https://x.visio.caf.fr:99999/room",
    "https://x.visio.caf.fr:0x1bb/room",
    "http://x.visio.caf.fr/room",
    "javascript://x.visio.caf.fr/%0aalert(1)",
    "file://x.visio.caf.fr/etc/passwd",
    "//x.visio.caf.fr/room",
    "https:///x.visio.caf.fr/room",
    "https://x.visio.caf.fr/room\\..\\",
]
# Plain addresses that must pass, with the host the browser loads.
PLAIN = {
    "https://webconf.numerique.gouv.fr/CafLannion42": "webconf.numerique.gouv.fr",
    "https://x.visio.caf.fr/r?a=1#userInfo.displayName=%22C-007%22": "x.visio.caf.fr",
    "https://a-b.c1.visio.caf.fr:8443/room": "a-b.c1.visio.caf.fr",
    "https://xn--80a.visio.caf.fr/room": "xn--80a.visio.caf.fr",
    "https://x.visio.caf.fr:443/room": "x.visio.caf.fr",
    "http://localhost:8080/room": "localhost",
    "http://127.0.0.1/room": "127.0.0.1",
    "http://[::1]:8080/room": "[::1]",
    "https://[::1]/room": "[::1]",
    "https://[2001:db8::1]/room": "[2001:db8::1]",
}


def ticket_for(url: str) -> str:
    if "localhost" in url or "127.0.0.1" in url or "[::1]" in url:
        return "L-001"
    return "V-001" if "2001:db8" in url else "C-001"


def chromium_hosts(urls: list[str], tmp_path: Path) -> dict[str, str | None]:
    """The hostname Chromium's own URL parser gives each address (None: not a URL)."""
    page = tmp_path / "parse.html"
    script = (
        "const urls = JSON.parse(document.getElementById('u').textContent);"
        "const out = urls.map(u => { try { const p = new URL(u);"
        " return p.protocol === 'https:' || p.protocol === 'http:' ? p.hostname : null; }"
        " catch (e) { return null; } });"
        "document.body.textContent = 'RESULT' + JSON.stringify(out) + 'END';"
    )
    data = json.dumps(urls).replace("<", "\\u003c")
    page.write_text(
        f'<html><body><script type="application/json" id="u">{data}</script>'
        f"<script>{script}</script></body></html>",
        encoding="utf-8",
    )
    args = ["chromium", "--headless=new", "--disable-gpu", "--no-first-run"]
    args += [f"--user-data-dir={tmp_path / 'profile'}", "--dump-dom", page.as_uri()]
    if os.geteuid() == 0:
        args.append("--no-sandbox")  # Chromium refuses to run as root with its sandbox
    proc = subprocess.run(args, capture_output=True, text=True, timeout=60)
    start, end = proc.stdout.index("RESULT") + len("RESULT"), proc.stdout.index("END")
    return dict(zip(urls, json.loads(proc.stdout[start:end]), strict=True))


def verdict(url: str) -> tuple[str, str] | None:
    try:
        room = CONFIG.check_request(url, ticket_for(url))
    except RoomRefused:
        return None
    return room.url, room.host


@pytest.mark.parametrize("url", HOSTILE)
def test_hostile_room_urls_are_refused(url: str) -> None:
    with pytest.raises(RoomRefused) as refused:
        CONFIG.check_request(url, ticket_for(url))
    assert refused.value.code in {"invalid_room_url", "room_not_allowed"}


def test_plain_room_urls_pass() -> None:
    for url, host in PLAIN.items():
        judged = verdict(url)
        assert judged is not None, url
        assert judged[1] == host.strip("[]")


def test_the_bridge_agrees_with_chromium_on_every_host(chromium: str, tmp_path: Path) -> None:
    accepted = {url: verdict(url) for url in [*HOSTILE, *PLAIN]}
    loaded = [room[0] for room in accepted.values() if room is not None]
    browser = chromium_hosts([*HOSTILE, *PLAIN, *loaded], tmp_path)
    for url in HOSTILE:
        # Chromium reads these as addresses of some other host, or not at all.
        seen = browser[url]
        assert seen is None or not CONFIG.partners[0].allows(seen) or accepted[url] is None
    for url, room in accepted.items():
        if room is None:
            continue
        final, host = room
        # What the bridge judged is what the browser loads, from the raw address and from
        # the address the bridge hands it.
        assert browser[url] is not None and browser[url].strip("[]") == host, url
        assert browser[final] is not None and browser[final].strip("[]") == host, url
    assert {u for u, room in accepted.items() if room is not None} == set(PLAIN)
