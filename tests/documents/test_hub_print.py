"""A document an agent sent (already brought by the sync worker: tests/hub/
test_site_documents.py covers the hub's side) is announced on the queue screen by its
ticket, listed in the visit's documents panel as "à imprimer", and printed with one key
at the visit's kiosk through a real pvp-bridge and cups-pdf; the hub is then owed
`printed`. The bridge refusing it owes the hub `print_failed` with the bridge's code.
End to end: an agent uploads to a real pvp-hub, the sync worker brings it, F7 prints it,
and the next sync leaves the hub with `printed`."""

from __future__ import annotations

import base64
import io
import os
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pikepdf
import pytest
from sqlalchemy import Engine
from textual.widgets import OptionList

from pvp_hub import directory
from pvp_hub.database import make_engine
from pvp_tui.core import hub_documents
from pvp_tui.core.config import parse_config
from pvp_tui.core.frontdesk import FrontDesk
from pvp_tui.core.pull import pull
from pvp_tui.core.store import Store
from pvp_tui.core.sync import SyncWorker
from pvp_tui.ui.messages import DataChanged
from pvp_tui.ui.screens.documents.doc_list import HUB_PREFIX
from tests.documents.conftest import Lab
from tests.documents.test_panel_live import open_panel
from tests.hub.people_pages import agent, signed_in
from tests.hub.regions import Region
from tests.hub.test_documents import csrf_of, make_pdf, upload_form
from tests.support.bridge_daemons import BridgeProcess
from tests.support.documents_site import SITE, make_desk, site_config, visitor_at_kiosk
from tests.support.hub_daemons import HubProcess
from tests.support.kiosk_app import make_app, until
from tests.support.said import said

# The hub refuses events dated ahead of its clock: this test's desk runs on today's.
NOW = datetime.now(UTC).replace(microsecond=0)


def sent_by_an_agent(desk: FrontDesk, visit_id: str, data: bytes) -> str:
    """What the sync worker leaves once it downloaded and checked an agent's PDF."""
    import hashlib

    doc_id = str(uuid.uuid4())
    item = {
        "visit_id": visit_id,
        "type": "form",
        "pages": 2,
        "size": len(data),
        "sha256": hashlib.sha256(data).hexdigest(),
        "sent_at": "2026-03-10T09:55:00+00:00",
        "content": f"/api/v1/site/documents/{doc_id}/content",
    }
    with desk.store.transaction() as db:
        assert hub_documents.save_item(db, doc_id, item, desk.now())
    hub_documents.keep(desk.store, doc_id, data)
    return doc_id


def owed(desk: FrontDesk, doc_id: str) -> tuple[str, str | None, str | None]:
    row = desk.store.query(
        "SELECT state, receipt_due, receipt_reason FROM hub_documents WHERE id = ?", [doc_id]
    )[0]
    return row["state"], row["receipt_due"], row["receipt_reason"]


async def test_an_agent_s_document_is_announced_listed_and_printed_with_one_key(
    lab: Lab, bridge: BridgeProcess, tmp_path: Path
) -> None:
    desk = make_desk(tmp_path / "pvp.db", site_config(bridge))
    visit_id = visitor_at_kiosk(desk)
    data = make_pdf(pages=2)
    doc_id = sent_by_an_agent(desk, visit_id, data)
    app = make_app(desk)
    async with app.run_test(size=(100, 32)) as pilot:
        await until(
            pilot,
            lambda: any("Document à imprimer reçu pour C-001" in t for t in said(app)),
            "the notice",
        )
        assert not any("Durand" in t for t in said(app))
        screen = await open_panel(pilot, app)
        listing = screen.query_one("#doc-list", OptionList)
        line = listing.get_option(HUB_PREFIX + doc_id)
        assert "De l'agent" in str(line.prompt) and "à imprimer" in str(line.prompt)
        assert screen.current == HUB_PREFIX + doc_id  # selected: F7 prints it
        await pilot.press("f7")
        await until(pilot, lambda: owed(desk, doc_id)[0] == "printed", "printed", timeout=60)
        assert owed(desk, doc_id) == ("printed", "printed", None)
        # On the kiosk it is one of the visit's documents (it leaves with them).
        assert len(screen.docs) == 1 and screen.docs[0].kiosk == "kiosk-1"
        kiosk_doc = screen.docs[0].id
        await until(pilot, lambda: bool(lab.pdfs_since(kiosk_doc)), "cups-pdf output", timeout=20)
        with pikepdf.open(io.BytesIO(lab.pdfs_since(kiosk_doc)[0].read_bytes())) as printed:
            assert len(printed.pages) == 2
        await until(
            pilot,
            lambda: "imprimé" in str(listing.get_option(HUB_PREFIX + doc_id).prompt),
            "the line says printed",
        )
        # Another one comes while the panel is open (the sync worker's commit): listed.
        second = sent_by_an_agent(desk, visit_id, make_pdf(pages=1))
        app.post_message(DataChanged())
        await until(pilot, lambda: len(screen.hub_docs) == 2, "the second one listed")
        assert "à imprimer" in str(listing.get_option(HUB_PREFIX + second).prompt)
        await until(
            pilot,
            lambda: sum("Document à imprimer reçu pour C-001" in t for t in said(app)) == 2,
            "its notice",
        )


async def test_a_document_the_bridge_refuses_owes_the_hub_print_failed(
    lab: Lab, bridge: BridgeProcess, tmp_path: Path
) -> None:
    desk = make_desk(tmp_path / "pvp.db", site_config(bridge))
    visit_id = visitor_at_kiosk(desk)
    doc_id = sent_by_an_agent(desk, visit_id, b"%PDF-1.4 not really a PDF\n%%EOF\n")
    app = make_app(desk)
    async with app.run_test(size=(100, 32)) as pilot:
        screen = await open_panel(pilot, app)
        assert screen.current == HUB_PREFIX + doc_id
        await pilot.press("f7")
        await until(pilot, lambda: owed(desk, doc_id)[0] == "print_failed", "failed", timeout=30)
    _state, due, reason = owed(desk, doc_id)
    assert (due, reason) == ("print_failed", "unsupported_type")  # the bridge's own code


@pytest.fixture
def doc_hub(tmp_path: Path) -> Iterator[tuple[HubProcess, Engine]]:
    """A real pvp-hub (SQLite) with a documents key, for this test only."""
    url = f"sqlite:///{tmp_path / 'hub.db'}"
    key = tmp_path / "documents.key"
    key.write_text(base64.b64encode(os.urandom(32)).decode())
    process = HubProcess(url, tmp_path)
    process.start(env={**os.environ, "PVP_HUB_DOCUMENTS_KEY_FILE": str(key)})
    engine = make_engine(url, pool_size=2)
    try:
        yield process, engine
    finally:
        process.stop()
        engine.dispose()


def sync_once(desk: FrontDesk) -> None:
    """What `pvp sync --once` does (send, then pull), in this process, against the hub."""
    assert desk.config.hub is not None
    worker = SyncWorker(Store(desk.store.path), desk.config.hub)
    assert worker.acquire()
    try:
        assert worker.drain(timeout=20).error is None
        assert pull(worker, desk.config).error is None
    finally:
        worker._release()


async def test_from_the_agent_s_upload_to_the_hub_hearing_printed(
    lab: Lab, bridge: BridgeProcess, doc_hub: tuple[HubProcess, Engine], tmp_path: Path
) -> None:
    process, engine = doc_hub
    region = Region(f"r{uuid.uuid4().hex[:12]}", engine)
    directory.create_region(engine, region.slug, "Region")
    directory.save_partners(
        engine, region.slug, directory.check_partners([{"id": "caf", "name": "CAF", "prefix": "C"}])
    )
    site = region.site("leyme")
    (tmp_path / "hub.token").write_text(site.token + "\n")
    text = SITE.format(url=bridge.url, token=bridge.token_file)
    text += f'\n[hub]\nurl = "{process.url}"\ntoken_file = "{tmp_path / "hub.token"}"\n'
    desk = make_desk(tmp_path / "pvp.db", parse_config(text, source="<test site>"), at=NOW)
    visit_id = visitor_at_kiosk(desk)
    sync_once(desk)  # the hub knows the visit
    data = make_pdf(pages=2)
    login = agent(region, "caf", [site.slug])
    with signed_in(process.url, login) as browser:
        sent = upload_form(
            browser, uuid.UUID(visit_id), data, csrf_of(browser, uuid.UUID(visit_id))
        )
        assert sent.status_code == 303, sent.text
    sync_once(desk)
    (doc,) = hub_documents.of_visit(desk.store, visit_id)
    assert hub_documents.content(desk.store, doc.id) == data

    app = make_app(desk)
    async with app.run_test(size=(100, 32)) as pilot:
        screen = await open_panel(pilot, app)
        assert screen.current == HUB_PREFIX + doc.id
        await pilot.press("f7")
        await until(pilot, lambda: owed(desk, doc.id)[0] == "printed", "printed", timeout=60)
    sync_once(desk)
    with httpx.Client(base_url=process.url, timeout=30) as client:
        state = client.get(f"/api/v1/site/documents/{doc.id}", headers=site.auth).json()
    assert state["received_at"] is not None and state["printed_at"] is not None
    assert state["print_error"] is None
