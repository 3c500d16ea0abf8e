from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from textual.pilot import Pilot

from pvp_tui.core import i18n
from pvp_tui.ui.app import PvpApp

from .scenario import make_app


@pytest.fixture(autouse=True)
def french() -> Iterator[None]:
    i18n.set_language("fr")
    yield
    i18n.set_language("fr")


@pytest.fixture
def app(tmp_path: Path) -> PvpApp:
    return make_app(tmp_path / "pvp.db")


async def settle(pilot: Pilot[object]) -> None:
    """Wait until every worker finished and the queue on screen is the latest read."""
    app = pilot.app
    assert isinstance(app, PvpApp)
    for _ in range(100):
        await app.workers.wait_for_complete()
        await pilot.pause()
        if not app._loading and not any(w.is_running for w in app.workers):
            return
    raise AssertionError("the app kept working")
