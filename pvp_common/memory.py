"""glibc's malloc for processes that stay up for weeks (the kiosk bridge, the desk app).

Every thread that allocates gets a malloc arena of its own (up to 8 per core), and
freed memory goes back to the arena it came from: a worker pool whose threads take
turns reading and building things leaves each arena with free chunks between live ones,
resident. `one_arena()` (at start, before any thread allocates) gives every thread the
main arena; `release()` hands the free pages back (`malloc_trim`). Both are no-ops where
the C library has neither call. docs/memory.md has the measurements.
"""

from __future__ import annotations

import ctypes
import logging
import os
import sys
import tempfile

log = logging.getLogger("pvp_common.memory")

M_ARENA_MAX = -8  # mallopt's parameter numbers (malloc.h)


def _libc() -> ctypes.CDLL | None:
    if not sys.platform.startswith("linux"):
        return None
    try:
        return ctypes.CDLL(None)  # the process's own symbols: libc's among them
    except OSError:
        return None


_LIBC = _libc()


def one_arena() -> bool:
    """One malloc arena for every thread (glibc); True when set."""
    mallopt = getattr(_LIBC, "mallopt", None)
    if mallopt is None:
        return False
    ok = bool(mallopt(M_ARENA_MAX, 1))
    if not ok:
        log.info("mallopt(M_ARENA_MAX) refused: freed memory may stay resident")
    return ok


def release() -> bool:
    """Hand the free pages of malloc's arenas back to the system (glibc's malloc_trim);
    True when some memory was released. Safe from any thread, at any time."""
    trim = getattr(_LIBC, "malloc_trim", None)
    if trim is None:
        return False
    return bool(trim(0))


def arenas() -> int | None:
    """How many malloc arenas the process has (glibc's malloc_info); None if unknown."""
    libc = _LIBC
    if libc is None or not hasattr(libc, "malloc_info") or not hasattr(libc, "fopen"):
        return None
    libc.fopen.restype = ctypes.c_void_p
    libc.fopen.argtypes = [ctypes.c_char_p, ctypes.c_char_p]
    libc.fclose.argtypes = [ctypes.c_void_p]
    libc.malloc_info.argtypes = [ctypes.c_int, ctypes.c_void_p]
    fd, path = tempfile.mkstemp(prefix="pvp-malloc-")
    os.close(fd)
    try:
        stream = libc.fopen(os.fsencode(path), b"w")
        if not stream:
            return None
        try:
            libc.malloc_info(0, stream)
        finally:
            libc.fclose(stream)
        with open(path, encoding="ascii", errors="replace") as f:
            return f.read().count("<heap nr=")
    finally:
        os.unlink(path)
