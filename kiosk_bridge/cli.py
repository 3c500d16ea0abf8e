"""Command line of pvp-bridge.

pvp-bridge --config FILE [--host H] [--port P] [--token-file F] [--spool-dir D]
           [--tls-cert PEM --tls-key PEM] [--origin URL ...] [--log-level LEVEL]
pvp-bridge token --out FILE      write a new random token (mode 0600)
"""

from __future__ import annotations

import argparse
import faulthandler
import logging
import os
import secrets
import signal
import sys
from pathlib import Path

from kiosk_bridge import __version__, clock
from kiosk_bridge.config import ConfigError, load
from pvp_common.testclock import TestClockError


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="pvp-bridge",
        description="The kiosk's scanner and printer for the PVP Relais staff app.",
    )
    p.add_argument("--version", action="version", version=f"pvp-bridge {__version__}")
    p.add_argument("--config", type=Path, help="TOML configuration file")
    p.add_argument("--host", help="address to listen on (default 127.0.0.1)")
    p.add_argument("--port", type=int, help="port (default 8765; 0 = any free port)")
    p.add_argument("--token-file", type=Path, help="file holding the shared Bearer token")
    p.add_argument("--spool-dir", type=Path, help="where documents live (created 0700)")
    p.add_argument("--tls-cert", type=Path, help="PEM certificate chain (enables TLS)")
    p.add_argument("--tls-key", type=Path, help="PEM private key")
    p.add_argument(
        "--origin", action="append", dest="origins", help="allow this Origin (repeatable)"
    )
    p.add_argument("--log-level", default="INFO", help="DEBUG, INFO, WARNING (default INFO)")
    sub = p.add_subparsers(dest="command")
    tok = sub.add_parser("token", help="write a new random token to a file (mode 0600)")
    tok.add_argument("--out", type=Path, required=True, help="token file to (over)write")
    return p


def write_token(path: Path) -> None:
    token = secrets.token_urlsafe(32)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="ascii") as f:
        f.write(token + "\n")
    os.replace(tmp, path)


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.command == "token":
        try:
            write_token(args.out)
        except OSError as exc:
            print(f"pvp-bridge: cannot write {args.out}: {exc.strerror}", file=sys.stderr)
            return 1
        print(f"pvp-bridge: new token written to {args.out} (mode 0600)")
        return 0
    logging.basicConfig(
        level=getattr(logging, str(args.log_level).upper(), logging.INFO),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    try:
        config = load(args.config).with_overrides(
            host=args.host,
            port=args.port,
            token_file=args.token_file,
            spool_dir=args.spool_dir,
            tls_cert=args.tls_cert,
            tls_key=args.tls_key,
            origins=tuple(args.origins) if args.origins else None,
        )
    except ConfigError as exc:
        for line in str(exc).splitlines():  # one line per mistake, each naming its key
            print(f"pvp-bridge: {line}", file=sys.stderr)
        return 2
    try:
        test_clock = clock.setup()
    except TestClockError as exc:
        print(f"pvp-bridge: {exc}", file=sys.stderr)
        return 2
    if test_clock is not None:
        logging.getLogger("kiosk_bridge").warning(test_clock.describe())
    if config.token_file is None:
        print(
            "pvp-bridge: no token file. Create one with 'pvp-bridge token --out FILE', "
            "then pass --token-file FILE (or set server.token_file).",
            file=sys.stderr,
        )
        return 2
    if bool(config.tls_cert) != bool(config.tls_key):
        print("pvp-bridge: TLS needs both --tls-cert and --tls-key.", file=sys.stderr)
        return 2
    # `kill -USR1 <pid>` prints every thread's stack to the log: for a stuck scanner.
    faulthandler.register(signal.SIGUSR1, all_threads=True)
    from kiosk_bridge.server import run

    try:
        run(config)
    except FileNotFoundError as exc:
        print(f"pvp-bridge: file not found: {exc.filename}", file=sys.stderr)
        return 2
    except (ValueError, PermissionError, OSError) as exc:
        print(f"pvp-bridge: {exc}", file=sys.stderr)
        return 2
    return 0
