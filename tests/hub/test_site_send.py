"""A scanned document the desk sends to the agent reaches a real hub, on SQLite and
PostgreSQL: refused without the visitor's consent (nothing queued, nothing sent), queued
with its `document_sent` event, sent by the sync worker in chunks that resume where the
hub's copy ends after a crash (a new worker, as after a restart), whole and with the same
sha256 on the hub, the site's spool emptied; the agent's first view comes back through
the pull as "opened" with its time. Consent withdrawn or the visit closed: the spool's
copy goes and nothing more is sent. No visitor name in the log."""

from __future__ import annotations

import hashlib
import io
import itertools
import logging
import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import cast

import httpx
import pikepdf
import pytest

from kiosk_bridge.shapes import DocumentInfo
from pvp_tui.core import hub_uploads, i18n
from pvp_tui.core.clock import to_iso
from pvp_tui.core.documents import DocTrace, DocumentLog
from pvp_tui.core.errors import PvpError
from pvp_tui.core.frontdesk import CheckIn, FrontDesk
from pvp_tui.core.pull import pull
from pvp_tui.core.store import Store
from pvp_tui.core.sync import SyncWorker
from tests.hub.people_pages import agent, signed_in
from tests.hub.regions import Hub, Region
from tests.hub.test_site_sync import SiteDesk, make_site

NAME = "Visiteuse Secrete"


def big_pdf(filler: int, pages: int = 2) -> bytes:
    """A valid PDF of about `filler` bytes more than its pages (random, incompressible)."""
    pdf = pikepdf.new()
    for number in range(pages):
        pdf.add_blank_page(page_size=(595, 842))
        text = f"BT /F1 12 Tf 72 720 Td (PAGE {number}) Tj ET".encode()
        pdf.pages[number].Contents = pdf.make_stream(text)
    if filler:
        pdf.Root.PvpFiller = pdf.make_stream(os.urandom(filler))
    out = io.BytesIO()
    pdf.save(out, compress_streams=False)
    return out.getvalue()


def scanned(log: DocumentLog, visit_id: str, data: bytes, doc: str | None = None) -> DocTrace:
    info = {
        "id": doc or f"doc_{uuid.uuid4().hex[:16]}",
        "pages": 2,
        "sha256": hashlib.sha256(data).hexdigest(),
    }
    return log.captured(visit_id, "kiosk-1", cast(DocumentInfo, info), "payslip")


def visitor_in_session(site: SiteDesk) -> str:
    visit = site.desk.check_in(CheckIn(partner_id="caf", name=NAME))
    site.desk.call(visit.ticket)
    site.desk.start(visit.ticket)
    return visit.id


def hub_state(hub: Hub, site: SiteDesk, upload_id: str) -> dict[str, object] | None:
    with httpx.Client(base_url=hub.url, timeout=30) as client:
        answer = client.get(f"/api/v1/site/documents/{upload_id}", headers=site.site.auth)
    if answer.status_code == 404:
        return None
    assert answer.status_code == 200, answer.text
    state: dict[str, object] = answer.json()
    return state


def test_sent_in_chunks_resumed_after_a_crash_whole_on_the_hub_then_opened(
    hub: Hub, region: Region, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:  # fmt: skip
    caplog.set_level(logging.DEBUG)
    monkeypatch.setattr(hub_uploads, "CHUNK", 256 * 1024)
    site = make_site(tmp_path, region, hub.url)
    visit_id = visitor_in_session(site)
    log = DocumentLog(site.desk)
    data = big_pdf(1_200_000)
    trace = scanned(log, visit_id, data)

    # No consent: refused in words, nothing queued.
    with pytest.raises(PvpError) as refused:
        log.send_to_agent(trace, data)
    assert refused.value.code == "no_consent"
    assert "accord" in str(refused.value)  # in French by default
    assert hub_uploads.of_visit(site.store, visit_id) == []

    trace = log.updated(trace, consent=True)
    upload = log.send_to_agent(trace, data)
    assert (upload.state, upload.size, upload.sent_bytes) == ("waiting", len(data), 0)
    assert upload.sha256 == hashlib.sha256(data).hexdigest()
    assert log.get(visit_id, trace.id).sent  # type: ignore[union-attr]
    with pytest.raises(PvpError) as again:
        log.send_to_agent(trace, data)
    assert again.value.code == "already_sent"

    # The process that was sending died after two chunks (sent here by hand, as it did).
    with (
        drained(site) as worker,  # the visit's events first
        httpx.Client(base_url=hub.url, timeout=30) as client,
    ):
        (row,) = hub_uploads._waiting(site.store)
        state = hub_uploads._start(worker, row)
        assert state["received_bytes"] == 0
        for start in (0, 256 * 1024):
            put = client.put(
                f"/api/v1/site/documents/{upload.id}/chunks/{start}",
                content=data[start : start + 256 * 1024],
                headers=site.site.auth,
            )
            assert put.status_code == 200, put.text

    # A new worker (pvp restarted) resumes from the hub's 512 KiB, not from 0.
    puts: list[tuple[int, int]] = []
    worker = site.worker()

    def seen(request: httpx.Request) -> None:
        if request.method == "PUT":
            puts.append((int(request.url.path.rsplit("/", 1)[1]), len(request.content)))

    worker.client.event_hooks["request"].append(seen)
    assert worker.acquire()
    try:
        done = hub_uploads.send_all(worker)
        assert (done.sent, done.error) == (1, None)
    finally:
        worker._release()
    assert puts[0] == (512 * 1024, 256 * 1024)
    for (start, length), (after, _length) in itertools.pairwise(puts):
        assert after == start + length  # each chunk once, in order
    assert puts[-1][0] + puts[-1][1] == len(data)
    assert puts[1][1] > 256 * 1024  # a fast link: the next chunk is larger

    (sent,) = hub_uploads.of_visit(site.store, visit_id)
    assert (sent.state, sent.sent_bytes, sent.opened_at) == ("sent", len(data), None)
    assert sent.sent_at is not None
    assert hub_uploads.spooled(site.store, upload.id) is None  # the spool keeps nothing sent
    # Erased, then checkpointed and the WAL cut at the turn's end: the bytes are in no
    # file of the store (the WAL no longer holds the spool's frames).
    wal = Path(f"{site.db}-wal")
    raw = site.db.read_bytes() + (wal.read_bytes() if wal.exists() else b"")
    assert data[len(data) // 2 : len(data) // 2 + 64] not in raw
    state = hub_state(hub, site, upload.id)
    assert state is not None
    assert (state["state"], state["sha256"], state["size"]) == ("ready", sent.sha256, len(data))
    assert state["visit_id"] == visit_id and state["type"] == "payslip"

    # Not opened yet: the pull says nothing; the agent opens it: the pull brings the time.
    worker = site.worker()
    try:
        assert pull(worker, site.desk.config).opened == 0
        login = agent(region, "caf", [site.site.slug])
        with signed_in(hub.url, login) as browser:
            shown = browser.get(f"/agent/documents/{upload.id}")
        assert shown.status_code == 200
        assert hashlib.sha256(shown.content).digest() == hashlib.sha256(data).digest()
        assert pull(worker, site.desk.config).opened == 1
    finally:
        worker.close()
    (opened,) = hub_uploads.of_visit(site.store, visit_id)
    state = hub_state(hub, site, upload.id)
    assert state is not None
    hub_time = datetime.fromisoformat(str(state["opened_at"]))
    assert (opened.state, opened.opened_at) == ("opened", to_iso(hub_time))  # in UTC, to the ms

    assert NAME not in caplog.text
    assert NAME not in hub.process.log.read_text()


def test_consent_withdrawn_or_the_visit_closed_erases_the_spool_and_sends_nothing(
    hub: Hub, region: Region, tmp_path: Path
) -> None:
    site = make_site(tmp_path, region, hub.url)
    visit_id = visitor_in_session(site)
    log = DocumentLog(site.desk)
    first, second = big_pdf(50_000), big_pdf(60_000)
    one = log.updated(scanned(log, visit_id, first), consent=True)
    two = log.updated(scanned(log, visit_id, second), consent=True)
    up_one = log.send_to_agent(one, first)
    up_two = log.send_to_agent(two, second)
    assert hub_uploads.spooled(site.store, up_one.id) == first

    off = log.updated(one, consent=False)  # the visitor changed their mind before it went
    assert hub_uploads.spooled(site.store, up_one.id) is None
    assert hub_uploads.get(site.store, up_one.id).state == "erased"  # type: ignore[union-attr]
    # Ticked again and F9 again: refused in words, no bytes back in the spool.
    with pytest.raises(PvpError) as again:
        log.send_to_agent(log.updated(off, consent=True), first)
    assert again.value.code == "cannot_send_again"
    assert "ne peut plus" in str(again.value)  # in French by default
    assert hub_uploads.spooled(site.store, up_one.id) is None

    site.desk.finish(site.desk.get(visit_id).ticket, "resolved")
    # Erased in the visit's closing transaction, not at the next start of day.
    assert hub_uploads.spooled(site.store, up_two.id) is None
    assert hub_uploads.get(site.store, up_two.id).state == "erased"  # type: ignore[union-attr]
    assert hub_uploads._waiting(site.store) == []
    # The next purge (each start, `pvp purge`) flushes the store's files.
    FrontDesk(Store(site.db), site.desk.base_config, actor="test").purge_personal_data()
    wal = Path(f"{site.db}-wal")
    raw = site.db.read_bytes() + (wal.read_bytes() if wal.exists() else b"")
    for data in (first, second):
        middle = len(data) // 2
        assert data[middle : middle + 64] not in raw

    with drained(site) as worker:
        assert hub_uploads.send_all(worker).sent == 0
    assert hub_state(hub, site, up_one.id) is None and hub_state(hub, site, up_two.id) is None


@contextmanager
def drained(site: SiteDesk) -> Iterator[SyncWorker]:
    """The site's sync worker, holding the lease, once it has sent the events waiting
    (the visit's, with the token); the lease let go at the end."""
    worker = site.worker()
    assert worker.acquire()
    try:
        assert worker.drain(timeout=20).error is None
        yield worker
    finally:
        worker._release()


def sync_once(site: SiteDesk) -> hub_uploads.Sent:
    """The sync worker's round: the visit's events first, then the uploads."""
    with drained(site) as worker:
        return hub_uploads.send_all(worker)


def test_a_scan_deleted_or_changed_after_f9_is_taken_back_and_a_changed_one_sent_again(
    hub: Hub, region: Region, tmp_path: Path
) -> None:
    from pvp_tui.ui.screens.documents.doc_list import doc_line

    site = make_site(tmp_path, region, hub.url)
    visit_id = visitor_in_session(site)
    log = DocumentLog(site.desk)
    first, second, gone = big_pdf(40_000, pages=3), big_pdf(30_000), big_pdf(20_000)

    # Queued, then deleted from the kiosk before it went: never sent, its bytes erased.
    doomed = log.updated(scanned(log, visit_id, gone), consent=True)
    up_gone = log.send_to_agent(doomed, gone)
    log.purged(doomed, "deleted")
    assert hub_uploads.spooled(site.store, up_gone.id) is None
    assert hub_uploads.get(site.store, up_gone.id).state == "erased"  # type: ignore[union-attr]

    # Queued, then a page removed before it went: the old pages are never sent.
    trace = log.updated(scanned(log, visit_id, first), consent=True)
    up_first = log.send_to_agent(trace, first)
    trace = log.updated(trace, pages=2, sha256=hashlib.sha256(second).hexdigest())
    assert hub_uploads.spooled(site.store, up_first.id) is None
    assert hub_uploads.get(site.store, up_first.id).state == "erased"  # type: ignore[union-attr]
    assert sync_once(site).sent == 0
    assert hub_state(hub, site, up_first.id) is None and hub_state(hub, site, up_gone.id) is None

    # The pages as they are now are a new content: F9 sends them (once).
    (old,) = hub_uploads.of_visit(site.store, visit_id)[1:]
    assert "F9" in doc_line(trace, False, old)  # the panel says the old pages went
    up_second = log.send_to_agent(trace, second)
    assert up_second.id != up_first.id and up_second.sha256 == trace.sha256
    with pytest.raises(PvpError) as again:
        log.send_to_agent(trace, second)
    assert again.value.code == "already_sent"
    assert sync_once(site).sent == 1
    state = hub_state(hub, site, up_second.id)
    assert state is not None and (state["state"], state["sha256"]) == ("ready", trace.sha256)

    # Sent, then a page rotated: the hub drops the copy the agent has; F9 sends the new.
    third = big_pdf(30_001)
    trace = log.updated(trace, sha256=hashlib.sha256(third).hexdigest())
    up_third = log.send_to_agent(trace, third)
    assert sync_once(site).sent == 1
    state = hub_state(hub, site, up_second.id)
    assert state is not None
    assert (state["state"], state["deleted_reason"]) == ("deleted", "document_changed")
    assert hub_state(hub, site, up_third.id)["state"] == "ready"  # type: ignore[index]

    # Sent, then deleted from the kiosk during the visit: the hub drops its copy.
    log.purged(trace, "deleted")
    assert sync_once(site).sent == 0
    state = hub_state(hub, site, up_third.id)
    assert state is not None
    assert (state["state"], state["deleted_reason"]) == ("deleted", "document_deleted")
    login = agent(region, "caf", [site.site.slug])
    with signed_in(hub.url, login) as browser:
        assert browser.get(f"/agent/documents/{up_third.id}").status_code != 200


def test_a_damaged_pdf_is_refused_once_and_never_tried_again_with_words_for_staff(
    hub: Hub, region: Region, tmp_path: Path
) -> None:
    from pvp_tui.ui.screens.documents.doc_list import upload_words
    from tests.hub.test_documents import damaged_pdfs

    site = make_site(tmp_path, region, hub.url)
    visit_id = visitor_in_session(site)
    log = DocumentLog(site.desk)
    data = damaged_pdfs()["key"]
    upload = log.send_to_agent(log.updated(scanned(log, visit_id, data), consent=True), data)
    done = sync_once(site)
    assert (done.sent, done.stopped) == (0, False)
    refused = hub_uploads.get(site.store, upload.id)
    assert refused is not None and (refused.state, refused.error) == ("refused", "not_a_valid_pdf")
    assert hub_uploads.spooled(site.store, upload.id) is None
    assert hub_uploads._waiting(site.store) == []  # never tried again
    assert upload_words(refused, None) == (
        "refusé par le hub : ce n'est pas un PDF valide (numérisez-le à nouveau)"
    )
    state = hub_state(hub, site, upload.id)
    assert state is not None and (state["state"], state["deleted_reason"]) == ("deleted", "refused")


class ProxyLimit(httpx.BaseTransport):
    """A proxy in front of the hub with nginx's `client_max_body_size`: a larger body gets
    nginx's own 413 page (HTML, no JSON code); the rest goes on to the real hub."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.hub = httpx.HTTPTransport()
        self.refused: list[int] = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        body = request.read()
        if len(body) > self.limit:
            self.refused.append(len(body))
            html = b"<html><head><title>413 Request Entity Too Large</title></head></html>"
            return httpx.Response(413, content=html, headers={"Content-Type": "text/html"})
        return self.hub.handle_request(request)


def test_a_chunk_a_proxy_refuses_with_413_is_sent_again_smaller_and_the_limit_kept(
    hub: Hub, region: Region, tmp_path: Path
) -> None:
    site = make_site(tmp_path, region, hub.url)
    visit_id = visitor_in_session(site)
    log = DocumentLog(site.desk)
    data = big_pdf(9_000_000)
    upload = log.send_to_agent(log.updated(scanned(log, visit_id, data), consent=True), data)

    worker = site.worker()
    proxy = ProxyLimit(2 * 1024 * 1024)  # docs/hub.md's nginx example before the fix
    worker._client = httpx.Client(base_url=hub.url, transport=proxy, timeout=30)
    puts: list[int] = []
    worker.client.event_hooks["request"].append(
        lambda request: puts.append(len(request.content)) if request.method == "PUT" else None
    )
    assert worker.acquire()
    try:
        assert worker.drain(timeout=20).error is None
        done = hub_uploads.send_all(worker)
    finally:
        worker._release()
    assert (done.sent, done.error) == (1, None)
    assert proxy.refused == [4 * 1024 * 1024]  # refused once, then never over the limit
    assert worker.chunk_limit == 2 * 1024 * 1024
    assert max(puts[puts.index(4 * 1024 * 1024) + 1 :]) == 2 * 1024 * 1024
    (sent,) = hub_uploads.of_visit(site.store, visit_id)
    assert (sent.state, sent.sent_bytes) == ("sent", len(data))
    state = hub_state(hub, site, upload.id)
    assert state is not None and (state["state"], state["sha256"]) == ("ready", sent.sha256)


class FailFor(httpx.BaseTransport):
    """In front of the real hub: a 500 for the chunks of one document (a hub that fails
    on this PDF only), or every request cut (the link down)."""

    def __init__(self, upload_id: str = "", link_down: bool = False) -> None:
        self.upload_id = upload_id
        self.link_down = link_down
        self.hub = httpx.HTTPTransport()

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if self.link_down:
            raise httpx.ConnectError("the link is down", request=request)
        if request.method == "PUT" and f"/{self.upload_id}/" in request.url.path:
            return httpx.Response(500, json={"error": {"code": "internal", "message": "boom"}})
        return self.hub.handle_request(request)


def test_the_next_upload_starts_at_the_size_reached_and_a_sent_copy_left_is_erased(
    hub: Hub, region: Region, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(hub_uploads, "CHUNK", 256 * 1024)
    site = make_site(tmp_path, region, hub.url)
    visit_id = visitor_in_session(site)
    log = DocumentLog(site.desk)
    first, second = big_pdf(1_200_000), big_pdf(1_300_000)
    one = log.send_to_agent(log.updated(scanned(log, visit_id, first), consent=True), first)
    worker = site.worker()
    puts: list[int] = []
    worker.client.event_hooks["request"].append(
        lambda request: puts.append(len(request.content)) if request.method == "PUT" else None
    )
    # The process dies right after the hub said "ready" and the row became `sent`,
    # before the turn's end erased the spool's copy.
    erase = hub_uploads.erase_sent
    monkeypatch.setattr(hub_uploads, "erase_sent", lambda store: 0)
    assert worker.acquire()
    try:
        assert worker.drain(timeout=20).error is None
        assert hub_uploads.send_all(worker).sent == 1
        assert puts[:2] == [256 * 1024, 512 * 1024]  # a fast link: twice as large each time
        assert hub_uploads.get(site.store, one.id).state == "sent"  # type: ignore[union-attr]
        assert hub_uploads.spooled(site.store, one.id) == first
        monkeypatch.setattr(hub_uploads, "erase_sent", erase)
        hub_uploads.Uploader()(worker)  # the next turn: nothing waits, the copy goes
        assert hub_uploads.spooled(site.store, one.id) is None

        # The next upload starts where the last one left the size, not at CHUNK again.
        reached = worker.chunk_next
        assert reached is not None and reached > 512 * 1024
        two = log.send_to_agent(log.updated(scanned(log, visit_id, second), consent=True), second)
        assert worker.drain(timeout=20).error is None
        puts.clear()
        assert hub_uploads.send_all(worker).sent == 1
        assert puts[0] == min(reached, len(second))
        assert hub_uploads.spooled(site.store, two.id) is None  # erased at the turn's end
        state = hub_state(hub, site, two.id)
        assert state is not None and state["state"] == "ready"

        # A cut: the next chunks start small again.
        third = big_pdf(300_000)
        log.send_to_agent(log.updated(scanned(log, visit_id, third), consent=True), third)
        assert worker.drain(timeout=20).error is None
        client = worker._client
        worker._client = httpx.Client(base_url=hub.url, transport=FailFor(link_down=True))
        assert hub_uploads.send_all(worker).stopped
        assert worker.chunk_next is None
        worker._client.close()
        worker._client = client
    finally:
        worker._release()


def test_a_stuck_document_does_not_hold_the_next_ones_and_is_given_up_in_the_end(
    hub: Hub, region: Region, tmp_path: Path
) -> None:
    from pvp_tui.ui.screens.documents.doc_list import upload_words

    site = make_site(tmp_path, region, hub.url)
    visit_id = visitor_in_session(site)
    log = DocumentLog(site.desk)
    datas = [big_pdf(30_000 + n) for n in range(3)]
    taken, failing, fine = (
        log.send_to_agent(log.updated(scanned(log, visit_id, data), consent=True), data)
        for data in datas
    )
    with drained(site) as worker:
        # The oldest one's id is already another document's on the hub: 409 id_taken.
        other = {"id": taken.id, "visit_id": visit_id, "type": "payslip",
                 "size": taken.size, "sha256": "0" * 64, "consent": True}  # fmt: skip
        with httpx.Client(base_url=hub.url, timeout=30) as client:
            made = client.post("/api/v1/site/documents", json=other, headers=site.site.auth)
        assert made.status_code in (200, 201), made.text
        worker._client = httpx.Client(base_url=hub.url, transport=FailFor(failing.id))

        done = hub_uploads.send_all(worker)
        assert (done.sent, done.stopped) == (1, False)  # the third went past the other two
        states = {u.id: u for u in hub_uploads.of_visit(site.store, visit_id)}
        assert (states[taken.id].state, states[taken.id].error) == ("refused", "id_taken")
        assert hub_uploads.spooled(site.store, taken.id) is None
        stuck = states[failing.id]
        assert (stuck.state, stuck.error) == ("waiting", "HTTP 500 internal")
        assert states[fine.id].state == "sent"

        # The link down: the turn stops, nothing counted against the document.
        worker._client = httpx.Client(base_url=hub.url, transport=FailFor(link_down=True))
        done = hub_uploads.send_all(worker)
        assert done.stopped and done.sent == 0
        assert site.store.query("SELECT tries FROM hub_uploads WHERE id = ?", [failing.id]) == [
            {"tries": 1}
        ]

        # Failing again and again, long after it was queued: given up, the reason shown.
        with site.store.transaction() as db:
            db.execute(
                "UPDATE hub_uploads SET tries = ?, queued_at = ? WHERE id = ?",
                [hub_uploads.TRIES_MAX - 1, "2020-01-01T00:00:00.000+00:00", failing.id],
            )
        worker._client = httpx.Client(base_url=hub.url, transport=FailFor(failing.id))
        done = hub_uploads.send_all(worker)
        assert (done.sent, done.stopped) == (0, False)
    gave_up = hub_uploads.get(site.store, failing.id)
    assert gave_up is not None and gave_up.state == "refused"
    assert hub_uploads.spooled(site.store, failing.id) is None
    assert upload_words(gave_up, None) == (
        "non envoyé : abandonné après des échecs répétés (HTTP 500 internal)"
    )


def test_the_hub_s_odd_answers_about_opened_never_stop_the_worker(
    hub: Hub, region: Region, tmp_path: Path
) -> None:
    site = make_site(tmp_path, region, hub.url)
    visit_id = visitor_in_session(site)
    log = DocumentLog(site.desk)
    data = big_pdf(20_000)
    upload = log.send_to_agent(log.updated(scanned(log, visit_id, data), consent=True), data)
    with site.store.transaction() as db:
        db.execute("UPDATE hub_uploads SET state = 'sent' WHERE id = ?", [upload.id])
    odd = [b"[]", b'"opened"', b'{"opened_at": "2026-03-10T10:00:00"}', b'{"opened_at": "soon"}']
    answers = iter([*odd, b'{"opened_at": "2026-03-10T10:00:00+01:00"}'])

    def hub_says(request: httpx.Request) -> httpx.Response:  # a hub answering oddly
        return httpx.Response(200, content=next(answers))

    worker = site.worker()
    worker._client = httpx.Client(base_url=hub.url, transport=httpx.MockTransport(hub_says))
    assert [hub_uploads.follow(worker) for _ in range(4)] == [0, 0, 0, 0]  # no crash
    assert hub_uploads.follow(worker) == 1
    worker.close()
    opened = hub_uploads.get(site.store, upload.id)
    assert opened is not None
    assert (opened.state, opened.opened_at) == ("opened", "2026-03-10T09:00:00.000+00:00")


def test_a_401_while_sending_stops_the_worker_and_pvp_sync_once_says_it(
    hub: Hub, region: Region, tmp_path: Path
) -> None:
    site = make_site(tmp_path, region, hub.url)
    visit_id = visitor_in_session(site)
    log = DocumentLog(site.desk)
    data = big_pdf(20_000)
    upload = log.send_to_agent(log.updated(scanned(log, visit_id, data), consent=True), data)
    with drained(site):  # the visit's events sent, with the token
        pass
    (site.dir / "hub.token").write_text("revoked-" + site.site.token + "\n")

    worker = site.worker(tasks=[hub_uploads.Uploader()])
    worker.run()  # returns: stopped by the 401 (run in this thread, for the test)
    assert worker.stopped_by_token
    words = worker.token_refused_words()
    assert "(401)" in words and str(site.dir / "hub.token") in words
    assert worker.outbox.status().last_error == words

    done = site.pvp("sync", "--once", "--wait", "5")
    assert done.returncode == 1
    i18n.set_language("en")  # the pvp process's language (SiteDesk.env)
    try:
        english = worker.token_refused_words()  # the words a 401 on events prints
    finally:
        i18n.set_language("fr")
    assert done.stderr.strip().splitlines()[-1] == "pvp: " + english
    assert hub_uploads.get(site.store, upload.id).state == "waiting"  # type: ignore[union-attr]
