"""The session view's real things: a pvp-bridge process with headless Chromium (fake
camera and microphone), the local room and its aiortc agent (tests/support/farend.py),
and an app whose site config points at both. Each is stopped by the test that started it."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from pvp_tui.core import i18n
from pvp_tui.core.config import Config, parse_config
from pvp_tui.core.frontdesk import CheckIn, FrontDesk
from pvp_tui.core.store import Store
from tests.support.bridge_daemons import BridgeProcess, free_port

PARIS_10AM = datetime.fromisoformat("2026-03-10T10:00:00+01:00")  # a Tuesday, CAF open

# The bridge's own allow-list ([session.partners]) and the app's (room_domains) agree.
BRIDGE_CONFIG = """
[session]
chromium = "{chromium}"
headless = true
fake_media = true
profile_dir = "{profiles}"
stats_interval = 1

[session.timeouts]
page = 10
agent = 60
reconnect = 10
media = 2

[session.partners.caf]
prefix = "C"
domains = ["127.0.0.1"]
display_name = "query:name"
"""

SITE = """
[site]
id = "leyme"
name = "Maison des services de Leyme"
timezone = "Europe/Paris"

[[partners]]
id = "caf"
name = "CAF"
prefix = "C"
hours = {{ tue = ["08:00-18:00"] }}
room_url = "{room_url}"
room_domains = {room_domains}

[[kiosks]]
id = "kiosk-1"
name = "Borne 1"
url = "{url}"
token_file = "{token}"
"""


@pytest.fixture(autouse=True)
def french(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("TEXTUAL_ANIMATIONS", "none")
    i18n.set_language("fr")
    yield
    i18n.set_language("fr")


@pytest.fixture
def bridge(chromium: str, tmp_path: Path) -> Iterator[BridgeProcess]:
    # No CUPS or SANE: the session does not need them and the bridge starts anyway.
    env = {"CUPS_SERVER": "127.0.0.1:9", "SANE_CONFIG_DIR": str(tmp_path)}
    config = BRIDGE_CONFIG.format(chromium=chromium, profiles=tmp_path / "profiles")
    proc = BridgeProcess(tmp_path / "bridge", env, config=config)
    try:
        proc.start()
        yield proc
    finally:
        proc.stop()


class Clock:
    def __init__(self, at: datetime) -> None:
        self.at = at

    def __call__(self) -> datetime:
        return self.at


def site_config(
    *, url: str, token: Path, room_url: str, room_domains: tuple[str, ...] = ("127.0.0.1",)
) -> Config:
    domains = "[" + ", ".join(f'"{d}"' for d in room_domains) + "]"
    text = SITE.format(url=url, token=token, room_url=room_url, room_domains=domains)
    return parse_config(text, source="<test site>")


def down_kiosk_config(tmp_path: Path) -> Config:
    """A kiosk whose bridge is not running (nobody listens on its port)."""
    token = tmp_path / "token"
    token.write_text("x" * 43)
    return site_config(
        url=f"ws://127.0.0.1:{free_port()}/v1", token=token, room_url="http://127.0.0.1:9/room"
    )


def make_desk(db: Path, config: Config) -> FrontDesk:
    return FrontDesk(Store(db, create=True), config, Clock(PARIS_10AM), actor="test")


def called_visitor(desk: FrontDesk, name: str = "Mme Durand") -> str:
    visit = desk.check_in(CheckIn("caf", name))
    desk.call(visit.id)
    return visit.id


def session_events(desk: FrontDesk, visit_id: str) -> list[tuple[str, dict[str, Any]]]:
    return [
        (e["type"], e["data"])
        for e in desk.events(visit_id)
        if str(e["type"]).startswith("session_")
    ]
