"""`pvp report`: the activity report for a period, as a table, CSV, JSON or XLSX."""

from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path
from typing import Any

from ..core.errors import PvpError
from ..core.exports import FORMATS, render, write_atomically
from ..core.i18n import _
from ..core.reports import Period, activity_report, parse_date


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "report",
        help=_("activity report for a period (table, csv, json, xlsx)"),
        description=_(
            "The site's activity from the visit event log: per partner and in total, per "
            "kiosk, and the change against the previous period of the same length. "
            "Without dates: this month up to today."
        ),
    )
    parser.add_argument(
        "--from", dest="start", metavar="DATE", help=_("first day: DD/MM/YYYY or YYYY-MM-DD")
    )
    parser.add_argument(
        "--to", dest="end", metavar="DATE", help=_("last day: DD/MM/YYYY or YYYY-MM-DD")
    )
    parser.add_argument("--format", choices=FORMATS, default="table", help=_("default: table"))
    parser.add_argument("--out", metavar="FILE", help=_("write to FILE instead of the terminal"))
    parser.set_defaults(run=run)


def run(context: Any, args: argparse.Namespace) -> int:
    today = context.desk.today()
    start = parse_date(args.start, "--from") if args.start else today.replace(day=1)
    end = parse_date(args.end, "--to") if args.end else max(today, start)
    period = Period(start, end)
    if args.format == "xlsx" and not args.out:
        raise PvpError(
            "xlsx_needs_file",
            _("An XLSX report is a file: add --out FILE, for example --out rapport.xlsx."),
        )
    report = activity_report(context.desk.store, context.config, period)
    width = shutil.get_terminal_size((100, 24)).columns if sys.stdout.isatty() else 100
    data = render(report, args.format, width=width)
    if args.out:
        write_atomically(Path(args.out), data)
        print(_("Report written to {path}.").format(path=args.out), file=sys.stderr)
    else:
        sys.stdout.buffer.write(data)
        sys.stdout.flush()
    return 0
