"""What a long-running process holds, in one log line (`kill -USR2 PID`; the week's soak
reads it each night): Python's allocated blocks, the objects the collector tracks and the
most numerous types, and glibc's malloc figures (in use, free but kept), so that growth
can be told apart: Python objects piling up, or freed memory malloc keeps resident.
"malloc in use" also counts the blocks freed into glibc's per-thread caches (tcache: up to
7 blocks of each of 64 sizes up to 1032 bytes, at most 235 KiB a thread), which fill
slowly over days: it may creep by that much with nothing kept (docs/memory.md).

Then a full collection, and the blocks and malloc in use after it: the counts before it
include cyclic garbage that the collector's oldest generation has not reached yet (it runs
when a quarter of the long-lived objects are new: in a quiet process, days apart), which
is no leak; what the collection leaves is what the process keeps. Cheap enough for a
signal (two passes over the collector's objects, no tracemalloc).

To find what holds the memory: with `PVP_TRACEMALLOC` set to a directory, `start_tracing()`
(called by the bridge at start) turns tracemalloc on (`PVP_TRACEMALLOC_FRAMES` frames a
trace, 10 by default) and each census also writes a snapshot there
(`snapshot-PID-NNN.pickle`, read with `tracemalloc.Snapshot.load` and `compare_to`). Off
by default: tracing costs memory and time. A bad setting is a warning, never a process
that does not start."""

from __future__ import annotations

import ctypes
import gc
import itertools
import logging
import os
import sys
import tracemalloc
from collections import Counter

from .memory import arenas

MIB = 1024 * 1024
TRACE_ENV = "PVP_TRACEMALLOC"
FRAMES = 10  # a trace's frames unless PVP_TRACEMALLOC_FRAMES says otherwise
MAX_FRAMES = 65535  # tracemalloc's own bound
log = logging.getLogger("pvp_common.census")
_snapshots = itertools.count(1)


def start_tracing() -> bool:
    """Turn tracemalloc on when `PVP_TRACEMALLOC` names a directory; True when on.

    A diagnostic never stops the process it is for: a frame count that is not a whole
    number from 1 to 65535 is a warning and 10 frames; a directory that cannot be made
    is a warning and no tracing."""
    where = os.environ.get(TRACE_ENV)
    if not where:
        return False
    try:
        os.makedirs(where, exist_ok=True)
    except OSError as exc:
        log.warning("%s: cannot make %s (%s): tracemalloc stays off", TRACE_ENV, where, exc)
        return False
    if not tracemalloc.is_tracing():
        tracemalloc.start(_frames())
    return True


def _frames() -> int:
    name = f"{TRACE_ENV}_FRAMES"
    text = os.environ.get(name, "").strip()
    if not text:
        return FRAMES
    try:
        frames = int(text)
    except ValueError:
        frames = 0
    if not 1 <= frames <= MAX_FRAMES:
        log.warning(
            "%s=%r is not a number of frames from 1 to %d: %d frames a trace",
            name, text, MAX_FRAMES, FRAMES,
        )  # fmt: skip
        return FRAMES
    return frames


def _snapshot() -> str | None:
    """A snapshot in the directory, named with this process's id (a restarted process
    counts from 1 again: the run before keeps its own)."""
    where = os.environ.get(TRACE_ENV)
    if not where or not tracemalloc.is_tracing():
        return None
    path = os.path.join(where, f"snapshot-{os.getpid()}-{next(_snapshots):03d}.pickle")
    tracemalloc.take_snapshot().dump(path)
    return path


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
    malloc arenas K; after a full collection (F freed): blocks N2, malloc in use X2 MiB'."""
    counts = Counter(type(o).__qualname__ for o in gc.get_objects())
    most = ", ".join(f"{name} {n}" for name, n in counts.most_common(top))
    text = f"blocks {sys.getallocatedblocks()}, gc objects {sum(counts.values())} ({most})"
    info = _mallinfo2()
    if info is not None:
        used = (info.uordblks + info.hblkhd) / MIB
        text += f", malloc in use {used:.2f} MiB, free kept {info.fordblks / MIB:.2f} MiB"
    if (count := arenas()) is not None:
        text += f", malloc arenas {count}"
    freed = gc.collect()
    text += f"; after a full collection ({freed} freed): blocks {sys.getallocatedblocks()}"
    if (info := _mallinfo2()) is not None:
        text += f", malloc in use {(info.uordblks + info.hblkhd) / MIB:.2f} MiB"
    if (path := _snapshot()) is not None:
        text += f", tracemalloc snapshot {os.path.basename(path)}"
    return text
