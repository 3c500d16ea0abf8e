"""The real `pvp` command line, in subprocesses, on a test database."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from pvp_tui.core.config import parse_config
from pvp_tui.core.frontdesk import CheckIn, FrontDesk
from pvp_tui.core.store import Store
from tests.support.sites import OPEN_SITE

from .conftest import Pvp, Result

VISIT_KEYS = {"ticket", "partner", "status", "name", "arrived_at"}


def _json(result: Result) -> Any:
    assert result.code == 0, result.err
    assert result.err == ""
    return json.loads(result.out)


def test_checkin_json_prints_one_visit_and_stores_it(pvp: Pvp) -> None:
    visit = _json(
        pvp(
            "checkin",
            "--partner",
            "caf",
            "--name",
            "Marie Dupont",
            "--appointment",
            "10:30",
            "--priority",
            "--need",
            "sight",
            "--need",
            "papers_help",
            "--phone",
            "06 12 34 56 78",
            "--json",
        )
    )
    assert isinstance(visit, dict)
    assert set(visit) >= VISIT_KEYS
    assert (visit["ticket"], visit["partner"], visit["status"]) == ("C-001", "caf", "waiting")
    assert visit["name"] == "Marie Dupont"
    assert visit["kind"] == "appointment" and visit["priority"] is True
    assert sorted(visit["needs"]) == ["papers_help", "sight"]
    datetime.fromisoformat(visit["arrived_at"])
    assert pvp.rows("SELECT ticket, status, priority FROM visits") == [("C-001", "waiting", 1)]
    assert pvp.rows("SELECT name, phone FROM visitor_details") == [
        ("Marie Dupont", "06 12 34 56 78")
    ]


def test_human_output_is_french_by_default_and_english_on_request(pvp: Pvp) -> None:
    french = pvp("checkin", "--partner", "caf", "--name", "Marie")
    assert french.code == 0
    assert french.out.startswith("C-001 enregistré pour CAF — Marie\n")
    assert "position 1" in french.out
    english = pvp("checkin", "--partner", "cpam", "--name", "Paul", lang="en")
    assert english.out.startswith("A-001 checked in for Assurance Maladie — Paul\n")
    queue = pvp("queue")
    assert queue.out.splitlines()[0] == "2 en attente :"
    assert "Marie" in queue.out and "Paul" in queue.out
    assert pvp("queue", "--lang", "en").out.splitlines()[0] == "2 waiting:"
    private = pvp("queue", "--privacy")
    assert "Marie" not in private.out and "C-001" in private.out
    assert pvp("queue", "--help").out.startswith("utilisation : pvp queue")
    assert pvp("queue", "--help", "--lang", "en").out.startswith("usage: pvp queue")
    missing = pvp("finish", "C-001")
    assert missing.code == 2
    assert missing.err == (
        "pvp finish: ces arguments sont obligatoires : --outcome (voir pvp finish --help)\n"
    )


def test_queue_json_lists_the_waiting_in_call_order(pvp: Pvp) -> None:
    assert _json(pvp("queue", "--json")) == []
    pvp("checkin", "--partner", "caf", "--name", "Walk In")
    pvp("checkin", "--partner", "cpam", "--name", "Priority", "--priority")
    entries = _json(pvp("queue", "--json"))
    assert isinstance(entries, list)
    assert [e["ticket"] for e in entries] == ["A-001", "C-001"]
    for position, entry in enumerate(entries, start=1):
        assert VISIT_KEYS | {"position", "eligible", "estimate_minutes"} <= set(entry)
        assert entry["position"] == position
        assert entry["eligible"] is True
    assert entries[0]["estimate_minutes"] == 0
    assert entries[1]["estimate_minutes"] == 30  # after the CPAM interview (config: 30 min)


def test_a_whole_visit_from_the_command_line(pvp: Pvp) -> None:
    pvp("checkin", "--partner", "caf", "--name", "Marie")
    pvp("checkin", "--partner", "cpam", "--name", "Paul")
    called = pvp("call")
    assert called.code == 0 and called.out.startswith("C-001 appelé (CAF)")
    assert pvp("start", "C-001").out == "C-001 : entretien commencé.\n"
    finished = pvp("finish", "c-001", "--outcome", "follow_up")
    assert finished.out == "C-001 : terminé (suite à donner).\n"
    assert pvp.rows("SELECT status, outcome FROM visits WHERE ticket = 'C-001'") == [
        ("done", "follow_up")
    ]
    types = [r[0] for r in pvp.rows("SELECT type FROM events ORDER BY seq")]
    assert types == ["checked_in", "checked_in", "called", "started", "finished"]
    assert pvp("queue", "--json").out.count('"ticket"') == 1


def test_the_other_actions(pvp: Pvp) -> None:
    for name in ("Un", "Deux", "Trois"):
        pvp("checkin", "--partner", "caf", "--name", name)
    assert pvp("call", "C-003").out.startswith("C-003 appelé")  # out of order
    assert pvp("noshow", "C-003").out == "C-003 : marqué absent.\n"
    assert pvp("back", "C-003").out == "C-003 : remis en attente.\n"
    assert pvp("cancel", "C-002").out == "C-002 : annulé.\n"
    moved = pvp("transfer", "C-001", "--partner", "france-travail")
    assert moved.out == "C-001 transféré vers France Travail : nouveau ticket T-001.\n"
    assert pvp("note", "T-001", "rappeler jeudi").out == "T-001 : note enregistrée.\n"
    note = _json(pvp("note", "T-001", "rappeler vendredi", "--json"))
    assert isinstance(note, dict) and note["note"] == "rappeler vendredi"
    statuses = {ticket: status for ticket, status in pvp.rows("SELECT ticket, status FROM visits")}
    assert statuses == {
        "C-001": "transferred",
        "C-002": "cancelled",
        "C-003": "waiting",
        "T-001": "waiting",
    }


@pytest.mark.parametrize(
    ("args", "code", "words"),
    [
        (["checkin", "--partner", "nope", "--name", "Marie"], 1, "nope"),
        (["checkin", "--partner", "caf", "--name", "  "], 1, "nom"),
        (["checkin", "--partner", "caf", "--name", "M", "--appointment", "25:00"], 1, "HH:MM"),
        (["checkin", "--partner", "caf", "--name", "M", "--phone", "abc"], 1, "06 12"),
        (["checkin", "--partner", "caf"], 2, "--name"),
        (["checkin", "--partner", "caf", "--name", "M", "--need", "wings"], 2, "wings"),
        (["start", "Z-999"], 1, "Z-999"),
        (["start", "C-001"], 1, "C-001"),  # waiting: must be called first
        (["finish", "C-001", "--outcome", "resolved"], 1, "C-001"),
        (["finish", "C-001", "--outcome", "happy"], 2, "happy"),
        (["finish", "C-001"], 2, "--outcome"),
        (["transfer", "C-001", "--partner", "nope"], 1, "nope"),
        (["transfer", "C-001", "--partner", "caf"], 1, "CAF"),
        (["back", "C-001"], 1, "C-001"),
        (["note", "C-001", "x" * 501], 1, "500"),
        (["launch"], 2, "launch"),
        (["queue", "--colour"], 2, "--colour"),
    ],
)
def test_bad_input_is_one_line_a_nonzero_exit_and_changes_nothing(
    pvp: Pvp, args: list[str], code: int, words: str
) -> None:
    pvp("checkin", "--partner", "caf", "--name", "Marie")
    before = pvp.counts()
    result = pvp(*args)
    assert result.code == code
    assert result.out == ""
    assert result.err.endswith("\n") and result.err.count("\n") == 1, result.err
    assert result.err.startswith("pvp")
    assert words in result.err
    assert "Traceback" not in result.err
    assert pvp.counts() == before


def test_the_installed_console_script_runs(pvp: Pvp) -> None:
    script = Path(sys.executable).with_name("pvp")
    assert script.is_file()
    options = ["--config", str(pvp.config), "--db", str(pvp.db), "--create-db"]
    done = subprocess.run(
        [str(script), *options, "queue", "--json"],
        capture_output=True,
        text=True,
        env=pvp.env,
        timeout=60,
    )
    assert (done.returncode, done.stdout, done.stderr) == (0, "[]\n", "")


def test_calling_when_every_kiosk_is_busy_calls_and_warns_on_stderr(pvp: Pvp) -> None:
    pvp("checkin", "--partner", "caf", "--name", "Marie")
    pvp("checkin", "--partner", "cpam", "--name", "Paul")
    first = pvp("call")
    assert first.code == 0 and first.err == ""
    second = pvp("call")  # one kiosk, C-001 called to it: allowed, but said
    assert second.code == 0 and second.out.startswith("A-001 appelé")
    assert second.err == "pvp: Le kiosque est occupé (C-001 appelé).\n"
    assert pvp.rows("SELECT ticket FROM visits WHERE status = 'called' ORDER BY ticket") == [
        ("A-001",),
        ("C-001",),
    ]


def test_call_next_with_nobody_waiting_is_refused(pvp: Pvp) -> None:
    result = pvp("call")
    assert result.code == 1
    assert result.err.count("\n") == 1 and "Personne" in result.err


def test_config_mistakes_exit_2_with_one_line_each_naming_the_key(pvp: Pvp) -> None:
    pvp.config.write_text(
        OPEN_SITE.replace('prefix = "A"', 'prefix = "a1"').replace(
            'timezone = "Europe/Paris"', 'timezone = "Europe/Lyon"'
        ),
        "utf-8",
    )
    result = pvp("queue")
    assert result.code == 2
    lines = result.err.splitlines()
    assert len(lines) == 2
    assert "site.timezone" in lines[0] and str(pvp.config) in lines[0]
    assert "partners[1].prefix" in lines[1]
    assert not pvp.db.exists()


def test_an_unusable_database_path_exits_2(pvp: Pvp) -> None:
    pvp.db = pvp.config / "pvp.db"  # under a file
    result = pvp("queue")
    assert result.code == 2
    assert result.err.count("\n") == 1 and "--db" in result.err


def test_eight_checkins_at_the_same_instant_get_distinct_tickets(pvp: Pvp) -> None:
    # On a file that does not exist yet: they also race to create and migrate it.
    procs = [pvp.popen("checkin", "--partner", "caf", "--name", f"P{n}") for n in range(8)]
    results = [proc.communicate(timeout=60) for proc in procs]
    assert [proc.returncode for proc in procs] == [0] * 8, results
    tickets = sorted(t for (t,) in pvp.rows("SELECT ticket FROM visits"))
    assert tickets == [f"C-{n:03d}" for n in range(1, 9)]


def _old_visits(pvp: Pvp) -> None:
    """Visits of three days ago, written by the core with a clock set then."""
    paris = ZoneInfo("Europe/Paris")
    then = datetime.now(paris).replace(hour=10, minute=0) - timedelta(days=3)
    desk = FrontDesk(Store(pvp.db, create=True), parse_config(OPEN_SITE, "t"), clock=lambda: then)
    done = desk.check_in(CheckIn("caf", "Ancienne Visite", phone="0611223344"))
    desk.call(done.ticket)
    desk.finish(done.ticket, "resolved")
    desk.check_in(CheckIn("cpam", "Oubliée Hier"))  # left waiting
    desk.clock = lambda: datetime.now(paris)
    desk.check_in(CheckIn("caf", "Aujourdhui"))
    desk.store.close()


def test_purge_erases_past_retention_and_names_nobody(pvp: Pvp) -> None:
    _old_visits(pvp)
    result = pvp("purge")
    assert result.code == 0
    assert result.out.splitlines() == [
        "Données personnelles effacées : 2 visites.",
        "Visites restées ouvertes un jour précédent, désormais fermées : 1.",
    ]
    assert "Ancienne" not in result.out + result.err
    names = [n for (n,) in pvp.rows("SELECT name FROM visitor_details")]
    assert names == ["Aujourdhui"]
    assert len(pvp.rows("SELECT id FROM visits")) == 3  # anonymous visits stay
    expected = {"erased": 0, "closed_overnight": 0, "complete": True}
    assert _json(pvp("purge", "--json")) == expected


def test_every_start_closes_visits_left_open_overnight(pvp: Pvp) -> None:
    _old_visits(pvp)
    entries = _json(pvp("queue", "--json"))
    assert isinstance(entries, list)
    assert [e["name"] for e in entries] == ["Aujourdhui"]
    assert pvp.rows("SELECT status FROM visits WHERE partner_id = 'cpam'") == [("cancelled",)]
    types = [t for (t,) in pvp.rows("SELECT type FROM events ORDER BY seq")]
    assert "closed_overnight" in types


def test_a_reader_that_leaves_early_gets_no_traceback(pvp: Pvp) -> None:
    from pvp_tui.core.config import load_config
    from pvp_tui.core.frontdesk import CheckIn, FrontDesk
    from pvp_tui.core.store import Store

    desk = FrontDesk(Store(pvp.db, create=True), load_config(pvp.config))
    for n in range(1200):  # about 100 kB of queue: more than a pipe holds
        desk.check_in(CheckIn("caf", f"Visitor number {n}"))
    proc = pvp.popen("queue")
    assert proc.stdout is not None and proc.stderr is not None
    first = proc.stdout.readline()
    proc.stdout.close()  # as `pvp queue | head -1` does
    err = proc.stderr.read()
    proc.wait(timeout=30)
    assert first.startswith("1200 en attente")
    assert "Traceback" not in err and "BrokenPipe" not in err, err
    assert proc.returncode == 1


@pytest.mark.parametrize("command", ["queue", "doctor"])
def test_a_config_nested_too_deeply_is_one_line_not_a_traceback(pvp: Pvp, command: str) -> None:
    pvp.config.write_text(OPEN_SITE + "\nnested = " + "[" * 1000 + "\n", "utf-8")
    done = pvp(command)
    assert done.code != 0
    assert "Traceback" not in done.err + done.out and "RecursionError" not in done.err + done.out
    said = [line for line in (done.err + done.out).splitlines() if "nested too deeply" in line]
    assert len(said) == 1, done
    if command == "queue":
        assert done.err.strip() == said[0]
