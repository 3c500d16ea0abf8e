from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from pvp_tui.core.config import Config, parse_config
from pvp_tui.core.frontdesk import CheckIn, FrontDesk
from pvp_tui.core.models import Visit
from pvp_tui.core.store import Store
from tests.support.clocks import MONDAY_10, MovableClock
from tests.support.sites import OPEN_SITE


@pytest.fixture
def config() -> Config:
    return parse_config(OPEN_SITE, source="<test site>")


@pytest.fixture
def clock() -> MovableClock:
    return MovableClock(MONDAY_10)


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "pvp.db"


@pytest.fixture
def store(db_path: Path) -> Iterator[Store]:
    store = Store(db_path, create=True)
    yield store
    store.close()


@pytest.fixture
def desk(store: Store, config: Config, clock: MovableClock) -> FrontDesk:
    return FrontDesk(store, config, clock=clock, actor="test")


def check_in(desk: FrontDesk, partner: str = "caf", name: str = "Marie", **kw: Any) -> Visit:
    return desk.check_in(CheckIn(partner_id=partner, name=name, **kw))


def counts(store: Store) -> tuple[int, int, int]:
    """(visits, visitor details, events): what a refused action must leave unchanged."""
    visits, details, events = (
        store.query(f"SELECT count(*) AS n FROM {table}")[0]["n"]
        for table in ("visits", "visitor_details", "events")
    )
    return visits, details, events
