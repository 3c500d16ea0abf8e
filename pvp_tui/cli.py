"""`pvp`: the staff app (no subcommand) and its headless command line.

Global options resolve the config, the database and the language the same way for the
app and every subcommand; subcommands call the same core functions as the screens.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sqlite3
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, NoReturn

from . import commands
from .commands.context import Context
from .core import i18n
from .core.clock import site_clock, test_clock_warning
from .core.config import (
    ConfigError,
    default_db_path,
    load_config,
    resolve_config_path,
    resolve_db_path,
)
from .core.errors import PvpError
from .core.frontdesk import FrontDesk, erasure_pending_message
from .core.i18n import N_, _
from .core.store import Store

if TYPE_CHECKING:
    from .core.site_status import KioskBoard

# Exit codes: scripts tell a refused action from a mistake in the command or the config.
EXIT_REFUSED = 1  # the action was refused (unknown ticket, wrong state, db busy...)
EXIT_USAGE = 2  # bad arguments, bad config, unusable database


# argparse's own words (usage, help headings, errors) in the user's language too: argparse
# reads them through its module-level `_` at each call, so it is pointed at pvp's catalog.
# These are Python 3.11's msgids, listed here so the catalog keeps them; a Python whose
# words differ prints them in English.
ARGPARSE_WORDS = (
    N_("usage: "),
    N_("positional arguments"),
    N_("options"),
    N_("show this help message and exit"),
    N_("argument %(argument_name)s: %(message)s"),
    N_("the following arguments are required: %s"),
    N_("one of the arguments %s is required"),
    N_("unrecognized arguments: %s"),
    N_("not allowed with argument %s"),
    N_("expected one argument"),
    N_("expected at most one argument"),
    N_("expected at least one argument"),
    N_("ambiguous option: %(option)s could match %(matches)s"),
    N_("invalid %(type)s value: %(value)r"),
    N_("invalid choice: %(value)r (choose from %(choices)s)"),
    N_("ignored explicit argument %r"),
)
argparse._ = i18n.gettext  # type: ignore[attr-defined]


class Parser(argparse.ArgumentParser):
    """argparse, but its errors are one line on stderr (exit 2), like every pvp error."""

    def error(self, message: str) -> NoReturn:
        hint = _("see {command} --help").format(command=self.prog)
        self.exit(EXIT_USAGE, f"{self.prog}: {message} ({hint})\n")


def _base_parser(**kwargs: Any) -> Parser:
    parser = Parser(
        prog="pvp", description=_("PVP Relais: the front desk of a Point Visio Public."), **kwargs
    )
    _global_options(parser, None)
    parser.add_argument("--no-mouse", action="store_true", help=_("do not capture the mouse"))
    return parser


def _app_args(argv: Sequence[str] | None) -> argparse.Namespace | None:
    """The arguments of a start of the app (no subcommand, no --help), read without
    building every subcommand's parser: the app's first frame does not wait for them."""
    words = sys.argv[1:] if argv is None else list(argv)
    if any(word.startswith("-h") or word == "--help" for word in words):
        return None
    known, rest = _base_parser(add_help=False).parse_known_args(words)
    if rest:
        return None  # a subcommand (or a mistake the full parser reports)
    known.command = None
    return known


def build_parser(argv: Sequence[str] | None = None) -> argparse.ArgumentParser:
    """The full parser; given the arguments, only their subcommand's module is imported
    (`pvp --help`, no or an unknown subcommand: every module)."""
    parser = _base_parser()
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=Parser)
    for name in _command_modules(argv):
        commands.registrar(name)(subparsers)
    # The global options also work after the subcommand (`pvp queue --db x.db`); SUPPRESS
    # keeps a subcommand's parser from overwriting what was given before it.
    for subparser in set(subparsers.choices.values()):
        _global_options(subparser, argparse.SUPPRESS)
    return parser


def _command_modules(argv: Sequence[str] | None) -> list[str]:
    if argv is None:
        return list(commands.MODULES)
    _known, rest = _base_parser(add_help=False).parse_known_args(list(argv))
    command = next((word for word in rest if not word.startswith("-")), None)
    for module, names in commands.MODULES.items():
        if command in names:
            return [module]
    return list(commands.MODULES)


def _global_options(parser: argparse.ArgumentParser, default: object) -> None:
    group = parser.add_argument_group(_("global options"))
    group.add_argument(
        "--config", metavar="PATH", default=default, help=_("site config file (env PVP_CONFIG)")
    )
    group.add_argument(
        "--db", metavar="PATH", default=default, help=_("SQLite database (env PVP_DB)")
    )
    group.add_argument(
        "--create-db",
        action="store_true",
        default=False if default is None else default,
        help=_("create the database if it does not exist yet (a new, empty queue)"),
    )
    group.add_argument(
        "--lang", choices=i18n.LANGUAGES, default=default, help=_("language (env PVP_LANG)")
    )
    group.add_argument(
        "--privacy",
        action="store_true",
        default=False if default is None else default,
        help=_("hide visitor names (a screen the public can see)"),
    )


def _early_language(argv: Sequence[str] | None) -> None:
    """Set the language before building the parser, so that --help and argparse's
    errors are already in it: --lang, PVP_LANG, the config's site.language, French."""
    early = argparse.ArgumentParser(add_help=False)
    early.add_argument("--lang", nargs="?")
    early.add_argument("--config", nargs="?")
    known, _rest = early.parse_known_args(argv)
    explicit = known.lang if known.lang in i18n.LANGUAGES else None
    configured = None
    if not explicit and not os.environ.get("PVP_LANG"):
        with contextlib.suppress(ConfigError):  # reported once the command runs
            configured = load_config(resolve_config_path(known.config)).site.language
    try:
        i18n.set_language(i18n.resolve_language(explicit, configured))
    except ValueError:  # PVP_LANG names no catalog: the default language
        i18n.set_language(i18n.DEFAULT_LANGUAGE)


def open_context(args: argparse.Namespace) -> Context:
    config = load_config(resolve_config_path(getattr(args, "config", None)))
    language = i18n.resolve_language(getattr(args, "lang", None), config.site.language)
    if language not in i18n.LANGUAGES:
        raise PvpError(
            "bad_language",
            _("PVP_LANG: unknown language {language} (expected one of: {known}).").format(
                language=language, known=", ".join(i18n.LANGUAGES)
            ),
        )
    i18n.set_language(language)
    path = resolve_db_path(getattr(args, "db", None), config)
    # Only --create-db or the first start at the default location makes a new database.
    create = bool(getattr(args, "create_db", False)) or path == default_db_path()
    clock = site_clock()  # PVP_TEST_CLOCK (tests only) refused here when unreadable
    store = Store(path, create=create)
    desk = FrontDesk(store, config, clock)
    return Context(config=desk.config, desk=desk)  # the partners in force (the hub's once pulled)


def main(argv: Sequence[str] | None = None) -> int:
    _early_language(argv)
    words = sys.argv[1:] if argv is None else list(argv)
    args = _app_args(words) or build_parser(words).parse_args(words)
    standalone = getattr(args, "standalone", None)
    if standalone is not None:  # doctor, serve: they open (or check) config and db themselves
        return int(standalone(args))
    try:
        context = open_context(args)
    except ConfigError as exc:
        for problem in exc.problems:
            print(f"pvp: {exc.source}: {problem}", file=sys.stderr)
        return EXIT_USAGE
    except PvpError as exc:  # a missing or unusable database (or one locked for too long)
        print(f"pvp: {exc.message}", file=sys.stderr)
        return EXIT_REFUSED if exc.code in ("db_busy", "disk_full") else EXIT_USAGE
    try:
        # Every start closes the visits left open on a previous day and erases personal
        # data past retention (`pvp purge` reports what it did).
        purge = getattr(args, "command", None) == "purge"
        if not purge and not context.desk.start_of_day().erasure_complete:
            print(f"pvp: {erasure_pending_message()}", file=sys.stderr)
    except PvpError as exc:  # the database is busy: the next start will do it
        print(f"pvp: {exc.message}", file=sys.stderr)
    except sqlite3.Error as exc:  # e.g. a read-only file: say so, go on
        message = _("database error: {error}. Nothing was changed: try again.")
        print(f"pvp: {message.format(error=exc)}", file=sys.stderr)
    test_clock = test_clock_warning(context.desk.clock)
    if args.command is None:
        from pvp_common import memory

        from .core.logs import configure_logging
        from .ui.app import run_app

        # Open for weeks: every thread shares one malloc arena (before any starts), so the
        # queue reads of the worker threads do not leave each its own (docs/memory.md).
        memory.one_arena()

        files = context.desk.config.log
        configure_logging(max_bytes=files.max_mb * 1_000_000, keep=files.keep)
        if test_clock:  # to the log file: Textual owns the terminal
            import logging

            logging.getLogger("pvp").warning(test_clock)
        board = None
        if context.config.hub is not None:
            from .core.site_status import KioskBoard

            board = KioskBoard(kiosk.id for kiosk in context.config.kiosks)
            _start_sync(context, board)

        return run_app(
            context.desk, privacy=args.privacy, mouse=not args.no_mouse, kiosk_board=board
        )
    if test_clock:
        print(f"pvp: warning: {test_clock}", file=sys.stderr)
    try:
        return int(args.run(context, args))
    except BrokenPipeError:  # `pvp queue | head`: the reader left; no traceback (Python docs)
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())  # the interpreter's last flush goes nowhere
        return EXIT_REFUSED
    except PvpError as exc:
        print(f"pvp: {exc.message}", file=sys.stderr)
        return EXIT_REFUSED
    except sqlite3.Error as exc:  # every action is one transaction, rolled back on error
        message = _("database error: {error}. Nothing was changed: try again.")
        print(f"pvp: {message.format(error=exc)}", file=sys.stderr)
        return EXIT_REFUSED


def _start_sync(context: Context, board: KioskBoard | None = None) -> list[Any]:
    """The sync worker in a thread of its own, with its own connection: the app never
    waits on it. It imports httpx there too, off the app's first frame. It also sends the
    site's status, with the kiosks' health the app writes to `board` (a KioskBoard).
    Returns a list that holds the worker once made (a test stops it)."""
    import threading

    hub, path, config = context.config.hub, context.desk.store.path, context.desk.base_config
    assert hub is not None
    made: list[Any] = []

    def run() -> None:
        import logging

        from .core.hub_uploads import Uploader
        from .core.pull import Puller
        from .core.site_status import StatusSender
        from .core.sync import open_worker

        try:
            # The documents to the agent go in the worker's turns, between the batches.
            tasks = [StatusSender(context.config, board), Uploader()]
            worker = open_worker(path, hub, tasks=tasks)
            worker.puller = Puller(worker, config)  # the hub's changes, in this thread too
            made.append(worker)
            worker.run()
        except Exception:  # never a traceback on stderr, where Textual draws the screen
            logging.getLogger("pvp.sync").exception(
                "the sync worker stopped; pvp sync --status tells what waits, restart pvp"
            )

    threading.Thread(target=run, name="pvp-sync", daemon=True).start()
    return made


if __name__ == "__main__":
    sys.exit(main())
