"""Subcommands of `pvp`. Each module here has `register(subparsers)`, which adds its
parsers and sets `run=function(context, args) -> int` as their default; the function
calls core services only (the same ones as the screens)."""

# Module -> the subcommands it registers (a test keeps them equal): `pvp queue` imports
# only the module of its subcommand, not the reports, exports and doctor it never uses.
# One module per line, so that helpers adding a module do not clash.
MODULES: dict[str, tuple[str, ...]] = {
    "desk": (
        "checkin",
        "queue",
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
}
