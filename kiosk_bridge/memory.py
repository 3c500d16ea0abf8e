"""Handing memory back to the system once a scan is over (glibc's malloc; no-op elsewhere).

A scan passes pages of 17 MB each (A4-ish, 300 dpi colour) through the scanning and
encoding threads, then their PNGs and the PDF. Measured on Debian 12's glibc: 38 MB idle,
132 MB after one 10-page scan and never less. Two things keep it:

* each thread that allocates gets its own malloc arena, and `malloc_trim` never shrinks
  the top of a thread's arena (only the main one's), while glibc raises its trim and mmap
  thresholds to the largest block freed (up to 32 MB): a thread arena keeps its top;
* freed chunks in the middle of an arena stay resident until `malloc_trim` hands their
  whole pages back.

So the bridge keeps one arena for all its threads (`one_arena`, at start, before any
thread allocates; a handful of threads, one scan at a time: no contention to speak of)
and trims it when a scan or a page edit ends (`release`). What stays is the modules a
first scan imports (PIL, img2pdf, pikepdf, SANE's backends: ~12 MB). docs/memory.md has
the measurements. The calls themselves are shared with the desk app
(`pvp_common.memory`).
"""

from __future__ import annotations

from pvp_common.memory import one_arena, release

__all__ = ["one_arena", "release"]
