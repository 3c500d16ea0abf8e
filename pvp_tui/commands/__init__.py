"""Subcommands of `pvp`. Each module here has `register(subparsers)`, which adds its
parsers and sets `run=function(context, args) -> int` as their default; the function
calls core services only (the same ones as the screens)."""

MODULES: tuple[str, ...] = ()
