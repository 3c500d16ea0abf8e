"""The hub tests' world: a hub under test (one per engine), regions with their sites and
tokens, and the events a site pushes."""

from __future__ import annotations

import itertools
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine

from pvp_hub import directory
from tests.support.hub_daemons import HubProcess, PostgresCluster

ENGINES = ["sqlite", "postgresql"]
_counter = itertools.count()


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
