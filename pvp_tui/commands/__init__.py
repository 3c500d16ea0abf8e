"""Subcommands of `pvp`. Each module here has `register(subparsers)`, which adds its
parsers and sets `run=function(context, args) -> int` as their default; the function
calls core services only (the same ones as the screens)."""

# One module per line, so that helpers adding a module do not clash.
MODULES: tuple[str, ...] = (
    "desk",  # checkin, queue, call, start, finish, noshow, cancel, transfer, back, note, purge
    "report",
    "doctor",  # checks config, database, kiosks, terminal
    "serve",  # the app in a browser (textual-serve)
)
