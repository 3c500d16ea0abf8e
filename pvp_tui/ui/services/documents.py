"""How the documents part plugs into the app: kiosk badges, print jobs followed to their
end, and the purge of closed visits' papers. The app owns one `Documents`."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from typing import Any

from textual.message import Message

from kiosk_bridge.shapes import PrintJob

from ...core import hub_documents
from ...core.documents import DocumentLog, purge_closed
from ...core.frontdesk import FrontDesk
from ...core.i18n import _, ngettext
from ...core.kiosks import CONNECTING, OFFLINE, ONLINE, KioskLink, KioskLinks
from ..widgets.badges import BadgeUpdate, Level
from .host import Host

log = logging.getLogger("pvp.ui.documents")


class KiosksChanged(Message):
    """A kiosk's link or device state changed (posted from the kiosk callbacks)."""


class DocumentPrinted(Message):
    """A print job of this visit completed and was recorded, or an agent's document to
    print came for it: its documents panel, if open, reads them again."""

    def __init__(self, visit_id: str) -> None:
        super().__init__()
        self.visit_id = visit_id


@dataclass(frozen=True)
class PrintOrder:
    visit_id: str
    document: str
    printer: str
    copies: int
    duplex: bool
    hub_document: str | None = None  # a document an agent sent: the hub hears the outcome


@dataclass
class PrintWatch:
    """Print jobs followed at the app's level: a job that completes after its panel was
    closed is still recorded (document_printed) on its visit."""

    orders: dict[tuple[str, int], PrintOrder] = field(default_factory=dict)
    finished: dict[tuple[str, int], PrintJob] = field(default_factory=dict)


def badge(link: KioskLink) -> tuple[str, Level]:
    name = link.kiosk.name
    state = link.state
    if state.link == ONLINE:
        trouble = state.device_trouble()
        if trouble:
            return f"{name} : {trouble}", "warn"
        return _("{kiosk} ready").format(kiosk=name), "ok"
    if state.link == CONNECTING:
        return _("{kiosk} connecting…").format(kiosk=name), "info"
    if state.link == OFFLINE:
        return _("{kiosk} unreachable").format(kiosk=name), "error"
    return _("{kiosk}: access refused").format(kiosk=name), "error"


class Documents:
    """The app's documents at the kiosks: the log of each visit's papers, their print
    jobs followed to the end, and their deletion from the kiosks once the visit closes.

    It tells the app what changed with messages (`KiosksChanged`, `DocumentPrinted`)."""

    def __init__(self, app: Host, desk: FrontDesk, kiosks: KioskLinks) -> None:
        self.app = app
        self.desk = desk
        self.kiosks = kiosks
        self.log = DocumentLog(desk)
        self._watch: PrintWatch | None = None
        self._purging: bool | None = None  # None: no purge runs; True: once more after it
        self.scan_pages: int | None = None  # the feeder's page count last scanned with
        self._told: set[str] = set()  # documents to print already announced by this app

    def attach(self) -> None:
        """Start the kiosk links on the app's loop (once its first frame is drawn)."""
        self.tell_received()  # documents to print that came while no pvp was open
        links = self.kiosks
        if not links:
            return
        app = self.app
        self._watch = PrintWatch()
        links.on_change(lambda _kiosk: app.post_message(KiosksChanged()))
        links.on_event(self._print_event)
        links.on_connected(lambda _link: self.purge())
        links.start()

    def badges(self) -> list[BadgeUpdate]:
        """One header badge per kiosk: link, then the worst device trouble."""
        return [BadgeUpdate(f"kiosk-{link.kiosk.id}", *badge(link)) for link in self.kiosks]

    # ----------------------------------------------------------------- purge
    def purge(self) -> None:
        """Delete the documents of closed visits from the kiosks (in a worker), and say so.

        Runs never overlap: a purge asked while one runs makes it run once more at its end.
        """
        if not self.kiosks:
            return
        if self._purging is not None:
            self._purging = True
            return
        self._purging = False
        self.app.run_worker(self._purge(), group="doc-purge", exit_on_error=False)

    async def _purge(self) -> None:
        try:
            while True:
                await self._purge_once()
                if not self._purging:
                    break
                self._purging = False
        finally:
            self._purging = None

    async def _purge_once(self) -> None:
        purged = await purge_closed(self.log, self.kiosks)
        by_visit: dict[str, int] = {}
        for doc in purged:
            by_visit[doc.visit_id] = by_visit.get(doc.visit_id, 0) + 1
        for visit_id, count in by_visit.items():
            try:
                ticket = self.desk.get(visit_id).ticket
            except Exception:
                ticket = "?"
            self.app.notify(
                ngettext(
                    "{ticket}: {n} document deleted from the kiosk.",
                    "{ticket}: {n} documents deleted from the kiosk.",
                    count,
                ).format(ticket=ticket, n=count),
                markup=False,
            )

    # ----------------------------------------------------------------- printing
    def watch_print(self, kiosk: str, job: PrintJob, order: PrintOrder) -> None:
        """Record `document_printed` when CUPS completes this job (even if it already has)."""
        watch = self._watch
        if watch is None:
            return
        key = (kiosk, job["job"])
        final = watch.finished.pop(key, None) or (job if job["final"] else None)
        if final is not None:
            self._job_final(final, order)
        else:
            watch.orders[key] = order

    def _print_event(self, kiosk: str, event: str, data: Any) -> None:
        if event != "print.job":
            return
        job: PrintJob = data  # checked by the client (kiosk_bridge.shapes)
        watch = self._watch
        if not job["final"] or watch is None:
            return
        key = (kiosk, job["job"])
        order = watch.orders.pop(key, None)
        if order is None:
            watch.finished[key] = job  # its reply may still be on its way
            if len(watch.finished) > 100:
                watch.finished.pop(next(iter(watch.finished)))
            return
        self._job_final(job, order)

    def _job_final(self, job: PrintJob, order: PrintOrder) -> None:
        if order.hub_document is not None:
            self.app.run_worker(self._record_hub_print(order, job), exit_on_error=False)
        if job["state"] == "completed":
            self.app.run_worker(self._record_printed(order, job["job"]), exit_on_error=False)

    async def _record_hub_print(self, order: PrintOrder, job: PrintJob) -> None:
        """The outcome of an agent's document's print, for the hub (its worker sends it)."""
        assert order.hub_document is not None
        store = self.desk.store
        if job["state"] == "completed":
            await asyncio.to_thread(hub_documents.mark_printed, store, order.hub_document)
        else:
            reason = next(iter(job.get("printer_reasons") or job.get("reasons") or []), "")
            await asyncio.to_thread(
                hub_documents.mark_print_failed,
                store,
                order.hub_document,
                reason.replace("-", "_") or f"job_{job['state']}",
            )
        self.app.post_message(DocumentPrinted(order.visit_id))

    # ----------------------------------------------------------------- from the hub
    def tell_received(self) -> None:
        """A notice on screen for each document an agent sent that waits to be printed
        (once per app; the ticket only, never a name). Reads in a thread."""
        self.app.run_worker(self._tell_received(), group="hub-docs", exit_on_error=False)

    async def _tell_received(self) -> None:
        waiting = await asyncio.to_thread(hub_documents.received, self.desk.store)
        for doc in waiting:
            if doc.id in self._told or doc.state != "received":
                continue
            self._told.add(doc.id)
            self.app.notify(
                _("Document to print received for {ticket} (F6: documents, F7: print).").format(
                    ticket=doc.ticket or "?"
                ),
                severity="warning",
                timeout=30,
                markup=False,
            )
            self.app.post_message(DocumentPrinted(doc.visit_id))  # its open panel lists it

    async def _record_printed(self, order: PrintOrder, job: int) -> None:
        # The visit may have closed, and its papers left the kiosk, while CUPS printed.
        traces = await asyncio.to_thread(self.log.documents, order.visit_id, include_purged=True)
        trace = next((t for t in traces if t.id == order.document), None)
        if trace is None:
            return
        await asyncio.to_thread(
            self.log.printed, trace, order.printer, order.copies, order.duplex, job
        )
        self.app.post_message(DocumentPrinted(order.visit_id))
