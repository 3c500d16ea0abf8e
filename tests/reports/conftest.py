"""A six-month history in a real database file, built once for the report tests."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import pytest

from pvp_tui.core import i18n
from pvp_tui.core.config import Config, load_config
from pvp_tui.core.store import Store

from .history import History, Rec

FIRST_DAY = date(2026, 1, 5)  # a Monday
DAYS = 182  # to 2026-07-05: six months, across the March DST change


@dataclass
class Built:
    path: Path
    config: Config
    store: Store
    ledger: list[Rec]


@pytest.fixture(scope="session")
def history(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Built]:
    i18n.set_language("fr")
    path = tmp_path_factory.mktemp("reports") / "history.db"
    config = load_config(None)
    store = Store(path, create=True)
    built = History(store, config).build(FIRST_DAY, DAYS)
    yield Built(path=path, config=config, store=store, ledger=built.ledger)
    store.close()


@pytest.fixture(autouse=True)
def _french() -> Iterator[None]:
    i18n.set_language("fr")
    yield
    i18n.set_language("fr")
