"""The site's side of rooms (`pvp_tui.core.hub_rooms`, what F5 asks when `[hub]` is set)
against a real hub process: the hub's room for the kiosk, and each fallback to the
partner's configured room with what staff are told."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from pvp_tui.core import i18n
from pvp_tui.core.config import Hub as HubConfig
from pvp_tui.core.hub_rooms import ask_hub
from tests.hub.people_pages import visit
from tests.hub.regions import Hub, Region
from tests.hub.test_rooms import jitsi_rule
from tests.support.processes import free_port

pytestmark = pytest.mark.parametrize("hub", ["sqlite"], indirect=True)


def site_hub(url: str, token: str, tmp_path: Path) -> HubConfig:
    token_file = tmp_path / "hub.token"
    token_file.write_text(token + "\n")
    return HubConfig(url=url, token_file=token_file)


def test_the_desk_gets_the_hub_room_or_says_why_it_uses_its_own(
    hub: Hub, region: Region, client: httpx.Client, tmp_path: Path
) -> None:
    jitsi_rule(region)
    site = region.site()
    config = site_hub(hub.url, site.token, tmp_path)
    visit_id = visit(client, site, "caf", "C-007")
    with i18n.using_language("fr"):
        room = ask_hub(config, str(visit_id))
        assert room.notice is None and room.kind == "link"
        assert room.url is not None and room.url.startswith("https://meet.example.org/Pvp-")
        assert room.url.endswith(
            "#userInfo.displayName=%22C-007%22&config.prejoinConfig.enabled=false"
        )

        not_synced = ask_hub(config, "6f1c2a8e-0000-4000-8000-000000000000")
        assert not_synced.url is None
        assert not_synced.notice == (
            "Le serveur de la région ne connaît pas encore cette visite (pas encore "
            "synchronisée) : la salle habituelle de l'organisme est utilisée."
        )
        no_rule = ask_hub(config, str(visit(client, site, "cpam", "A-001")))
        assert no_rule == type(no_rule)(None, None)  # nothing to say: the usual room

        down = ask_hub(site_hub(f"http://127.0.0.1:{free_port()}", site.token, tmp_path),
                       str(visit_id))  # fmt: skip
        assert down.url is None and down.notice is not None
        assert "ne répond pas" in down.notice

        unreadable = HubConfig(url=hub.url, token_file=tmp_path / "missing.token")
        assert "jeton" in (ask_hub(unreadable, str(visit_id)).notice or "")
