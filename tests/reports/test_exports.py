"""The CLI (a real `pvp` subprocess) and every export agree with the core report, and no
visitor name or phone appears in any of them."""

from __future__ import annotations

import csv
import io
import itertools
import json
import os
import subprocess
import sys
import zipfile
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path

import openpyxl
import pytest

from pvp_tui.core.config import load_config
from pvp_tui.core.exports import (
    PERCENT,
    TEXT,
    format_cell,
    report_tables,
    to_csv,
    to_json,
    to_text,
)
from pvp_tui.core.frontdesk import FrontDesk
from pvp_tui.core.reports import Period, activity_report, report_to_dict
from pvp_tui.core.store import Store

from .conftest import Built
from .history import SECRET_NAME, SECRET_PHONE, History

ROOT = Path(__file__).resolve().parents[2]
MONTH = Period.month(datetime(2026, 3, 1).date())


def demo_config(tmp: Path) -> Path:
    path = tmp / "site.toml"
    text = resources.files("pvp_tui.core").joinpath("demo_site.toml").read_text("utf-8")
    path.write_text(text, "utf-8")
    return path


def pvp(db: Path, config: Path, *args: str) -> subprocess.CompletedProcess[bytes]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PVP_")}
    env["PYTHONPATH"] = str(ROOT)
    options = ["--config", str(config), "--db", str(db), "--create-db"]
    return subprocess.run(
        [sys.executable, "-m", "pvp_tui.cli", *options, *args],
        capture_output=True,
        env=env,
        cwd=ROOT,
        timeout=120,
        check=False,
    )


@pytest.fixture(scope="module")
def cli_outputs(history: Built, tmp_path_factory: pytest.TempPathFactory) -> dict[str, bytes]:
    """The month's report from the real command line, in every format; then the same
    report from the core function (after the CLI's start-of-day housekeeping ran)."""
    tmp = tmp_path_factory.mktemp("cli")
    config = demo_config(tmp)
    dates = ["--from", MONTH.start.isoformat(), "--to", MONTH.end.isoformat()]
    # Day first, as French staff write dates: the same parser as the ISO form.
    french = ["--from", MONTH.start.strftime("%d/%m/%Y"), "--to", MONTH.end.strftime("%-d/%-m/%y")]
    outputs: dict[str, bytes] = {}
    for fmt in ("table", "csv", "json"):
        done = pvp(
            history.path, config, "report", *(french if fmt == "table" else dates), "--format", fmt
        )
        assert done.returncode == 0, done.stderr.decode()
        outputs[fmt] = done.stdout
    out = tmp / "rapport.xlsx"
    done = pvp(history.path, config, "report", *dates, "--format", "xlsx", "--out", str(out))
    assert done.returncode == 0, done.stderr.decode()
    assert "rapport.xlsx" in done.stderr.decode()
    outputs["xlsx"] = out.read_bytes()
    out_csv = tmp / "rapport.csv"
    done = pvp(history.path, config, "report", *dates, "--format", "csv", "--out", str(out_csv))
    assert done.returncode == 0
    outputs["csv-file"] = out_csv.read_bytes()
    return outputs


@pytest.fixture(scope="module")
def report(history: Built, cli_outputs: dict[str, bytes]):
    return activity_report(history.store, history.config, MONTH)


def csv_blocks(data: bytes) -> list[list[list[str]]]:
    """The CSV's blocks of rows between blank rows, after the two heading lines."""
    assert data.startswith(b"\xef\xbb\xbf"), "UTF-8 BOM for spreadsheets"
    rows = list(csv.reader(io.StringIO(data.decode("utf-8-sig"), newline=""), delimiter=";"))
    blocks: list[list[list[str]]] = []
    for row in rows[2:]:
        if not row:
            blocks.append([])
        else:
            blocks[-1].append(row)
    return blocks


def csv_sections(data: bytes) -> dict[str, list[list[str]]]:
    """Title -> header and rows; a one-line block is the note under the table before it."""
    return {block[0][0]: block[1:] for block in csv_blocks(data) if len(block) > 1}


def csv_notes(data: bytes) -> dict[str, str]:
    """Title -> the note under that table, if any."""
    blocks = csv_blocks(data)
    return {
        before[0][0]: block[0][0]
        for before, block in itertools.pairwise(blocks)
        if len(block) == 1 and len(before) > 1
    }


def test_cli_csv_is_the_core_csv(cli_outputs: dict[str, bytes], report) -> None:
    assert cli_outputs["csv"] == to_csv(report)
    assert cli_outputs["csv-file"] == cli_outputs["csv"]


def test_the_heading_shows_the_period_as_the_screen_does(cli_outputs: dict[str, bytes]) -> None:
    heading = cli_outputs["csv"].decode("utf-8-sig").splitlines()[1]
    start, end = MONTH.start.strftime("%d/%m/%Y"), MONTH.end.strftime("%d/%m/%Y")
    assert heading.startswith(f"Du {start} au {end} ("), heading


def test_csv_cells_are_the_report_tables(cli_outputs: dict[str, bytes], report) -> None:
    sections = csv_sections(cli_outputs["csv"])
    tables = report_tables(report)
    assert list(sections) == [t.title for t in tables]
    for table in tables:
        header, *rows = sections[table.title]
        assert header == [c.label for c in table.columns]
        assert rows == [
            [format_cell(v, table.kind(r, c)) for c, v in enumerate(row)]
            for r, row in enumerate(table.rows)
        ]


def test_csv_figures_in_french_format(cli_outputs: dict[str, bytes], report) -> None:
    """Checked against the report's figures directly, formatted the French way here."""
    sections = csv_sections(cli_outputs["csv"])
    partners = sections["Par partenaire"]
    header = partners[0]
    total = next(r for r in partners if r[0] == "Total")
    t = report.current.total
    assert total[header.index("Visites")] == str(t.visits + t.transfers_in)
    assert total[header.index("Absents")] == str(t.no_shows)
    wait = total[header.index("Attente médiane (min)")]
    assert wait == f"{t.wait_median_s / 60:.1f}".replace(".", ",")
    assert "," in wait and "." not in wait
    caf = next(r for r in partners if r[0] == "CAF")
    assert caf[header.index("Transferts émis")] == str(report.current.partner("caf").transfers_out)
    summary = {row[0]: row for row in sections["Synthèse"][1:]}
    assert summary["Visiteurs"][1:3] == [str(t.visits), str(report.previous.total.visits)]
    change = (t.visits - report.previous.total.visits) / report.previous.total.visits * 100
    assert summary["Visiteurs"][3] == f"{change:+.1f}".replace(".", ",")


def test_cli_json_is_the_core_report(cli_outputs: dict[str, bytes], report) -> None:
    data = json.loads(cli_outputs["json"])
    assert data == json.loads(to_json(report)) == json.loads(json.dumps(report_to_dict(report)))
    t = report.current.total
    total = data["current"]["total"]
    assert (total["visits"], total["no_shows"], total["transfers_out"]) == (
        t.visits,
        t.no_shows,
        t.transfers_out,
    )
    assert total["wait_p90_seconds"] == t.wait_p90_s
    assert total["failure_reasons"] == t.failure_reasons
    assert data["current"]["from"] == "2026-03-01" and data["previous"]["to"] == "2026-02-28"
    assert [k["kiosk"] for k in data["current"]["kiosks"]] == [
        k.kiosk for k in report.current.kiosks
    ]


def test_cli_xlsx_holds_the_report_tables(cli_outputs: dict[str, bytes], report) -> None:
    book = openpyxl.load_workbook(io.BytesIO(cli_outputs["xlsx"]), read_only=True)
    tables = report_tables(report)
    assert book.sheetnames == [t.title[:31] for t in tables]
    for table in tables:
        rows = list(book[table.title[:31]].iter_rows(values_only=True))
        assert rows[0][0].startswith("Rapport d'activité")
        assert list(rows[4][: len(table.columns)]) == [c.label for c in table.columns]
        for r, row in enumerate(table.rows):
            got = rows[5 + r]
            for c, value in enumerate(row):
                kind = table.kind(r, c)
                if value is None:
                    assert got[c] is None
                elif kind == TEXT:
                    assert got[c] == value
                else:
                    assert got[c] == pytest.approx(value), (table.key, r, c)
    summary = list(book[tables[0].title].iter_rows(values_only=True))
    assert summary[5][:3] == (
        "Visiteurs",
        report.current.total.visits,
        report.previous.total.visits,
    )
    book.close()


def test_cli_table_is_the_core_text(cli_outputs: dict[str, bytes], report) -> None:
    text = cli_outputs["table"].decode()
    assert text == to_text(report, width=100)
    assert text.startswith("Rapport d'activité")
    assert all(len(line) <= 100 for line in text.splitlines())
    assert "Par partenaire" in text and "Attente médiane (min)" in text


def test_core_exports_agree_with_each_other(report) -> None:
    tables = report_tables(report)
    partners = next(t for t in tables if t.key == "partners")
    assert partners.rows[-1][0] == "Total"
    assert partners.rows[-1][1] == report.current.total.visits + report.current.total.transfers_in
    assert [c.kind for c in partners.columns][-1] == PERCENT


def test_a_note_says_why_the_partners_total_exceeds_the_visitors(
    cli_outputs: dict[str, bytes], report
) -> None:
    t = report.current.total
    assert t.transfers_in > 0, "the history has transfers"
    total, visitors = t.visits + t.transfers_in, t.visits
    words = f"donc {total} visites pour {visitors} personnes"
    partners = next(table for table in report_tables(report) if table.key == "partners")
    assert partners.note is not None and words in partners.note
    assert csv_notes(cli_outputs["csv"]) == {"Par partenaire": partners.note}
    assert words in " ".join(cli_outputs["table"].decode().split())
    book = openpyxl.load_workbook(io.BytesIO(cli_outputs["xlsx"]))
    sheet = book[next(n for n in book.sheetnames if n.startswith("Par partenaire"))]
    assert any(words in str(cell.value) for row in sheet.iter_rows() for cell in row)


# --------------------------------------------------------------------------- privacy
@pytest.fixture(scope="module")
def today_db(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """Visits of today (real clock), so that nothing is purged yet: their names and
    phones are in the database while the reports are made."""
    tmp = tmp_path_factory.mktemp("privacy")
    store = Store(tmp / "today.db", create=True)
    config = load_config(None)
    h = History(store, config)
    now = datetime.now(UTC).replace(microsecond=0)
    h.desk = FrontDesk(store, config, clock=lambda: now, actor="test")
    rec = h.check_in(now, "caf", name=SECRET_NAME, phone=SECRET_PHONE)
    h.call(rec, now)
    h.check_in(now, "msa", name=SECRET_NAME + " bis", phone=SECRET_PHONE)
    store.close()
    return tmp / "today.db", demo_config(tmp)


def test_no_name_or_phone_in_any_report(today_db: tuple[Path, Path]) -> None:
    db, config = today_db
    outputs: list[bytes] = []
    for fmt in ("table", "csv", "json"):
        done = pvp(db, config, "report", "--format", fmt)  # default: this month
        assert done.returncode == 0, done.stderr
        outputs.append(done.stdout)
    xlsx = db.parent / "r.xlsx"
    assert pvp(db, config, "report", "--format", "xlsx", "--out", str(xlsx)).returncode == 0
    with zipfile.ZipFile(xlsx) as archive:
        outputs += [archive.read(name) for name in archive.namelist()]
    assert json.loads(outputs[2])["current"]["total"]["visits"] == 2
    for data in outputs:
        for secret in (SECRET_NAME, SECRET_PHONE, "Zoé", "98 76"):
            assert secret.encode() not in data
    # They were there all along: the reports left them out.
    store = Store(db, create=True)
    names = [r["name"] for r in store.query("SELECT name FROM visitor_details")]
    store.close()
    assert SECRET_NAME in names


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["--from", "2026-13-01", "--to", "2026-12-31"], "AAAA-MM-JJ"),
        (["--from", "2026-03-31", "--to", "2026-03-01"], "avant de commencer"),
        (["--from", "2026-03-01", "--to", "2026-03-31", "--format", "xlsx"], "--out"),
        (["--from", "2026-03-01", "--to", "2026-03-31", "--out", "/nonexistent/x.csv"], "écrire"),
    ],
)
def test_bad_input_says_what_to_do(today_db: tuple[Path, Path], args: list[str], says: str) -> None:
    db, config = today_db
    done = pvp(db, config, "report", *args)
    assert done.returncode != 0
    err = done.stderr.decode()
    assert says in err and len(err.strip().splitlines()) == 1, err
    assert done.stdout == b""
    assert not Path("/nonexistent").exists()


def test_a_failed_write_leaves_no_half_file(today_db: tuple[Path, Path], tmp_path: Path) -> None:
    db, config = today_db
    target = tmp_path / "dir-not-file"
    target.mkdir()
    done = pvp(db, config, "report", "--format", "csv", "--out", str(target))
    assert done.returncode != 0 and "écrire" in done.stderr.decode()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["dir-not-file"]
