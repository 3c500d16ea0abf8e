"""Page thumbnails in the terminal.

Three ways, chosen once before the app starts (:func:`choose_mode`):

* ``graphics``: textual-image (Kitty graphics protocol or Sixel) where the terminal says
  it can show images (its probe must run before Textual owns the terminal);
* ``halfblock``: two pixels per cell with "▀" and a foreground/background colour — works
  over any SSH client with colours, and is deterministic (snapshots use it);
* ``text``: a framed box with the page number and size, for terminals without colour.

``PVP_IMAGES=graphics|halfblock|text`` forces one. Thumbnails stay in memory only: the
staff PC never writes a page image to disk.
"""

from __future__ import annotations

import io
import os
import sys
from typing import TYPE_CHECKING, Any

from rich.segment import Segment
from rich.style import Style
from textual.strip import Strip
from textual.widget import Widget

from ....core.i18n import _

if TYPE_CHECKING:  # Pillow is imported by the first thumbnail, not by pvp's start-up
    from PIL import Image

MODES = ("graphics", "halfblock", "text")
THUMB_COLS = 14  # cells across a thumbnail
THUMB_ROWS = 9  # cells down (18 half-block pixels)

_mode = "halfblock"
_graphics_widget: Any = None


def choose_mode(environ: dict[str, str] | None = None, *, tty: bool | None = None) -> str:
    """Pick how thumbnails are drawn; call before the app runs (graphics probes the tty)."""
    global _mode, _graphics_widget
    env = os.environ if environ is None else environ
    forced = env.get("PVP_IMAGES", "").strip().lower()
    tty = sys.__stdout__ is not None and sys.__stdout__.isatty() if tty is None else tty
    if forced in MODES:
        mode = forced
    elif env.get("NO_COLOR"):
        mode = "text"
    elif tty and _graphics_terminal(env):
        mode = "graphics"
    else:
        mode = "halfblock"
    if mode == "graphics":
        try:
            from textual_image.widget import Image as GraphicsImage  # probes the terminal

            _graphics_widget = GraphicsImage
        except Exception:  # no probe answer, odd terminal: half blocks always work
            mode = "halfblock"
    _mode = mode
    return mode


def _graphics_terminal(env: Any) -> bool:
    term = env.get("TERM", "")
    return (
        "kitty" in term
        or bool(env.get("KITTY_WINDOW_ID"))
        or env.get("TERM_PROGRAM", "") in ("WezTerm", "iTerm.app", "ghostty")
        or "ghostty" in term
    )


def current_mode() -> str:
    return _mode


def decode(png: bytes) -> Image.Image:
    from PIL import Image

    with Image.open(io.BytesIO(png)) as im:
        return im.convert("RGB")


def halfblock_lines(image: Image.Image, cols: int, rows: int) -> list[Strip]:
    """The image fitted in cols x rows cells, two pixels a cell ("▀": top fg, bottom bg)."""
    w, h = image.size
    scale = min(cols / w, (rows * 2) / h)
    tw, th = max(1, round(w * scale)), max(2, round(h * scale))
    th += th % 2
    from PIL import Image

    small = image.resize((tw, th), Image.Resampling.BOX)
    px = small.load()
    assert px is not None
    pad_left = (cols - tw) // 2
    lines: list[Strip] = []
    blank = Segment(" ")
    for y in range(0, th, 2):
        segs = [blank] * pad_left
        for x in range(tw):
            top = px[x, y]
            bottom = px[x, y + 1] if y + 1 < th else top
            segs.append(Segment("▀", Style(color=_rgb(top), bgcolor=_rgb(bottom))))
        segs.extend([blank] * (cols - tw - pad_left))
        lines.append(Strip(segs, cols))
    while len(lines) < rows:
        lines.append(Strip([Segment(" " * cols)], cols))
    return lines


def _rgb(pixel: Any) -> str:
    r, g, b = pixel[:3]
    return f"rgb({r},{g},{b})"


class DrawnWidget(Widget):
    """A widget drawn line by line from `_draw(cols, rows)`, kept until the size or
    what it shows changes (a subclass sets `self._lines = None` then)."""

    _lines: list[Strip] | None = None
    _drawn_size: tuple[int, int] = (0, 0)

    def render_line(self, y: int) -> Strip:
        cols, rows = self.content_size.width, self.content_size.height
        if self._lines is None or self._drawn_size != (cols, rows):
            self._lines, self._drawn_size = self._draw(cols, rows), (cols, rows)
        return self._lines[y] if y < len(self._lines) else Strip.blank(cols)

    def _draw(self, cols: int, rows: int) -> list[Strip]:
        raise NotImplementedError


class PageThumb(DrawnWidget):
    """One page: its picture (or a text box) and its number underneath."""

    DEFAULT_CSS = """
    PageThumb {
        width: 16;
        height: 100%;
        max-height: 14;
        border: round $panel-lighten-2;
        padding: 0;
    }
    PageThumb.-selected {
        border: heavy $accent;
    }
    """

    def __init__(self, page: int, image: Image.Image | None, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.page = page
        self.image = image
        self._lines: list[Strip] | None = None
        self.border_subtitle = _("p. {n}").format(n=page)

    def compose(self) -> Any:
        widget = graphics_widget()
        if widget is not None and self.image is not None:
            yield widget(self.image)

    def set_page(self, page: int, image: Image.Image | None) -> None:
        self.page, self.image, self._lines = page, image, None
        self.border_subtitle = _("p. {n}").format(n=page)
        self.refresh()

    def _draw(self, cols: int, rows: int) -> list[Strip]:
        if cols <= 0 or rows <= 0:
            return []
        if self.image is None:
            return _text_box([_("loading…")], cols, rows)
        if graphics_widget() is not None:
            return [Strip.blank(cols) for _ in range(rows)]
        if _mode == "text" or self.app.console.color_system is None:
            w, h = self.image.size
            return _text_box(
                [_("page {n}").format(n=self.page), f"{w}×{h}", _("landscape") if w > h else ""],
                cols,
                rows,
            )
        return halfblock_lines(self.image, cols, rows)


def _text_box(texts: list[str], cols: int, rows: int) -> list[Strip]:
    lines = [Strip.blank(cols) for _ in range(rows)]
    start = max(0, (rows - len(texts)) // 2)
    for i, text in enumerate(texts):
        if start + i < rows and text:
            lines[start + i] = Strip([Segment(text[:cols].center(cols))], cols)
    return lines


def graphics_widget() -> Any:
    """textual-image's widget class when the graphics mode is on, else None."""
    return _graphics_widget if _mode == "graphics" else None
