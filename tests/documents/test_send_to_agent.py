"""F9 in the documents panel sends the selected scan to the agent, through a real
pvp-bridge (the PDF fetched from its spool) and a real pvp-hub: refused in words without
the visitor's consent, then each step on the document's line ("waiting to send" ->
"sent at" -> "opened by the agent at", with the times), the bytes on the hub equal to the
kiosk's. The line's words for every step, in French and English, with fixed times."""

from __future__ import annotations

import hashlib
import uuid
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import Engine
from textual.widgets import Checkbox

from pvp_hub import directory
from pvp_tui.core import hub_uploads, i18n
from pvp_tui.core.config import parse_config
from pvp_tui.core.documents import DocTrace
from pvp_tui.core.hub_uploads import Upload
from pvp_tui.core.pull import pull
from pvp_tui.core.store import Store
from pvp_tui.core.sync import SyncWorker
from pvp_tui.ui.screens.documents.doc_list import doc_line, upload_words
from tests.documents.conftest import Lab
from tests.documents.test_hub_print import NOW, doc_hub  # noqa: F401 (the fixture)
from tests.documents.test_panel_live import open_panel, set_scan
from tests.hub.people_pages import agent, signed_in
from tests.hub.regions import Region
from tests.support.bridge_daemons import BridgeProcess
from tests.support.documents_site import SITE, make_desk, visitor_at_kiosk
from tests.support.hub_daemons import HubProcess
from tests.support.kiosk_app import make_app, until

PARIS = ZoneInfo("Europe/Paris")


def line_of(screen, doc_id: str) -> str:  # type: ignore[no-untyped-def]
    from pvp_tui.ui.screens.documents.doc_list import DocumentList

    option = screen.query_one(DocumentList).get_option(doc_id)
    return str(option.prompt)


def send_waiting(desk) -> None:  # type: ignore[no-untyped-def]
    """What the app's sync worker does in its turn: the events, then the chunks."""
    worker = SyncWorker(Store(desk.store.path), desk.config.hub)
    assert worker.acquire()
    try:
        assert worker.drain(timeout=20).error is None
        assert hub_uploads.send_all(worker).error is None
        assert pull(worker, desk.config).error is None
    finally:
        worker._release()


async def test_f9_sends_the_scan_with_consent_and_the_line_shows_each_step(
    lab: Lab,
    bridge: BridgeProcess,
    doc_hub: tuple[HubProcess, Engine],  # noqa: F811
    tmp_path: Path,
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

    app = make_app(desk)
    async with app.run_test(size=(100, 32)) as pilot:
        screen = await open_panel(pilot, app)
        await set_scan(pilot, screen, 2)
        await pilot.press("f6")
        await until(pilot, lambda: not screen.scanning and len(screen.docs) == 1, "scan done")
        doc = screen.docs[0]
        status = screen.query_one("#print-status")

        # Without the visitor's consent: refused, in words, and nothing queued.
        await pilot.press("f9")
        await until(pilot, lambda: "accord" in str(status.render()), "refusal said")
        assert "cochez" in str(status.render())
        assert hub_uploads.of_visit(desk.store, visit_id) == []

        screen.query_one("#consent", Checkbox).value = True
        await until(pilot, lambda: screen.docs[0].consent, "consent saved")
        await pilot.press("f9")
        await until(pilot, lambda: doc.id in screen.uploads, "queued")
        (upload,) = hub_uploads.of_visit(desk.store, visit_id)
        when = datetime.fromisoformat(upload.queued_at).astimezone(PARIS).strftime("%H:%M")
        assert f"en attente d'envoi ({when})" in line_of(screen, doc.id)
        kept = hub_uploads.spooled(desk.store, upload.id)
        assert kept is not None and hashlib.sha256(kept).hexdigest() == doc.sha256

        send_waiting(desk)  # the sync worker's turn (in a thread of the app, or pvp sync)
        await until(pilot, lambda: screen.uploads[doc.id].state == "sent", "sent shown")
        (upload,) = hub_uploads.of_visit(desk.store, visit_id)
        assert upload.sent_at is not None
        when = datetime.fromisoformat(upload.sent_at).astimezone(PARIS).strftime("%H:%M")
        assert f"envoyé à {when}" in line_of(screen, doc.id)

        login = agent(region, "caf", [site.slug])
        with signed_in(process.url, login) as browser:
            shown = browser.get(f"/agent/documents/{upload.id}")
        assert shown.status_code == 200
        assert hashlib.sha256(shown.content).hexdigest() == doc.sha256  # the kiosk's bytes
        send_waiting(desk)  # the next pull hears "opened"
        await until(pilot, lambda: screen.uploads[doc.id].state == "opened", "opened shown")
        (upload,) = hub_uploads.of_visit(desk.store, visit_id)
        assert upload.opened_at is not None
        when = datetime.fromisoformat(upload.opened_at).astimezone(PARIS).strftime("%H:%M")
        assert f"ouvert par l'agent à {when}" in line_of(screen, doc.id)
    assert "Durand" not in process.log.read_text()  # the visitor's name never left the site


def _upload(state: str, **times: str | int | None) -> Upload:
    base: dict[str, object] = {
        "id": "u", "document": "doc_1", "visit_id": "v", "doc_type": "payslip",
        "size": 1000, "sha256": "0" * 64, "state": state, "sent_bytes": 0,
        "queued_at": "2026-03-10T09:02:00.000+00:00", "sent_at": None, "opened_at": None,
        "error": None,
    }  # fmt: skip
    base.update(times)
    return Upload(**base)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("language", "upload", "words"),
    [
        ("fr", _upload("waiting"), "en attente d'envoi (10:02)"),
        ("fr", _upload("waiting", sent_bytes=400), "40 % envoyés (10:02)"),
        ("fr", _upload("sent", sent_at="2026-03-10T09:03:30+00:00"), "envoyé à 10:03"),
        (
            "fr",
            _upload("opened", opened_at="2026-03-10T09:05:00+00:00"),
            "ouvert par l'agent à 10:05",
        ),
        ("fr", _upload("refused", error="id_taken"), "refusé par le hub (id_taken)"),
        (
            "fr",
            _upload("refused", error="not_a_valid_pdf"),
            "refusé par le hub : ce n'est pas un PDF valide (numérisez-le à nouveau)",
        ),
        ("en", _upload("waiting"), "waiting to send (10:02)"),
        ("en", _upload("sent", sent_at="2026-03-10T09:03:30+00:00"), "sent at 10:03"),
        (
            "en",
            _upload("opened", opened_at="2026-03-10T09:05:00+00:00"),
            "opened by the agent at 10:05",
        ),
    ],
)
def test_each_step_s_words_with_its_time(language: str, upload: Upload, words: str) -> None:
    i18n.set_language(language)
    assert upload_words(upload, PARIS) == words
    trace = DocTrace("doc_1", "v", "kiosk-1", "payslip", 2, "0" * 64, consent=True, sent=True)
    consent = "accord" if language == "fr" else "consent"
    assert doc_line(trace, False, upload, PARIS).endswith(f"⇧ {words} · {consent}")


def test_a_scan_changed_since_it_was_sent_says_its_earlier_version_was_withdrawn() -> None:
    i18n.set_language("fr")
    trace = DocTrace("doc_1", "v", "kiosk-1", "payslip", 1, "1" * 64, consent=True, sent=True)
    for upload in (_upload("erased"), _upload("sent", sent_at="2026-03-10T09:03:30+00:00")):
        line = doc_line(trace, False, upload, PARIS)
        assert line.endswith("⇧ version précédente retirée (F9 envoie celle-ci) · accord")


def test_a_stored_time_that_is_not_one_never_breaks_the_line() -> None:
    i18n.set_language("fr")
    assert upload_words(_upload("opened", opened_at="soon"), PARIS) == "ouvert par l'agent à ?"
