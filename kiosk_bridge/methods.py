"""The bridge's own methods: hello, health, scanner, documents, printer.

Each handler gets a :class:`~kiosk_bridge.protocol.CallContext` and params already
checked against its schema; see docs/bridge-protocol.md for the wire format.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import math
import shutil
from typing import Any

from kiosk_bridge import __version__
from kiosk_bridge.errors import BridgeError
from kiosk_bridge.protocol import (
    PROTOCOL_VERSION,
    BinaryResult,
    Bool,
    CallContext,
    Int,
    List,
    Obj,
    Str,
)
from kiosk_bridge.spool import DOC_ID, UPLOAD_ID

SHA256 = r"[0-9a-f]{64}"
# Additions to protocol 1, listed by hello (docs/bridge-protocol.md, "Features"):
# binary_chunks: documents.get with "binary": true answers a chunk in one binary frame.
# visio_guest: session.start takes room_kind ("visio-guest": the ticket typed in the lobby).
FEATURES = ("binary_chunks", "visio_guest")
EVENTS = (
    "scan.progress",
    "scan.page",
    "scan.done",
    "scan.failed",
    "print.job",
    "health",
    "documents.expired",
)


def _b64(data: str, limit: int) -> bytes:
    if len(data) > limit * 4 // 3 + 8:
        raise BridgeError("bad_params", detail=f"'data' is larger than {limit} bytes")
    try:
        return base64.b64decode(data, validate=True)
    except (binascii.Error, ValueError):
        raise BridgeError("bad_params", detail="'data' is not valid base64") from None


def setup(bridge: Any) -> None:
    reg = bridge.registry
    spool = bridge.spool
    for event in EVENTS:
        reg.event(event)

    # -- hello / health --------------------------------------------------------------------
    @reg.method("hello", {"client": Str(default=None, max_len=80), "protocol": Int(default=1)})
    async def hello(call: CallContext, p: dict[str, Any]) -> Any:
        """Say who we are: versions, methods, events and limits."""
        return {
            "server": "pvp-bridge",
            "version": __version__,
            "protocol": PROTOCOL_VERSION,
            # Additions to protocol 1 a client may use when listed (older bridges: absent).
            "features": list(FEATURES),
            "methods": sorted(reg.methods),
            "events": list(reg.events),
            "limits": {
                "max_message": bridge.config.max_message,
                "chunk_size": spool.chunk_size,
                "max_document": spool.max_document_bytes,
                "max_in_flight": bridge.config.max_in_flight,
                "max_unread": bridge.config.max_unread,
            },
        }

    @reg.method("health.get")
    async def health_get(call: CallContext, p: dict[str, Any]) -> Any:
        """Version, uptime, free spool disk, scanner and printer status."""
        return await bridge.health()

    # -- scanner -------------------------------------------------------------------------------
    @reg.method("scanner.list")
    async def scanner_list(call: CallContext, p: dict[str, Any]) -> Any:
        """Scanners with their sources, modes and resolutions."""
        return {"scanners": await bridge.scanner.list_devices()}

    @reg.method(
        "scanner.scan",
        {
            "device": Str(max_len=200, min_len=1),
            "source": Str(choices=("flatbed", "adf"), default="adf"),
            "mode": Str(choices=("color", "gray"), default="color"),
            "resolution": Int(min=1, max=4800, default=300),
            "max_pages": Int(min=1, max=1000, default=None),
            "document": Str(pattern=DOC_ID, default=None),
            "options": Obj(default=None, max_keys=32),
        },
    )
    async def scanner_scan(call: CallContext, p: dict[str, Any]) -> Any:
        """Scan sheets into a new document, or append them to ``document``."""
        return await bridge.scanner.scan(p)

    @reg.method(
        "scanner.cancel",
        {"scan": Str(default=None, max_len=64), "device": Str(default=None, max_len=200)},
    )
    async def scanner_cancel(call: CallContext, p: dict[str, Any]) -> Any:
        """Stop a scan; replies once it has stopped, with the number of pages kept."""
        if not p["scan"] and not p["device"]:
            raise BridgeError("bad_params", detail="give 'scan' or 'device'")
        job = await bridge.scanner.cancel(p["scan"], p["device"])
        return {"scan": job.id, "device": job.device, "cancelled": True, "pages_kept": job.scanned}

    # -- documents ------------------------------------------------------------------------------
    @reg.method("documents.list")
    async def documents_list(call: CallContext, p: dict[str, Any]) -> Any:
        """Documents in the spool, oldest first."""
        docs = await asyncio.to_thread(spool.list_documents)
        return {"documents": [d.public() for d in docs]}

    # Chunk reads share two threads: a flood of them would starve the event loop of the GIL.
    reads = asyncio.Semaphore(2)

    @reg.method(
        "documents.get",
        {
            "document": Str(pattern=DOC_ID),
            "offset": Int(min=0, default=None),
            "length": Int(min=1, default=None),
            "thumbnail": Int(min=1, default=None),
            "binary": Bool(default=False),
        },
    )
    async def documents_get(call: CallContext, p: dict[str, Any]) -> Any:
        """Metadata + transfer plan; with ``offset``, one chunk; with ``thumbnail``, one PNG."""
        doc_id = p["document"]
        if p["thumbnail"] is not None:
            data = await asyncio.to_thread(spool.thumbnail, doc_id, p["thumbnail"])
            return {
                "document": doc_id,
                "page": p["thumbnail"],
                "type": "image/png",
                "data": base64.b64encode(data).decode(),
            }
        if p["offset"] is None:
            doc = await asyncio.to_thread(spool.get, doc_id)
            return {
                "document": doc.public(),
                "size": doc.size,
                "sha256": doc.sha256,
                "chunk_size": spool.chunk_size,
                "chunks": max(1, math.ceil(doc.size / spool.chunk_size)),
            }
        length = min(p["length"] or spool.chunk_size, spool.chunk_size)
        async with reads:
            doc, data = await asyncio.to_thread(spool.read_chunk, doc_id, p["offset"], length)
        reply = {
            "document": doc_id,
            "offset": p["offset"],
            "length": len(data),
            "eof": p["offset"] + len(data) >= doc.size,
            "sha256": doc.sha256,
        }
        if p["binary"]:  # the bytes raw, after the reply's JSON, in one binary frame
            return BinaryResult(reply, data)
        return reply | {"data": base64.b64encode(data).decode()}

    @reg.method(
        "documents.put",
        {
            "data": Str(default=None, max_len=bridge.config.max_message),
            "size": Int(min=1, default=None),
            "sha256": Str(pattern=SHA256, default=None),
            "upload": Str(pattern=UPLOAD_ID, default=None),
            "offset": Int(min=0, default=None),
        },
    )
    async def documents_put(call: CallContext, p: dict[str, Any]) -> Any:
        """Receive a PDF/PNG: in one frame (small), or begin + chunks (large)."""
        chunk = spool.chunk_size
        if p["upload"] is not None:
            if p["data"] is None or p["offset"] is None:
                raise BridgeError("bad_params", detail="a chunk needs 'upload', 'offset', 'data'")
            data = _b64(p["data"], chunk)
            received, size, doc = await asyncio.to_thread(
                spool.upload_chunk, p["upload"], p["offset"], data
            )
            out: dict[str, Any] = {"upload": p["upload"], "received": received, "size": size}
            if doc is not None:
                out["document"] = doc.public()
            return out
        if p["size"] is not None:
            if p["sha256"] is None or p["data"] is not None:
                raise BridgeError("bad_params", detail="begin an upload with 'size' and 'sha256'")
            upload = await asyncio.to_thread(spool.upload_begin, p["size"], p["sha256"])
            return {"upload": upload, "chunk_size": chunk, "offset": 0}
        if p["data"] is None:
            raise BridgeError("bad_params", detail="give 'data', or 'size' and 'sha256'")
        data = _b64(p["data"], chunk)
        doc = await asyncio.to_thread(spool.put_bytes, data, p["sha256"])
        return {"document": doc.public()}

    @reg.method(
        "documents.edit",
        {"document": Str(pattern=DOC_ID), "pages": List(max_items=1000)},
    )
    async def documents_edit(call: CallContext, p: dict[str, Any]) -> Any:
        """Reorder, rotate or drop pages of a scan: ``pages`` = [{page, rotate}] in order."""
        order: list[tuple[int, int]] = []
        for item in p["pages"]:
            if not isinstance(item, dict) or not isinstance(item.get("page"), int):
                raise BridgeError("bad_params", detail="each page is {'page': N, 'rotate': 0}")
            rotate = item.get("rotate", 0)
            if not isinstance(rotate, int) or isinstance(rotate, bool):
                raise BridgeError("bad_params", detail="'rotate' is 0, 90, 180 or 270")
            order.append((item["page"], rotate))
        doc = await asyncio.to_thread(spool.edit_pages, p["document"], order)
        return {"document": doc.public()}

    @reg.method("documents.delete", {"document": Str(pattern=DOC_ID)})
    async def documents_delete(call: CallContext, p: dict[str, Any]) -> Any:
        """Delete a document and its thumbnails from the disk."""
        if not await asyncio.to_thread(spool.delete, p["document"]):
            raise BridgeError("document_not_found", document=p["document"])
        bridge.poke_health()
        return {"document": p["document"], "deleted": True}

    # -- printer ---------------------------------------------------------------------------------
    @reg.method("printer.list")
    async def printer_list(call: CallContext, p: dict[str, Any]) -> Any:
        """CUPS queues with state and reasons in plain words."""
        return {"printers": await bridge.printer.list_printers()}

    @reg.method(
        "printer.print",
        {
            "document": Str(pattern=DOC_ID),
            "printer": Str(min_len=1, max_len=127),
            "copies": Int(min=1, max=99, default=1),
            "duplex": Bool(default=False),
        },
    )
    async def printer_print(call: CallContext, p: dict[str, Any]) -> Any:
        """Print a spool document; ``print.job`` events follow the job."""
        doc = await asyncio.to_thread(spool.get, p["document"])
        work = await asyncio.to_thread(spool.work_dir)
        try:
            job = await bridge.printer.print_file(
                spool.file_path(doc), doc.id, p["printer"], p["copies"], p["duplex"], work
            )
        finally:
            await asyncio.to_thread(shutil.rmtree, work, True)
        return {"job": job.public()}

    @reg.method("printer.cancel", {"job": Int(min=1)})
    async def printer_cancel(call: CallContext, p: dict[str, Any]) -> Any:
        """Cancel a print job the bridge submitted."""
        job = await bridge.printer.cancel(p["job"])
        return {"job": job.public()}

    @reg.method(
        "printer.jobs",
        {"printer": Str(default=None, max_len=127), "active_only": Bool(default=False)},
    )
    async def printer_jobs(call: CallContext, p: dict[str, Any]) -> Any:
        """Jobs the bridge submitted (kept for a day), with their current CUPS state."""
        jobs = await bridge.printer.jobs(p["printer"], p["active_only"])
        return {"jobs": [j.public() for j in jobs]}
