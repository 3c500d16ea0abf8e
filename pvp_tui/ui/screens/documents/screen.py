"""The documents panel of the visit being served: scan, check, print, at the kiosk.

Every kiosk call runs in an async worker on the app's loop (the bridge client never
blocks); store writes run in threads. Bridge events (scan.page, scan.progress,
print.job) arrive as messages: thumbnails appear page by page while the feeder runs.
Nothing here is written to disk: page images live in memory while the panel is open.

The screen talks to the bridge and the document log; its parts show and ask: the scan bar
(scan_bar.py), the document list and the selected document's options (doc_list.py), the
page strip (page_strip.py), the print bar (print_bar.py). They get plain data and answer
with messages; the scan's state lives in a ScanController (scan.py), not in a widget.
"""

from __future__ import annotations

import asyncio
import base64
from typing import TYPE_CHECKING, Any, ClassVar, cast

from PIL import Image
from textual import events, on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal
from textual.message import Message
from textual.screen import Screen
from textual.widget import Widget
from textual.widgets import Footer, OptionList, Static

from kiosk_bridge.shapes import DocumentInfo, PrintJob, PrintSubmitted, ScanResult
from pvp_common.document_ids import PURGED_BY_STAFF

from ....core import hub_documents, hub_uploads
from ....core.documents import (
    DocTrace,
    DocumentLog,
    queue_for_agent,
    require_consent,
    type_label,
)
from ....core.errors import PvpError
from ....core.frontdesk import done_words
from ....core.i18n import N_, _, ngettext
from ....core.kiosks import NO_KIOSK, BridgeError, KioskLink, bridge_message
from ....core.models import Outcome, Status, Visit
from ....core.words import sentence
from ... import actions, format, styles
from ...services.documents import PrintOrder
from ...widgets.status_line import StatusLine
from ..dialogs import ConfirmDialog, OutcomeDialog
from .doc_list import HUB_PREFIX, DocumentList, DocumentOptions
from .page_strip import PageStrip
from .print_bar import PrintBar
from .scan import ScanController
from .scan_bar import ScanBar
from .thumbs import decode

if TYPE_CHECKING:
    from textual.app import App

    from ...services import Services

SCAN_TIMEOUT = 900.0


class KioskEvent(Message):
    def __init__(self, kiosk: str, event: str, data: Any) -> None:
        super().__init__()
        self.kiosk, self.event, self.data = kiosk, event, data


class KioskChanged(Message):
    def __init__(self, kiosk: str) -> None:
        super().__init__()
        self.kiosk = kiosk


class DocumentsScreen(Screen[None]):
    DEFAULT_CSS = styles.default_css("documents.tcss")
    # Below 100 columns the page strip keeps room for three thumbnails (documents.tcss).
    # Textual declares it an instance variable, read at each resize.
    HORIZONTAL_BREAKPOINTS = [(0, "-narrow"), (100, "-wide")]  # noqa: RUF012

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("f6", "scan", N_("Scan"), id="scan"),
        Binding("plus,ctrl+a", "add_pages", N_("Add pages"), id="add_pages", show=False),
        Binding("f7", "print", N_("Print"), id="print"),
        Binding("f9", "send", N_("Send to agent"), id="send"),
        # As on the queue; not in the footer, which 80 columns fill already.
        Binding("f8", "finish", N_("Finish"), id="finish", show=False),
        Binding(
            "ctrl+t", "delete_document", N_("Delete document"), id="delete_document", show=False
        ),
        Binding("escape", "back", N_("Back"), id="back"),
        Binding("ctrl+k", "next_kiosk", N_("Next kiosk"), id="next_kiosk"),
    ]

    def __init__(self, services: Services, visit: Visit, link: KioskLink) -> None:
        super().__init__(id="documents")
        actions.localize(self)
        self.services = services
        self.visit = visit
        self.link = link
        self.doc_log: DocumentLog = services.documents.log
        self.docs: list[DocTrace] = []
        self.hub_docs: tuple[hub_documents.HubDocument, ...] = ()  # what agents sent to print
        self.uploads: dict[str, hub_uploads.Upload] = {}  # sent to the agent, by document
        self.thumbs: dict[str, list[Image.Image | None]] = {}
        self.current: str | None = None  # selected document id
        self.scans: ScanController[Image.Image] = ScanController()
        self.job: int | None = None
        self.loaded = False
        self.missing: set[str] = set()  # documents the bridge no longer has
        self._unsubscribe: Any = None
        self._writing = asyncio.Lock()  # one store write at a time, on the latest trace
        self._sending = 0  # prints sent to the bridge and not answered yet
        self._sent = asyncio.Event()  # set when none is: leaving waits for their jobs
        self._sent.set()
        self.accepts_keys = True  # False while leaving waits: keys typed meanwhile wait too

    @property
    def scanning(self) -> bool:
        """A scan is running, or its document is not yet recorded."""
        return self.scans.scanning

    # ------------------------------------------------------------------- layout
    def compose(self) -> ComposeResult:
        config = self.services.desk.config
        types = config.document_types(self.visit.partner_id)
        yield Static("", id="doc-header", markup=False)
        yield ScanBar(self.services.documents.scan_pages)
        with Horizontal(id="doc-body"):
            yield DocumentList()
            yield PageStrip(self.scans)
        yield DocumentOptions(types)
        yield PrintBar()
        yield StatusLine()
        yield Footer(compact=True)

    def on_mount(self) -> None:
        self._unsubscribe = self.services.kiosks.on_event(self._from_bridge)
        self._unwatch = self.services.kiosks.on_change(self._kiosk_changed)
        self._show_header()
        self._fill_printers()
        self.query_one(DocumentList).focus()
        self._load()
        # The sync worker (another thread or process) moves uploads on: their steps are
        # read again each second while one is not at its last step.
        self.set_interval(1.0, self._follow_uploads)

    def on_unmount(self) -> None:
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unwatch()

    def _from_bridge(self, kiosk: str, event: str, data: Any) -> None:
        if kiosk == self.link.kiosk.id and self.is_attached:
            self.post_message(KioskEvent(kiosk, event, data))

    def _kiosk_changed(self, kiosk: str) -> None:
        if kiosk == self.link.kiosk.id and self.is_attached:
            self.post_message(KioskChanged(kiosk))

    # ------------------------------------------------------------------- showing
    def _show_header(self) -> None:
        config = self.services.desk.config
        state = self.link.state
        link = _("online") if state.online else _("unreachable")
        if state.online and (trouble := state.device_trouble()):
            link = trouble
        text = _("{ticket} · {partner} · documents · {kiosk}: {state}").format(
            ticket=self.visit.ticket,
            partner=format.partner_name(config, self.visit.partner_id),
            kiosk=self.link.kiosk.name,
            state=link,
        )
        header = self.query_one("#doc-header", Static)
        header.update(text)
        header.set_class(not state.online, "-offline")

    def _fill_printers(self) -> None:
        self.query_one(PrintBar).fill_printers(self.link.state.printers)

    def _show_docs(self) -> None:
        target = self.query_one(DocumentList).show(
            self.docs, self.missing, self.current, self.hub_docs, self.uploads, self._tz
        )
        if target is not None:
            self._select(target)
        else:
            self.current = None
            self._show_pages()

    def _select(self, doc_id: str) -> None:
        changed = doc_id != self.current
        self.current = doc_id
        if doc_id.startswith(HUB_PREFIX):  # an agent's document: no page to show here
            self.query_one(PageStrip).show([])
            return
        doc = self.doc(doc_id)
        if doc is None:
            return
        self.query_one(DocumentOptions).show(doc)
        if changed:
            self.query_one(PageStrip).selected = 1
        if not self.scanning:
            self._show_pages()
        if doc_id not in self.thumbs or any(t is None for t in self.thumbs[doc_id]):
            self._fetch_thumbs(doc_id)

    async def _write(self, doc_id: str, fn: Any, *args: Any, **kwargs: Any) -> DocTrace | None:
        """Apply one DocumentLog write to the latest trace of a document (serialised)."""
        async with self._writing:
            latest = self.doc(doc_id)
            if latest is None:
                return None
            trace: DocTrace = await asyncio.to_thread(fn, latest, *args, **kwargs)
            self.docs = [trace if d.id == doc_id else d for d in self.docs]
            return trace

    def _link_for(self, doc: DocTrace | None) -> KioskLink:
        """A document lives on the kiosk that scanned it: its requests go there."""
        if doc is not None and doc.kiosk in self.services.kiosks.links:
            return self.services.kiosks.links[doc.kiosk]
        return self.link

    def action_next_kiosk(self) -> None:
        """ctrl+k: scan and print at the site's next kiosk (sites with several)."""
        links = list(self.services.kiosks)
        if len(links) < 2 or self.scanning:
            return
        self.link = links[(links.index(self.link) + 1) % len(links)]
        self._show_header()
        self._fill_printers()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "next_kiosk":
            return len(list(self.services.kiosks)) > 1
        if action == "send":  # a site without a hub sends nothing to the agents
            return self.services.desk.config.hub is not None
        return True

    def doc(self, doc_id: str | None) -> DocTrace | None:
        return next((d for d in self.docs if d.id == doc_id), None)

    def _show_pages(self) -> None:
        """Make the strip show the live scan or the selected document (reusing widgets)."""
        if self.scanning:
            images = self.scans.live
        elif self.current is not None:
            doc = self.doc(self.current)
            images = self.thumbs.get(self.current) or [None] * (doc.pages if doc else 0)
        else:
            images = []
        self.query_one(PageStrip).show(images)

    def pages_on_screen(self) -> int:
        """How many thumbnails show a picture (tests and the benchmark wait on it)."""
        return self.query_one(PageStrip).pictures()

    # ------------------------------------------------------------------- loading
    @work(exclusive=True, group="doc-load", exit_on_error=False)
    async def _load(self) -> None:
        self.docs = await asyncio.to_thread(self.doc_log.documents, self.visit.id)
        store = self.services.desk.store
        self.hub_docs = tuple(await asyncio.to_thread(hub_documents.of_visit, store, self.visit.id))
        self.uploads = await self._read_uploads()
        self.loaded = True
        self._show_docs()

    @property
    def _tz(self) -> Any:
        return self.services.desk.config.site.timezone

    async def _read_uploads(self) -> dict[str, hub_uploads.Upload]:
        store = self.services.desk.store
        found = await asyncio.to_thread(hub_uploads.of_visit, store, self.visit.id)
        return {u.document: u for u in found}

    @work(group="doc-uploads", exclusive=True, exit_on_error=False)
    async def _follow_uploads(self) -> None:
        if not self.loaded or all(u.state in hub_uploads.FINAL for u in self.uploads.values()):
            return
        uploads = await self._read_uploads()
        if uploads == self.uploads:
            return
        self.uploads = uploads
        doc_list = self.query_one(DocumentList)
        for doc in self.docs:
            if doc.id in uploads:
                doc_list.update_line(doc, doc.id in self.missing, uploads[doc.id], self._tz)

    @work(group="doc-thumbs", exit_on_error=False)
    async def _fetch_thumbs(self, doc_id: str) -> None:
        doc = self.doc(doc_id)
        link = self._link_for(doc)
        if doc is None or not link.state.online:
            return
        have = self.thumbs.get(doc_id) or []
        images: list[Image.Image | None] = list(have) + [None] * (doc.pages - len(have))
        try:
            meta = await link.request("documents.get", {"document": doc_id})
            count = min(int(meta["document"].get("thumbnails", 0)), doc.pages)
            for page in range(1, count + 1):
                if images[page - 1] is not None:
                    continue
                reply = await link.request("documents.get", {"document": doc_id, "thumbnail": page})
                images[page - 1] = decode(base64.b64decode(reply["data"]))
        except BridgeError as err:
            if err.code == "document_not_found":
                self.missing.add(doc_id)
                self._show_docs()
            return
        self.missing.discard(doc_id)
        self.thumbs[doc_id] = images
        if self.current == doc_id and not self.scanning:
            self._show_pages()

    # ------------------------------------------------------------------- bridge events
    @on(KioskChanged)
    def _link_changed(self) -> None:
        self._show_header()
        self._fill_printers()
        if self.link.state.online and self.current is not None:
            doc_id = self.current
            if doc_id not in self.thumbs or any(t is None for t in self.thumbs[doc_id]):
                self._fetch_thumbs(doc_id)

    @on(KioskEvent)
    def _bridge_event(self, message: KioskEvent) -> None:
        data = message.data if isinstance(message.data, dict) else {}
        event = message.event
        if event in ("scan.page", "scan.progress") and self.scanning:
            if data.get("device") != self._device():
                return
            if event == "scan.page":
                image = decode(base64.b64decode(data["thumbnail"]))
                sheet = self.scans.page(int(data["sheet"]) if "sheet" in data else None, image)
                if sheet is None:
                    return
                self._show_pages()
                self._progress(sheet, 0.0)
            else:
                sheet = int(data.get("sheet", 1))
                self._progress(sheet - 1, float(data.get("fraction") or 0.0))
        elif event == "print.job" and data.get("job") == self.job:
            self.query_one(PrintBar).job(cast(PrintJob, data))  # checked by the client

    def _progress(self, done: int, fraction: float) -> None:
        total = self.scans.total(done, fraction)
        bar = self.query_one(ScanBar)
        bar.progress(min(total, done + fraction), total)
        bar.say(_("{done} of {total} pages scanned").format(done=done, total=total), "info")

    # ------------------------------------------------------------------- scanning
    def _device(self) -> str | None:
        scanners = self.link.state.scanners
        return str(scanners[0]["device"]) if scanners else None

    def on_key(self, event: events.Key) -> None:
        """Digits no field took set the feeder's page count: 3 then F6 scans 3 pages."""
        character = event.character
        if character is not None and character.isascii() and character.isdigit():
            event.stop()
            self.query_one(ScanBar).type_pages(character)

    def action_scan(self) -> None:
        """F6: scan a new document (or, after a retryable error, continue the kept one)."""
        self._start_scan(self.scans.f6_document())

    def action_add_pages(self) -> None:
        if self.current is not None:
            self._start_scan(self.current)

    @on(ScanBar.Requested)
    def _scan_requested(self, message: ScanBar.Requested) -> None:
        self._start_scan(self.scans.f6_document() if message.retry else None)

    def _scan_params(self, append_to: str | None) -> dict[str, Any] | None:
        device = self._device()
        if device is None:
            self.query_one(ScanBar).error(
                _("No scanner on this kiosk. Check it is switched on and plugged in.")
                if self.link.state.online
                else bridge_message(_unreachable())
            )
            return None
        params: dict[str, Any] = {"device": device, **self.query_one(ScanBar).settings()}
        if append_to:
            params["document"] = append_to
        if self.link.kiosk.scan_options:
            params["options"] = dict(self.link.kiosk.scan_options)
        return params

    def _start_scan(self, append_to: str | None, *, replace_page: int | None = None) -> None:
        if self.scanning:
            self.notify(_("A scan is already running on this kiosk."), severity="warning")
            return
        params = self._scan_params(append_to)
        if params is None:
            return
        if replace_page is not None:
            params.update(source="flatbed", max_pages=1)
        elif params["source"] == "adf":  # the next visitor's panel opens with it
            self.services.documents.scan_pages = int(params["max_pages"])
        self.scans.start(append_to, int(params["max_pages"]))
        self.query_one(ScanBar).error(None)
        self._show_pages()
        self._progress(0, 0.0)
        self._scan(params, append_to, replace_page)

    @work(exclusive=True, group="scan", exit_on_error=False)
    async def _scan(
        self, params: dict[str, Any], append_to: str | None, replace_page: int | None
    ) -> None:
        kiosk = self.link.kiosk.id
        result: ScanResult | None = None
        failure: BridgeError | None = None
        try:
            result = await self.link.request("scanner.scan", params, timeout=SCAN_TIMEOUT)
        except BridgeError as err:
            failure = err
        live = self.scans.live
        try:  # still 'scanning' until the document is recorded: F6 cannot start another
            await self._finish_scan(result, failure, live, append_to, replace_page, kiosk)
        finally:
            self.scans.recorded()
        self._show_docs()

    async def _finish_scan(
        self,
        result: ScanResult | None,
        failure: BridgeError | None,
        live: list[Image.Image | None],
        append_to: str | None,
        replace_page: int | None,
        kiosk: str,
    ) -> None:
        doc_info = result["document"] if result else None
        kept_id = None
        if failure is not None:
            kept_id = (failure.details or {}).get("document")
            if kept_id:
                try:
                    meta = await self.link.request("documents.get", {"document": kept_id})
                    doc_info = meta["document"]
                except BridgeError:
                    doc_info = None
        if doc_info is not None:
            await self._record_scan(doc_info, append_to, live, kiosk)
            if replace_page is not None and failure is None:
                await self._put_rescanned(doc_info, replace_page)
        if failure is not None:
            kept = (failure.details or {}).get("pages_kept", 0)
            self.scans.failed(kept_id, failure.retryable)
            text = bridge_message(failure)
            if kept_id:
                text += " " + _("Pages already scanned are kept.")
                if kept:
                    text += " " + ngettext("({n} new)", "({n} new)", kept).format(n=kept)
            if failure.retryable:
                text += " " + _("F6 to try again.")
            bar = self.query_one(ScanBar)
            bar.error(text)
            bar.say(_("Scan stopped."), "error")
        else:
            self.scans.succeeded()
            added = int(result.get("pages_added", 0)) if result else 0
            bar = self.query_one(ScanBar)
            if result and result.get("cancelled"):
                bar.say(
                    ngettext(
                        "Scan stopped: {n} page kept.", "Scan stopped: {n} pages kept.", added
                    ).format(n=added),
                    "warn",
                )
            else:
                bar.say(
                    ngettext("{n} page scanned.", "{n} pages scanned.", added).format(n=added),
                    "ok",
                )
            bar.progress(max(1, added), max(1, added))

    async def _record_scan(
        self,
        info: DocumentInfo,
        append_to: str | None,
        live: list[Image.Image | None],
        kiosk: str,
    ) -> None:
        doc_id = str(info["id"])
        existing = self.doc(doc_id)
        before = list(self.thumbs.get(doc_id) or [])
        if existing is None:
            doc_type = self.query_one(DocumentOptions).doc_type()
            trace = await asyncio.to_thread(
                self.doc_log.captured, self.visit.id, kiosk, info, doc_type
            )
            self.docs.append(trace)
        else:
            await self._write(
                doc_id, self.doc_log.updated, pages=int(info["pages"]), sha256=str(info["sha256"])
            )
        # The live thumbnails become the document's (appended after its earlier pages).
        base = len(before) if append_to else 0
        images = before[:base] + list(live)
        images += [None] * (int(info["pages"]) - len(images))
        self.thumbs[doc_id] = images[: int(info["pages"])]
        self.current = doc_id

    # ------------------------------------------------------------------- page edits
    def _selected_page(self) -> int:
        return self.query_one(PageStrip).selected

    def _order(self) -> list[dict[str, int]]:
        doc = self.doc(self.current)
        return [{"page": i, "rotate": 0} for i in range(1, (doc.pages if doc else 0) + 1)]

    def action_delete_page(self) -> None:
        doc = self.doc(self.current)
        if doc is None or self.scanning:
            return
        if doc.pages <= 1:
            self.action_delete_document()
            return
        page = self._selected_page()
        order = [o for o in self._order() if o["page"] != page]
        self._edit(order, _("Page {n} deleted.").format(n=page))

    def action_rotate_page(self) -> None:
        if self.doc(self.current) is None or self.scanning:
            return
        page = self._selected_page()
        order = self._order()
        order[page - 1]["rotate"] = 90
        self._edit(order, _("Page {n} rotated.").format(n=page), focus=page)

    def action_move_page(self, step: int) -> None:
        if self.doc(self.current) is None or self.scanning:
            return
        page = self._selected_page()
        target = page + step
        order = self._order()
        if not 1 <= target <= len(order):
            return
        order[page - 1], order[target - 1] = order[target - 1], order[page - 1]
        self._edit(order, _("Page {n} moved.").format(n=page), focus=target)

    def action_rescan_page(self) -> None:
        if self.doc(self.current) is None:
            return
        self._start_scan(self.current, replace_page=self._selected_page())

    async def _put_rescanned(self, info: DocumentInfo, page: int) -> None:
        """The new page was appended last: move it in place of `page`, drop the old one."""
        last = int(info["pages"])
        order = [{"page": i, "rotate": 0} for i in range(1, last)]
        order[page - 1] = {"page": last, "rotate": 0}
        await self._apply_edit(order, _("Page {n} scanned again.").format(n=page), page)

    @work(exclusive=True, group="edit", exit_on_error=False)
    async def _edit(self, order: list[dict[str, int]], done: str, focus: int | None = None) -> None:
        await self._apply_edit(order, done, focus)

    async def _apply_edit(self, order: list[dict[str, int]], done: str, focus: int | None) -> None:
        doc = self.doc(self.current)
        if doc is None:
            return
        try:
            reply = await self._link_for(doc).request(
                "documents.edit", {"document": doc.id, "pages": order}
            )
        except BridgeError as err:
            self.notify(bridge_message(err), severity="error", timeout=10)
            return
        info = reply["document"]
        old = list(self.thumbs.get(doc.id) or [])
        images: list[Image.Image | None] = []
        for item in order:
            src = old[item["page"] - 1] if item["page"] - 1 < len(old) else None
            if src is not None and item["rotate"]:
                src = src.rotate(-item["rotate"], expand=True)
            images.append(src)
        self.thumbs[doc.id] = images
        await self._write(
            doc.id, self.doc_log.updated, pages=int(info["pages"]), sha256=str(info["sha256"])
        )
        if focus is not None:
            self.query_one(PageStrip).selected = focus
        self._show_docs()
        self.notify(done)

    def action_delete_document(self) -> None:
        doc = self.doc(self.current)
        if doc is None or self.scanning:
            return

        def answered(yes: bool | None) -> None:
            if yes:
                self._delete_document(doc)

        self.app.push_screen(
            ConfirmDialog(
                _("Delete this document ({type}, {n} p.) from the kiosk?").format(
                    type=type_label(doc.type), n=doc.pages
                ),
                _("Delete"),
            ),
            callback=answered,
        )

    @work(group="edit", exit_on_error=False)
    async def _delete_document(self, doc: DocTrace) -> None:
        try:
            await self._link_for(doc).request("documents.delete", {"document": doc.id})
        except BridgeError as err:
            if err.code != "document_not_found":
                self.notify(bridge_message(err), severity="error", timeout=10)
                return
        await asyncio.to_thread(self.doc_log.purged, doc, PURGED_BY_STAFF)
        self.docs = [d for d in self.docs if d.id != doc.id]
        self.thumbs.pop(doc.id, None)
        self.current = None
        self._show_docs()
        self.notify(_("Document deleted from the kiosk."))

    # ------------------------------------------------------------------- type, consent
    @on(OptionList.OptionHighlighted, "#doc-list")
    def _highlighted(self, event: OptionList.OptionHighlighted) -> None:
        if event.option.id and event.option.id != self.current:
            self._select(event.option.id)

    @on(DocumentOptions.TypeChosen)
    def _type_chosen(self, message: DocumentOptions.TypeChosen) -> None:
        doc = self.doc(self.current)
        if doc is not None and message.doc_type != doc.type:
            self._update(doc, type=message.doc_type)

    @on(DocumentOptions.ConsentChosen)
    def _consent_chosen(self, message: DocumentOptions.ConsentChosen) -> None:
        doc = self.doc(self.current)
        if doc is not None and message.consent != doc.consent:
            self._update(doc, consent=message.consent)

    @work(group="edit", exit_on_error=False)
    async def _update(self, doc: DocTrace, **changes: Any) -> None:
        trace = await self._write(doc.id, self.doc_log.updated, **changes)
        if trace is None:
            return
        index = next((i for i, d in enumerate(self.docs) if d.id == doc.id), None)
        if index is not None:
            self.query_one(DocumentList).update_line(
                trace, trace.id in self.missing, self.uploads.get(trace.id), self._tz
            )
        if changes.get("consent") is False and trace.id in self.uploads:
            self._load()  # an upload on its way stopped: its line says so

    # ------------------------------------------------------------------- sending
    def action_send(self) -> None:
        """F9: send the selected scan to the agent through the hub (with the visitor's
        consent; the rule and its words are core's). The sync worker does the sending; the
        line shows each step."""
        doc = self.doc(self.current)
        bar = self.query_one(PrintBar)
        if doc is None:
            bar.say(_("Pick a scanned document to send to the agent."), "warn")
            return
        try:
            require_consent(doc)
        except PvpError as err:
            bar.say(str(err), "warn")
            return
        bar.say(_("Preparing the document for the agent…"), "info", retry=False)
        self._send(doc)

    @work(group="send", exit_on_error=False)
    async def _send(self, doc: DocTrace) -> None:
        bar = self.query_one(PrintBar)
        try:
            await queue_for_agent(self.doc_log, self._link_for(doc), doc)
        except PvpError as err:
            bar.say(str(err), "warn")
            return
        except BridgeError as err:
            bar.say(bridge_message(err), "error")
            return
        bar.say(_("Queued for the agent: it leaves with the next exchange with the hub."), "info")
        self.reload()

    # ------------------------------------------------------------------- printing
    def hub_doc(self, line_id: str | None) -> hub_documents.HubDocument | None:
        if line_id is None or not line_id.startswith(HUB_PREFIX):
            return None
        return next((h for h in self.hub_docs if HUB_PREFIX + h.id == line_id), None)

    def action_print(self) -> None:
        doc = self.doc(self.current)
        hub_doc = self.hub_doc(self.current)
        bar = self.query_one(PrintBar)
        if hub_doc is not None and not hub_doc.printable:
            bar.say(_("This document is no longer here: ask the agent to send it again."), "warn")
            return
        if doc is None and hub_doc is None:
            bar.say(_("Scan or pick a document first."), "warn")
            return
        printer = bar.printer()
        if printer is None:
            bar.say(
                _("No printer on this kiosk. Check CUPS on the kiosk, then F7.")
                if self.link.state.online
                else bridge_message(_unreachable()),
                "error",
                retry=True,
            )
            return
        copies, duplex = bar.copies(), bar.duplex()
        bar.say(_("Sending to {printer}…").format(printer=printer), "info", retry=False)
        self._sending += 1
        self._sent.clear()
        if hub_doc is not None:
            self._print_hub(hub_doc, printer, copies, duplex)
            return
        assert doc is not None
        self._print(doc, printer, copies, duplex)

    @on(PrintBar.Requested)
    def _print_requested(self) -> None:
        self.action_print()

    @work(group="print", exit_on_error=False)
    async def _print(self, doc: DocTrace, printer: str, copies: int, duplex: bool) -> None:
        try:
            await self._send_print(doc, printer, copies, duplex)
        finally:
            self._sending -= 1
            if not self._sending:
                self._sent.set()

    @work(group="print", exit_on_error=False)
    async def _print_hub(
        self, hub_doc: hub_documents.HubDocument, printer: str, copies: int, duplex: bool
    ) -> None:
        """An agent's document: to the kiosk's spool (documents.put), recorded on the visit
        as the kiosk's document (so it leaves the kiosk with the others), then printed as
        any other; the hub hears `printed` or `print_failed` (the bridge's code)."""
        try:
            store = self.services.desk.store
            data = await asyncio.to_thread(hub_documents.content, store, hub_doc.id)
            if data is None:
                self.query_one(PrintBar).say(
                    _("This document is no longer here: ask the agent to send it again."), "warn"
                )
                return
            link = self.link
            try:
                info = await link.put_document(data)
            except BridgeError as err:
                await asyncio.to_thread(
                    hub_documents.mark_print_failed, store, hub_doc.id, err.code
                )
                text = bridge_message(err)
                if err.retryable:
                    text += " " + _("F7 to try again.")
                self.query_one(PrintBar).say(text, "error", retry=True)
                self.reload()
                return
            trace = await asyncio.to_thread(
                self.doc_log.captured,
                self.visit.id,
                link.kiosk.id,
                cast(DocumentInfo, info),
                "other",
            )
            self.docs = [*self.docs, trace]
            await self._send_print(trace, printer, copies, duplex, hub_document=hub_doc.id)
            self.reload()
        finally:
            self._sending -= 1
            if not self._sending:
                self._sent.set()

    async def _send_print(
        self,
        doc: DocTrace,
        printer: str,
        copies: int,
        duplex: bool,
        hub_document: str | None = None,
    ) -> None:
        try:
            reply: PrintSubmitted = await self._link_for(doc).request(
                "printer.print",
                {"document": doc.id, "printer": printer, "copies": copies, "duplex": duplex},
            )
        except BridgeError as err:
            if hub_document is not None:
                store = self.services.desk.store
                await asyncio.to_thread(
                    hub_documents.mark_print_failed, store, hub_document, err.code
                )
            text = bridge_message(err)
            if err.retryable:
                text += " " + _("F7 to try again.")
            self.query_one(PrintBar).say(text, "error", retry=True)
            return
        job = reply["job"]
        self.job = job["job"]
        self.query_one(PrintBar).job(job)
        # The app follows the job to its end, even once this panel is closed.
        order = PrintOrder(self.visit.id, doc.id, printer, copies, duplex, hub_document)
        self.services.documents.watch_print(self._link_for(doc).kiosk.id, job, order)

    def reload(self) -> None:
        """Read the visit's documents again (a print recorded by the app...)."""
        self._load()

    # ------------------------------------------------------------------- leaving
    def action_back(self) -> None:
        """Esc: back to the queue; during a scan, first stop it (pages done are kept)."""
        if self.scanning:
            # Leaving now would drop the scan's reply: its pages would belong to no visit.
            self.notify(_("Stopping the scan; the pages already scanned are kept."))
            self._cancel_scan()
            return
        if not self._sending:
            self.dismiss(None)
            return
        self.accepts_keys = False
        self._leave()

    @work(group="leave", exclusive=True, exit_on_error=False)
    async def _leave(self) -> None:
        """Leave once every print sent has its job (the app then follows it to its end)."""
        try:
            await self._sent.wait()
        finally:
            self.accepts_keys = True
        self.dismiss(None)

    def action_finish(self) -> None:
        """F8: the interview ends with the papers: its outcome is asked over the panel,
        which closes with it (Esc in the question stays here)."""
        if self.scanning:
            self.notify(
                _("A scan is running: wait for its end, or Esc to stop it."), severity="warning"
            )
            return
        self.accepts_keys = False  # the outcome's digit waits for its question
        self._ask_outcome()

    @work(group="leave", exclusive=True, exit_on_error=False)
    async def _ask_outcome(self) -> None:
        desk = self.services.desk
        try:
            await self._sent.wait()  # a print being sent gets its job first
            visit = await asyncio.to_thread(desk.get, self.visit.id)
            desk.check(visit, "finish")
        except PvpError as exc:
            self.accepts_keys = True
            self.notify(exc.message, severity="warning", markup=False)
            return
        except BaseException:
            self.accepts_keys = True
            raise

        def picked(outcome: Outcome | None) -> None:
            if outcome is None:
                return
            self.dismiss(None)
            config = desk.config
            self.services.perform(
                lambda: desk.finish(visit.id, outcome),
                lambda done: sentence(done_words(config, "finish", done)),
            )

        self.app.push_screen(OutcomeDialog(visit.ticket), callback=picked)
        self.accepts_keys = True  # the question is on top: the digit is for it

    @work(group="scan-cancel", exit_on_error=False)
    async def _cancel_scan(self) -> None:
        device = self._device()
        if device is None:
            return
        try:
            await self.link.request("scanner.cancel", {"device": device}, timeout=70)
        except BridgeError as err:
            if err.code != "scan_not_found":  # already over: nothing to stop
                self.notify(bridge_message(err), severity="error", timeout=10)


def open_documents(
    app: App[Any], services: Services, visit: Visit | None, *, print_first: bool = False
) -> None:
    """F6/F7 from the queue or a call: the documents panel of the visitor being served."""
    if visit is None:
        app.notify(_("Select the visitor at the kiosk first (arrow keys or a click)."))
        return
    if not services.kiosks:
        app.notify(
            _(NO_KIOSK),
            severity="warning",
        )
        return
    if visit.status not in (Status.CALLED, Status.IN_SESSION):
        app.notify(
            _("{ticket} is not at the kiosk: call them first (F3).").format(ticket=visit.ticket),
            severity="warning",
        )
        return
    links = list(services.kiosks)
    link = next((ln for ln in links if ln.state.online), links[0])
    screen = DocumentsScreen(services, visit, link)
    app.push_screen(screen)
    if print_first:
        screen.call_after_refresh(lambda: screen.query_one("#print-button").focus())


def _unreachable() -> BridgeError:
    from ....core.kiosks import unreachable

    return unreachable()


__all__ = ["DocumentsScreen", "PageStrip", "Widget", "open_documents"]
