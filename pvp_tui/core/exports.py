"""The report's tables and their exports: text table, CSV, XLSX, JSON.

`report_tables` lays an `ActivityReport` out as tables of raw values (counts, minutes,
percentages); the CLI's text table, the CSV, the XLSX and the reports screen all show
these same tables, so every figure is computed once (in reports.py) and laid out once.
"""

from __future__ import annotations

import csv
import io
import json
import textwrap
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from babel.numbers import format_decimal

from .errors import PvpError
from .i18n import N_, _, get_language, ngettext
from .models import Need, Outcome
from .reports import (
    ANSWERS,
    WAIT_BUCKETS,
    ActivityReport,
    Figures,
    PeriodFigures,
    bucket_label,
    change_percent,
    format_date,
    report_to_dict,
)
from .words import figure_words, outcome_heading

FORMATS = ("table", "csv", "json", "xlsx")
LOCALES = {"fr": "fr_FR", "en": "en_GB"}

# Kinds of cell: how a raw value is shown.
# PERCENT is a signed change (+12.5); SHARE a part of a whole (62.5), unsigned.
TEXT, COUNT, MINUTES, HOURS, PERCENT = "text", "count", "minutes", "hours", "percent"
SHARE = "share"


@dataclass(frozen=True)
class Column:
    label: str  # already translated
    kind: str = COUNT


@dataclass(frozen=True)
class Table:
    key: str  # stable id: the sheet's and the screen tab's name
    title: str
    columns: tuple[Column, ...]
    rows: list[list[Any]]
    row_kinds: list[str] | None = None  # per-row kind of the value columns (summary)
    note: str | None = None  # a line under the table that explains its figures

    def kind(self, row: int, col: int) -> str:
        if self.row_kinds is not None and col > 0 and self.columns[col].kind != PERCENT:
            return self.row_kinds[row]
        return self.columns[col].kind


def minutes(seconds: float | None) -> float | None:
    return None if seconds is None else seconds / 60


# Why a video session failed (the bridge's reason codes), in a few words.
REASON_LABELS = {
    "browser_not_found": N_("browser not found"),
    "browser_failed": N_("browser did not start"),
    "browser_crashed": N_("browser crashed"),
    "page_unreachable": N_("video room unreachable"),
    "page_not_responding": N_("page not responding"),
    "lobby_unavailable": N_("waiting room form not found"),
    "no_media_device": N_("no camera or microphone"),
    "media_denied": N_("camera or microphone refused"),
    "agent_never_came": N_("agent never came"),
    "connection_lost": N_("connection lost"),
}


def _capital(text: str) -> str:
    return text[:1].upper() + text[1:]


def _outcome_label(outcome: str) -> str:
    try:
        return _capital(Outcome(outcome).label)
    except ValueError:
        return outcome


def _need_label(need: str) -> str:
    try:
        return _capital(Need(need).label)
    except ValueError:
        return need


# The kiosk's three faces after the call, as its question ("Did this appointment help
# you?") and buttons (Yes / A little / No) put them.
ANSWER_LABELS = {
    "good": N_("Helped: yes"),
    "ok": N_("Helped: a little"),
    "bad": N_("Helped: no"),
}


def answer_label(answer: str) -> str:
    return _(ANSWER_LABELS[answer]) if answer in ANSWER_LABELS else answer


def _satisfaction_rows() -> list[tuple[str, str, Any]]:
    """(label, kind, getter) of the satisfaction figures: the summary's rows and the
    partner table's columns, in one order."""
    rows: list[tuple[str, str, Any]] = [
        (answer_label(a), COUNT, lambda f, a=a: f.satisfaction.get(a, 0)) for a in ANSWERS
    ]
    rows.append((_("Answered after the call (%)"), SHARE, lambda f: f.satisfaction_share))
    return rows


def reason_label(reason: str) -> str:
    """A failure reason in words; an unknown code as it is."""
    return _capital(_(REASON_LABELS[reason])) if reason in REASON_LABELS else reason


# (label, kind, getter) of the headline figures, in the order they are shown.
def _headline() -> list[tuple[str, str, Any]]:
    rows: list[tuple[str, str, Any]] = [
        (_("Visitors"), COUNT, lambda f: f.visits),
        (_("Walk-ins"), COUNT, lambda f: f.walk_ins),
        (_("Appointments"), COUNT, lambda f: f.appointments),
        (figure_words("served"), COUNT, lambda f: f.served),
        (figure_words("no_shows"), COUNT, lambda f: f.no_shows),
        (figure_words("cancellations"), COUNT, lambda f: f.cancellations),
        (figure_words("transfers"), COUNT, lambda f: f.transfers_out),
        (_("Left open, closed overnight"), COUNT, lambda f: f.closed_overnight),
        (_("Median wait (min)"), MINUTES, lambda f: minutes(f.wait_median_s)),
        (_("90th percentile wait (min)"), MINUTES, lambda f: minutes(f.wait_p90_s)),
        (_("Median interview (min)"), MINUTES, lambda f: minutes(f.interview_median_s)),
    ]
    for outcome in Outcome:
        rows.append(
            (
                outcome_heading(outcome.value),
                COUNT,
                lambda f, o=outcome.value: f.outcomes.get(o, 0),
            )
        )
    rows += [
        (_("Video sessions"), COUNT, lambda f: f.sessions),
        (_("Failed sessions"), COUNT, lambda f: f.failed_sessions),
        *_satisfaction_rows(),
        (_("Documents scanned"), COUNT, lambda f: f.documents_scanned),
        (_("Pages scanned"), COUNT, lambda f: f.pages_scanned),
        (_("Documents printed"), COUNT, lambda f: f.documents_printed),
        (_("Pages printed"), COUNT, lambda f: f.pages_printed),
        (_("Accessibility needs"), COUNT, lambda f: f.needs_requested_total),
        (_("Accessibility needs met"), COUNT, lambda f: f.needs_met_total),
    ]
    return rows


def report_tables(report: ActivityReport) -> list[Table]:
    cur, prev = report.current, report.previous
    tables: list[Table] = []

    headline = _headline()
    summary_rows = []
    for label, _kind, get in headline:
        now, before = get(cur.total), get(prev.total)
        summary_rows.append([label, now, before, change_percent(now, before)])
    tables.append(
        Table(
            "summary",
            _("Summary"),
            (
                Column(_("Figure"), TEXT),
                Column(_("This period")),
                Column(_("Previous period")),
                Column(_("Change (%)"), PERCENT),
            ),
            summary_rows,
            row_kinds=[kind for _label, kind, _get in headline],
        )
    )

    satisfaction = _satisfaction_rows()
    partner_columns = (
        Column(_("Partner"), TEXT),
        Column(_("Visits")),
        Column(_("Walk-ins")),
        Column(_("Appointments")),
        Column(figure_words("transfers_in")),
        Column(figure_words("transfers_out")),
        Column(figure_words("no_shows")),
        Column(figure_words("cancellations")),
        Column(_("Left open, closed overnight")),
        Column(figure_words("served")),
        Column(_("Median wait (min)"), MINUTES),
        Column(_("90th percentile wait (min)"), MINUTES),
        Column(_("Median interview (min)"), MINUTES),
        *(Column(_outcome_label(o.value)) for o in Outcome),
        Column(_("Video sessions")),
        Column(_("Failed sessions")),
        *(Column(label, kind) for label, kind, _get in satisfaction),
        Column(_("Documents scanned")),
        Column(_("Documents printed")),
        Column(_("Accessibility needs")),
        Column(_("Accessibility needs met")),
        Column(_("Visits, previous period")),
        Column(_("Change (%)"), PERCENT),
    )

    def partner_row(f: Figures, before: Figures | None, total: bool = False) -> list[Any]:
        # The Total row is the column's sum: a transferred visitor made a visit with each
        # partner (the summary counts visitors once).
        visits = f.visits + f.transfers_in if total else f.visits
        previous_visits = 0
        if before is not None:
            previous_visits = before.visits + before.transfers_in if total else before.visits
        return [
            f.name,
            visits,
            f.walk_ins,
            f.appointments,
            f.transfers_in,
            f.transfers_out,
            f.no_shows,
            f.cancellations,
            f.closed_overnight,
            f.served,
            minutes(f.wait_median_s),
            minutes(f.wait_p90_s),
            minutes(f.interview_median_s),
            *(f.outcomes.get(o.value, 0) for o in Outcome),
            f.sessions,
            f.failed_sessions,
            *(get(f) for _label, _kind, get in satisfaction),
            f.documents_scanned,
            f.documents_printed,
            f.needs_requested_total,
            f.needs_met_total,
            previous_visits,
            change_percent(visits, previous_visits),
        ]

    partner_rows = [partner_row(f, prev.partner(f.partner_id)) for f in cur.partners]
    partner_rows.append(partner_row(cur.total, prev.total, total=True))
    tables.append(
        Table(
            "partners",
            _("By partner"),
            partner_columns,
            partner_rows,
            note=_notes(_transfer_note(cur), _satisfaction_note(cur)),
        )
    )

    failure_rows: list[list[Any]] = []
    for f in [*cur.partners, cur.total]:
        for reason, count in f.failure_reasons.items():
            failure_rows.append([f.name, reason_label(reason), count])
    for f in [*cur.partners, cur.total]:
        if f.technical_failures:
            heading = outcome_heading(Outcome.TECHNICAL_FAILURE.value)
            failure_rows.append([f.name, heading, f.technical_failures])
    tables.append(
        Table(
            "failures",
            _("Technical failures"),
            (Column(_("Partner"), TEXT), Column(_("Reason"), TEXT), Column(_("Count"))),
            failure_rows,
        )
    )

    tables.append(
        Table(
            "needs",
            _("Accessibility needs"),
            (Column(_("Need"), TEXT), Column(_("Requested")), Column(_("Met"))),
            [
                [_need_label(need), count, cur.total.needs_met.get(need, 0)]
                for need, count in cur.total.needs_requested.items()
            ],
        )
    )

    tables.append(
        Table(
            "kiosks",
            _("By kiosk"),
            (
                Column(_("Kiosk"), TEXT),
                Column(_("Sessions")),
                Column(_("Failed")),
                Column(_("Time in call (h)"), HOURS),
                Column(_("Reconnections")),
                Column(_("Incidents")),
                Column(_("Quality good")),
                Column(_("Quality degraded")),
                Column(_("Quality poor")),
                Column(_("Documents scanned")),
                Column(_("Documents printed")),
            ),
            [
                [
                    k.kiosk,
                    k.sessions,
                    k.failed_sessions,
                    k.seconds_in_call / 3600,
                    k.reconnects,
                    k.incidents,
                    k.quality.get("good", 0),
                    k.quality.get("degraded", 0),
                    k.quality.get("poor", 0),
                    k.documents_scanned,
                    k.documents_printed,
                ]
                for k in cur.kiosks
            ],
        )
    )

    partner_ids = [f.partner_id for f in cur.partners]
    tables.append(
        Table(
            "daily",
            _("Visits per day"),
            (
                Column(_("Day"), TEXT),
                *(Column(f.name) for f in cur.partners),
                Column(_("Total")),
            ),
            [
                [
                    day.isoformat(),
                    *(counts.get(pid, 0) for pid in partner_ids),
                    sum(counts.values()),
                ]
                for day, counts in cur.daily.items()
            ],
        )
    )
    tables.append(
        Table(
            "hours",
            _("Check-ins by hour"),
            (Column(_("Hour"), TEXT), Column(_("Check-ins"))),
            [[f"{hour:02d}h", count] for hour, count in enumerate(cur.hourly)],
        )
    )
    tables.append(
        Table(
            "waits",
            _("Wait distribution"),
            (Column(_("Wait (min)"), TEXT), Column(_("Visits"))),
            [[bucket_label(i), cur.wait_histogram[i]] for i in range(len(WAIT_BUCKETS))],
        )
    )
    return tables


# --------------------------------------------------------------------------- formats
def number_locale() -> str:
    return LOCALES.get(get_language(), "fr_FR")


def format_cell(value: Any, kind: str, locale: str | None = None, empty: str = "") -> str:
    """A cell as text: whole counts, one decimal for minutes and hours, signed percent."""
    if value is None:
        return empty
    if kind == TEXT:
        return str(value)
    locale = locale or number_locale()
    if kind == PERCENT:
        return str(format_decimal(value, format="+0.0;-0.0", locale=locale))
    if kind in (MINUTES, HOURS, SHARE):
        return str(format_decimal(value, format="0.0", locale=locale))
    return str(format_decimal(value, format="0", locale=locale))


def _heading(report: ActivityReport) -> list[str]:
    period, previous = report.current.period, report.previous.period
    return [
        _("Activity report · {site}").format(site=report.site_name),
        _("From {start} to {end} ({days} days); previous period {pstart} to {pend}").format(
            start=format_date(period.start),
            end=format_date(period.end),
            days=period.days,
            pstart=format_date(previous.start),
            pend=format_date(previous.end),
        ),
    ]


def _transfer_note(figures: PeriodFigures) -> str | None:
    """Why the partners' total can exceed the visitors: a transfer counts twice."""
    transfers = figures.total.transfers_in
    if not transfers:
        return None
    return ngettext(
        "A transferred visitor counts with each partner: {count} transfer, so {visits} "
        "visits for {visitors} visitors.",
        "A transferred visitor counts with each partner: {count} transfers, so {visits} "
        "visits for {visitors} visitors.",
        transfers,
    ).format(
        count=transfers,
        visits=figures.total.visits + transfers,
        visitors=figures.total.visits,
    )


def _satisfaction_note(figures: PeriodFigures) -> str | None:
    """What the satisfaction columns count: answers to the kiosk's question after a call,
    out of the video sessions."""
    total = figures.total
    answers = total.satisfaction_answers
    if not answers and not total.sessions:
        return None
    return (
        ngettext(
            "The kiosk's question after a call (“Did this appointment help you?”): "
            "{count} anonymous answer",
            "The kiosk's question after a call (“Did this appointment help you?”): "
            "{count} anonymous answers",
            answers,
        ).format(count=answers)
        + " "
        + ngettext(
            "for {count} video session.", "for {count} video sessions.", total.sessions
        ).format(count=total.sessions)
    )


def _notes(*notes: str | None) -> str | None:
    """A table's notes as one paragraph; None when there is none."""
    return " ".join(n for n in notes if n) or None


def to_csv(report: ActivityReport) -> bytes:
    """CSV for French spreadsheets: UTF-8 with BOM, ';' separators, decimal comma."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=";", lineterminator="\r\n")
    for line in _heading(report):
        writer.writerow([line])
    for table in report_tables(report):
        writer.writerow([])
        writer.writerow([table.title])
        writer.writerow([c.label for c in table.columns])
        for r, row in enumerate(table.rows):
            writer.writerow([format_cell(v, table.kind(r, c)) for c, v in enumerate(row)])
        if table.note:
            writer.writerow([])
            writer.writerow([table.note])
    return buffer.getvalue().encode("utf-8-sig")


def to_json(report: ActivityReport) -> bytes:
    return (json.dumps(report_to_dict(report), ensure_ascii=False, indent=2) + "\n").encode()


def to_xlsx(report: ActivityReport) -> bytes:
    import xlsxwriter  # imported here: only this export needs it

    buffer = io.BytesIO()
    book = xlsxwriter.Workbook(buffer, {"in_memory": True})
    bold = book.add_format({"bold": True})
    title = book.add_format({"bold": True, "font_size": 13})
    formats = {
        COUNT: book.add_format({"num_format": "0"}),
        MINUTES: book.add_format({"num_format": "0.0"}),
        HOURS: book.add_format({"num_format": "0.0"}),
        SHARE: book.add_format({"num_format": "0.0"}),
        PERCENT: book.add_format({"num_format": "+0.0;-0.0"}),
    }
    heading = _heading(report)
    for table in report_tables(report):
        sheet = book.add_worksheet(_sheet_name(table.title))
        sheet.write(0, 0, heading[0], title)
        sheet.write(1, 0, heading[1])
        sheet.write(3, 0, table.title, bold)
        for c, column in enumerate(table.columns):
            sheet.write(4, c, column.label, bold)
            sheet.set_column(c, c, max(12, min(40, len(column.label) + 2)))
        for r, row in enumerate(table.rows):
            for c, value in enumerate(row):
                kind = table.kind(r, c)
                if value is None:
                    sheet.write_blank(5 + r, c, None)
                elif kind == TEXT:
                    sheet.write_string(5 + r, c, str(value))
                else:
                    sheet.write_number(5 + r, c, value, formats[kind])
        if table.note:
            sheet.write_string(6 + len(table.rows), 0, table.note)
        sheet.freeze_panes(5, 1)
    book.close()
    return buffer.getvalue()


def _sheet_name(title: str) -> str:
    cleaned = "".join(" " if ch in "[]:*?/\\" else ch for ch in title)
    return cleaned[:31]


def to_text(report: ActivityReport, width: int = 100) -> str:
    """Plain-text tables for a terminal; wide tables are split to fit `width`."""
    lines = list(_heading(report))
    for table in report_tables(report):
        lines += ["", table.title, "=" * len(table.title)]
        cells = [
            [format_cell(v, table.kind(r, c), empty="—") for c, v in enumerate(row)]
            for r, row in enumerate(table.rows)
        ]
        if not cells:
            lines.append(_("(nothing in this period)"))
            continue
        lines += _text_table([c.label for c in table.columns], cells, table.columns, width)
        if table.note:
            lines += ["", *textwrap.wrap(table.note, width)]
    return "\n".join(lines) + "\n"


def _text_table(
    headers: list[str], rows: list[list[str]], columns: Sequence[Column], width: int
) -> list[str]:
    widths = [max(len(headers[c]), *(len(r[c]) for r in rows)) for c in range(len(headers))]
    # Split the columns after the first into chunks that fit, repeating the first column.
    chunks: list[list[int]] = []
    current: list[int] = []
    used = widths[0]
    for c in range(1, len(headers)):
        if current and used + 2 + widths[c] > width:
            chunks.append(current)
            current, used = [], widths[0]
        current.append(c)
        used += 2 + widths[c]
    if current:
        chunks.append(current)
    out: list[str] = []
    for index, chunk in enumerate(chunks):
        if index:
            out.append("")
        order = [0, *chunk]

        def line(values: list[str], order: list[int] = order) -> str:
            parts = []
            for c in order:
                text = values[c]
                parts.append(
                    text.ljust(widths[c]) if columns[c].kind == TEXT else text.rjust(widths[c])
                )
            return "  ".join(parts).rstrip()

        out.append(line(headers))
        out.append("  ".join("-" * widths[c] for c in order))
        out += [line(r) for r in rows]
    return out


def render(report: ActivityReport, fmt: str, width: int = 100) -> bytes:
    if fmt == "table":
        return to_text(report, width).encode()
    if fmt == "csv":
        return to_csv(report)
    if fmt == "json":
        return to_json(report)
    if fmt == "xlsx":
        return to_xlsx(report)
    raise PvpError(
        "bad_format",
        _("Unknown format {format}. Choose one of: {known}.").format(
            format=fmt, known=", ".join(FORMATS)
        ),
    )


def write_atomically(path: Path, data: bytes) -> None:
    """Write the export next to its target, then rename: never a half-written file."""
    tmp = path.with_name(f".{path.name}.part")
    try:
        tmp.write_bytes(data)
        tmp.replace(path)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise PvpError(
            "export_failed",
            _("Cannot write {path}: {error}. Choose another file or folder.").format(
                path=path, error=exc.strerror or exc
            ),
        ) from exc


DEFAULT_SUFFIX = {"csv": ".csv", "json": ".json", "xlsx": ".xlsx", "table": ".txt"}
