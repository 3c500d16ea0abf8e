"""A whole walk-in visit in few keys, counted as staff press them in the real `pvp` (tmux,
80x24): the count is the one docs/guide-fr.md gives. (The appointment with papers scanned
and printed needs a kiosk: tests/documents/test_visit_keys.py.)"""

from __future__ import annotations

import pytest

from tests.support.terminals import PVP, db_rows, in_terminal, tmux, wait_db

from .conftest import Site

pytestmark = pytest.mark.timeout(120)

WALK_IN_GOAL = 7  # keys besides the typed name: F2 Tab c F3 F4 F8 1


def _row_with(*parts: str):  # type: ignore[no-untyped-def]
    return lambda screen: any(all(p in line for p in parts) for line in screen.splitlines())


def test_a_walk_in_without_papers_in_seven_keys(site: Site) -> None:
    with tmux() as term:
        pane = term.new_session(in_terminal([PVP]), site.env())
        term.wait_for(pane, "F2 Accueil", what="the queue screen")
        keys = term.counted(pane)

        keys.press("F2")
        term.wait_for(pane, "Nouvel arrivant", what="the check-in form")
        keys.type("Marie Dupont")
        keys.press("Tab", "c")  # the partner field takes the ticket letter
        term.wait_for(pane, _row_with("Partenaire", "CAF"), what="CAF chosen")
        keys.press("F3")  # saves, then calls the next visitor: her
        term.wait_for(pane, _row_with("C-001", "appelé"), what="C-001 called")
        keys.press("F4")
        term.wait_for(pane, _row_with("C-001", "en cours"), what="the interview started")
        keys.press("F8")
        term.wait_for(pane, "quel résultat", what="the outcome question")
        keys.press("1")
        wait_db(
            site.db, "SELECT ticket, status, outcome FROM visits", [("C-001", "done", "resolved")]
        )

    assert keys.pressed == ["F2", "Tab", "c", "F3", "F4", "F8", "1"]
    assert keys.count <= WALK_IN_GOAL
    events = [t for (t,) in db_rows(site.db, "SELECT type FROM events ORDER BY seq")]
    assert events == ["checked_in", "called", "started", "finished"]
    assert db_rows(site.db, "SELECT name FROM visitor_details") == [("Marie Dupont",)]


def test_the_same_seven_keys_typed_in_one_burst(site: Site) -> None:
    """F4 typed right after F3 in the form waits for the call: nothing lost, in order."""
    with tmux() as term:
        pane = term.new_session(in_terminal([PVP]), site.env())
        term.wait_for(pane, "F2 Accueil", what="the queue screen")
        term.run("send-keys", "-t", pane, "F2", "Marie", "Tab", "c", "F3", "F4", "F8", "1")
        wait_db(
            site.db, "SELECT ticket, status, outcome FROM visits", [("C-001", "done", "resolved")]
        )
    events = [t for (t,) in db_rows(site.db, "SELECT type FROM events ORDER BY seq")]
    assert events == ["checked_in", "called", "started", "finished"]
