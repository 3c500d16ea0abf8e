"""The kiosk's screen with the real printer and spool (private cupsd, ippeveprinter out of
paper): the visitor is told of the trouble in plain words, and the return to idle leaves
none of the visit's print jobs queued and none of its documents in the spool."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from kiosk_bridge.client import BridgeClient
from tests.bridge.conftest import SESSION_CONFIG, Lab
from tests.bridge_session.peek import Peek
from tests.support.bridge_client import Events, small_pdf
from tests.support.bridge_daemons import BridgeProcess


@pytest.fixture
def sim(lab: Lab) -> Iterator[Lab]:
    lab.ippe.set_mode("ok")
    yield lab
    lab.ippe.set_mode("ok")
    lab.cups.run("cancel", "-a", "pvp-ippe")


def screen_config(chromium: str, profiles: Path) -> str:
    return (
        SESSION_CONFIG
        + f"""
[session]
chromium = "{chromium}"
headless = true
fake_media = true
profile_dir = "{profiles}"

[session.partners.caf]
prefix = "C"
domains = ["127.0.0.1"]

[screen]
enabled = true
site_name = "Leyme"
"""
    )


async def test_trouble_is_told_and_idle_leaves_nothing_of_the_visit(
    new_bridge: Callable[..., BridgeProcess], sim: Lab, chromium: str, tmp_path: Path
) -> None:
    bridge = new_bridge(screen_config(chromium, tmp_path / "profiles"))
    events = Events()
    async with BridgeClient(bridge.url, bridge.token) as client:
        client.subscribe(events)
        kiosk = await Peek.open(tmp_path / "profiles")
        try:
            earlier = (await client.put_document(small_pdf("blue")))["id"]  # another visit's
            await kiosk.wait_view("idle")
            await client.request("kiosk.prepare", {"display_name": "C-007"})
            await kiosk.wait_view("preparing")

            sim.ippe.set_mode("paperout")
            doc = (await client.put_document(small_pdf("red")))["id"]
            job = await client.request("printer.print", {"document": doc, "printer": "pvp-ippe"})
            job_id = job["job"]["job"]
            await events.wait_for(
                "print.job",
                lambda d: d["job"] == job_id and "paper_out" in d["printer_reasons"],
                timeout=30,
            )
            await kiosk.wait(
                "document.getElementById('trouble').textContent"
                " === 'Le papier est épuisé, l\\'accueil arrive.'",
                "the paper-out words on the kiosk",
            )
            assert (await client.request("kiosk.status"))["trouble"] == "paper_out"

            idle = await client.request("kiosk.idle")
            assert idle["view"] == "idle" and idle["trouble"] is None
            done = await events.wait("print.job", timeout=30, job=job_id, final=True)
            assert done["state"] == "canceled"
            assert await events.wait("documents.expired", document=doc, reason="visit_end")
            left = [d["id"] for d in (await client.request("documents.list"))["documents"]]
            assert doc not in left and earlier in left
            active = (await client.request("printer.jobs", {"active_only": True}))["jobs"]
            assert job_id not in [j["job"] for j in active]
            await kiosk.wait_view("idle")
            assert not await kiosk.eval("document.getElementById('trouble').textContent")
        finally:
            await kiosk.close()
