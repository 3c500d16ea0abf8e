"""A document an agent sends to print reaches the site through a real hub: the agent
uploads a PDF for a visit the site pushed, `pvp sync --once` pulls it, downloads its bytes
(checked against the feed's sha256) onto the visit, and tells the hub `received`; once
printed (or not) the hub hears `printed` (or `print_failed` with the bridge's code). The
bytes leave the site's store when the visit closes; the trace stays."""

from __future__ import annotations

import hashlib
import uuid
from pathlib import Path

import httpx

from pvp_tui.core import hub_documents
from pvp_tui.core.frontdesk import CheckIn, FrontDesk
from pvp_tui.core.pull import Puller
from pvp_tui.core.store import Store
from tests.hub.people_pages import agent, signed_in
from tests.hub.regions import Hub, Region
from tests.hub.test_documents import csrf_of, make_pdf, upload_form
from tests.hub.test_site_pull import pull_once
from tests.hub.test_site_sync import SiteDesk, make_site


def hub_state(hub: Hub, site: SiteDesk, document_id: str) -> dict[str, object]:
    with httpx.Client(base_url=hub.url, timeout=30) as client:
        answer = client.get(f"/api/v1/site/documents/{document_id}", headers=site.site.auth)
    assert answer.status_code == 200, answer.text
    state: dict[str, object] = answer.json()
    return state


def agent_sends(hub: Hub, region: Region, site: SiteDesk, visit_id: str, data: bytes) -> None:
    login = agent(region, "caf", [site.site.slug])
    with signed_in(hub.url, login) as browser:
        sent = upload_form(
            browser, uuid.UUID(visit_id), data, csrf_of(browser, uuid.UUID(visit_id))
        )
        assert sent.status_code == 303, sent.text


def test_an_agent_s_pdf_reaches_the_visit_and_the_hub_hears_each_step(
    hub: Hub, region: Region, tmp_path: Path
) -> None:
    site = make_site(tmp_path, region, hub.url)
    visit = site.desk.check_in(CheckIn(partner_id="caf", name="Visiteuse Secrete"))
    site.desk.call(visit.ticket)
    site.desk.start(visit.ticket)
    pull_once(site)  # the hub now knows the visit
    data = make_pdf(pages=2)
    agent_sends(hub, region, site, visit.id, data)

    done = pull_once(site)
    assert "1 document to print received." in done.stdout
    store = Store(site.db)
    docs = hub_documents.of_visit(store, visit.id)
    assert len(docs) == 1
    doc = docs[0]
    assert (doc.state, doc.ticket, doc.pages, doc.size) == ("received", visit.ticket, 2, len(data))
    kept = hub_documents.content(store, doc.id)
    assert kept is not None and hashlib.sha256(kept).digest() == hashlib.sha256(data).digest()
    state = hub_state(hub, site, doc.id)
    assert state["received_at"] is not None and state["printed_at"] is None

    # A second pull downloads nothing again and sends no receipt twice.
    pull_once(site)
    assert len(hub_documents.of_visit(store, visit.id)) == 1

    # The kiosk's printer fails (out of paper), then prints it.
    hub_documents.mark_print_failed(store, doc.id, "media-empty")
    assert hub_documents.of_visit(store, visit.id)[0].print_error == "printer_error"
    hub_documents.mark_print_failed(store, doc.id, "out_of_paper")
    pull_once(site)
    state = hub_state(hub, site, doc.id)
    assert state["print_error"] == "out_of_paper" and state["printed_at"] is None
    hub_documents.mark_printed(store, doc.id)
    pull_once(site)
    state = hub_state(hub, site, doc.id)
    assert state["printed_at"] is not None
    left = store.query("SELECT count(*) AS n FROM hub_documents WHERE receipt_due IS NOT NULL")
    assert left[0]["n"] == 0

    # The visit closes: the bytes leave the store's files, the trace stays.
    wal = Path(f"{site.db}-wal")
    raw = site.db.read_bytes() + (wal.read_bytes() if wal.exists() else b"")
    assert b"PAPIER-EN-CLAIR" in raw  # the PDF's text is there to be found...
    site.desk.finish(visit.ticket, "resolved")
    FrontDesk(Store(site.db), site.desk.base_config, actor="test").purge_personal_data()
    assert hub_documents.content(store, doc.id) is None
    assert hub_documents.of_visit(store, visit.id)[0].state == "printed"
    raw = site.db.read_bytes() + (wal.read_bytes() if wal.exists() else b"")
    assert b"PAPIER-EN-CLAIR" not in raw  # ...and gone


def test_a_document_whose_bytes_differ_from_the_feed_s_is_not_kept(
    hub: Hub, region: Region, tmp_path: Path
) -> None:
    site = make_site(tmp_path, region, hub.url)
    visit = site.desk.check_in(CheckIn(partner_id="caf", name="Visiteur Secret"))
    pull_once(site)
    agent_sends(hub, region, site, visit.id, make_pdf(pages=1))
    store = Store(site.db)
    # The feed's item recorded by hand with a wrong sha256, as a corrupted answer would.
    with httpx.Client(base_url=hub.url, timeout=30) as client:
        items = client.get("/api/v1/site/changes", headers=site.site.auth).json()["items"]
    item = next(i for i in items if i["kind"] == "document")
    item["data"]["sha256"] = "0" * 64
    with store.transaction() as db:
        assert hub_documents.save_item(db, item["id"], item["data"], site.desk.now())
    worker = site.worker()
    try:
        settled = hub_documents.settle(worker)
    finally:
        worker.close()
    assert settled.downloaded == 0 and settled.error is not None and "sha256" in settled.error
    assert hub_documents.content(store, item["id"]) is None
    row = store.query("SELECT state, tries FROM hub_documents WHERE id = ?", [item["id"]])[0]
    assert (row["state"], row["tries"]) == ("pending", 1)
    # Nothing was said to the hub: it still waits for its receipt.
    assert hub_state(hub, site, item["id"])["received_at"] is None


def test_a_printed_receipt_goes_without_waiting_for_the_next_pull(
    hub: Hub, region: Region, tmp_path: Path
) -> None:
    site = make_site(tmp_path, region, hub.url)
    visit = site.desk.check_in(CheckIn(partner_id="caf", name="Visiteur Secret"))
    pull_once(site)
    agent_sends(hub, region, site, visit.id, make_pdf(pages=1))
    worker = site.worker()
    puller = Puller(worker, site.desk.config)
    puller.period = 3600.0  # the next pull is an hour away
    try:
        assert puller.due()
        assert puller.run().downloaded == 1  # the pull: bytes here, received told
        assert not puller.due()
        (doc,) = hub_documents.of_visit(Store(site.db), visit.id)
        hub_documents.mark_printed(Store(site.db), doc.id)
        assert puller.due()  # a receipt waits: due long before the period
        assert puller.run().error is None
        assert not puller.due()
    finally:
        worker.close()
    assert hub_state(hub, site, doc.id)["printed_at"] is not None
