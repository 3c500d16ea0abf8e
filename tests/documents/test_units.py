"""Unit tests of the documents part: config, traces in the store, words, thumbnails, links."""

from __future__ import annotations

import asyncio
import hashlib
from pathlib import Path

import pytest
from PIL import Image

from kiosk_bridge.client import Fetched
from pvp_tui.core import events
from pvp_tui.core.config import (
    DEFAULT_DOCUMENT_TYPES,
    ConfigError,
    kiosks_from_config,
    load_config,
    parse_config,
)
from pvp_tui.core.documents import DocumentLog, fold, queue_for_agent, type_label
from pvp_tui.core.errors import PvpError
from pvp_tui.core.kiosks import OFFLINE, REFUSED, KioskLinks
from pvp_tui.core.models import Outcome
from pvp_tui.ui.screens.documents.thumbs import choose_mode, halfblock_lines
from pvp_tui.ui.screens.documents.words import job_line, printer_advice
from tests.documents.conftest import Lab
from tests.support.bridge_daemons import BridgeProcess, free_port
from tests.support.documents_site import SITE, make_desk, site_config, visitor_at_kiosk

BASE = """
[site]
id = "s"
name = "Site"
[[partners]]
id = "caf"
name = "CAF"
prefix = "C"
"""


def kiosk_toml(**fields: object) -> str:
    lines = "\n".join(f"{k} = {v!r}".replace("'", '"') for k, v in fields.items())
    return BASE + "[[kiosks]]\n" + lines + "\n"


# -- config -----------------------------------------------------------------------------


def test_kiosks_parse_with_paths_relative_to_the_config(tmp_path: Path) -> None:
    path = tmp_path / "site.toml"
    path.write_text(
        kiosk_toml(
            id="k1",
            name="Borne 1",
            url="wss://kiosk:8765/v1",
            token_file="t",
            ca_file="/etc/pvp/ca.pem",
        )
    )
    config = load_config(path)
    (kiosk,) = kiosks_from_config(config)
    assert kiosk.id == "k1" and kiosk.url == "wss://kiosk:8765/v1"
    assert kiosk.token_file == tmp_path / "t" and kiosk.ca_file == Path("/etc/pvp/ca.pem")
    assert config.kiosk("k1") is kiosk and config.kiosk("nope") is None


def test_no_kiosk_is_fine_and_demo_site_has_none() -> None:
    assert parse_config(BASE, "<x>").kiosks == ()
    assert load_config(None).kiosks == ()


@pytest.mark.parametrize(
    ("fields", "key"),
    [
        ({"id": "K 1", "name": "x", "url": "ws://h:1/v1", "token_file": "t"}, "kiosks[0].id"),
        ({"id": "k", "name": "x", "url": "http://h/v1", "token_file": "t"}, "kiosks[0].url"),
        ({"id": "k", "name": "x", "url": "ws://h:1/v2", "token_file": "t"}, "kiosks[0].url"),
        ({"id": "k", "name": "x", "url": "ws://h:1/v1"}, "kiosks[0].token_file"),
        ({"id": "k", "name": "x", "url": "ws://h:1/v1", "token_file": "t", "ca_file": "c"},
         "kiosks[0].ca_file"),
        ({"id": "k", "name": "x", "url": "ws://h:1/v1", "token_file": "t", "colour": "x"},
         "kiosks[0].colour"),
    ],
)  # fmt: skip
def test_kiosk_mistakes_are_one_line_naming_the_key(fields: dict[str, object], key: str) -> None:
    with pytest.raises(ConfigError) as err:
        parse_config(kiosk_toml(**fields), "<x>")
    assert len(err.value.problems) == 1 and err.value.problems[0].startswith(key)


def test_two_kiosks_with_one_id_and_bad_document_types_each_say_so() -> None:
    text = (
        BASE.replace('prefix = "C"', 'prefix = "C"\ndocument_types = ["payslip", "Pay slip", '
                     '"payslip"]')
        + '[[kiosks]]\nid = "k"\nname = "a"\nurl = "ws://a:1/v1"\ntoken_file = "t"\n'
        + '[[kiosks]]\nid = "k"\nname = "b"\nurl = "ws://b:1/v1"\ntoken_file = "t"\n'
    )  # fmt: skip
    with pytest.raises(ConfigError) as err:
        parse_config(text, "<x>")
    problems = err.value.problems
    assert len(problems) == 3
    assert sum(p.startswith("partners[0].document_types") for p in problems) == 2
    assert any(p.startswith("kiosks[1].id") and "two kiosks" in p for p in problems)


def test_document_types_per_partner_with_a_default_list() -> None:
    text = BASE + (
        '[[partners]]\nid = "dgfip"\nname = "Impôts"\nprefix = "I"\n'
        'document_types = ["tax_notice", "other"]\n'
    )
    config = parse_config(text, "<x>")
    assert config.document_types("caf") == DEFAULT_DOCUMENT_TYPES
    assert config.document_types("dgfip") == ("tax_notice", "other")
    assert type_label("tax_notice") == "Avis d'imposition"
    assert type_label("local_form") == "local form"


# -- traces in the store ----------------------------------------------------------------


def _config(tmp_path: Path):  # type: ignore[no-untyped-def]
    token = tmp_path / "token"
    token.write_text("t")
    return parse_config(SITE.format(url="ws://127.0.0.1:9/v1", token=token), "<t>")


DOC = {"id": "doc_0123456789abcdef", "pages": 3, "sha256": "a" * 64}


def test_states_captured_sent_printed_purged_and_no_name(tmp_path: Path) -> None:
    desk = make_desk(tmp_path / "pvp.db", _config(tmp_path))
    visit_id = visitor_at_kiosk(desk, name="Mme Zyxwv")
    log = DocumentLog(desk)
    doc = log.captured(visit_id, "kiosk-1", DOC, "payslip")
    assert (doc.state, doc.consent, doc.pages) == ("captured", False, 3)
    with pytest.raises(PvpError) as err:
        log.sent(doc)  # consent is off by default
    assert err.value.code == "no_consent"
    doc = log.updated(doc, consent=True, type="tax_notice")
    assert log.updated(doc, consent=True) is doc  # no change, no event
    doc = log.sent(doc)
    doc = log.printed(doc, "pvp-pdf", 2, True, 7)
    assert log.documents(visit_id)[0].state == "printed"
    assert log.documents(visit_id)[0].type == "tax_notice"
    log.purged(doc, "visit_closed")
    assert log.documents(visit_id) == []
    assert log.documents(visit_id, include_purged=True)[0].purged
    rows = [e for e in desk.events(visit_id) if e["type"].startswith("document_")]
    assert [e["type"] for e in rows] == [
        events.DOCUMENT_CAPTURED, events.DOCUMENT_UPDATED, events.DOCUMENT_SENT,
        events.DOCUMENT_PRINTED, events.DOCUMENT_PURGED,
    ]  # fmt: skip
    assert "Zyxwv" not in str(rows)


def test_a_site_without_a_hub_sends_nothing_to_the_agent(tmp_path: Path) -> None:
    desk = make_desk(tmp_path / "pvp.db", _config(tmp_path))
    visit_id = visitor_at_kiosk(desk)
    log = DocumentLog(desk)
    doc = log.updated(log.captured(visit_id, "kiosk-1", DOC, "payslip"), consent=True)
    with pytest.raises(PvpError) as err:
        log.send_to_agent(doc, b"%PDF-1.4")
    assert err.value.code == "no_hub"
    assert not log.documents(visit_id)[0].sent
    assert desk.store.query("SELECT count(*) AS n FROM hub_uploads")[0]["n"] == 0


def _hub_config(tmp_path: Path):  # type: ignore[no-untyped-def]
    """A site with a hub (never reached: these tests only queue)."""
    (tmp_path / "hub.token").write_text("x\n")
    text = SITE.format(url="ws://127.0.0.1:9/v1", token=tmp_path / "hub.token")
    text += f'\n[hub]\nurl = "http://127.0.0.1:9"\ntoken_file = "{tmp_path / "hub.token"}"\n'
    return parse_config(text, "<t>")


def test_a_no_show_visit_s_scan_is_not_queued_for_the_agent_nor_fetched(
    tmp_path: Path,
) -> None:
    """F9 on a visit that is not open (here a no-show): refused in words, in French, before
    the PDF is fetched from the kiosk and again in the queuing transaction; nothing queued.
    Back in the queue, the visit is open again and the scan goes."""
    desk = make_desk(tmp_path / "pvp.db", _hub_config(tmp_path))
    visit_id = visitor_at_kiosk(desk)
    log = DocumentLog(desk)
    data = b"%PDF-1.4 pages"
    scan = {**DOC, "sha256": hashlib.sha256(data).hexdigest()}
    doc = log.updated(log.captured(visit_id, "kiosk-1", scan, "payslip"), consent=True)
    desk.back_to_waiting(visit_id)
    desk.call(visit_id)
    desk.no_show(visit_id)

    class Kiosk:  # the bridge's edge: what F9 would fetch (the scan's own bytes)
        fetched = 0

        async def fetch_document(self, doc_id: str) -> Fetched:
            Kiosk.fetched += 1
            return Fetched(data, hashlib.sha256(data).hexdigest())

    with pytest.raises(PvpError) as err:
        asyncio.run(queue_for_agent(log, Kiosk(), doc))
    assert err.value.code == "visit_closed" and Kiosk.fetched == 0
    assert "n'est plus ouverte" in str(err.value)  # in French by default
    with pytest.raises(PvpError) as err:
        log.send_to_agent(doc, b"%PDF-1.4 pages")
    assert err.value.code == "visit_closed"
    with pytest.raises(PvpError):  # nor scanned
        log.captured(visit_id, "kiosk-1", {**DOC, "id": "doc_3333333333333333"}, "other")
    assert desk.store.query("SELECT count(*) AS n FROM hub_uploads")[0]["n"] == 0
    assert not log.documents(visit_id)[0].sent

    desk.back_to_waiting(visit_id)
    assert asyncio.run(queue_for_agent(log, Kiosk(), doc)).state == "waiting"


def test_pages_changed_while_f9_fetched_them_are_not_queued_and_f9_again_sends_the_new(
    tmp_path: Path,
) -> None:
    """F9 fetches the scan's bytes (A) from the kiosk while staff delete or rotate a page
    (the page edit commits B first: nothing queued yet for it to take back). The old pages
    must not be queued: refused in words, nothing spooled; F9 again sends the new pages."""
    desk = make_desk(tmp_path / "pvp.db", _hub_config(tmp_path))
    visit_id = visitor_at_kiosk(desk)
    log = DocumentLog(desk)
    old, new = b"%PDF-1.4 three pages", b"%PDF-1.4 two pages"
    scan = {**DOC, "sha256": hashlib.sha256(old).hexdigest()}
    doc = log.updated(log.captured(visit_id, "kiosk-1", scan, "payslip"), consent=True)

    class Kiosk:  # the bridge's edge: the page edit lands while the old bytes travel
        edited = False

        async def fetch_document(self, doc_id: str) -> Fetched:
            current = log.get(visit_id, doc_id)
            assert current is not None
            if not Kiosk.edited:
                Kiosk.edited = True
                log.updated(current, pages=2, sha256=hashlib.sha256(new).hexdigest())
                return Fetched(old, hashlib.sha256(old).hexdigest())
            return Fetched(new, hashlib.sha256(new).hexdigest())

    with pytest.raises(PvpError) as err:
        asyncio.run(queue_for_agent(log, Kiosk(), doc))
    assert err.value.code == "document_changed"
    assert "F9" in str(err.value) and "changé" in str(err.value)  # in French by default
    assert desk.store.query("SELECT count(*) AS n FROM hub_uploads")[0]["n"] == 0
    assert not log.documents(visit_id)[0].sent
    with pytest.raises(PvpError) as err:  # the old bytes, straight: refused the same
        log.send_to_agent(doc, old)
    assert err.value.code == "document_changed"
    assert desk.store.query("SELECT count(*) AS n FROM hub_uploads")[0]["n"] == 0

    upload = asyncio.run(queue_for_agent(log, Kiosk(), doc))  # F9 again: the new pages
    assert (upload.state, upload.sha256) == ("waiting", hashlib.sha256(new).hexdigest())
    assert log.documents(visit_id)[0].sent


def test_pending_purges_are_documents_of_closed_visits(tmp_path: Path) -> None:
    desk = make_desk(tmp_path / "pvp.db", _config(tmp_path))
    log = DocumentLog(desk)
    open_visit = visitor_at_kiosk(desk, "A")
    done_visit = visitor_at_kiosk(desk, "B")
    log.captured(open_visit, "kiosk-1", DOC, "other")
    second = log.captured(done_visit, "kiosk-1", {**DOC, "id": "doc_1111111111111111"}, "other")
    assert log.pending_purges() == []
    desk.finish(done_visit, Outcome.RESOLVED)
    assert [d.id for d in log.pending_purges()] == [second.id]
    assert log.pending_purges(kiosk="other-kiosk") == []
    with pytest.raises(PvpError):  # a closed visit gets no new document
        log.captured(done_visit, "kiosk-1", {**DOC, "id": "doc_2222222222222222"}, "other")
    log.purged(second, "visit_closed")
    assert log.pending_purges() == []


def test_fold_ignores_events_of_unknown_documents() -> None:
    rows = [
        {"visit_id": "v", "type": events.DOCUMENT_PRINTED, "data": '{"document": "x"}', "at": "1"},
        {"visit_id": "v", "type": events.DOCUMENT_CAPTURED, "at": "2",
         "data": '{"document": "y", "kiosk": "k", "type": "other", "pages": 1, "sha256": "s"}'},
    ]  # fmt: skip
    assert [d.id for d in fold(rows)] == ["y"]


# -- words ----------------------------------------------------------------------------------


def test_printer_trouble_says_what_to_do_in_french() -> None:
    assert "Remettez du papier dans le bac 1" in printer_advice(["paper_out"])
    assert printer_advice(["toner_low", "paper_jam"]).startswith("Imprimante : bourrage")
    assert printer_advice([]) == ""
    text, level = job_line(
        {"job": 4, "state": "processing", "printer_reasons": ["paper_out"], "final": False}
    )
    assert level == "warn" and "plus de papier" in text and "4" in text
    text, level = job_line({"job": 4, "state": "aborted", "reason": "unprintable", "final": True})
    assert level == "error" and "F7" in text
    assert job_line({"job": 4, "state": "completed", "final": True})[1] == "ok"


# -- thumbnails --------------------------------------------------------------------------------


def test_halfblock_puts_two_pixels_in_a_cell() -> None:
    image = Image.new("RGB", (2, 4))
    image.putpixel((0, 0), (255, 0, 0))
    image.putpixel((0, 1), (0, 0, 255))
    lines = halfblock_lines(image, 2, 2)
    assert len(lines) == 2 and all(line.cell_length == 2 for line in lines)
    first = next(iter(lines[0]))
    assert first.text == "▀"
    assert first.style is not None and first.style.color is not None
    assert first.style.color.triplet == (255, 0, 0)
    assert first.style.bgcolor is not None and first.style.bgcolor.triplet == (0, 0, 255)


def test_mode_choice() -> None:
    assert choose_mode({"PVP_IMAGES": "text"}, tty=True) == "text"
    assert choose_mode({"NO_COLOR": "1"}, tty=True) == "text"
    assert choose_mode({"TERM": "xterm-256color"}, tty=True) == "halfblock"
    assert choose_mode({"TERM": "xterm-kitty"}, tty=False) == "halfblock"  # not a tty: no probe
    choose_mode({"PVP_IMAGES": "halfblock"})


# -- links ---------------------------------------------------------------------------------------


async def test_link_to_a_closed_port_goes_offline_and_fails_fast(tmp_path: Path) -> None:
    config = _config(tmp_path)
    url = f"ws://127.0.0.1:{free_port()}/v1"
    kiosk = config.kiosks[0].__class__(**{**config.kiosks[0].__dict__, "url": url})
    links = KioskLinks([kiosk], max_backoff=0.2)
    links.start()
    try:
        for _ in range(200):
            if links["kiosk-1"].state.link == OFFLINE:
                break
            await asyncio.sleep(0.02)
        assert links["kiosk-1"].state.link == OFFLINE
        with pytest.raises(Exception) as err:
            await asyncio.wait_for(links.request("kiosk-1", "health.get"), 1)
        assert getattr(err.value, "code", "") == "kiosk_unreachable"
    finally:
        await links.close()


async def test_wrong_token_and_missing_token_file_are_refused(
    lab: Lab, bridge: BridgeProcess, tmp_path: Path
) -> None:
    good = site_config(bridge).kiosks[0]
    wrong = tmp_path / "wrong"
    wrong.write_text("not-the-token")
    bad = good.__class__(**{**good.__dict__, "id": "bad", "token_file": wrong})
    missing = good.__class__(**{**good.__dict__, "id": "missing", "token_file": tmp_path / "x"})
    links = KioskLinks([good, bad, missing], max_backoff=0.2)
    links.start()
    try:
        for _ in range(300):
            states = [links[k].state.link for k in ("kiosk-1", "bad", "missing")]
            if states == ["online", REFUSED, REFUSED]:
                break
            await asyncio.sleep(0.02)
        assert states == ["online", REFUSED, REFUSED]
        assert "token" in links["bad"].state.problem
        assert "x" in links["missing"].state.problem
    finally:
        await links.close()


async def test_text_fallback_names_the_page_and_its_size() -> None:
    from textual.app import App, ComposeResult

    from pvp_tui.ui.screens.documents.thumbs import PageThumb

    class One(App[None]):
        def compose(self) -> ComposeResult:
            yield PageThumb(2, Image.new("RGB", (300, 200), "white"))

    choose_mode({"PVP_IMAGES": "text"})
    try:
        async with One().run_test(size=(20, 14)) as pilot:
            thumb = pilot.app.query_one(PageThumb)
            text = "\n".join(thumb.render_line(y).text for y in range(thumb.content_size.height))
            assert "page 2" in text and "300×200" in text and "paysage" in text
    finally:
        choose_mode({"PVP_IMAGES": "halfblock"})


async def test_wss_link_trusts_the_configured_ca_only(lab: Lab, tmp_path: Path) -> None:
    from pvp_tui.core.config import Kiosk
    from tests.support.bridge_daemons import make_cert

    ca, cert, key = make_cert(tmp_path / "tls")
    proc = BridgeProcess(tmp_path / "bridge", lab.env, config="", tls=(cert, key))
    proc.start()
    try:
        trusted = Kiosk("trusted", "A", proc.url, proc.token_file, ca_file=ca)
        unknown = Kiosk("unknown", "B", proc.url, proc.token_file)  # system CAs only
        links = KioskLinks([trusted, unknown], max_backoff=0.2)
        links.start()
        try:
            for _ in range(300):
                states = [links[k].state.link for k in ("trusted", "unknown")]
                if states == ["online", OFFLINE]:
                    break
                await asyncio.sleep(0.02)
            assert states == ["online", OFFLINE]
            reply = await links.request("trusted", "health.get")
            assert reply["version"]
        finally:
            await links.close()
    finally:
        proc.stop()


async def test_a_hung_bridge_never_stalls_the_loop(tmp_path: Path) -> None:
    """A kiosk that accepts TCP but never answers the handshake: the link gives up on
    each try after open_timeout and retries, while the loop keeps ticking."""
    accepted: list[asyncio.StreamWriter] = []

    async def hang(_reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        accepted.append(writer)  # say nothing, never close

    server = await asyncio.start_server(hang, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    config = _config(tmp_path)
    kiosk = config.kiosks[0].__class__(
        **{**config.kiosks[0].__dict__, "url": f"ws://127.0.0.1:{port}/v1"}
    )
    links = KioskLinks([kiosk], max_backoff=0.2, open_timeout=0.5)
    ticks = 0
    links.start()
    try:
        for _ in range(150):  # 3 s of 20 ms ticks
            await asyncio.sleep(0.02)
            ticks += 1
            if links["kiosk-1"].state.link == OFFLINE and len(accepted) >= 2:
                break
        assert links["kiosk-1"].state.link == OFFLINE and len(accepted) >= 2  # it retried
        assert ticks > 1  # this loop went on running while the link waited
        with pytest.raises(Exception) as err:
            await links.request("kiosk-1", "health.get")
        assert getattr(err.value, "code", "") == "kiosk_unreachable"
    finally:
        await links.close()
        for writer in accepted:
            writer.close()
        server.close()
        await server.wait_closed()


async def test_digits_set_the_feeders_page_count() -> None:
    from textual.app import App, ComposeResult
    from textual.widgets import Input, Select

    from pvp_tui.ui.screens.documents.scan_bar import ScanBar

    class Bar(App[None]):
        def compose(self) -> ComposeResult:
            yield ScanBar(4)  # the count last scanned with

    app = Bar()
    async with app.run_test() as pilot:
        bar = app.query_one(ScanBar)
        assert bar.settings()["max_pages"] == 4
        app.query_one("#source", Select).value = "flatbed"
        bar.type_pages("1")
        bar.type_pages("2")  # within a second: twelve
        await pilot.pause()
        assert app.query_one("#max-pages", Input).value == "12"
        assert bar.settings() == {**bar.settings(), "source": "adf", "max_pages": 12}
        bar._typed_at = 0.0  # a pause: the next digit starts again
        bar.type_pages("3")
        await pilot.pause()
        assert bar.settings()["max_pages"] == 3


async def test_a_drawn_picture_follows_a_change_of_width() -> None:
    """Drawn lines are kept between frames, but a narrower terminal draws them again
    (they were kept while only the height matched, and overflowed the new width)."""
    from textual.app import App, ComposeResult

    from pvp_tui.ui.screens.documents.thumbs import PageThumb

    class One(App[None]):
        CSS = "PageThumb { width: 1fr; max-height: 100; height: 1fr; }"

        def compose(self) -> ComposeResult:
            yield PageThumb(1, Image.new("RGB", (300, 200), "navy"))

    async with One().run_test(size=(40, 14)) as pilot:
        thumb = pilot.app.query_one(PageThumb)
        assert thumb.render_line(0).cell_length == thumb.content_size.width == 38
        await pilot.resize_terminal(30, 14)
        await pilot.pause()
        assert thumb.content_size.width == 28
        assert all(thumb.render_line(y).cell_length == 28 for y in range(12))
