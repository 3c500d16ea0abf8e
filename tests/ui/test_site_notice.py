"""An empty queue because `[site] id` changed is said at once, with what to do."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from tests.support.desk_morning import make_app, settle
from tests.support.said import said


async def test_the_app_says_the_database_holds_another_sites_visits(tmp_path: Path) -> None:
    db = tmp_path / "pvp.db"
    app = make_app(db)
    with sqlite3.connect(db) as conn:  # the visits were made under an older site id
        conn.execute("UPDATE visits SET site_id = 'ancien-site'")
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        texts = said(app)
        assert any("ancien-site" in n and "[site] id" in n for n in texts), texts
