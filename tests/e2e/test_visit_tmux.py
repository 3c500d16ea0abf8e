"""A whole visit as a person does it: the real `pvp` in an 80x24 tmux pane, keys typed with
send-keys, the screen read with capture-pane, the database checked after each step.
Then the same over a real sshd, with a second `pvp` watching the first one's changes."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.support.terminals import PVP, Sshd, Tmux, db_rows, in_terminal, tmux, wait_db

from .conftest import Site

pytestmark = pytest.mark.timeout(120)

STATUS = "SELECT ticket, status, outcome FROM visits"

Step = Callable[[str, str], None]  # (what the observer should now show, description)


def _row_with(*parts: str) -> Callable[[str], bool]:
    """True when one screen line holds every part (a table row, not scattered text)."""
    return lambda screen: any(all(p in line for p in parts) for line in screen.splitlines())


def run_visit(term: Tmux, pane: str, db: Path, step: Step | None = None) -> None:
    """Check in Marie Dupont for the CAF, call her, start, finish 'résolu' — by keys."""
    after = step or (lambda _text, _what: None)
    term.wait_for(
        pane,
        lambda s: "En attente (0)" in s and "F2 Accueil" in s and "F3 Appeler" in s,
        what="the queue screen and its footer, in French",
    )

    term.keys(pane, "F2")
    term.wait_for(pane, "Nouvel arrivant", what="the check-in form")
    term.type(pane, "Marie Dupont")
    term.keys(pane, "Tab", "Enter")  # the partner list opens
    term.wait_for(pane, "Assurance Maladie", what="the partner list")
    term.keys(pane, "Down", "Enter")  # the first partner: CAF
    term.wait_for(pane, _row_with("Partenaire", "CAF"), what="CAF chosen")
    term.keys(pane, "C-s")
    term.wait_for(pane, _row_with("C-001", "CAF", "Marie Dupont"), what="the new row")
    assert "En attente (1)" in term.screen(pane)
    wait_db(db, STATUS, [("C-001", "waiting", None)])
    assert db_rows(db, "SELECT name FROM visitor_details") == [("Marie Dupont",)]
    after("C-001", "check-in")

    term.keys(pane, "F3")  # call next
    term.wait_for(pane, _row_with("C-001", "appelé"), what="C-001 called, at the kiosk")
    wait_db(db, STATUS, [("C-001", "called", None)])
    after("appelé", "call")

    term.keys(pane, "F4")  # start the selected (just called) visit
    term.wait_for(pane, _row_with("C-001", "en cours"), what="the interview started")
    wait_db(db, STATUS, [("C-001", "in_session", None)])
    after("en cours", "start")

    term.keys(pane, "F8")
    term.wait_for(pane, "quel résultat", what="the outcome dialog")
    term.keys(pane, "1")  # 1 = résolu
    term.wait_for(pane, _row_with("C-001", "résolu"), what="today's finished list")
    wait_db(db, STATUS, [("C-001", "done", "resolved")])
    after("résolu", "finish")

    events = [t for (t,) in db_rows(db, "SELECT type FROM events ORDER BY seq")]
    assert events == ["checked_in", "called", "started", "finished"]
    assert "En attente (0)" in term.screen(pane)


def test_whole_visit_in_tmux(site: Site) -> None:
    with tmux() as term:
        pane = term.new_session(in_terminal([PVP]), site.env())
        run_visit(term, pane, site.db)
        term.keys(pane, "C-q")
        term.wait_for(pane, lambda s: "En attente" not in s, what="pvp closed")


def test_whole_visit_over_ssh_seen_by_a_second_pvp(site: Site, ssh_server: Sshd) -> None:
    remote = in_terminal([PVP], **site.env())  # the remote shell runs this
    with tmux() as term:
        # The staff member in the back office: pvp over SSH.
        ssh_pane = term.new_session(in_terminal(ssh_server.ssh_command(remote)), {})
        # The front desk: a second pvp on the same database, in another window.
        desk_pane = term.new_window(in_terminal([PVP]), site.env())
        term.wait_for(desk_pane, "En attente (0)", what="the desk's pvp")

        seen: list[tuple[str, float]] = []

        def desk_sees(text: str, what: str) -> None:
            # The commit is in the database (run_visit checked it): the other pvp must
            # show it within a second, without a key pressed.
            start = time.monotonic()
            term.wait_for(desk_pane, text, timeout=1.0, what=f"the desk seeing the {what}")
            seen.append((what, time.monotonic() - start))

        run_visit(term, ssh_pane, site.db, desk_sees)
        assert [w for w, _ in seen] == ["check-in", "call", "start", "finish"]
        desk = term.screen(desk_pane)
        assert _row_with("C-001", "résolu")(desk) and "reçus 1" in desk  # no toast here

        term.keys(ssh_pane, "C-q")  # quitting pvp ends the SSH session
        term.wait_for(ssh_pane, lambda s: "En attente" not in s, what="the SSH session closed")


def test_every_other_action_by_keyboard(site: Site) -> None:
    """Note, transfer, call out of turn, back to waiting, no-show, cancel, privacy, help:
    letters only, as listed in F1, in a plain 80x24 terminal."""
    env = {"PATH": "/usr/bin:/bin", **site.env()}
    for partner, name in (
        ("caf", "Jean Martin"),
        ("cpam", "Éric Roy"),
        ("france-travail", "Paul Durand"),
    ):
        subprocess.run(
            [PVP, "checkin", "--partner", partner, "--name", name],
            env=env,
            check=True,
            capture_output=True,
            timeout=30,
        )
    with tmux() as term:
        pane = term.new_session(in_terminal([PVP]), site.env())
        term.wait_for(pane, _row_with("C-001", "Jean Martin"), what="the queue")

        term.keys(pane, "e")  # note on the selected (first) visitor
        term.wait_for(pane, "Note pour C-001", what="the note dialog")
        term.type(pane, "rappeler demain")
        term.keys(pane, "Enter")
        term.wait_for(pane, _row_with("C-001", "✎"), what="the note marker")
        assert db_rows(
            site.db,
            "SELECT note FROM visitor_details d JOIN visits v "
            "ON v.id = d.visit_id WHERE v.ticket = 'C-001'",
        ) == [("rappeler demain",)]

        term.keys(pane, "t")
        term.wait_for(pane, "Transférer C-001 vers", what="the transfer dialog")
        term.keys(pane, "Enter")  # the first partner offered: Assurance Maladie
        term.wait_for(pane, _row_with("A-002", "Jean Martin"), what="the transferred visitor")
        arrived = dict(db_rows(site.db, "SELECT ticket, arrived_at FROM visits"))
        assert arrived["A-002"] == arrived["C-001"]  # keeps the arrival time

        term.keys(pane, "c")  # call the selected visitor out of turn
        wait_db(site.db, "SELECT ticket FROM visits WHERE status = 'called'", [("A-002",)])
        term.wait_for(pane, _row_with("A-002", "appelé"), what="A-002 at the kiosk")
        term.keys(pane, "b")  # back to waiting
        wait_db(site.db, "SELECT status FROM visits WHERE ticket = 'A-002'", [("waiting",)])
        term.keys(pane, "c")
        wait_db(site.db, "SELECT status FROM visits WHERE ticket = 'A-002'", [("called",)])
        term.keys(pane, "n")  # no-show
        wait_db(site.db, "SELECT status FROM visits WHERE ticket = 'A-002'", [("no_show",)])
        term.wait_for(pane, _row_with("A-002", "absent"), what="today's list")

        # The kiosk list is empty now: the keys went back to the waiting list by themselves.
        term.keys(pane, "x")
        term.wait_for(pane, "Annuler la visite A-001", what="the confirmation")
        term.keys(pane, "o")  # oui
        wait_db(site.db, "SELECT status FROM visits WHERE ticket = 'A-001'", [("cancelled",)])

        term.keys(pane, "p")
        # (the header's "confidentiel" badge may be under this morning's messages)
        screen = term.wait_for(pane, _row_with("T-001", "—"), what="names hidden")
        assert "Paul Durand" not in screen
        term.keys(pane, "p")
        term.wait_for(pane, _row_with("T-001", "Paul Durand"), what="names shown again")

        term.keys(pane, "F1")
        term.wait_for(pane, "Touches", what="the help screen")
        term.keys(pane, "Escape")
        term.wait_for(pane, "F2 Accueil", what="back to the queue")
    statuses = dict(db_rows(site.db, "SELECT ticket, status FROM visits"))
    assert statuses == {
        "C-001": "transferred",
        "A-001": "cancelled",
        "T-001": "waiting",
        "A-002": "no_show",
    }
