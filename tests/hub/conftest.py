"""Fixtures of the hub's tests: one real `pvp-hub serve` per engine for the session
(SQLite in a file, PostgreSQL in a cluster started here), and per test a fresh region
with its sites and tokens, so tests never see each other's data."""

from __future__ import annotations

import itertools
import tempfile
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine

from pvp_hub import directory
from pvp_hub.database import make_engine
from tests.support.hub_daemons import HubProcess, PostgresCluster

ENGINES = ["sqlite", "postgresql"]
_counter = itertools.count()


@pytest.fixture(scope="session")
def workdir() -> Iterator[Path]:
    with tempfile.TemporaryDirectory(prefix="pvp-hub-tests-") as tmp:
        yield Path(tmp)


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresCluster]:
    cluster = PostgresCluster()
    try:
        cluster.start()
        yield cluster
    finally:
        cluster.stop()


def database_url(kind: str, workdir: Path, request: pytest.FixtureRequest, name: str) -> str:
    if kind == "sqlite":
        return f"sqlite:///{workdir / name}.db"
    cluster: PostgresCluster = request.getfixturevalue("postgres")
    return cluster.create_database(name)


@dataclass
class Hub:
    kind: str
    process: HubProcess
    engine: Engine

    @property
    def url(self) -> str:
        return self.process.url


@pytest.fixture(scope="session", params=ENGINES)
def hub(request: pytest.FixtureRequest, workdir: Path) -> Iterator[Hub]:
    kind = request.param
    url = database_url(kind, workdir, request, f"hub_{kind}")
    process = HubProcess(url, workdir)
    process.start()
    engine = make_engine(url, pool_size=2)
    try:
        yield Hub(kind, process, engine)
    finally:
        process.stop()
        engine.dispose()


@dataclass
class Site:
    slug: str
    region: str
    token: str
    token_id: uuid.UUID

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


@dataclass
class Region:
    slug: str
    engine: Engine

    def site(self, slug: str | None = None) -> Site:
        slug = slug or f"site-{next(_counter)}"
        directory.create_site(self.engine, self.slug, slug, f"Site {slug}")
        token_id, token = directory.issue_token(self.engine, self.region_slug, slug)
        return Site(slug, self.slug, token, token_id)

    @property
    def region_slug(self) -> str:
        return self.slug


@pytest.fixture
def region(hub: Hub) -> Region:
    slug = f"r{uuid.uuid4().hex[:12]}"
    directory.create_region(hub.engine, slug, f"Region {slug}")
    partners = directory.check_partners(
        [
            {"id": "caf", "name": "CAF", "prefix": "C", "hours": {"mon": ["09:00-12:00"]}},
            {"id": "cpam", "name": "Assurance Maladie", "prefix": "A"},
        ]
    )
    directory.save_partners(hub.engine, slug, partners)
    return Region(slug, hub.engine)


@pytest.fixture
def client(hub: Hub) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=hub.url, timeout=30) as c:
        yield c


def event(
    visit_id: uuid.UUID | str,
    kind: str = "checked_in",
    at: datetime | None = None,
    **data: Any,
) -> dict[str, Any]:
    """One event as a site pushes it."""
    if kind == "checked_in" and not data:
        data = {"partner": "caf", "ticket": "C-001", "kind": "walk_in"}
    return {
        "id": str(uuid.uuid4()),
        "visit_id": str(visit_id),
        "type": kind,
        "at": (at or datetime.now(UTC)).isoformat(),
        "data": data,
    }


def push(
    client: httpx.Client, site: Site, events: list[dict[str, Any]], key: str | None = None
) -> httpx.Response:
    return client.post(
        "/api/v1/site/events",
        json={"events": events},
        headers={**site.auth, "Idempotency-Key": key or str(uuid.uuid4())},
    )
