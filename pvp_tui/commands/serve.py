"""`pvp serve`: the same app in a web browser, through textual-serve.

    pvp serve [--host 127.0.0.1] [--port 8000] [--token-file PATH] [--public-url URL]

Bound to 127.0.0.1 by default: reach it from another PC through an SSH tunnel
(`ssh -L 8000:127.0.0.1:8000 staff-pc`). textual-serve has no access control of its own,
so binding any other address is refused unless a token is set (--token-file, or the
environment variable PVP_SERVE_TOKEN); then every request must carry it: open
`http://HOST:PORT/?token=TOKEN` once, the browser keeps it in a cookie for the page, its
assets and the websocket that runs pvp. The token never reaches the pvp processes.
"""

from __future__ import annotations

import argparse
import hmac
import ipaddress
import os
import shlex
import socket
import sys
from pathlib import Path
from typing import Any

from ..core.i18n import _

TOKEN_ENV = "PVP_SERVE_TOKEN"
COOKIE = "pvp_serve_token"
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


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False  # a host name: it may resolve to anything


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
    public_url = args.public_url or _public_url(args.host, args.port)
    server = make_server(pvp_command(args), args.host, args.port, public_url, token)
    print(_("pvp in a browser: {url}").format(url=public_url), flush=True)
    server.serve()
    return 0


def _public_url(host: str, port: int) -> str:
    if host in ("0.0.0.0", "::", ""):
        host = socket.getfqdn()
    if ":" in host:
        host = f"[{host}]"
    return f"http://{host}:{port}"


def make_server(command: str, host: str, port: int, public_url: str, token: str | None) -> Any:
    """A textual-serve Server whose every request must carry the token (when set)."""
    from aiohttp import web
    from textual_serve.server import Server

    class TokenServer(Server):
        async def _make_app(self) -> web.Application:
            app = await super()._make_app()
            if token is not None:
                app.middlewares.append(_token_middleware(token))
            return app

        def initialize_logging(self) -> None:
            pass  # pvp prints its own line; textual-serve's logs would name paths, not visitors

        async def on_startup(self, app: web.Application) -> None:
            pass

    return TokenServer(command, host=host, port=port, title="PVP Relais", public_url=public_url)


def _token_middleware(token: str) -> Any:
    from aiohttp import web

    expected = token.encode()

    def matches(candidate: str | None) -> bool:
        return candidate is not None and hmac.compare_digest(candidate.encode(), expected)

    @web.middleware
    async def check_token(request: web.Request, handler: Any) -> web.StreamResponse:
        header = request.headers.get("Authorization", "")
        bearer = header[7:] if header.startswith("Bearer ") else None
        if matches(request.cookies.get(COOKIE)) or matches(bearer):
            response: web.StreamResponse = await handler(request)
            return response
        if matches(request.query.get("token")):
            # Once: keep the token in a cookie and drop it from the address bar.
            query = {k: v for k, v in request.query.items() if k != "token"}
            response = web.HTTPFound(request.rel_url.with_query(query))
            response.set_cookie(COOKIE, token, httponly=True, samesite="Strict")
            return response
        return web.Response(
            status=401,
            text=_(
                "PVP Relais: access token missing or wrong. Open this address with "
                "?token=… (ask the site's admin)."
            ),
        )

    return check_token
