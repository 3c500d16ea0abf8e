"""The screen's wording helpers, and FrontDesk.check (asked before a dialog opens)."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from pvp_tui.core import i18n
from pvp_tui.core.errors import PvpError
from pvp_tui.core.frontdesk import CheckIn
from pvp_tui.ui import format
from tests.support.desk_morning import PARIS, TEN_AM, make_app, make_desk, settle


def test_duration_is_whole_minutes_as_h_mm() -> None:
    assert format.duration(TEN_AM - timedelta(minutes=75, seconds=59), TEN_AM) == "1:15"
    assert format.duration(TEN_AM + timedelta(minutes=1), TEN_AM) == "0:00"
    assert format.duration(None, TEN_AM) == ""


def test_estimates_and_flags_read_in_french(tmp_path: Path) -> None:
    desk = make_desk(tmp_path / "pvp.db")
    desk.check_in(CheckIn("msa", "A", appointment="11:00", priority=True, note="x"))
    desk.check_in(CheckIn("caf", "B"))
    entries = {e.visit.partner_id: e for e in desk.queue()}
    assert format.estimate(entries["caf"], desk.now(), PARIS) == "maintenant"
    assert format.estimate(entries["msa"], desk.now(), PARIS) == "fermé · mer. 09:00"
    assert format.flags(entries["msa"].visit, PARIS) == "prioritaire · RDV 11:00 · ✎"
    # A narrow terminal: compact words, and the closed partner's next opening in short.
    assert format.flags(entries["msa"].visit, PARIS, compact=True) == "prio RDV 11:00 ✎"
    assert format.estimate(entries["msa"], desk.now(), PARIS, compact=True) == "fermé → mer. 9h"
    assert format.visitor_name(entries["caf"].visit, privacy=True) == "—"


def test_check_raises_the_actions_own_refusal_and_changes_nothing(tmp_path: Path) -> None:
    desk = make_desk(tmp_path / "pvp.db")
    visit = desk.check_in(CheckIn("caf", "A"))
    desk.check(visit, "call")  # allowed: no error
    with pytest.raises(PvpError) as refused:
        desk.check(visit, "finish")
    assert refused.value.code == "wrong_state"
    with pytest.raises(PvpError) as acted:
        desk.finish(visit.id, "resolved")
    assert acted.value.message == refused.value.message
    assert len(desk.events(visit.id)) == 1


async def test_english_on_request(tmp_path: Path) -> None:
    i18n.set_language("en")
    app = make_app(tmp_path / "pvp.db")
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        assert str(app.queue_screen.query_one("#waiting").border_title) == "Waiting (5)"
        assert str(app.queue_screen.query_one("#at-kiosk").border_title) == "At the kiosk"


def test_the_patch_reads_the_textual_version_importlib_metadata_reads() -> None:
    from importlib.metadata import version

    from pvp_tui.ui import partial_updates

    assert partial_updates.textual_version() == version("textual") == partial_updates.PATCHED_FOR
