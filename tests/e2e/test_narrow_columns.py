"""The real `pvp` in an 80x24 tmux pane: names whole or ending in '…', partners whole,
short or ending in '…', every function key in the footer, the site's name in the header."""

from __future__ import annotations

import pytest

from tests.support.terminals import PVP, in_terminal, tmux

from .conftest import Site

pytestmark = pytest.mark.timeout(120)

LONG = "Mme Marie-Françoise de La Rochefoucauld"


def test_at_80_columns_nothing_is_cut_without_an_ellipsis(site: Site) -> None:
    with tmux() as term:
        pane = term.new_session(in_terminal([PVP]), site.env())
        term.wait_for(pane, "F2 Accueil", what="the queue screen")
        for name, letters in ((LONG, "ass"), ("Mme Chevallier", "t")):
            term.run("send-keys", "-t", pane, "F2", name, "Tab", letters, "C-s")
        term.wait_for(pane, "En attente (2)", what="both check-ins saved")
        term.keys(pane, "p")  # privacy on: the site's name stays in the header
        term.wait_for(pane, "confidentiel", what="privacy on")
        term.keys(pane, "p")
        term.wait_for(pane, lambda s: "confidentiel" not in s, what="privacy off")
        lines = term.screen(pane).splitlines()
        long_row = next(line for line in lines if "A-001" in line)
        # The name has the room before the partner; both cut, and marked. (This site's
        # partners have no short name: the whole name is the short one.)
        assert "Mme Marie-Françoise de…" in long_row, long_row
        assert "Assurance M…" in long_row, long_row
        short_row = next(line for line in lines if "T-001" in line)
        assert "Mme Chevallier" in short_row and "France Trav…" in short_row, short_row
        footer = lines[-1]
        for key in ("F1", "F2", "F3", "F4", "F5", "F6", "F7", "F8"):
            assert key in footer, footer
        assert "Relais de test" in lines[0]


def test_in_privacy_mode_the_header_keeps_the_sites_name(site: Site) -> None:
    with tmux() as term:
        pane = term.new_session(in_terminal([PVP, "--privacy"]), site.env())
        term.wait_for(pane, "confidentiel", what="the queue screen, names hidden")
        header = term.screen(pane).splitlines()[0]
        assert "Relais de test" in header and "confidentiel" in header
