"""Read `tmux capture-pane -e` output back into cells with their colours, to judge how
readable a screen is on a real terminal (256 colours, or the 16 of xterm's palette)."""

from __future__ import annotations

import re
from dataclasses import dataclass

RGB = tuple[int, int, int]

# xterm's default palette for the 16 ANSI colours (what a plain SSH terminal shows).
ANSI16: tuple[RGB, ...] = (
    (0, 0, 0), (205, 0, 0), (0, 205, 0), (205, 205, 0),
    (0, 0, 238), (205, 0, 205), (0, 205, 205), (229, 229, 229),
    (127, 127, 127), (255, 0, 0), (0, 255, 0), (255, 255, 0),
    (92, 92, 255), (255, 0, 255), (0, 255, 255), (255, 255, 255),
)  # fmt: skip
DEFAULT_FG: RGB = ANSI16[7]
DEFAULT_BG: RGB = ANSI16[0]
SGR = re.compile(r"\x1b\[([0-9;:]*)m")


def xterm256(n: int) -> RGB:
    if n < 16:
        return ANSI16[n]
    if n < 232:
        n -= 16
        steps = (0, 95, 135, 175, 215, 255)
        return steps[n // 36], steps[(n // 6) % 6], steps[n % 6]
    grey = 8 + (n - 232) * 10
    return grey, grey, grey


@dataclass(frozen=True)
class Cell:
    char: str
    fg: RGB
    bg: RGB
    row: int
    col: int


@dataclass
class _Pen:
    fg: RGB | None = None
    bg: RGB | None = None
    reverse: bool = False
    bold: bool = False


def _colour(params: list[int], i: int) -> tuple[RGB, int]:
    """Parse 38/48's sub-parameters at params[i] (5;n or 2;r;g;b); return colour, next i."""
    if params[i] == 5:
        return xterm256(params[i + 1]), i + 2
    return (params[i + 1], params[i + 2], params[i + 3]), i + 4


def sgr_codes(text: str) -> list[list[int]]:
    return [
        [int(p or 0) for p in m.group(1).replace(":", ";").split(";")] for m in SGR.finditer(text)
    ]


def cells(captured: str) -> list[Cell]:
    """Every non-blank character of a `capture-pane -e -p` screen, with its colours."""
    out: list[Cell] = []
    for row, line in enumerate(captured.splitlines()):
        pen = _Pen()  # capture-pane -e restates the attributes at each line's start
        col = 0
        pos = 0
        for m in SGR.finditer(line + "\x1b[m"):
            for ch in line[pos : m.start()]:
                if not ch.isspace():
                    fg = pen.fg or DEFAULT_FG
                    bg = pen.bg or DEFAULT_BG
                    if pen.reverse:
                        fg, bg = bg, fg
                    out.append(Cell(ch, fg, bg, row, col))
                col += 1
            pos = m.end()
            params = [int(p or 0) for p in m.group(1).replace(":", ";").split(";")]
            i = 0
            while i < len(params):
                p = params[i]
                i += 1
                if p == 0:
                    pen = _Pen()
                elif p == 1:
                    pen.bold = True
                elif p == 7:
                    pen.reverse = True
                elif p == 27:
                    pen.reverse = False
                elif 30 <= p <= 37:
                    pen.fg = ANSI16[p - 30]
                elif 90 <= p <= 97:
                    pen.fg = ANSI16[p - 90 + 8]
                elif 40 <= p <= 47:
                    pen.bg = ANSI16[p - 40]
                elif 100 <= p <= 107:
                    pen.bg = ANSI16[p - 100 + 8]
                elif p == 39:
                    pen.fg = None
                elif p == 49:
                    pen.bg = None
                elif p in (38, 48):
                    colour, i = _colour(params, i)
                    if p == 38:
                        pen.fg = colour
                    else:
                        pen.bg = colour
    return out


def _luminance(rgb: RGB) -> float:
    def channel(c: int) -> float:
        v = c / 255
        return v / 12.92 if v <= 0.03928 else ((v + 0.055) / 1.055) ** 2.4

    r, g, b = (channel(c) for c in rgb)
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def contrast(a: RGB, b: RGB) -> float:
    """WCAG contrast ratio, 1 (none) to 21 (black on white)."""
    la, lb = sorted((_luminance(a), _luminance(b)), reverse=True)
    return (la + 0.05) / (lb + 0.05)
