"""`pvp serve`: the same app in a web browser, through textual-serve.

    pvp serve [--host 127.0.0.1] [--port 8000] [--token-file PATH] [--public-url URL]

Bound to 127.0.0.1 by default: reach it from another PC through an SSH tunnel
(`ssh -L 8000:127.0.0.1:8000 staff-pc`). textual-serve has no access control of its own;
serve_access adds it. Without a token, every start prints a one-time link
(`http://127.0.0.1:8000/?t=SECRET`): its first visit gets the browser a session cookie,
then the link is refused; Enter in pvp serve's terminal prints another. Binding any other
address is refused unless a token is set (--token-file, or the environment variable
PVP_SERVE_TOKEN); then every request must carry it: open `http://HOST:PORT/?token=TOKEN`
once, the browser keeps it in a cookie. Either way the cookie covers the page, its assets
and the websocket that runs pvp; the Host and Origin headers must be this server's own.
The page is PVP Relais' own (serve_page/), in the user's language, loading nothing from
any other host. The token never reaches the pvp processes.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shlex
import socket
import sys
from pathlib import Path
from typing import Any

from ..core.i18n import _

TOKEN_ENV = "PVP_SERVE_TOKEN"
MIN_TOKEN_LENGTH = 16
EXIT_USAGE = 2


def register(subparsers: Any) -> None:
    help_text = _("run pvp in a web browser (textual-serve)")
    p = subparsers.add_parser("serve", help=help_text, description=help_text)
    p.add_argument(
        "--host", default="127.0.0.1", help=_("address to listen on (default: 127.0.0.1)")
    )
    p.add_argument("--port", type=int, default=8000, help=_("port (default: 8000)"))
    p.add_argument(
        "--token-file",
        metavar="PATH",
        help=_("file holding the access token (env {env}); required off 127.0.0.1").format(
            env=TOKEN_ENV
        ),
    )
    p.add_argument(
        "--public-url",
        metavar="URL",
        help=_("address the browsers use, if not http://HOST:PORT (e.g. behind a proxy)"),
    )
    p.add_argument("--no-mouse", action="store_true", help=_("do not capture the mouse"))
    p.set_defaults(standalone=run_serve)


def read_token(token_file: str | None, environ: dict[str, str]) -> str | None:
    """The token from --token-file, else from the environment; None when neither."""
    if token_file:
        try:
            token = Path(token_file).read_text("utf-8").strip()
        except OSError as exc:
            raise ValueError(
                _("cannot read the token file {path}: {error}").format(
                    path=token_file, error=exc.strerror or exc
                )
            ) from None
    else:
        token = environ.get(TOKEN_ENV, "").strip()
        if not token:
            return None
    if len(token) < MIN_TOKEN_LENGTH:
        raise ValueError(
            _(
                "the token must have at least {count} characters (e.g. openssl rand -hex 24)."
            ).format(count=MIN_TOKEN_LENGTH)
        )
    return token


def pvp_command(args: argparse.Namespace) -> str:
    """The command textual-serve starts for each browser: this pvp, same options."""
    command = [sys.executable, "-m", "pvp_tui.cli"]
    for option in ("config", "db", "lang"):
        value = getattr(args, option, None)
        if value:
            command += [f"--{option}", str(value)]
    if getattr(args, "privacy", False):
        command.append("--privacy")
    if getattr(args, "create_db", False):
        command.append("--create-db")
    if getattr(args, "no_mouse", False):
        command.append("--no-mouse")
    return shlex.join(command)


def run_serve(args: argparse.Namespace) -> int:
    from .serve_access import is_loopback

    try:
        token = read_token(args.token_file, dict(os.environ))
    except ValueError as exc:
        print(f"pvp serve: {exc}", file=sys.stderr)
        return EXIT_USAGE
    os.environ.pop(TOKEN_ENV, None)  # the pvp processes it starts do not need it
    if token is None and not is_loopback(args.host):
        print(
            "pvp serve: "
            + _(
                "refusing to listen on {host} without a token: anyone on the network could "
                "use pvp. Set --token-file (or {env}), or keep 127.0.0.1 and use an SSH "
                "tunnel."
            ).format(host=args.host, env=TOKEN_ENV),
            file=sys.stderr,
        )
        return EXIT_USAGE
    public_url = (args.public_url or _public_url(args.host, args.port)).rstrip("/")
    server = make_server(pvp_command(args), args.host, args.port, public_url, token)
    if token is not None:
        print(_("pvp in a browser: {url}").format(url=public_url), flush=True)
    else:
        print(
            _("pvp in a browser, open this one-time link (it works once): {url}").format(
                url=server.link_url()
            ),
            flush=True,
        )
    server.serve()
    return 0


def _public_url(host: str, port: int) -> str:
    if host in ("0.0.0.0", "::", ""):
        host = socket.getfqdn()
    if ":" in host:
        host = f"[{host}]"
    return f"http://{host}:{port}"


def make_server(command: str, host: str, port: int, public_url: str, token: str | None) -> Any:
    """A textual-serve Server behind serve_access's checks, with PVP Relais' own page."""
    import aiohttp_jinja2
    from aiohttp import web
    from textual_serve.server import Server

    from ..core.i18n import get_language
    from .serve_access import LINK_PARAM, Address, Gate, middleware

    gate = Gate(token, port)
    address = Address.of(host, port, public_url)

    class GuardedServer(Server):
        def link_url(self) -> str:
            return f"{public_url}/?{LINK_PARAM}={gate.new_link()}"

        async def _make_app(self) -> web.Application:
            app = await super()._make_app()
            app.middlewares.append(middleware(gate, address, self.link_used))
            aiohttp_jinja2.get_env(app).globals["page"] = _page_text(get_language())
            return app

        def initialize_logging(self) -> None:
            pass  # pvp prints its own lines; textual-serve's logs would name paths, not visitors

        async def on_startup(self, app: web.Application) -> None:
            if token is None:
                self._read_enter_for_links()

        def link_used(self) -> None:
            print(
                _("A one-time link has just been used. Press Enter here for another one."),
                flush=True,
            )

        def _read_enter_for_links(self) -> None:
            """Enter in pvp serve's terminal prints a new one-time link."""
            loop = asyncio.get_running_loop()
            try:
                fd = sys.stdin.fileno()
            except (AttributeError, ValueError, OSError):
                return

            def on_input() -> None:
                try:
                    data = os.read(fd, 4096)
                except OSError:
                    data = b""
                if not data:  # end of input: no more new links (restart pvp serve)
                    loop.remove_reader(fd)
                    return
                print(_("New one-time link: {url}").format(url=self.link_url()), flush=True)

            try:
                loop.add_reader(fd, on_input)
            except (OSError, ValueError):
                return  # stdin is a file or /dev/null: no terminal to ask for links from
            print(_("Press Enter here for a new link (for another browser)."), flush=True)

    return GuardedServer(
        command,
        host=host,
        port=port,
        title="PVP Relais",
        public_url=public_url,
        templates_path=Path(__file__).with_name("serve_page"),
    )


def _page_text(language: str) -> dict[str, str]:
    return {
        "lang": language,
        "starting": _("Starting pvp…"),
        "start": _("Start"),
        "ended": _("Session ended."),
        "restart": _("Restart"),
    }
