"""The test process must ignore SIGPIPE, as every Python process does from its start: a
write to a closed pipe or socket is then an error a test can see (BrokenPipeError), never
the death of the whole run. A native library loaded by a test (a driver, a scanner or
printer binding) may reset it behind Python's back, where `signal.getsignal` does not see
it; this reads the process's real disposition (sigaction), names the test after which it
changed, and puts SIG_IGN back."""

from __future__ import annotations

import ctypes
import signal
import sys

_LIBC = ctypes.CDLL(None, use_errno=True)


class _SigAction(ctypes.Structure):
    # glibc's struct sigaction on Linux: handler, mask (1024 bits), flags, restorer.
    _fields_ = [
        ("handler", ctypes.c_void_p),
        ("mask", ctypes.c_ulong * 16),
        ("flags", ctypes.c_int),
        ("restorer", ctypes.c_void_p),
    ]


def sigpipe_ignored() -> bool:
    current = _SigAction()
    if _LIBC.sigaction(signal.SIGPIPE, None, ctypes.byref(current)) != 0:
        return True  # cannot tell: assume all is well
    return current.handler == signal.SIG_IGN.value


def keep_ignored(after: str) -> None:
    if not sigpipe_ignored():
        print(f"\nSIGPIPE was no longer ignored after {after}: ignored again", file=sys.stderr)
        signal.signal(signal.SIGPIPE, signal.SIG_IGN)
