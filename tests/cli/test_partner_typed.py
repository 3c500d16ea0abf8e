"""`pvp checkin --partner` and `pvp transfer --partner` take the partner as staff type it."""

from __future__ import annotations

import json

from .conftest import Pvp


def test_partner_ids_are_taken_in_any_case_or_as_ticket_prefix(pvp: Pvp) -> None:
    done = pvp("--lang", "en", "checkin", "--partner", "CAF", "--name", "Marie", "--json")
    assert done.code == 0, done.err
    assert json.loads(done.out)["partner"] == "caf"
    moved = pvp("--lang", "en", "transfer", "C-001", "--partner", "a")
    assert moved.code == 0, moved.err
    assert pvp.rows("SELECT partner_id FROM visits WHERE status = 'waiting'") == [("cpam",)]
    wrong = pvp("--lang", "en", "checkin", "--partner", "Cafe", "--name", "Paul")
    assert wrong.code == 1 and "Unknown partner Cafe" in wrong.err
