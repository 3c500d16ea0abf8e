"""`pvp`: the staff app (no subcommand) and its headless command line.

Global options resolve the config, the database and the language the same way for the
app and every subcommand; subcommands call the same core functions as the screens.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence
from dataclasses import dataclass

from . import commands
from .core import i18n
from .core.config import Config, ConfigError, load_config, resolve_config_path, resolve_db_path
from .core.errors import PvpError
from .core.frontdesk import FrontDesk
from .core.store import Store


@dataclass
class Context:
    config: Config
    desk: FrontDesk


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="pvp", description="PVP Relais: the front desk of a Point Visio Public."
    )
    parser.add_argument("--config", metavar="PATH", help="site config file (env PVP_CONFIG)")
    parser.add_argument("--db", metavar="PATH", help="SQLite database (env PVP_DB)")
    parser.add_argument("--lang", choices=i18n.LANGUAGES, help="UI language (env PVP_LANG)")
    parser.add_argument(
        "--privacy",
        action="store_true",
        help="hide visitor names on screen (a screen the public can see)",
    )
    parser.add_argument("--no-mouse", action="store_true", help="do not capture the mouse")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in commands.MODULES:
        importlib.import_module(f"{commands.__name__}.{name}").register(subparsers)
    return parser


def open_context(args: argparse.Namespace) -> Context:
    config = load_config(resolve_config_path(args.config))
    i18n.set_language(i18n.resolve_language(args.lang, config.site.language))
    store = Store(resolve_db_path(args.db, config))
    return Context(config=config, desk=FrontDesk(store, config))


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        context = open_context(args)
    except ConfigError as exc:
        for problem in exc.problems:
            print(f"pvp: {exc.source}: {problem}", file=sys.stderr)
        return 2
    except PvpError as exc:
        print(f"pvp: {exc.message}", file=sys.stderr)
        return 1
    if args.command is None:
        from .ui.app import run_app

        return run_app(context.desk, privacy=args.privacy, mouse=not args.no_mouse)
    try:
        return int(args.run(context, args))
    except PvpError as exc:
        print(f"pvp: {exc.message}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
