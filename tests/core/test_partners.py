"""A partner typed at the desk: any case, its ticket prefix, its first letters."""

from __future__ import annotations

from datetime import datetime

import pytest

from pvp_tui.core.config import Config, parse_config
from pvp_tui.core.errors import PvpError
from pvp_tui.core.frontdesk import FrontDesk
from pvp_tui.core.partners import find_partner, next_hours_change, partners_matching
from tests.support.clocks import PARIS

from .conftest import check_in


@pytest.mark.parametrize("typed", ["caf", "CAF", " Caf ", "C", "c"])
def test_a_partner_is_found_by_id_in_any_case_or_by_ticket_prefix(
    config: Config, typed: str
) -> None:
    found = find_partner(config, typed)
    assert found is not None and found.id == "caf"


@pytest.mark.parametrize("typed", ["", "ca", "nobody", "C-"])
def test_nothing_else_names_a_partner(config: Config, typed: str) -> None:
    assert find_partner(config, typed) is None


def test_first_letters_narrow_the_choice_in_order(config: Config) -> None:
    assert [p.id for p in partners_matching(config, "")] == [p.id for p in config.partners]
    assert [p.id for p in partners_matching(config, "mal")] == ["cpam"]  # Assurance Maladie
    assert [p.id for p in partners_matching(config, "assu")] == ["cpam"]
    assert partners_matching(config, "zz") == []
    # An exact prefix comes first, then names that start with the letters.
    first = partners_matching(config, "a")
    assert first[0].id == "cpam"


def test_checkin_and_transfer_store_the_partner_id_whatever_was_typed(desk: FrontDesk) -> None:
    visit = check_in(desk, partner="CAF")
    assert visit.partner_id == "caf" and visit.ticket.startswith("C-")
    moved = desk.transfer(visit.ticket, "A")
    assert moved.partner_id == "cpam"
    with pytest.raises(PvpError) as refused:
        desk.transfer(moved.ticket, "nobody")
    assert refused.value.code == "unknown_partner"


def test_the_queue_changes_when_a_permanence_opens_or_closes(config: Config) -> None:
    # MSA opens Mondays 09:00-12:00; the others are open all week, round the clock.
    monday = datetime(2026, 11, 30, 8, 59, 30, tzinfo=PARIS)
    assert next_hours_change(config, monday) == monday.replace(hour=9, minute=0, second=0)
    assert next_hours_change(config, monday.replace(hour=9, second=0)) == monday.replace(
        hour=12, minute=0, second=0
    )
    # After Monday noon, nothing changes until MSA opens next Monday (midnights are no change).
    after = next_hours_change(config, monday.replace(hour=12, minute=0, second=0))
    assert after == datetime(2026, 12, 7, 9, 0, tzinfo=PARIS)


def test_no_hours_no_change() -> None:
    config = parse_config(
        '[site]\nid = "s"\nname = "S"\ntimezone = "Europe/Paris"\n\n'
        '[[partners]]\nid = "caf"\nname = "CAF"\nprefix = "C"\ninterview_minutes = 20\n',
        "test",
    )
    assert next_hours_change(config, datetime(2026, 11, 30, 9, tzinfo=PARIS)) is None
