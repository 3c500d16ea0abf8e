""" "Rendez-vous du jour" on the queue screen of a site with a hub, on the fixed morning
(tests/support/desk_morning.py): the appointments of a pull page (the hub's documented
shape, applied by the real `pull.apply_page`; tests/hub/test_site_pull.py pulls them from
a real hub), Enter on a line checks the visitor in with their name and slot, a late one
is flagged, a cancelled one leaves, a cancellation after arrival is said."""

from __future__ import annotations

import dataclasses
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from pvp_tui.core.config import Hub
from pvp_tui.core.models import Kind, Status
from pvp_tui.core.pull import apply_page
from pvp_tui.ui.app import PvpApp
from pvp_tui.ui.screens.queue_panels import AppointmentList
from tests.support.desk_morning import TEN_AM, make_desk, seed_morning, settle

MARTIN = "0b4f1c7e-0000-4000-8000-000000000001"
PETIT = "0b4f1c7e-0000-4000-8000-000000000002"
BLANC = "0b4f1c7e-0000-4000-8000-000000000003"


def booked(partner: str, hour: int, minute: int, name: str, status: str = "planned") -> dict:
    starts = TEN_AM.replace(hour=hour, minute=minute)
    return {
        "partner": partner,
        "starts_at": starts.isoformat(),
        "ends_at": (starts + timedelta(minutes=20)).isoformat(),
        "name": name,
        "phone": None,
        "room_url": None,
        "status": status,
        "source": "admin",
    }


def page(*items: tuple[str, dict[str, Any] | None], cursor: str = "c1.MQ") -> dict[str, Any]:
    return {
        "items": [
            {"kind": "appointment", "id": i, "deleted": data is None, "data": data}
            for i, data in items
        ],
        "cursor": cursor,
        "more": False,
        "server_time": TEN_AM.isoformat(),
    }


def make_hub_app(tmp_path: Path) -> PvpApp:
    desk = make_desk(tmp_path / "pvp.db")
    token = tmp_path / "hub.token"
    token.write_text("pvphub_test\n")
    hub = Hub(url="http://127.0.0.1:9", token_file=token)  # never reached: no worker here
    desk.base_config = desk.config = dataclasses.replace(desk.config, hub=hub)
    seed_morning(desk)
    apply_page(
        desk.store,
        desk.config,
        page(
            (MARTIN, booked("caf", 9, 45, "Mme Martin")),  # 15 min ago: late
            (PETIT, booked("cpam", 10, 30, "M. Petit")),
            (BLANC, booked("france-travail", 11, 0, "Mme Blanc")),
        ),
        now=TEN_AM,
    )
    app = PvpApp(desk, watch_changes=False, tick_seconds=None)
    app.animation_level = "none"
    return app


def cells(app: PvpApp) -> list[list[str]]:
    table = app.screen.query_one("#appointments", AppointmentList)
    return [[str(c) for c in table.get_row_at(i)] for i in range(table.row_count)]


@pytest.mark.parametrize("size", [(80, 24), (120, 40)], ids=lambda s: f"{s[0]}x{s[1]}")
def test_the_panel(snap_compare: Any, tmp_path: Path, size: tuple[int, int]) -> None:
    assert snap_compare(make_hub_app(tmp_path), terminal_size=size, run_before=settle)


async def test_enter_on_a_line_checks_the_visitor_in_with_name_and_slot(tmp_path: Path) -> None:
    app = make_hub_app(tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        assert [row[0] + " " + row[3] for row in cells(app)] == [
            "09:45 en retard", "10:30 attendu", "11:00 attendu",
        ]  # fmt: skip
        table = app.screen.query_one("#appointments", AppointmentList)
        table.focus()
        await pilot.press("down", "enter")  # M. Petit, 10:30
        await settle(pilot)
        visit = app.desk.find("A-002")
        assert (visit.name, visit.kind, visit.status) == ("M. Petit", Kind.APPOINTMENT,
                                                         Status.WAITING)  # fmt: skip
        assert visit.appointment_at == TEN_AM.replace(minute=30)
        assert cells(app)[1][3] == "arrivé A-002"
        assert "A-002 enregistré" in app.board.said[-1].text
        # The new visitor is selected in the waiting list (F3, F4 then just work).
        assert app.screen.focused is app.screen.query_one("#waiting")
        # Enter again on the same appointment: nothing new, a plain notice.
        table.focus()
        table.move_cursor(row=1, animate=False)
        await pilot.press("enter")
        await settle(pilot)
        assert "déjà enregistré (A-002)" in app.board.said[-1].text
        assert len(app.desk.visits_of_day()) == 9

        # The partner cancels two of them: the one nobody checked in leaves the list, the
        # other stays, marked, and the staff are told once.
        petit = booked("cpam", 10, 30, "M. Petit", status="cancelled")
        blanc = booked("france-travail", 11, 0, "Mme Blanc", status="cancelled")
        apply_page(app.desk.store, app.desk.config, page((PETIT, petit), (BLANC, blanc)))
        app.refresh_queue()
        await settle(pilot)
        assert [row[0] + " " + row[3] for row in cells(app)] == [
            "09:45 en retard", "10:30 annulé · A-002 arrivé",
        ]  # fmt: skip
        told = [m.text for m in app.board.said if "annulé par le partenaire" in m.text]
        assert len(told) == 1 and "A-002" in told[0] and "M. Petit" not in told[0]
        app.refresh_queue()
        await settle(pilot)
        assert len([m.text for m in app.board.said if "annulé par le partenaire" in m.text]) == 1
