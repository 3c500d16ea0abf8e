"""What a pull page does to the site's store (pvp_tui.core.pull.apply_page), with pages
in the hub's documented shape (tests/hub/test_site_pull.py pulls them from a real hub):
the page and its cursor in one transaction, nothing written when nothing is new, the
hub's partners in force only once present, and appointments' names erased for real by
the store's retention rule."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from pvp_tui.core import appointments
from pvp_tui.core.config import parse_config
from pvp_tui.core.frontdesk import FrontDesk
from pvp_tui.core.pull import apply_page, cursor
from pvp_tui.core.store import Store
from tests.support.personal_data import PARIS, leftovers
from tests.support.sites import OPEN_SITE

MONDAY = datetime(2026, 3, 9, 9, 0, tzinfo=PARIS)


class Clock:
    def __init__(self, at: datetime) -> None:
        self.at = at

    def __call__(self) -> datetime:
        return self.at


def make_desk(tmp_path: Path, clock: Clock) -> FrontDesk:
    config = parse_config(OPEN_SITE, "test")
    return FrontDesk(Store(tmp_path / "pvp.db", create=True), config, clock, actor="test")


def page(items: list[dict[str, Any]], at: str = "c1.MQ") -> dict[str, Any]:
    return {"items": items, "cursor": at, "more": False, "server_time": MONDAY.isoformat()}


def booking(appointment_id: str, name: str, at: datetime) -> dict[str, Any]:
    return {
        "kind": "appointment",
        "id": appointment_id,
        "deleted": False,
        "data": {"partner": "caf", "starts_at": at.isoformat(), "ends_at": None, "name": name,
                 "phone": "06 48 27 19 53", "room_url": None, "status": "planned",
                 "source": "admin"},
    }  # fmt: skip


def test_the_hub_s_partners_are_in_force_only_once_pulled(tmp_path: Path) -> None:
    desk = make_desk(tmp_path, Clock(MONDAY))
    configured = [p.id for p in desk.config.partners]
    record = {"name": "Relais", "timezone": "Europe/Paris"}
    apply_page(desk.store, desk.config, page([{"kind": "site", "id": "test-site", "data": record}]))
    assert desk.refresh_directory() is False  # no partner pulled: the config's list stays
    assert [p.id for p in desk.config.partners] == configured
    bad = {"kind": "partner", "id": "bad", "data": {"name": "Bad", "prefix": "c"}}
    caf = {"name": "CAF du Lot", "prefix": "C", "interview_minutes": 25, "hours": {}}
    good = {"kind": "partner", "id": "caf", "data": caf}
    apply_page(desk.store, desk.config, page([bad, good], at="c1.Mg"))
    assert cursor(desk.store) == "c1.Mg"
    assert desk.refresh_directory() is True
    assert [(p.id, p.name) for p in desk.config.partners] == [("caf", "CAF du Lot")]
    assert desk.config.partner("cpam") is not None  # retired: its name stays for reports
    other = Store(desk.store.path)  # another pvp's connection: it sees others' commits
    version = other.data_version()
    apply_page(desk.store, desk.config, page([], at="c1.Mg"))  # nothing new: no commit
    assert other.data_version() == version and desk.refresh_directory() is False
    apply_page(desk.store, desk.config, page([], at="c1.Mw"))  # the cursor moved: stored
    assert other.data_version() != version and cursor(desk.store) == "c1.Mw"


def test_appointments_names_are_erased_for_real_with_the_visits(tmp_path: Path) -> None:
    clock = Clock(MONDAY)
    desk = make_desk(tmp_path, clock)
    slot = MONDAY.replace(hour=10)
    apply_page(desk.store, desk.config, page([booking("a-1", "Zéphirine Quillard", slot)]))
    with desk.store.snapshot() as db:
        [line] = appointments.day_lines(db, MONDAY.date())
    assert line.name == "Zéphirine Quillard" and line.late(slot + timedelta(minutes=10))
    assert not line.late(slot + timedelta(minutes=9))
    clock.at = MONDAY + timedelta(days=1)  # the next day: kept (retention 1 day)
    assert desk.purge_personal_data().erased == 0
    assert leftovers(desk.store.path, ["Quillard"]) != {}
    clock.at = MONDAY + timedelta(days=2)
    erasure = desk.purge_personal_data()
    assert erasure.complete
    with desk.store.snapshot() as db:
        erased = appointments.get(db, "a-1")
    assert erased is not None and erased.name is None and erased.phone is None
    assert leftovers(desk.store.path, ["Quillard", "06 48 27 19 53"]) == {}


def test_an_answer_not_in_the_hub_s_shape_changes_nothing(tmp_path: Path) -> None:
    import pytest

    from pvp_tui.core.pull import PullRefused

    desk = make_desk(tmp_path, Clock(MONDAY))
    for wrong in ({"items": "nope", "cursor": "c1.MQ"}, {"items": []}):
        with pytest.raises(PullRefused, match="comprise"):  # French by default
            apply_page(desk.store, desk.config, wrong)
    odd = {"kind": "appointment", "id": "a-9", "data": {"partner": "caf", "starts_at": "soon"}}
    done = apply_page(desk.store, desk.config, page([odd, "not an item"]))  # type: ignore[list-item]
    assert done.appointments == 0 and cursor(desk.store) == "c1.MQ"
    with desk.store.snapshot() as db:
        assert appointments.get(db, "a-9") is None
