"""The client's side of the bridge tests and benchmarks: the events a client collects,
and small documents to send."""

from __future__ import annotations

import asyncio
import io
import time
from collections.abc import Callable
from typing import Any


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
