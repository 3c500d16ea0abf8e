"""Send only the changed cells of a partial screen update.

Textual 8.2.8's ChopsUpdate.render_segments crops a changed span on its right side only:
one changed cell in the middle of a table repaints the line from the widget's left edge.
Over SSH on a rural link, the queue's minute tick (the 'waited' column of every waiting
visitor) then costs kilobytes instead of a few hundred bytes. `install()` replaces that
one method with the same code cropping on both sides. Textual is pinned exactly; with any
other version nothing is patched (the app works the same, a little chattier).
"""

from __future__ import annotations

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


def install() -> bool:
    """Patch ChopsUpdate for the pinned Textual; True when patched."""
    if textual.__version__ != PATCHED_FOR:
        return False
    patched: Any = _render_segments
    ChopsUpdate.render_segments = patched  # type: ignore[method-assign]
    return True
