"""The session view says when the agent opened the room from their page: the hub's pull
brings the time (kind "room"), the site records it once on the visit, the open view shows
it at the site's local time after the read that follows the pull."""

from __future__ import annotations

from pathlib import Path

from textual.widgets import Static

from pvp_tui.core import hub_rooms, pull
from pvp_tui.ui.screens.session import SessionScreen
from tests.support.desk_morning import make_app, settle


def room_page(visit_id: str, at: str | None, cursor: str) -> dict[str, object]:
    return {
        "items": [
            {"kind": "room", "id": visit_id, "deleted": False, "data": {"agent_opened_at": at}},
            {"kind": "room", "id": "6f1c2a8e-0000-4000-8000-000000000000", "deleted": False,
             "data": {"agent_opened_at": "2026-03-10T09:40:00+00:00"}},  # not this site's
        ],
        "cursor": cursor,
        "more": False,
    }  # fmt: skip


async def test_the_view_shows_when_the_agent_opened_the_room(tmp_path: Path) -> None:
    app = make_app(tmp_path / "pvp.db")
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        desk = app.desk
        visit = next(v for v in desk.active() if v.ticket == "A-001")
        screen = SessionScreen(app.services, visit)
        await app.push_screen(screen)
        await settle(pilot)
        box = screen.query_one("#session-room", Static)
        assert box.has_class("-hidden") and str(box.content) == ""

        # Not opened yet on the hub: nothing recorded, nothing shown.
        pull.apply_page(desk.store, desk.config, room_page(visit.id, None, "c1"))
        assert hub_rooms.agent_opened_at(desk.store, visit.id) is None

        # Opened at 09:42 UTC: 10:42 in Paris, shown after the read the pull's commit makes.
        opened = room_page(visit.id, "2026-03-10T09:42:05.120000+00:00", "c2")
        pull.apply_page(desk.store, desk.config, opened)
        app.refresh_queue()
        await settle(pilot)
        await pilot.pause()
        assert not box.has_class("-hidden")
        assert str(box.content) == "L'agent a ouvert la visio à 10:42."

        # The same item again (a pull started over): one event, the first time kept.
        again = room_page(visit.id, "2026-03-10T09:50:00+00:00", "c3")
        pull.apply_page(desk.store, desk.config, again)
        rows = desk.store.query(
            "SELECT at, actor FROM events WHERE visit_id = ? AND type = 'agent_opened_room'",
            [visit.id],
        )
        assert rows == [{"at": "2026-03-10T09:42:05.120+00:00", "actor": "hub"}]
        outbox = desk.store.query("SELECT body FROM outbox")
        assert not any("agent_opened_room" in row["body"] for row in outbox)  # not sent back
