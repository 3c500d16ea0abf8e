"""The site sends its status from the sync worker (PUT /api/v1/site/status) to a real hub
(SQLite and PostgreSQL): today's queue counts and the kiosks' health as machine codes,
no name; again at once when it changes; an idle site's badge goes offline when the hub
stops answering the status, and back online when it answers again."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from pvp_hub.schema import sites
from pvp_tui.core.frontdesk import CheckIn
from pvp_tui.core.site_status import KioskBoard, StatusSender
from pvp_tui.core.sync import Outbox, Timeouts
from tests.hub.regions import Hub, Region
from tests.hub.test_site_sync import SiteDesk, a_morning, make_site
from tests.support.hub_daemons import HubProcess
from tests.support.processes import wait_for


def hub_status(hub: Hub, site: SiteDesk) -> dict[str, Any] | None:
    with hub.engine.connect() as conn:
        value = conn.execute(select(sites.c.status).where(sites.c.slug == site.site.slug)).scalar()
    return value if value is None or isinstance(value, dict) else json.loads(value)


def test_the_worker_sends_the_sites_status_and_again_when_it_changes(
    tmp_path: Path, region: Region, hub: Hub
) -> None:
    site = make_site(tmp_path, region, hub.url)
    a_morning(site.desk, visitors=4)
    for n in range(3):
        site.desk.check_in(CheckIn(partner_id="caf", name=f"Visiteur Secret {n + 10}"))
    site.desk.call_next()
    # What the queue screen shows (its own reads), as the hub should have it.
    waiting = len(site.desk.queue())
    active = [v.status.value for v in site.desk.active()]
    expected = {"waiting": waiting, "called": active.count("called"),
                "in_session": active.count("in_session")}  # fmt: skip
    assert waiting >= 2 and expected["called"] == 1
    board = KioskBoard(["kiosque-1", "kiosque-2"])
    board.set("kiosque-1", "ok", [])
    board.set("kiosque-2", "degraded", ["paper_out"])
    sender = StatusSender(site.desk.config, board, every=3600)  # only on change here
    worker = site.worker(tasks=[sender]).start()
    try:
        wait_for(lambda: (hub_status(hub, site) or {}).get("queue") == expected,
                 30, "the first status")  # fmt: skip
        first = hub_status(hub, site)
        assert first is not None
        assert first["app_version"] == "0.1.0"
        assert [(k["id"], k["state"], k["problems"]) for k in first["kiosks"]] == [
            ("kiosque-1", "ok", []),
            ("kiosque-2", "degraded", ["paper_out"]),
        ]
        assert "Secret" not in json.dumps(first)
        # A change goes at once (not after `every`): a check-in, a kiosk down.
        site.desk.check_in(CheckIn(partner_id="cpam", name="Visiteur Secret 99"))
        board.set("kiosque-1", "down", ["bridge_unreachable"])
        wait_for(lambda: (hub_status(hub, site) or {}).get("queue", {}).get("waiting")
                 == waiting + 1
                 and (hub_status(hub, site) or {})["kiosks"][0]["state"] == "down",
                 30, "the changed status")  # fmt: skip
        assert Outbox(site.store).status().waiting == 0  # the events went too
    finally:
        worker.stop(wait=5)
    assert sender.sent >= 2


@pytest.mark.engine("sqlite")  # the hub's storage plays no role here
def test_an_idle_sites_status_tells_the_badge_offline_then_online(
    tmp_path: Path, region: Region, hub: Hub
) -> None:
    own = HubProcess(hub.process.db_url, tmp_path)
    own.start()
    site = make_site(tmp_path, region, own.url)
    sender = StatusSender(site.desk.config, every=0.3)
    worker = site.worker(timeouts=Timeouts(connect=1, read=2, total=3), tasks=[sender]).start()
    try:
        # Nothing to send, yet the hub's answers to the status keep the link known.
        wait_for(lambda: Outbox(site.store).status().last_success_at is not None, 30,
                 "the first status answered")  # fmt: skip
        assert Outbox(site.store).status().online
        own.stop()
        wait_for(lambda: Outbox(site.store).status().failing_since is not None, 30,
                 "the failed status noted")  # fmt: skip
        assert own.url in (Outbox(site.store).status().last_error or "")
        own.start()
        wait_for(lambda: Outbox(site.store).status().online, 30, "back online")
        assert hub_status(hub, site) is not None
    finally:
        worker.stop(wait=5)
        own.stop()


def test_a_kiosks_health_in_machine_codes() -> None:
    from pvp_tui.core.kiosks import CONNECTING, OFFLINE, ONLINE, REFUSED, KioskState
    from pvp_tui.core.site_status import kiosk_health

    assert kiosk_health(KioskState(link=CONNECTING)) == ("unknown", [])
    assert kiosk_health(KioskState(link=OFFLINE, problem="Connexion refusée")) == (
        "down",
        ["bridge_unreachable"],
    )
    assert kiosk_health(KioskState(link=REFUSED)) == ("down", ["bridge_token_refused"])
    scanner: Any = {"name": "test:0", "vendor": "x", "model": "y"}
    ready = KioskState(link=ONLINE, scanners=[scanner])
    ready.health = {"scanners": [scanner], "cups": "up"}  # type: ignore[typeddict-item]
    assert kiosk_health(ready) == ("ok", [])
    low = KioskState(link=ONLINE, scanners=[scanner])
    low.printers = [{"name": "hall", "default": True, "reasons": ["paper_low"]}]  # type: ignore[list-item]
    low.health = {"scanners": [scanner], "cups": "up"}  # type: ignore[typeddict-item]
    assert kiosk_health(low) == ("ok", ["paper_low"])  # a warning: still in service
    jammed = KioskState(link=ONLINE, scanners=[])
    jammed.printers = [{"name": "hall", "default": True, "reasons": ["paper_jam", "offline"]},  # type: ignore[list-item]
                       {"name": "spare", "default": False, "reasons": ["door_open"]}]  # fmt: skip
    jammed.health = {"cups": "down"}  # type: ignore[typeddict-item]
    assert kiosk_health(jammed) == (
        "degraded",
        ["printing_down", "scanner_missing", "paper_jam", "printer_offline"],
    )
