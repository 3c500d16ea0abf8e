"""Documents both ways against real hub processes, on both engines: a site sends a
visit's scanned PDF to the agent in chunks (cut by a crashed hub and resumed), the agent
views it (the site sees "opened"), the agent sends one to print (the site pulls it and
says what became of it), and the purge drops the bytes while the trace stays. No dump of
the database holds a byte of a document in clear."""

from __future__ import annotations

import base64
import hashlib
import io
import itertools
import os
import random
import re
import subprocess
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pikepdf
import pytest
from sqlalchemy import create_engine, func, select

from pvp_common.document_ids import site_document_id
from pvp_hub import directory, documents
from pvp_hub.config import DocumentSettings
from pvp_hub.database import make_engine
from pvp_hub.errors import HubError
from pvp_hub.schema import document_chunks
from pvp_hub.schema import documents as documents_table
from tests.hub.people_pages import agent, signed_in, visit
from tests.hub.regions import ENGINES, Hub, Region, Site, database_url, event, push
from tests.support.hub_daemons import HubProcess

MARKER = "PAPIER-EN-CLAIR-7f3a9c"


def make_pdf(pages: int = 2, javascript: bool = False, marker: str = MARKER) -> bytes:
    """A small PDF whose pages show `marker` in uncompressed content streams."""
    pdf = pikepdf.new()
    for number in range(pages):
        pdf.add_blank_page(page_size=(595, 842))
        text = f"BT /F1 12 Tf 72 720 Td ({marker} {number}) Tj ET".encode()
        pdf.pages[number].Contents = pdf.make_stream(text)
    if javascript:
        action = pdf.make_indirect(
            pikepdf.Dictionary(S=pikepdf.Name.JavaScript, JS=pikepdf.String("app.alert('x')"))
        )
        pdf.Root.OpenAction = action
        pdf.Root.Names = pikepdf.Dictionary(
            JavaScript=pikepdf.Dictionary(Names=pikepdf.Array([pikepdf.String("a"), action]))
        )
    out = io.BytesIO()
    pdf.save(out, compress_streams=False)
    return out.getvalue()


@pytest.fixture(scope="module", params=ENGINES)
def doc_hub(request: pytest.FixtureRequest, workdir: Path) -> Iterator[Hub]:
    """A hub with a documents key (and 40 KiB chunks' worth of small limits)."""
    kind = request.param
    # One per module that uses it (test_documents_browser imports it): a name of its own.
    name = f"hub_docs_{kind}_{uuid.uuid4().hex[:8]}"
    url = database_url(kind, workdir, request, name)
    key = workdir / f"{name}.key"
    key.write_text(base64.b64encode(os.urandom(32)).decode())
    process = HubProcess(url, workdir)
    env = {
        **os.environ,
        "PVP_HUB_DOCUMENTS_KEY_FILE": str(key),
        "PVP_HUB_DOCUMENTS_MAX_BYTES": str(2 * 1024 * 1024),
        "PVP_HUB_DOCUMENTS_MAX_PAGES": "20",
    }
    process.start(env=env)
    engine = make_engine(url, pool_size=2)
    hub = Hub(kind, process, engine)
    hub.env = env  # type: ignore[attr-defined]
    hub.key = key  # type: ignore[attr-defined]
    try:
        yield hub
    finally:
        process.stop()
        engine.dispose()


@pytest.fixture
def world(doc_hub: Hub) -> Region:
    slug = f"r{uuid.uuid4().hex[:12]}"
    directory.create_region(doc_hub.engine, slug, f"Region {slug}")
    partners = directory.check_partners(
        [
            {"id": "caf", "name": "CAF", "prefix": "C"},
            {"id": "cpam", "name": "Assurance Maladie", "prefix": "A"},
        ]
    )
    directory.save_partners(doc_hub.engine, slug, partners)
    return Region(slug, doc_hub.engine)


@pytest.fixture
def client(doc_hub: Hub) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=doc_hub.url, timeout=30) as c:
        yield c


def start(
    client: httpx.Client, site: Site, visit_id: uuid.UUID, data: bytes, **changes: Any
) -> httpx.Response:
    body = {
        "id": str(changes.pop("id", uuid.uuid4())),
        "visit_id": str(visit_id),
        "type": "id_card",
        "size": len(data),
        "sha256": hashlib.sha256(data).hexdigest(),
        "consent": True,
        **changes,
    }
    return client.post("/api/v1/site/documents", json=body, headers=site.auth)


def put(client: httpx.Client, site: Site, doc: str, at: int, data: bytes) -> httpx.Response:
    return client.put(
        f"/api/v1/site/documents/{doc}/chunks/{at}",
        content=data,
        headers={**site.auth, "Content-Type": "application/octet-stream"},
    )


def send_whole(client: httpx.Client, site: Site, visit_id: uuid.UUID, data: bytes) -> str:
    answer = start(client, site, visit_id, data)
    assert answer.status_code == 201, answer.text
    doc = answer.json()["id"]
    done = put(client, site, doc, 0, data)
    assert done.status_code == 200, done.text
    assert done.json()["state"] == "ready"
    return str(doc)


def test_an_upload_cut_by_a_crash_resumes_where_the_hub_stopped(
    doc_hub: Hub, world: Region, client: httpx.Client
) -> None:
    site = world.site()
    visit_id = visit(client, site, "caf", "C-001")
    data = make_pdf(pages=3)
    third = len(data) // 3
    answer = start(client, site, visit_id, data)
    assert answer.status_code == 201, answer.text
    doc = answer.json()["id"]
    assert answer.json()["received_bytes"] == 0
    assert put(client, site, doc, 0, data[:third]).json()["received_bytes"] == third

    doc_hub.process.kill()  # a crash between two chunks
    doc_hub.process.start(env=doc_hub.env)  # type: ignore[attr-defined]

    # The site asks where to resume; a repeat of the start says the same.
    state = client.get(f"/api/v1/site/documents/{doc}", headers=site.auth).json()
    assert state["received_bytes"] == third and state["state"] == "uploading"
    again = start(client, site, visit_id, data, id=doc)
    assert again.status_code == 200 and again.json()["received_bytes"] == third
    # A chunk sent again is a no-op; one from the wrong place says where to start.
    assert put(client, site, doc, 0, data[:third]).json()["received_bytes"] == third
    wrong = put(client, site, doc, third + 10, data[third + 10 :])
    assert wrong.status_code == 409 and f"byte {third}" in wrong.json()["error"]["message"]

    done = put(client, site, doc, third, data[third:])
    assert done.status_code == 200, done.text
    assert done.json()["state"] == "ready" and done.json()["pages"] == 3
    # The last chunk sent again (its answer lost): the same answer, nothing doubled.
    assert put(client, site, doc, third, data[third:]).json()["state"] == "ready"
    with doc_hub.engine.connect() as conn:
        kept = conn.execute(
            select(func.count()).where(document_chunks.c.document_id == uuid.UUID(doc))
        ).scalar_one()
    assert kept == 2  # the document is its two chunks, sealed as they came
    # Checked across the restart (the chunks read back: the new process saw only the
    # last one), and the agent gets the bytes as sent.
    login = agent(world, "caf", [site.slug])
    with signed_in(doc_hub.url, login) as browser:
        shown = browser.get(f"/agent/documents/{doc}")
    assert shown.status_code == 200 and shown.content == data
    assert shown.headers["content-length"] == str(len(data))


def two_processes(doc_hub: Hub) -> tuple[documents.Documents, documents.Documents]:
    """Two services on the hub's database, as two hub processes serving one region: each
    with its own running hashes (documents.Uploads)."""
    settings = DocumentSettings(
        key_file=doc_hub.key,  # type: ignore[attr-defined]
        max_bytes=2 * 1024 * 1024,
        max_pages=20,
    )
    return documents.Documents(doc_hub.engine, settings), documents.Documents(
        doc_hub.engine, settings
    )


def opened_chunks(service: documents.Documents) -> list[int]:
    """Counts the chunks `service` opens (reads back) from now on."""
    count: list[int] = []
    sealer = service.sealer
    inner = sealer.open

    def counted(document_id: uuid.UUID, blob: bytes, start: int | None = None) -> bytes:
        count.append(1)
        return inner(document_id, blob, start)

    sealer.open = counted  # type: ignore[method-assign]
    return count


def hashed_whole(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Counts the documents hashed whole (read back) in this process from now on: a
    `hashlib.sha256(data)` in pvp_hub.documents (a running hash starts empty)."""
    count: list[int] = []
    real = hashlib.sha256

    class Spy:
        @staticmethod
        def sha256(*data: bytes) -> Any:
            if data:
                count.append(1)
            return real(*data)

    monkeypatch.setattr(documents, "hashlib", Spy)
    return count


def test_the_last_chunk_is_checked_from_the_running_hash_or_from_the_chunks_stored(
    doc_hub: Hub, world: Region, client: httpx.Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    site = world.site()
    visit_id = visit(client, site, "caf", "C-013")
    one, two = two_processes(doc_hub)
    opened_by_one = opened_chunks(one)
    hashed = hashed_whole(monkeypatch)
    data = make_pdf(pages=3)
    cuts = [0, len(data) // 3, 2 * len(data) // 3, len(data)]
    parts = list(itertools.pairwise(cuts))

    def announce(body: bytes = data) -> uuid.UUID:
        doc = uuid.uuid4()
        start_body = {
            "id": doc, "visit_id": visit_id, "type": "id_card", "size": len(body),
            "sha256": hashlib.sha256(body).hexdigest(), "consent": True,
        }  # fmt: skip
        assert one.start_upload(site.token, start_body)[0] == 201
        return doc

    # Every chunk to one process, in order: checked from its running upload (the sha256
    # so far and the plain chunks), none read back nor opened, the whole not hashed again.
    doc = announce()
    for begin, end in parts:
        state = one.put_chunk(site.token, doc, begin, data[begin:end])
    assert state["state"] == "ready" and state["pages"] == 3
    assert (len(opened_by_one), hashed) == (0, [])

    # The middle chunk to another process: the last one's process read them all back,
    # opened and hashed them.
    doc = announce()
    for (begin, end), service in zip(parts, (one, two, one), strict=True):
        state = service.put_chunk(site.token, doc, begin, data[begin:end])
    assert state["state"] == "ready"
    assert (len(opened_by_one), hashed) == (3, [1])
    login = agent(world, "caf", [site.slug])
    with signed_in(doc_hub.url, login) as browser:
        assert browser.get(f"/agent/documents/{doc}").content == data

    # A running hash never vouches for other bytes: `one` hashed the right start; the
    # chunks were dropped since (a wrong end, at `two`) and `two` stored a damaged start
    # at the same place. The last chunk, at `one`, follows on from what `one` hashed, but
    # the chunks stored are not those: read back, the damage is found.
    doc = announce()
    (a, b), (_, c) = (cuts[0], cuts[1]), (cuts[1], cuts[3])
    one.put_chunk(site.token, doc, a, data[a:b])
    damaged = bytes([data[b] ^ 0xFF]) + data[b + 1 : c]
    with pytest.raises(HubError) as wrong:
        two.put_chunk(site.token, doc, b, damaged)
    assert wrong.value.code == "sha256_mismatch"
    two.put_chunk(site.token, doc, a, b"%PDF-" + bytes(b - 5))
    with pytest.raises(HubError) as caught:
        one.put_chunk(site.token, doc, b, data[b:c])
    assert caught.value.code == "sha256_mismatch"
    state = client.get(f"/api/v1/site/documents/{doc}", headers=site.auth).json()
    assert (state["state"], state["received_bytes"]) == ("uploading", 0)
    # Sent again from 0, whole: ready.
    for begin, end in parts:
        state = two.put_chunk(site.token, doc, begin, data[begin:end])
    assert state["state"] == "ready"


def held_bytes(obj: Any) -> bytes:
    """The bytes an object holds, in its fields, lists, tuples and dicts."""
    if isinstance(obj, bytes | bytearray | memoryview):
        return bytes(obj)
    if isinstance(obj, dict):
        return held_bytes(list(obj.values()))
    if isinstance(obj, list | tuple):
        return b"".join(held_bytes(item) for item in obj)
    if hasattr(obj, "__dict__"):
        return b"".join(held_bytes(value) for value in vars(obj).values())
    return b""


def test_a_running_upload_holds_its_chunks_only_while_it_runs(
    doc_hub: Hub, world: Region, client: httpx.Client
) -> None:
    """A hub process taking an upload in order (documents.Uploads) holds its plain chunks
    while it runs, and no byte of it once its last chunk is taken (ready or refused), its
    document's bytes dropped (by any service of the process: consent withdrawn, the
    purge), or no chunk came for `max_idle` seconds, even on a hub that gets no other
    chunk (its timer)."""
    site = world.site()
    visit_id = visit(client, site, "caf", "C-014")
    one, two = two_processes(doc_hub)
    data = make_pdf(pages=3)
    half = len(data) // 2

    def first_half(sha256: str = hashlib.sha256(data).hexdigest()) -> uuid.UUID:
        doc = uuid.uuid4()
        body = {
            "id": doc, "visit_id": visit_id, "type": "id_card", "size": len(data),
            "sha256": sha256, "consent": True,
        }  # fmt: skip
        assert one.start_upload(site.token, body)[0] == 201
        one.put_chunk(site.token, doc, 0, data[:half])
        return doc

    def holds_nothing() -> bool:
        return len(one._uploads) == 0 and held_bytes(one._uploads) == b""

    # While it runs: the first half in clear (the PDF check needs the whole at the end).
    doc = first_half()
    assert one._uploads.held() == half and MARKER.encode() in held_bytes(one._uploads)
    # Its last chunk takes it: ready, and nothing of it held.
    assert one.put_chunk(site.token, doc, half, data[half:])["state"] == "ready"
    assert holds_nothing()
    # The same when the last chunk is refused (the sha256 announced is not the bytes').
    doc = first_half(sha256="0" * 64)
    with pytest.raises(HubError) as wrong:
        one.put_chunk(site.token, doc, half, data[half:])
    assert wrong.value.code == "sha256_mismatch" and holds_nothing()

    # Consent withdrawn (through the other service of this process): forgotten at once.
    doc = first_half()
    assert doc in one._uploads._running
    two.erase_visit(site.token, visit_id, "consent_withdrawn")
    assert holds_nothing()

    # The purge of documents past their time.
    visit_id = visit(client, site, "caf", "C-015")
    doc = first_half()
    assert doc in one._uploads._running
    documents.purge(doc_hub.engine, clock=lambda: datetime.now(UTC) + timedelta(days=8))
    assert holds_nothing()

    # Idle: gone at the timer's next turn, with no other chunk to any upload.
    visit_id = visit(client, site, "caf", "C-016")
    doc = first_half()
    one._uploads.max_idle = 0.05
    one.forget_idle_uploads()
    assert doc in one._uploads._running  # not idle yet
    time.sleep(0.1)
    one.forget_idle_uploads()
    assert holds_nothing()
    # ...or at the next `take` of another upload.
    doc = first_half()
    time.sleep(0.1)
    assert one._uploads.take(uuid.uuid4()) is None and holds_nothing()

    # Beyond its bounds the oldest upload goes first; its last chunk reads it back.
    one._uploads.max_idle = 120.0
    one._uploads.max_uploads = 1
    opened = opened_chunks(one)
    doc, newer = first_half(), first_half()
    assert list(one._uploads._running) == [newer]
    assert one.put_chunk(site.token, doc, half, data[half:])["state"] == "ready"
    assert len(opened) == 2 and list(one._uploads._running) == [newer]


def test_the_bytes_held_for_running_uploads_are_bounded() -> None:
    """`Uploads` holds at most `max_bytes` and `max_uploads`: the oldest go first."""
    uploads = documents.Uploads(max_bytes=100, max_uploads=3)
    a, b, c, d = (uuid.UUID(int=n) for n in range(4))
    uploads.add(a, 0, bytes(40), b"n" * 12)
    uploads.add(b, 0, bytes(40), b"n" * 12)
    uploads.add(a, 40, bytes(10), b"n" * 12)  # a chunk more: `a` is now the newest
    assert (list(uploads._running), uploads.held()) == ([b, a], 90)
    uploads.add(c, 0, bytes(40), b"n" * 12)  # 130 bytes: `b`, the oldest, goes
    assert (list(uploads._running), uploads.held()) == ([a, c], 90)
    uploads.add(d, 0, bytes(1), b"n" * 12)
    uploads.add(b, 0, bytes(1), b"n" * 12)  # a fourth upload: `a`, the oldest, goes
    assert (list(uploads._running), uploads.held()) == ([c, d, b], 42)
    # A chunk that does not follow on forgets its upload; one taken leaves with its bytes.
    uploads.add(c, 50, bytes(1), b"n" * 12)
    taken = uploads.take(d)
    assert taken is not None and taken.parts == [bytes(1)]
    assert (list(uploads._running), uploads.held()) == ([b], 1)


def test_refusals_name_the_problem(doc_hub: Hub, world: Region, client: httpx.Client) -> None:
    site, other = world.site(), world.site()
    visit_id = visit(client, site, "caf", "C-002")
    elsewhere = visit(client, other, "caf", "C-003")
    data = make_pdf()

    no_consent = start(client, site, visit_id, data, consent=False)
    assert no_consent.status_code == 422
    assert no_consent.json()["error"]["code"] == "consent_required"
    assert start(client, site, elsewhere, data).status_code == 404  # another site's visit
    assert start(client, site, uuid.uuid4(), data).status_code == 404  # no such visit
    too_big = start(client, site, visit_id, data, size=3 * 1024 * 1024)
    assert too_big.status_code == 413
    assert start(client, site, visit_id, data, sha256="z" * 64).status_code == 422

    # A sha256 that does not match: refused, the bytes dropped, sent again from 0.
    answer = start(client, site, visit_id, data, sha256=hashlib.sha256(b"other").hexdigest())
    doc = answer.json()["id"]
    bad = put(client, site, doc, 0, data)
    assert bad.status_code == 422 and bad.json()["error"]["code"] == "sha256_mismatch"
    state = client.get(f"/api/v1/site/documents/{doc}", headers=site.auth).json()
    assert state["received_bytes"] == 0 and state["state"] == "uploading"

    # Not a PDF, and a damaged one: refused with words, the trace says so.
    for junk in (b"GIF89a not a pdf at all", b"%PDF-1.7\n garbage without objects\n"):
        answer = start(client, site, visit_id, junk)
        refused = put(client, site, answer.json()["id"], 0, junk)
        assert refused.status_code == 422, refused.text
        assert refused.json()["error"]["code"] == "not_a_valid_pdf"
        state = client.get(f"/api/v1/site/documents/{answer.json()['id']}", headers=site.auth)
        assert state.json()["state"] == "deleted"
        assert state.json()["deleted_reason"] == "refused"

    # Too many pages for this hub (20).
    answer = start(client, site, visit_id, many := make_pdf(pages=21))
    assert put(client, site, answer.json()["id"], 0, many).status_code == 422

    # Another site, or a guessed id, sees nothing.
    mine = send_whole(client, site, visit_id, data)
    assert client.get(f"/api/v1/site/documents/{mine}", headers=other.auth).status_code == 404
    assert put(client, other, mine, 0, data).status_code == 404
    guess = uuid.uuid4()
    assert client.get(f"/api/v1/site/documents/{guess}", headers=site.auth).status_code == 404
    assert client.get(f"/api/v1/site/documents/{mine}").status_code == 401
    # A document to the agent is not the site's to download.
    assert (
        client.get(f"/api/v1/site/documents/{mine}/content", headers=site.auth).status_code == 404
    )


def damaged_pdfs() -> dict[str, bytes]:
    """PDFs that open but break a walk through their objects (found by fuzzing): a name
    that is not UTF-8 where an action's kind is, and a dictionary key that is not UTF-8.
    Same-length byte swaps, so the cross-reference table stays right."""
    data = make_pdf(pages=3, javascript=True)
    assert b"/S /JavaScript" in data and b"/Resources" in data
    return {
        "action_name": data.replace(b"/S /JavaScript", b"/S /Ja\x81aScript", 1),
        "key": data.replace(b"/Resources", b"/Res\x89\xaa\x82\xbces", 1),
    }


@pytest.mark.parametrize("shape", ["action_name", "key"])
def test_a_damaged_pdf_is_refused_in_words_from_the_site_and_from_the_agent(
    doc_hub: Hub, world: Region, client: httpx.Client, shape: str
) -> None:
    site = world.site()
    visit_id = visit(client, site, "caf", "C-012")
    data = damaged_pdfs()[shape]
    answer = start(client, site, visit_id, data)
    doc = answer.json()["id"]
    refused = put(client, site, doc, 0, data)
    assert refused.status_code == 422, refused.text
    assert refused.json()["error"]["code"] == "not_a_valid_pdf"
    assert "not a valid PDF" in refused.json()["error"]["message"]
    state = client.get(f"/api/v1/site/documents/{doc}", headers=site.auth).json()
    assert (state["state"], state["deleted_reason"]) == ("deleted", "refused")
    with doc_hub.engine.connect() as conn:
        left = conn.execute(
            select(func.count()).where(document_chunks.c.document_id == uuid.UUID(doc))
        ).scalar_one()
    assert left == 0

    login = agent(world, "caf", [site.slug])
    with signed_in(doc_hub.url, login) as browser:
        page = upload_form(browser, visit_id, data, csrf_of(browser, visit_id))
    assert page.status_code == 422 and "PDF" in page.text


def test_mutated_pdfs_are_read_or_refused_never_an_unexpected_error() -> None:
    """A few hundred seeded mutations of a PDF with scripts (bytes changed, cut, added):
    `check_pdf` answers each with a checked PDF or a 422, nothing else."""
    base = make_pdf(pages=3, javascript=True)
    rng = random.Random(20261205)
    outcomes: dict[str, int] = {}
    for _ in range(400):
        data = bytearray(base)
        for _ in range(rng.randint(1, 8)):
            at = rng.randrange(len(data))
            roll = rng.random()
            if roll < 0.5:
                data[at] = rng.randrange(256)
            elif roll < 0.8:
                del data[at : at + rng.randint(1, 40)]
            else:
                data[at:at] = rng.randbytes(rng.randint(1, 10))
        try:
            documents.check_pdf(bytes(data), 20)
            outcomes["read"] = outcomes.get("read", 0) + 1
        except HubError as refusal:
            assert (refusal.status, refusal.code) == (422, "not_a_valid_pdf")
            outcomes["refused"] = outcomes.get("refused", 0) + 1
    assert outcomes.get("read") and outcomes.get("refused")  # both kinds were met


@pytest.mark.parametrize("trouble", ["memory", "recursion", "bug", "file"])
def test_the_hub_s_own_trouble_in_the_pdf_check_is_a_retry_not_a_refusal(
    doc_hub: Hub,
    world: Region,
    client: httpx.Client,
    monkeypatch: pytest.MonkeyPatch,
    trouble: str,
) -> None:
    """The check failing for the hub's own reasons (out of memory, too deep, a bug of
    ours) is not the file's fault: it propagates (a 5xx the site retries), the chunks
    stay, and the retry of the last chunk completes the document. The shapes a damaged
    file gives (a TypeError in the parser's objects) are still the 422 refusal."""
    raised = {
        "memory": MemoryError(),
        "recursion": RecursionError("maximum recursion depth exceeded"),
        "bug": AttributeError("'NoneType' object has no attribute 'pages'"),
        "file": TypeError("object of type 'pikepdf.Object' has no len()"),
    }[trouble]
    site = world.site()
    visit_id = visit(client, site, "caf", "C-018")
    service, _ = two_processes(doc_hub)
    data = make_pdf(pages=2)
    doc = uuid.uuid4()
    body = {
        "id": doc, "visit_id": visit_id, "type": "id_card", "size": len(data),
        "sha256": hashlib.sha256(data).hexdigest(), "consent": True,
    }  # fmt: skip
    assert service.start_upload(site.token, body)[0] == 201
    real = documents._checked

    def failing(data: bytes, max_pages: int) -> documents.CheckedPdf:
        raise raised

    monkeypatch.setattr(documents, "_checked", failing)
    if trouble == "file":
        with pytest.raises(HubError) as refusal:
            service.put_chunk(site.token, doc, 0, data)
        assert (refusal.value.status, refusal.value.code) == (422, "not_a_valid_pdf")
        state = client.get(f"/api/v1/site/documents/{doc}", headers=site.auth).json()
        assert (state["state"], state["deleted_reason"]) == ("deleted", "refused")
        return
    with pytest.raises(type(raised)):
        service.put_chunk(site.token, doc, 0, data)
    state = client.get(f"/api/v1/site/documents/{doc}", headers=site.auth).json()
    assert (state["state"], state["received_bytes"]) == ("uploading", len(data))
    monkeypatch.setattr(documents, "_checked", real)
    state = service.put_chunk(site.token, doc, 0, data)  # the site's retry
    assert (state["state"], state["pages"]) == ("ready", 2)


def test_a_javascript_pdf_is_kept_without_its_scripts(
    doc_hub: Hub, world: Region, client: httpx.Client
) -> None:
    site = world.site()
    visit_id = visit(client, site, "caf", "C-004")
    data = make_pdf(javascript=True)
    assert b"app.alert" in data
    doc = send_whole(client, site, visit_id, data)
    state = client.get(f"/api/v1/site/documents/{doc}", headers=site.auth).json()
    assert {"javascript", "open_action"} <= set(state["stripped"])
    login = agent(world, "caf", [site.slug])
    with signed_in(doc_hub.url, login) as browser:
        shown = browser.get(f"/agent/documents/{doc}")
    assert shown.status_code == 200
    assert b"app.alert" not in shown.content
    with pikepdf.open(io.BytesIO(shown.content)) as pdf:
        assert "/OpenAction" not in pdf.Root and len(pdf.pages) == 2
        assert MARKER.encode() in pdf.pages[1].Contents.read_bytes()  # the paper itself kept


def test_the_agent_views_a_scanned_document_and_the_site_sees_opened(
    doc_hub: Hub, world: Region, client: httpx.Client
) -> None:
    site, other_site = world.site(), world.site()
    visit_id = visit(client, site, "caf", "C-005")
    data = make_pdf()
    doc = send_whole(client, site, visit_id, data)
    caf_here = agent(world, "caf", [site.slug])
    caf_elsewhere = agent(world, "caf", [other_site.slug])
    cpam_here = agent(world, "cpam", [site.slug])

    for outsider in (caf_elsewhere, cpam_here):
        with signed_in(doc_hub.url, outsider) as browser:
            assert browser.get(f"/agent/visites/{visit_id}/documents").status_code == 404
            assert browser.get(f"/agent/documents/{doc}").status_code == 404
    with httpx.Client(base_url=doc_hub.url) as anonymous:
        assert anonymous.get(f"/agent/documents/{doc}").status_code == 303  # sign in first
    state = client.get(f"/api/v1/site/documents/{doc}", headers=site.auth).json()
    assert state["opened_at"] is None  # nobody else's look counts

    with signed_in(doc_hub.url, caf_here) as browser:
        assert f'href="/agent/visites/{visit_id}/documents"' in browser.get("/agent").text
        listing = browser.get(f"/agent/visites/{visit_id}/documents")
        assert listing.status_code == 200 and doc in listing.text
        assert browser.get(f"/agent/documents/{uuid.uuid4()}").status_code == 404
        assert browser.get("/agent/documents/not-an-id").status_code == 404
        shown = browser.get(f"/agent/documents/{doc}")
        assert shown.status_code == 200 and shown.content == data
        assert shown.headers["content-type"] == "application/pdf"
        assert shown.headers["content-disposition"].startswith("inline;")
        assert "object-src 'self'" in shown.headers["content-security-policy"]
        assert shown.headers["cache-control"] == "no-store"
        saved = browser.get(f"/agent/documents/{doc}", params={"telecharger": "1"})
        assert saved.headers["content-disposition"].startswith("attachment;")
        listing = browser.get(f"/agent/visites/{visit_id}/documents").text
        assert 'data-step="opened"' in listing and "Ouvert à" in listing

    state = client.get(f"/api/v1/site/documents/{doc}", headers=site.auth).json()
    first = state["opened_at"]
    assert first is not None
    with signed_in(doc_hub.url, caf_here) as browser:
        browser.get(f"/agent/documents/{doc}")
    again = client.get(f"/api/v1/site/documents/{doc}", headers=site.auth).json()
    assert again["opened_at"] == first  # the first view is the receipt


# Started by a second hub process's interpreter (PYTHONPATH): its sealer opens each
# piece once (the check of every tag before an answer), then fails on the piece that
# starts at PVP_TEST_CUT_AT as it is sent: a failure after the answer began.
CUT_SEALER = """
import os

from cryptography.exceptions import InvalidTag

from pvp_hub import documents

CUT = int(os.environ["PVP_TEST_CUT_AT"])
SEEN = set()
REAL = documents.Sealer.open


def open_once(self, document_id, blob, start=None):
    if start == CUT:
        if document_id in SEEN:
            raise InvalidTag()
        SEEN.add(document_id)
    return REAL(self, document_id, blob, start)


documents.Sealer.open = open_once
"""


def test_a_document_that_does_not_open_is_the_error_page_with_no_receipt_or_a_cut_download(
    doc_hub: Hub, world: Region, client: httpx.Client, workdir: Path
) -> None:
    """A piece whose tag fails (a damaged chunk, the hub's key changed) is found before
    "opened" is recorded and before the answer: the agent gets the error page, in words,
    and the site no receipt. A piece failing once the answer began cuts the connection:
    the browser sees a failed download, never a short one that ends cleanly."""
    site = world.site()
    visit_id = visit(client, site, "caf", "C-017")
    data = make_pdf(pages=3)
    cuts = [0, len(data) // 3, 2 * len(data) // 3, len(data)]
    doc = start(client, site, visit_id, data).json()["id"]
    for begin, end in itertools.pairwise(cuts):
        state = put(client, site, doc, begin, data[begin:end]).json()
    assert state["state"] == "ready"
    login = agent(world, "caf", [site.slug])

    def opened_at() -> object:
        return client.get(f"/api/v1/site/documents/{doc}", headers=site.auth).json()["opened_at"]

    def refused(url: str) -> None:
        with signed_in(url, login) as browser:
            shown = browser.get(f"/agent/documents/{doc}")
        assert shown.status_code == 500, shown.status_code
        assert shown.headers["content-type"].startswith("text/html")
        assert "ne peut pas être ouvert" in shown.text and MARKER not in shown.text
        assert opened_at() is None

    # The last chunk damaged in the database: the first two would open.
    where = (document_chunks.c.document_id == uuid.UUID(doc)) & (
        document_chunks.c.start_byte == cuts[2]
    )
    with doc_hub.engine.begin() as conn:
        blob = bytes(conn.execute(select(document_chunks.c.data).where(where)).scalar_one())
        damaged = blob[:-1] + bytes([blob[-1] ^ 1])
        conn.execute(document_chunks.update().where(where).values(data=damaged))
    refused(doc_hub.url)
    with doc_hub.engine.begin() as conn:
        conn.execute(document_chunks.update().where(where).values(data=blob))

    # The hub restarted with another key.
    other_key = workdir / f"other-{uuid.uuid4().hex[:8]}.key"
    other_key.write_text(base64.b64encode(os.urandom(32)).decode())
    doc_hub.process.stop()
    try:
        doc_hub.process.start(env={**doc_hub.env, "PVP_HUB_DOCUMENTS_KEY_FILE": str(other_key)})  # type: ignore[attr-defined]
        refused(doc_hub.url)
    finally:
        doc_hub.process.stop()
        doc_hub.process.start(env=doc_hub.env)  # type: ignore[attr-defined]
    assert "does not open" in doc_hub.process.log.read_text()

    # A piece failing as it is sent: the connection is cut, short of Content-Length.
    hooks = workdir / f"cut-{uuid.uuid4().hex[:8]}"
    hooks.mkdir()
    (hooks / "sitecustomize.py").write_text(CUT_SEALER)
    second = HubProcess(doc_hub.process.db_url, workdir)
    second.start(
        env={**doc_hub.env, "PYTHONPATH": str(hooks), "PVP_TEST_CUT_AT": str(cuts[2])}  # type: ignore[attr-defined]
    )
    try:
        with (
            signed_in(second.url, login) as browser,
            browser.stream("GET", f"/agent/documents/{doc}") as shown,
        ):
            assert shown.status_code == 200
            assert shown.headers["content-length"] == str(len(data))
            got = bytearray()
            with pytest.raises(httpx.RemoteProtocolError):
                for piece in shown.iter_bytes():
                    got += piece
        assert len(got) < len(data)
    finally:
        second.stop()
    assert "the download is cut" in second.log.read_text()

    # With the right key and whole chunks: shown, and "opened" recorded.
    with signed_in(doc_hub.url, login) as browser:
        shown = browser.get(f"/agent/documents/{doc}")
    assert shown.status_code == 200 and shown.content == data
    assert opened_at() is not None


def upload_form(
    browser: httpx.Client, visit_id: uuid.UUID, data: bytes, csrf: str | None, **headers: str
) -> httpx.Response:
    fields = {"type": "form"} | ({"csrf": csrf} if csrf is not None else {})
    return browser.post(
        f"/agent/visites/{visit_id}/documents",
        data=fields,
        files={"fichier": ("cerfa.pdf", data, "application/pdf")},
        headers=headers,
    )


def csrf_of(browser: httpx.Client, visit_id: uuid.UUID) -> str:
    page = browser.get(f"/agent/visites/{visit_id}/documents").text
    found = re.search(r'name="csrf" value="([^"]+)"', page)
    assert found is not None
    return found.group(1)


def test_the_agent_sends_a_pdf_the_site_pulls_prints_and_says_so(
    doc_hub: Hub, world: Region, client: httpx.Client
) -> None:
    site, other = world.site(), world.site()
    visit_id = visit(client, site, "caf", "C-006")
    cursor = client.get("/api/v1/site/changes", headers=site.auth).json()["cursor"]
    data = make_pdf(pages=1, javascript=True)
    login = agent(world, "caf", [site.slug])
    with signed_in(doc_hub.url, login) as browser:
        csrf = csrf_of(browser, visit_id)
        # Without the session's secret, with a wrong one, or posted from another site.
        assert upload_form(browser, visit_id, data, None).status_code == 403
        assert upload_form(browser, visit_id, data, "x" * 43).status_code == 403
        forged = upload_form(browser, visit_id, data, csrf, Origin="https://evil.example")
        assert forged.status_code == 403
        not_pdf = upload_form(browser, visit_id, b"hello", csrf)
        assert not_pdf.status_code == 422 and "PDF" in not_pdf.text
        sent = upload_form(browser, visit_id, data, csrf)
        assert sent.status_code == 303, sent.text

    page = client.get("/api/v1/site/changes", params={"cursor": cursor}, headers=site.auth)
    items = [i for i in page.json()["items"] if i["kind"] == "document"]
    assert len(items) == 1 and items[0]["deleted"] is False
    item = items[0]
    assert item["data"]["visit_id"] == str(visit_id) and item["data"]["pages"] == 1
    # Another site's feed has nothing of it, nor can it fetch it.
    theirs = client.get("/api/v1/site/changes", headers=other.auth).json()["items"]
    assert not [i for i in theirs if i["kind"] == "document"]
    assert client.get(item["data"]["content"], headers=other.auth).status_code == 404

    fetched = client.get(item["data"]["content"], headers=site.auth)
    assert fetched.status_code == 200 and fetched.headers["content-type"] == "application/pdf"
    assert hashlib.sha256(fetched.content).hexdigest() == item["data"]["sha256"]
    assert b"app.alert" not in fetched.content  # stripped before it reached anyone

    receipts = f"/api/v1/site/documents/{item['id']}/receipts"
    failed = client.post(receipts, json={"step": "print_failed"}, headers=site.auth)
    assert failed.status_code == 422 and failed.json()["error"]["code"] == "reason_required"
    assert client.post(receipts, json={"step": "received"}, headers=site.auth).status_code == 200
    answer = client.post(
        receipts, json={"step": "print_failed", "reason": "paper_out"}, headers=site.auth
    )
    assert answer.json()["print_error"] == "paper_out"
    with signed_in(doc_hub.url, login) as browser:
        listing = browser.get(f"/agent/visites/{visit_id}/documents").text
        assert 'data-step="received"' in listing and "Plus de papier" in listing
    printed = client.post(receipts, json={"step": "printed"}, headers=site.auth).json()
    assert printed["printed_at"] is not None and printed["received_at"] is not None
    with signed_in(doc_hub.url, login) as browser:
        listing = browser.get(f"/agent/visites/{visit_id}/documents").text
        assert 'data-step="printed"' in listing and 'data-step="print_failed"' not in listing
    assert client.post(receipts, json={"step": "printed"}, headers=other.auth).status_code == 404


def test_the_purge_drops_the_bytes_and_keeps_the_trace(
    doc_hub: Hub, world: Region, client: httpx.Client
) -> None:
    site = world.site()
    visit_id = visit(client, site, "caf", "C-007")
    data = make_pdf()
    doc = send_whole(client, site, visit_id, data)
    login = agent(world, "caf", [site.slug])
    with signed_in(doc_hub.url, login) as browser:
        assert browser.get(f"/agent/documents/{doc}").status_code == 200
    # Kept until the end of the site's day after the last receipt: not yet gone.
    documents.purge(doc_hub.engine)
    assert _content(doc_hub, doc) is not None

    documents.purge(doc_hub.engine, clock=lambda: datetime.now(UTC) + timedelta(days=1, hours=1))
    assert _content(doc_hub, doc) is None
    state = client.get(f"/api/v1/site/documents/{doc}", headers=site.auth).json()
    assert state["state"] == "deleted" and state["deleted_reason"] == "expired"
    assert state["sha256"] == hashlib.sha256(data).hexdigest() and state["pages"] == 2
    assert state["opened_at"] is not None
    with signed_in(doc_hub.url, login) as browser:
        assert browser.get(f"/agent/documents/{doc}").status_code == 404
        listing = browser.get(f"/agent/visites/{visit_id}/documents").text
        assert 'data-step="deleted"' in listing and 'data-step="opened"' in listing


def test_consent_withdrawn_erases_at_once_and_the_day_s_end_erases_the_rest(
    doc_hub: Hub, world: Region, client: httpx.Client
) -> None:
    site, other = world.site(), world.site()
    visit_id = visit(client, site, "caf", "C-008")
    doc = send_whole(client, site, visit_id, make_pdf())
    late = send_whole(client, site, visit(client, site, "caf", "C-009"), make_pdf())
    url = f"/api/v1/site/visits/{visit_id}/documents"
    assert client.delete(url, headers=other.auth).status_code == 404
    erased = client.delete(url, params={"reason": "consent_withdrawn"}, headers=site.auth)
    assert erased.status_code == 200 and erased.json() == {"erased": 1}
    assert _content(doc_hub, doc) is None
    state = client.get(f"/api/v1/site/documents/{doc}", headers=site.auth).json()
    assert state["deleted_reason"] == "consent_withdrawn"
    # Never opened: kept until the end of the site's day (Europe/Paris), not longer.
    end = documents.end_of_day(datetime.now(UTC), "Europe/Paris")
    documents.purge(doc_hub.engine, clock=lambda: end - timedelta(seconds=1))
    assert _content(doc_hub, late) is not None
    documents.purge(doc_hub.engine, clock=lambda: end)
    assert _content(doc_hub, late) is None


def test_consent_turned_off_at_the_desk_drops_the_document_at_once(
    doc_hub: Hub, world: Region, client: httpx.Client
) -> None:
    site, other = world.site(), world.site()
    visit_id = visit(client, site, "caf", "C-011")
    # The site uploads under the id made from the bridge's own (doc_...), as its events
    # name it.
    bridge_id = f"doc_{uuid.uuid4().hex[:12]}"
    doc = str(site_document_id(site.slug, bridge_id))
    data = make_pdf()
    assert start(client, site, visit_id, data, id=doc).status_code == 201
    assert put(client, site, doc, 0, data).json()["state"] == "ready"
    kept = send_whole(client, site, visit_id, make_pdf(pages=1))
    # Another site's event naming the same bridge id changes nothing.
    theirs = visit(client, other, "caf", "C-012")
    withdrawn = {"document": bridge_id, "type": "id_card", "consent": False}
    assert push(client, other, [event(theirs, "document_updated", **withdrawn)]).status_code == 200
    assert _content(doc_hub, doc) is not None
    answer = push(client, site, [event(visit_id, "document_updated", **withdrawn)])
    assert answer.status_code == 200, answer.text
    assert _content(doc_hub, doc) is None and _content(doc_hub, kept) is not None
    state = client.get(f"/api/v1/site/documents/{doc}", headers=site.auth).json()
    assert state["deleted_reason"] == "consent_withdrawn"


def test_a_receipt_keeps_a_document_the_configured_delay_never_beyond_seven_days() -> None:
    engine = create_engine("sqlite://")
    came = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
    row = type("Row", (), {"created_at": came})()
    by_day = documents.Documents(engine, DocumentSettings())
    # 10:30 in Paris is 09:30 UTC: kept until midnight in Paris (23:00 UTC).
    seen = datetime(2026, 12, 1, 9, 30, tzinfo=UTC)
    assert by_day._keep_until(row, seen, "Europe/Paris") == datetime(2026, 12, 1, 23, 0, tzinfo=UTC)
    delay = documents.Documents(engine, DocumentSettings(keep_after_receipt_minutes=90))
    assert delay._keep_until(row, seen, "Europe/Paris") == seen + timedelta(minutes=90)
    long = documents.Documents(engine, DocumentSettings(keep_after_receipt_minutes=7 * 24 * 60))
    late = came + timedelta(days=6)  # a receipt on the 6th day: still 7 days at most
    assert long._keep_until(row, late, "Europe/Paris") == came + timedelta(days=7)


def test_no_dump_of_the_database_holds_a_document_in_clear(
    doc_hub: Hub, world: Region, client: httpx.Client
) -> None:
    site = world.site()
    visit_id = visit(client, site, "caf", "C-010")
    data = make_pdf(pages=2)
    half = len(data) // 2
    answer = start(client, site, visit_id, data)
    half_done = answer.json()["id"]
    put(client, site, half_done, 0, data[:half])  # chunks at rest, too
    send_whole(client, site, visit_id, data)
    login = agent(world, "caf", [site.slug])
    with signed_in(doc_hub.url, login) as browser:
        csrf = csrf_of(browser, visit_id)
        assert upload_form(browser, visit_id, data, csrf).status_code == 303
    dump = _dump(doc_hub)
    assert len(dump) > 10_000  # a real dump, holding the sealed documents
    assert MARKER.encode() not in dump and b"%PDF-" not in dump


def _content(hub: Hub, doc: str) -> bytes | None:
    """The sealed bytes the hub keeps of a document: in one piece, or in its chunks (as
    an upload came when nothing was stripped); None when it keeps none."""
    wanted = uuid.UUID(doc)
    with hub.engine.connect() as conn:
        value = conn.execute(
            select(documents_table.c.content).where(documents_table.c.id == wanted)
        ).scalar_one()
        chunks = conn.execute(
            select(document_chunks.c.data)
            .where(document_chunks.c.document_id == wanted)
            .order_by(document_chunks.c.start_byte)
        ).scalars()
        kept = b"".join(bytes(chunk) for chunk in chunks)
    if value is not None:
        assert not kept  # never both
        return bytes(value)
    return kept or None


def _dump(hub: Hub) -> bytes:
    """Every byte the database keeps: the SQLite file and its WAL, or pg_dump's output."""
    url = hub.engine.url
    if hub.kind == "sqlite":
        path = Path(str(url.database))
        return b"".join(p.read_bytes() for p in (path, Path(f"{path}-wal")) if p.exists())
    pg_dump = next(Path("/usr/lib/postgresql").glob("*/bin/pg_dump"))
    return subprocess.run(
        [
            str(pg_dump),
            "-h",
            str(url.host),
            "-p",
            str(url.port),
            "-U",
            "postgres",
            str(url.database),
        ],
        check=True,
        capture_output=True,
    ).stdout


def test_a_bad_key_file_stops_the_hub_with_a_clear_message(tmp_path: Path) -> None:
    key = tmp_path / "documents.key"
    key.write_text("too short")
    with pytest.raises(documents.DocumentKeyError, match="32 random bytes"):
        documents.Documents(create_engine("sqlite://"), DocumentSettings(key_file=key))
    settings = DocumentSettings(key_file=None)
    service = documents.Documents(create_engine("sqlite://"), settings)
    with pytest.raises(HubError, match=r"documents\.key_file"):
        service.require_key()


def test_a_sealed_blob_opens_only_for_its_own_document() -> None:
    sealer = documents.Sealer(os.urandom(32))
    one, two = uuid.uuid4(), uuid.uuid4()
    blob = sealer.seal(one, b"%PDF-1.7 secret")
    assert b"secret" not in blob
    assert sealer.open(one, blob) == b"%PDF-1.7 secret"
    with pytest.raises(Exception):  # noqa: B017 (cryptography's InvalidTag)
        sealer.open(two, blob)
    with pytest.raises(Exception):  # noqa: B017
        sealer.open(one, sealer.seal(one, b"x", 0))  # a chunk is not the whole


def test_document_types_are_worded_in_the_page_language() -> None:
    """The agent's pages word a scan's type as the site does (one table, in the site's
    core) and the kinds an agent prints in the hub's own words; an unknown code stays
    readable."""
    from pvp_hub.web.documents import type_label
    from pvp_tui.core import i18n

    with i18n.using_language("fr"):
        assert type_label("identity_card") == "Pièce d'identité"
        assert type_label("tax_notice") == "Avis d'imposition"
        assert type_label("form") == "Formulaire à signer"
        assert type_label("id_card") == "id card"
    with i18n.using_language("en"):
        assert type_label("identity_card") == "Identity card"
