"""What a long-running process holds, in one log line (`kill -USR2 PID`; the week's soak
reads it each night): Python's allocated blocks, the objects the collector tracks and the
most numerous types, and glibc's malloc figures (in use, free but kept), so that growth
can be told apart: Python objects piling up, or freed memory malloc keeps resident.

Cheap enough for a signal (one pass over the collector's objects, no tracemalloc)."""

from __future__ import annotations

import ctypes
import gc
import sys
from collections import Counter

from .memory import arenas

MIB = 1024 * 1024


class _Mallinfo2(ctypes.Structure):
    _fields_ = [
        (name, ctypes.c_size_t)
        for name in (
            "arena",
            "ordblks",
            "smblks",
            "hblks",
            "hblkhd",
            "usmblks",
            "fsmblks",
            "uordblks",
            "fordblks",
            "keepcost",
        )
    ]


def _mallinfo2() -> _Mallinfo2 | None:
    if not sys.platform.startswith("linux"):
        return None
    try:
        fn = ctypes.CDLL(None).mallinfo2  # glibc >= 2.33
    except (OSError, AttributeError):
        return None
    fn.restype = _Mallinfo2
    info: _Mallinfo2 = fn()
    return info


def census(top: int = 12) -> str:
    """'blocks N, gc objects M (type n, ...), malloc in use X MiB, free kept Y MiB,
    malloc arenas K'."""
    counts = Counter(type(o).__qualname__ for o in gc.get_objects())
    most = ", ".join(f"{name} {n}" for name, n in counts.most_common(top))
    text = f"blocks {sys.getallocatedblocks()}, gc objects {sum(counts.values())} ({most})"
    info = _mallinfo2()
    if info is not None:
        used = (info.uordblks + info.hblkhd) / MIB
        text += f", malloc in use {used:.1f} MiB, free kept {info.fordblks / MIB:.1f} MiB"
    if (count := arenas()) is not None:
        text += f", malloc arenas {count}"
    return text
