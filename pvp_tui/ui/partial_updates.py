"""Send only the changed cells of a partial screen update.

Textual 8.2.8's ChopsUpdate.render_segments crops a changed span on its right side only:
one changed cell in the middle of a table repaints the line from the widget's left edge.
Over SSH on a rural link, the queue's minute tick (the 'waited' column of every waiting
visitor) then costs kilobytes instead of a few hundred bytes. `install()` replaces that
one method with the same code cropping on both sides. Textual is pinned exactly; with any
other version nothing is patched (the app works the same, a little chattier).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import textual
from rich.console import Console
from rich.control import Control
from textual._compositor import ChopsUpdate

PATCHED_FOR = "8.2.8"


def _render_segments(self: ChopsUpdate, console: Console) -> str:
    sequences: list[str] = []
    append = sequences.append
    move_to = Control.move_to
    chops = self.chops
    chop_ends = self.chop_ends
    last_y = self.spans[-1][0]

    for y, x1, x2 in self.spans:
        line = chops[y]
        ends = chop_ends[y]
        for end, (x, strip) in zip(ends, line.items(), strict=False):
            if strip is None:
                continue
            if x > x2 or end <= x1:
                continue
            if x2 > x >= x1 and end <= x2:
                append(move_to(x, y).segment.text)
                append(strip.render(console))
                continue
            start = max(x1 - x, 0)  # the left crop Textual leaves out
            strip = strip.crop(start, min(end, x2) - x)
            append(move_to(x + start, y).segment.text)
            append(strip.render(console))
        if y != last_y:
            append("\n")
    return "".join(sequences)


def textual_version() -> str | None:
    """The installed Textual's version, from its dist-info folder's name.

    That is what `textual.__version__` (importlib.metadata) reads, but importing
    importlib.metadata and its email and csv modules costs 11 ms, a seventh of what pvp's
    start-up adds to a bare Textual app's. None when Textual is not installed that way.
    """
    site = Path(textual.__file__).resolve().parent.parent
    with os.scandir(site) as entries:
        for entry in entries:  # distribution names are normalised: only Textual's is "textual-"
            if entry.name.startswith("textual-") and entry.name.endswith(".dist-info"):
                return entry.name.removeprefix("textual-").removesuffix(".dist-info")
    return None


def install() -> bool:
    """Patch ChopsUpdate for the pinned Textual; True when patched."""
    if textual_version() != PATCHED_FOR:
        return False
    patched: Any = _render_segments
    ChopsUpdate.render_segments = patched  # type: ignore[method-assign]
    return True
