"""Subcommands of `pvp`. Each module here has `register(subparsers)`, which adds its
parsers and sets `run=function(context, args) -> int` as their default; the function
calls core services only (the same ones as the screens)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

# Module -> the subcommands it registers (a test keeps them equal): `pvp queue` imports
# only the module of its subcommand, not the reports, exports and doctor it never uses.
# One module per line, so that helpers adding a module do not clash; a new module also
# needs its case in `registrar` below.
MODULES: dict[str, tuple[str, ...]] = {
    "desk": (
        "checkin",
        "queue",
        "appointments",
        "call",
        "start",
        "finish",
        "noshow",
        "cancel",
        "transfer",
        "back",
        "note",
        "purge",
    ),
    "report": ("report",),
    "doctor": ("doctor",),  # checks config, database, kiosks, terminal
    "serve": ("serve",),  # the app in a browser (textual-serve)
    "sync": ("sync",),  # the outbox to the region's hub
}


def registrar(module: str) -> Callable[[Any], None]:
    """`register` of one module of MODULES, imported only now: a plain import per module,
    so that a subcommand loads its own module and no other."""
    match module:
        case "desk":
            from . import desk

            return desk.register
        case "report":
            from . import report

            return report.register
        case "doctor":
            from . import doctor

            return doctor.register
        case "serve":
            from . import serve

            return serve.register
        case "sync":
            from . import sync

            return sync.register
    raise ValueError(f"pvp_tui.commands has no module {module!r}")
