"""End-to-end: the real `pvp`, typed into by tmux, read back from the screen and the db."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from pvp_tui.core.store import Store
from tests.support.sites import OPEN_SITE
from tests.support.terminals import Sshd, sshd


@dataclass(frozen=True)
class Site:
    config: Path
    db: Path

    def env(self) -> dict[str, str]:
        # French by default: no PVP_LANG; the language comes from nowhere else
        return {"PVP_CONFIG": str(self.config), "PVP_DB": str(self.db)}


@pytest.fixture
def site(tmp_path: Path) -> Site:
    config = tmp_path / "config.toml"
    config.write_text(OPEN_SITE)  # partners open all week: the test works any day
    db = tmp_path / "pvp.db"
    Store(db, create=True).close()  # as `pvp --create-db` makes it
    return Site(config=config, db=db)


@pytest.fixture(scope="session")
def ssh_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sshd]:
    with sshd(tmp_path_factory.mktemp("sshd")) as server:
        yield server
