"""`pvp doctor`: the usual installation mistakes, each with what to do.

    pvp doctor [--group STAFF_GROUP] [--skip-kiosks] [--skip-hub] [--json]

Exit code 0 only when every check passes (1 otherwise): scripts and monitoring can run it.
The checks themselves live in pvp_tui/core/doctor.py.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
from dataclasses import asdict
from typing import Any

from ..core import doctor
from ..core.config import kiosks_from_config, resolve_config_path, resolve_db_path
from ..core.i18n import _, ngettext


def register(subparsers: Any) -> None:
    help_text = _("check the config, the database, the kiosks, the hub and the terminal")
    p = subparsers.add_parser("doctor", help=help_text, description=help_text)
    p.add_argument(
        "--group",
        metavar="GROUP",
        help=_("the staff group that shares the database (default: the database's group)"),
    )
    p.add_argument("--skip-kiosks", action="store_true", help=_("do not contact the kiosks"))
    p.add_argument("--skip-hub", action="store_true", help=_("do not contact the hub"))
    p.add_argument("--json", action="store_true", help=_("print JSON for scripts instead of text"))
    p.set_defaults(standalone=run_doctor)


def run_doctor(args: argparse.Namespace) -> int:
    findings = collect(args)
    if args.json:
        print(json.dumps([asdict(f) for f in findings], ensure_ascii=False, indent=2))
    else:
        for finding in findings:
            mark = "✓" if finding.ok else "✗"
            print(f"{mark} {finding.check} : {finding.message}")
            if finding.fix:
                print(f"    → {finding.fix}")
        problems = sum(not f.ok for f in findings)
        print(
            _("All is well.")
            if not problems
            else _("One problem to fix.")
            if problems == 1
            else ngettext("{count} problem to fix.", "{count} problems to fix.", problems).format(
                count=problems
            )
        )
    return doctor.worst_exit_code(findings)


def collect(args: argparse.Namespace) -> list[doctor.Finding]:
    config_path = resolve_config_path(getattr(args, "config", None))
    config, findings = doctor.check_config(config_path)
    if config is not None:
        db = resolve_db_path(getattr(args, "db", None), config)
        findings += doctor.check_database(db, args.group)
        findings += doctor.check_site(db, config)
        findings += doctor.check_disk(db)
        if not args.skip_kiosks:
            findings += doctor.check_kiosks(kiosks_from_config(config))
        if config.hub is not None and not args.skip_hub:
            from ..core.doctor_hub import check_hub

            findings += check_hub(config.hub, config.site.id)
    is_terminal = sys.stdout.isatty()
    size = None
    if is_terminal:
        # the window's real size (not COLUMNS/LINES, which may be stale)
        with contextlib.suppress(OSError):
            columns, lines = os.get_terminal_size(sys.stdout.fileno())
            size = (columns, lines)
    findings += doctor.check_terminal(os.environ, size, is_terminal)
    return findings
