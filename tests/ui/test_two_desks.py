"""Two desks, one kiosk: the desk whose screen has not caught up yet with the other's
call is asked, never left to call a second visitor to a busy kiosk without a word."""

from __future__ import annotations

from pathlib import Path

from pvp_tui.core.models import Outcome, Status
from pvp_tui.ui.screens.dialogs import ConfirmDialog
from pvp_tui.ui.screens.queue import QueueScreen
from tests.support.desk_morning import make_app, make_desk, settle

SIZE = (80, 24)


def called(desk: object) -> list[str]:
    return sorted(v.ticket for v in desk.active() if v.status is Status.CALLED)  # type: ignore[attr-defined]


async def test_the_second_desk_to_call_is_asked_and_names_who_would_come(tmp_path: Path) -> None:
    db = tmp_path / "pvp.db"
    app = make_app(db)
    other = make_desk(db)  # the other desk: its own connection, same file
    other.finish("A-001", Outcome.RESOLVED)  # the kiosk is free when the app starts
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        assert app.desk.active() == []
        first = other.call_next()  # the other desk calls; this screen has not read it yet
        await pilot.press("f3")
        await settle(pilot)
        assert isinstance(app.screen, ConfirmDialog)
        lines = app.screen.question.splitlines()
        assert lines[0] == f"Le kiosque est occupé ({first.ticket} appelé)."
        assert lines[1].startswith("Appeler quand même ") and lines[1].endswith(" ?")
        named = lines[1].removeprefix("Appeler quand même ").split()[0]
        await pilot.press("n")  # wait: nobody else is called
        await settle(pilot)
        assert isinstance(app.screen, QueueScreen)
        assert called(app.desk) == [first.ticket]
        await pilot.press("f3", "o")  # call anyway: the one the question named
        await settle(pilot)
        assert called(app.desk) == sorted([first.ticket, named])
    other.store.close()
