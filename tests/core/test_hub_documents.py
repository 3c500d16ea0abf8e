"""The site's store of documents an agent sent (pvp_tui.core.hub_documents): what the
pull records, which bytes the purge erases, and what the hub is owed. The hub itself:
tests/hub/test_site_documents.py."""

from __future__ import annotations

import hashlib
import uuid

from pvp_tui.core import hub_documents
from pvp_tui.core.frontdesk import FrontDesk
from pvp_tui.core.store import Store
from tests.core.conftest import check_in

PDF = b"%PDF-1.4 PAPIER-EN-CLAIR\n%%EOF\n"


def arrived(desk: FrontDesk, visit_id: str, data: bytes = PDF) -> str:
    doc_id = str(uuid.uuid4())
    item = {
        "visit_id": visit_id,
        "type": "form",
        "pages": 1,
        "size": len(data),
        "sha256": hashlib.sha256(data).hexdigest(),
        "content": f"/api/v1/site/documents/{doc_id}/content",
    }
    with desk.store.transaction() as db:
        assert hub_documents.save_item(db, doc_id, item, desk.now())
        assert not hub_documents.save_item(db, doc_id, item, desk.now())  # once
    hub_documents.keep(desk.store, doc_id, data)
    return doc_id


def test_an_item_the_site_cannot_use_is_skipped(desk: FrontDesk, store: Store) -> None:
    good = {"visit_id": "v", "sha256": "a" * 64, "size": 10,
            "content": f"/api/v1/site/documents/{uuid.uuid4()}/content"}  # fmt: skip
    bad = [
        {**good, "sha256": "nope"},
        {**good, "content": "https://elsewhere.example/x.pdf"},
        {**good, "size": 0},
        {**good, "size": 65 * 1024 * 1024},
        {k: v for k, v in good.items() if k != "visit_id"},
    ]
    with store.transaction() as db:
        assert [hub_documents.save_item(db, str(uuid.uuid4()), b, desk.now()) for b in bad] == [
            False
        ] * len(bad)
    assert store.query("SELECT count(*) AS n FROM hub_documents")[0]["n"] == 0


def test_the_bytes_go_when_the_visit_closes_or_is_unknown(desk: FrontDesk, store: Store) -> None:
    open_visit = check_in(desk, name="Marie")
    closing = check_in(desk, name="Paul")
    kept = arrived(desk, open_visit.id)
    closed = arrived(desk, closing.id)
    stray = arrived(desk, str(uuid.uuid4()))  # a visit this store does not have
    desk.cancel(closing.ticket)
    desk.purge_personal_data()
    assert hub_documents.content(store, kept) == PDF
    assert hub_documents.content(store, closed) is None
    assert hub_documents.content(store, stray) is None
    assert [d.state for d in hub_documents.of_visit(store, closing.id)] == ["erased"]
    # Still owed to the hub: received (the bytes came), whatever became of them.
    due = store.query("SELECT receipt_due FROM hub_documents WHERE id = ?", [closed])
    assert due[0]["receipt_due"] == "received"


def test_the_bytes_go_in_the_transaction_that_closes_the_visit_and_none_come_after(
    desk: FrontDesk, store: Store
) -> None:
    """An agent's PDF to print leaves the staff PC with its visit, at once (not at the
    next start of day), and bytes downloaded after the visit closed are never stored."""
    visit = check_in(desk, name="Marie")
    desk.call(visit.ticket)
    desk.start(visit.ticket)
    printed_before = arrived(desk, visit.id)
    desk.finish(visit.ticket, "resolved")
    assert hub_documents.content(store, printed_before) is None  # no purge ran
    assert [d.state for d in hub_documents.of_visit(store, visit.id)] == ["erased"]
    assert store.query("SELECT count(*) AS n FROM pending_erasure")[0]["n"] >= 1

    # The worker had it on its way when the visit closed: no bytes, the trace stays.
    late = arrived(desk, visit.id)
    assert hub_documents.content(store, late) is None
    (trace,) = [d for d in hub_documents.of_visit(store, visit.id) if d.id == late]
    assert trace.state == "erased" and trace.received_at is not None
    due = store.query("SELECT receipt_due FROM hub_documents WHERE id = ?", [late])
    assert due[0]["receipt_due"] == "received"  # the bytes came: the hub is told
    raw = store.query("SELECT count(*) AS n FROM hub_document_content")[0]["n"]
    assert raw == 0


def test_scans_left_queued_for_a_closed_or_unknown_visit_are_swept(
    desk: FrontDesk, store: Store
) -> None:
    """The same rule for the scans queued for the agent: the start-of-day sweep erases
    what a crash left of a closed or unknown visit, and keeps an open visit's."""
    from datetime import UTC, datetime

    from pvp_tui.core import hub_uploads
    from pvp_tui.core.models import OPEN_STATUSES

    waiting = check_in(desk, name="Marie")
    gone = check_in(desk, name="Paul")
    now = datetime.now(UTC)
    with store.transaction() as db:
        for n, visit_id in enumerate((waiting.id, gone.id, str(uuid.uuid4()))):
            hub_uploads.record(
                db,
                site_slug="s",
                document=f"doc_{n}",
                visit_id=visit_id,
                doc_type="other",
                data=PDF,
                now=now,
            )
        # A crash between the status and its erasure: closed with its bytes still here.
        db.execute("UPDATE visits SET status = 'cancelled' WHERE id = ?", [gone.id])
    with store.transaction() as db:
        assert hub_uploads.has_closed(db, OPEN_STATUSES)
        assert hub_uploads.erase_closed(db, OPEN_STATUSES) == 2
        assert not hub_uploads.has_closed(db, OPEN_STATUSES)
    left = store.query(
        "SELECT u.visit_id FROM hub_upload_content c JOIN hub_uploads u ON u.id = c.upload_id"
    )
    assert [row["visit_id"] for row in left] == [waiting.id]
