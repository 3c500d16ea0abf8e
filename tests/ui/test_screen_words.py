"""The screen words a refusal its own way: keys, not the command line."""

from __future__ import annotations

from pathlib import Path

from tests.support.desk_morning import make_app, settle
from tests.support.said import said


async def test_f3_with_nobody_to_call_says_the_screens_way(tmp_path: Path) -> None:
    app = make_app(tmp_path / "pvp.db", seed=False)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("f3")
        await settle(pilot)
        texts = said(app)
        assert any("appuyez sur c" in n for n in texts), texts
        assert not any("ticket" in n for n in texts), texts  # the CLI's way: pvp call TICKET
