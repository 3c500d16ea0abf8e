"""Keys typed as fast as a person who knows the app (or faster: one tmux send-keys for a
whole check-in) land where they were meant, in order: nothing lost, no letter of a name
read as an action by the screen underneath, the right partner every time."""

from __future__ import annotations

import pytest

from tests.support.terminals import PVP, Tmux, db_rows, in_terminal, tmux, wait_db

from .conftest import Site

pytestmark = pytest.mark.timeout(120)

CHECK_INS = (  # name, what is typed on the partner field, the partner it must choose
    ("Nicole Bertin", "t", "france-travail"),  # the ticket letter
    ("Nancy Cox", "ass", "cpam"),  # first letters of the name; n, c, x are queue actions
    ("Zoé Martin", "m", "msa"),
    ("Luc Caron", "C", "caf"),  # any case
    ("Anne Rivière", "fr", "france-travail"),  # letters add up
)


def burst(term: Tmux, pane: str, *keys: str) -> None:
    """All the keys in one send-keys: they reach the terminal as one write."""
    term.run("send-keys", "-t", pane, *keys)


def start(term: Tmux, site: Site) -> str:
    pane = term.new_session(in_terminal([PVP]), site.env())
    term.wait_for(pane, "F2 Accueil", what="the queue screen")
    return pane


def test_check_ins_typed_in_one_burst_each_are_all_right(site: Site) -> None:
    with tmux() as term:
        pane = start(term, site)
        for name, letters, _partner in CHECK_INS:
            burst(term, pane, "F2", name, "Tab", letters, "C-s")
        term.wait_for(pane, f"En attente ({len(CHECK_INS)})", what="every check-in saved")
        rows = db_rows(
            site.db,
            "SELECT d.name, v.partner_id, v.status FROM visits v "
            "JOIN visitor_details d ON d.visit_id = v.id ORDER BY v.arrived_at, v.rowid",
        )
        assert rows == [(name, partner, "waiting") for name, _letters, partner in CHECK_INS]
        events = db_rows(site.db, "SELECT type FROM events")
        assert set(events) == {("checked_in",)}  # no letter was taken for an action


def test_the_partner_list_opened_and_walked_in_one_burst(site: Site) -> None:
    with tmux() as term:
        pane = start(term, site)
        # Choisir…, CAF, Assurance Maladie, France Travail: three downs from the prompt.
        burst(term, pane, "F2", "Anne", "Tab", "Enter", "Down", "Down", "Down", "Enter", "C-s")
        wait_db(site.db, "SELECT ticket, partner_id FROM visits", [("T-001", "france-travail")])


def test_a_whole_visit_in_one_burst(site: Site) -> None:
    with tmux() as term:
        pane = start(term, site)
        burst(term, pane, "F2", "Marie", "Tab", "c", "C-s", "F3", "F4", "F8", "1")
        wait_db(
            site.db, "SELECT ticket, status, outcome FROM visits", [("C-001", "done", "resolved")]
        )
        events = [t for (t,) in db_rows(site.db, "SELECT type FROM events ORDER BY seq")]
        assert events == ["checked_in", "called", "started", "finished"]
