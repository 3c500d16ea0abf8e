"""How the documents part plugs into the app: kiosk badges, F6/F7, purge after a visit."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from textual.message import Message

from ...core.documents import DocumentLog, purge_closed
from ...core.i18n import _
from ...core.kiosks import CONNECTING, NO_KIOSK, OFFLINE, ONLINE, KioskLink, KioskLinks
from ...core.models import Status, Visit
from ..widgets.badges import Level

if TYPE_CHECKING:
    from ..app import PvpApp

log = logging.getLogger("pvp.ui.documents")


class KiosksChanged(Message):
    """A kiosk's link or device state changed (posted from the kiosk callbacks)."""


@dataclass(frozen=True)
class PrintOrder:
    visit_id: str
    document: str
    printer: str
    copies: int
    duplex: bool


@dataclass
class PrintWatch:
    """Print jobs followed at the app's level: a job that completes after its panel was
    closed is still recorded (document_printed) on its visit."""

    orders: dict[tuple[str, int], PrintOrder] = field(default_factory=dict)
    finished: dict[tuple[str, int], dict[str, Any]] = field(default_factory=dict)


_watches: dict[int, PrintWatch] = {}


def attach(app: PvpApp) -> None:
    """Start the kiosk links on the app's loop (from on_mount); nothing blocks."""
    links = app.kiosks
    if not links:
        return
    _watches[id(app)] = PrintWatch()
    links.on_change(lambda _kiosk: app.post_message(KiosksChanged()))
    links.on_event(lambda kiosk, event, data: _print_event(app, kiosk, event, data))
    links.on_connected(lambda _link: purge(app))
    links.start()


def update_badges(app: PvpApp) -> None:
    """One header badge per kiosk: link, then the worst device trouble."""
    badges = app.header_badges()
    if badges is None or badges.badge("db") is None:
        return  # the app's first update_badges comes first and calls back here (fixed order)
    for link in app.kiosks:
        text, level = badge(link)
        badges.set_badge(f"kiosk-{link.kiosk.id}", text, level)


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


_purging: dict[int, bool] = {}  # app id -> another purge asked while one runs


def purge(app: PvpApp) -> None:
    """Delete the documents of closed visits from the kiosks (in a worker), and say so.

    Runs never overlap: a purge asked while one runs makes it run once more at its end.
    """
    if not app.kiosks:
        return
    key = id(app)
    if key in _purging:
        _purging[key] = True
        return
    _purging[key] = False
    app.run_worker(_purge(app), group="doc-purge", exit_on_error=False)


async def _purge(app: PvpApp) -> None:
    key = id(app)
    try:
        while True:
            await _purge_once(app)
            if not _purging.get(key):
                break
            _purging[key] = False
    finally:
        _purging.pop(key, None)


async def _purge_once(app: PvpApp) -> None:
    purged = await purge_closed(app.doc_log, app.kiosks)
    by_visit: dict[str, int] = {}
    for doc in purged:
        by_visit[doc.visit_id] = by_visit.get(doc.visit_id, 0) + 1
    for visit_id, count in by_visit.items():
        try:
            ticket = app.desk.get(visit_id).ticket
        except Exception:
            ticket = "?"
        app.notify(
            _("{ticket}: {n} document(s) deleted from the kiosk.").format(ticket=ticket, n=count),
            markup=False,
        )


def open_documents(app: PvpApp, visit: Visit | None, *, print_first: bool = False) -> None:
    """F6/F7 from the queue: the documents panel of the visitor being served."""
    from .screen import DocumentsScreen

    if visit is None:
        app.notify(_("Select the visitor at the kiosk first (arrow keys or a click)."))
        return
    if not app.kiosks:
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
    links = list(app.kiosks)
    link = next((ln for ln in links if ln.state.online), links[0])
    screen = DocumentsScreen(visit, link, log=app.doc_log)
    app.push_screen(screen)
    if print_first:
        screen.call_after_refresh(lambda: screen.query_one("#print-button").focus())


def make_links(app_kiosks: KioskLinks | None, desk_kiosks: object) -> KioskLinks:
    return app_kiosks if app_kiosks is not None else KioskLinks(desk_kiosks)  # type: ignore[arg-type]


__all__ = ["DocumentLog", "KiosksChanged", "attach", "open_documents", "purge", "update_badges"]


def watch_print(app: PvpApp, kiosk: str, job: dict[str, Any], order: PrintOrder) -> None:
    """Record `document_printed` when CUPS completes this job (even if it already has)."""
    watch = _watches.get(id(app))
    if watch is None:
        return
    key = (kiosk, int(job["job"]))
    final = watch.finished.pop(key, None) or (job if job.get("final") else None)
    if final is not None:
        _job_final(app, final, order)
    else:
        watch.orders[key] = order


def _print_event(app: PvpApp, kiosk: str, event: str, data: Any) -> None:
    if event != "print.job" or not isinstance(data, dict) or not data.get("final"):
        return
    watch = _watches.get(id(app))
    if watch is None:
        return
    key = (kiosk, int(data.get("job", 0)))
    order = watch.orders.pop(key, None)
    if order is None:
        watch.finished[key] = data  # its reply may still be on its way
        if len(watch.finished) > 100:
            watch.finished.pop(next(iter(watch.finished)))
        return
    _job_final(app, data, order)


def _job_final(app: PvpApp, job: dict[str, Any], order: PrintOrder) -> None:
    if job.get("state") == "completed":
        app.run_worker(_record_printed(app, order, int(job["job"])), exit_on_error=False)


async def _record_printed(app: PvpApp, order: PrintOrder, job: int) -> None:
    from .screen import DocumentsScreen

    trace = await asyncio.to_thread(app.doc_log.get, order.visit_id, order.document)
    if trace is None:
        return
    await asyncio.to_thread(
        app.doc_log.printed, trace, order.printer, order.copies, order.duplex, job
    )
    for screen in app.screen_stack:
        if isinstance(screen, DocumentsScreen) and screen.visit.id == order.visit_id:
            screen.reload()
