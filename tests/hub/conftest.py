"""Fixtures of the hub's tests: one real `pvp-hub serve` per engine for the session
(SQLite in a file, PostgreSQL in a cluster started here), and per test a fresh region
with its sites and tokens, so tests never see each other's data."""

from __future__ import annotations

import base64
import os
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from pvp_hub import directory
from pvp_hub.database import make_engine
from tests.hub.regions import ENGINES, Hub, Region, database_url
from tests.support.hub_daemons import HubProcess, PostgresCluster


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """`@pytest.mark.engine("sqlite")`: the hub's storage plays no role in this test (the
    site's side, the app, a client's check), so it runs against one engine's hub only."""
    kept, dropped = [], []
    for item in items:
        marker = item.get_closest_marker("engine")
        params = getattr(item, "callspec", None)
        kind = params.params.get("hub") if params is not None else None
        if marker is not None and kind is not None and kind not in marker.args:
            dropped.append(item)
        else:
            kept.append(item)
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = kept


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


@pytest.fixture(scope="session", params=ENGINES)
def hub(request: pytest.FixtureRequest, workdir: Path) -> Iterator[Hub]:
    kind = request.param
    url = database_url(kind, workdir, request, f"hub_{kind}")
    process = HubProcess(url, workdir)
    key = workdir / f"documents-{kind}.key"  # its document routes answer (not 503)
    key.write_text(base64.b64encode(os.urandom(32)).decode())
    process.start(env={**os.environ, "PVP_HUB_DOCUMENTS_KEY_FILE": str(key)})
    engine = make_engine(url, pool_size=2)
    try:
        yield Hub(kind, process, engine)
    finally:
        process.stop()
        engine.dispose()


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
