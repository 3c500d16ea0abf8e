from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from pvp_tui.core import i18n
from pvp_tui.ui.app import PvpApp
from tests.support.desk_morning import make_app


@pytest.fixture(autouse=True)
def french() -> Iterator[None]:
    i18n.set_language("fr")
    yield
    i18n.set_language("fr")


@pytest.fixture
def app(tmp_path: Path) -> PvpApp:
    return make_app(tmp_path / "pvp.db")
