"""The client's side of the bridge tests and benchmarks: the events a client collects,
small documents to send, an ordinary scan printed then deleted, a process's memory."""

from __future__ import annotations

import asyncio
import io
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

# A feeder load as a visitor brings it: 10 sheets, colour, 300 dpi (the test backend's
# 200x200 mm area: 2362x2362 pixels, 16 MB a page).
FEEDER_SCAN = {
    "device": "test:0",
    "source": "adf",
    "mode": "color",
    "resolution": 300,
    "options": {"test_picture": "Color pattern"},
}


class Events:
    """Collects a client's events; ``wait`` polls for a matching one."""

    def __init__(self) -> None:
        self.items: list[tuple[str, Any]] = []

    def __call__(self, event: str, data: Any) -> None:
        self.items.append((event, data))

    def of(self, name: str, **match: Any) -> list[Any]:
        return [
            d
            for e, d in self.items
            if e == name and all(isinstance(d, dict) and d.get(k) == v for k, v in match.items())
        ]

    async def wait(self, name: str, timeout: float = 15.0, **match: Any) -> Any:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = self.of(name, **match)
            if found:
                return found[-1]
            await asyncio.sleep(0.02)
        raise AssertionError(f"no {name} event matching {match} in {timeout} s")

    async def wait_for(self, name: str, pred: Callable[[Any], bool], timeout: float = 15.0) -> Any:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for d in self.of(name):
                if pred(d):
                    return d
            await asyncio.sleep(0.02)
        raise AssertionError(f"no {name} event matching the predicate in {timeout} s")


def small_pdf(color: str = "red", size: tuple[int, int] = (60, 80)) -> bytes:
    import img2pdf
    from PIL import Image

    buf = io.BytesIO()
    Image.new("RGB", size, color).save(buf, "PNG")
    return bytes(img2pdf.convert(buf.getvalue()))


def small_png(color: str = "blue") -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    Image.new("RGB", (30, 20), color).save(buf, "PNG")
    return buf.getvalue()


async def scan_print_delete(client: Any, events: Events, printer: str | None) -> int:
    """Scan a feeder load, print it on `printer` (None: no print), wait for the job to
    end, delete the document; returns the pages scanned."""
    scan = await client.request("scanner.scan", FEEDER_SCAN, timeout=300)
    doc = scan["document"]["id"]
    if printer is not None:
        job = await client.request("printer.print", {"document": doc, "printer": printer})
        await events.wait("print.job", timeout=60, job=job["job"]["job"], final=True)
    await client.request("documents.delete", {"document": doc})
    return int(scan["pages_added"])


def rss_mib(pid: int) -> float:
    """A process's resident memory (VmRSS), in MiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise LookupError(f"no VmRSS for process {pid}")
