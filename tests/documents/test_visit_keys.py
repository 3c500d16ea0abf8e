"""A whole visit with an appointment, three pages scanned and printed, in few keys: the
real `pvp` in tmux (80x24), a real pvp-bridge with SANE's test backend and cups-pdf. The
keys are counted as staff press them (the name and the time typed are not): the count is
the one docs/guide-fr.md gives. (The walk-in: tests/e2e/test_few_keys.py.)"""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from pvp_tui.core.store import Store
from tests.documents.conftest import Lab
from tests.support.bridge_daemons import BridgeProcess
from tests.support.sites import ALL_WEEK
from tests.support.terminals import PVP, db_rows, in_terminal, tmux, wait_db

pytestmark = pytest.mark.timeout(180)

APPOINTMENT_GOAL = 12  # F2 Tab c Tab F3 F4 F6 3 F6 F7 F8 1, besides the name and the time
SITE = f"""
[site]
id = "leyme"
name = "Maison des services de Leyme"
timezone = "Europe/Paris"

[[partners]]
id = "caf"
name = "CAF"
prefix = "C"
interview_minutes = 20
hours = {ALL_WEEK}

[[kiosks]]
id = "kiosk-1"
name = "Borne 1"
url = "URL"
token_file = "TOKEN"
"""


def _row_with(*parts: str):  # type: ignore[no-untyped-def]
    return lambda screen: any(all(p in line for p in parts) for line in screen.splitlines())


def test_an_appointment_with_three_pages_scanned_and_printed_in_twelve_keys(
    lab: Lab, bridge: BridgeProcess, tmp_path: Path
) -> None:
    config = tmp_path / "config.toml"
    config.write_text(SITE.replace("URL", bridge.url).replace("TOKEN", str(bridge.token_file)))
    db = tmp_path / "pvp.db"
    Store(db, create=True).close()
    env = {"PVP_CONFIG": str(config), "PVP_DB": str(db), "PVP_IMAGES": "halfblock"}
    slot = datetime.now(ZoneInfo("Europe/Paris")).strftime("%H:%M")  # due now
    with tmux() as term:
        pane = term.new_session(in_terminal([PVP]), env)
        term.wait_for(pane, "Borne 1 prête", what="the kiosk ready")
        keys = term.counted(pane)

        keys.press("F2")
        term.wait_for(pane, "Nouvel arrivant", what="the check-in form")
        keys.type("Marie Dupont")
        keys.press("Tab", "c")
        term.wait_for(pane, _row_with("Partenaire", "CAF"), what="CAF chosen")
        keys.press("Tab")  # the "yes, at" tick: the time typed on it goes to its field
        keys.type(slot)
        term.wait_for(pane, _row_with("oui, à", slot), what="the time typed")
        keys.press("F3")  # saves, then calls her
        term.wait_for(pane, _row_with("C-001", "appelé"), what="C-001 called")
        keys.press("F4")
        term.wait_for(pane, _row_with("C-001", "en cours"), what="the interview started")

        keys.press("F6")
        term.wait_for(pane, "Numériser F6", what="the documents panel")
        keys.press("3")  # the feeder's page count
        term.wait_for(pane, _row_with("pages", " 3 "), what="3 pages to scan")
        keys.press("F6")
        term.wait_for(pane, "3 pages numérisées", timeout=60, what="three pages scanned")
        # F7 prints the document just scanned; F8 right after (the interview ends here
        # too) asks the outcome once the print has its job, which the app then follows.
        keys.press("F7", "F8")
        term.wait_for(pane, "quel résultat", what="the outcome question")
        keys.press("1")
        wait_db(db, "SELECT ticket, status, outcome FROM visits", [("C-001", "done", "resolved")])
        wait_db(
            db,
            "SELECT count(*) FROM events WHERE type = 'document_printed'",
            [(1,)],
            timeout=60,
        )
        pressed = list(keys.pressed)

        # The next visitor's panel opens with the page count last scanned with.
        keys.press("F2")
        term.wait_for(pane, "Nouvel arrivant", what="the check-in form")
        keys.type("Luc Caron")
        keys.press("Tab", "c", "F3")
        term.wait_for(pane, _row_with("C-002", "appelé"), what="C-002 called")
        keys.press("F6")
        term.wait_for(pane, _row_with("C-002", "documents"), what="C-002's documents panel")
        assert _row_with("pages", " 3 ")(term.screen(pane))

    assert pressed == ["F2", "Tab", "c", "Tab", "F3", "F4", "F6", "3", "F6", "F7", "F8", "1"]
    assert len(pressed) <= APPOINTMENT_GOAL
    visit = db_rows(db, "SELECT kind, appointment_at FROM visits WHERE ticket = 'C-001'")
    at = datetime.fromisoformat(str(visit[0][1])).astimezone(ZoneInfo("Europe/Paris"))
    assert visit[0][0] == "appointment" and at.strftime("%H:%M") == slot
    found = {
        kind: json.loads(str(data))
        for kind, data in db_rows(db, "SELECT type, data FROM events WHERE type LIKE 'document%'")
    }
    assert found["document_captured"]["pages"] == 3
    assert found["document_printed"]["pages"] == 3
    assert found["document_printed"]["printer"] == "pvp-pdf"
    assert "document_purged" in found  # the visit closed: its papers left the kiosk
