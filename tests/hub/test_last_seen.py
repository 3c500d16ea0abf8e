"""Sites' last-seen times: kept in memory by each hub process and written every few
seconds and at shutdown, never one write per request."""

from __future__ import annotations

import signal
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from sqlalchemy import Engine, select

from pvp_hub import directory
from pvp_hub.database import make_engine
from pvp_hub.schema import sites
from tests.hub.regions import ENGINES, database_url
from tests.support.hub_daemons import HubProcess


def site_seen(engine: Engine, region: str, slug: str) -> datetime | None:
    with engine.connect() as conn:
        return conn.execute(
            select(sites.c.last_seen_at).where(
                sites.c.slug == slug, sites.c.region_id == directory.region_id_of(conn, region)
            )
        ).scalar_one()


def hub_writing_every(
    seconds: int, kind: str, workdir: Path, request: pytest.FixtureRequest, name: str
) -> tuple[HubProcess, Engine]:
    url = database_url(kind, workdir, request, name)
    config = workdir / f"{name}.toml"
    config.write_text(f"[sync]\nlast_seen_seconds = {seconds}\n")
    process = HubProcess(url, workdir)
    process.start("--config", str(config))
    return process, make_engine(url, pool_size=1)


@pytest.mark.parametrize("kind", ENGINES)
def test_a_site_that_called_is_seen_within_seconds_and_one_that_never_did_is_not(
    kind: str, workdir: Path, request: pytest.FixtureRequest
) -> None:
    process, engine = hub_writing_every(1, kind, workdir, request, f"seen_{kind}")
    try:
        directory.create_region(engine, "north", "North")
        tokens = {}
        for slug in ("puller", "asker", "refused", "silent"):
            directory.create_site(engine, "north", slug, slug.title())
            tokens[slug] = directory.issue_token(engine, "north", slug)[1]
        with httpx.Client(base_url=process.url, timeout=30) as client:

            def auth(slug: str) -> dict[str, str]:
                return {"Authorization": f"Bearer {tokens[slug]}"}

            before = datetime.now(UTC)
            assert client.get("/api/v1/site/changes", headers=auth("puller")).status_code == 200
            assert client.get("/api/v1/site", headers=auth("asker")).status_code == 200
            # Refused input from a good token: the site was there all the same.
            bad = client.get("/api/v1/site/changes?cursor=nope", headers=auth("refused"))
            assert bad.status_code == 400
            # A wrong token is nobody's visit.
            wrong = {"Authorization": f"Bearer {tokens['silent']}x"}
            assert client.get("/api/v1/site", headers=wrong).status_code == 401
            after = datetime.now(UTC)
        deadline = time.monotonic() + 20
        seen: dict[str, datetime | None] = {}
        while time.monotonic() < deadline:
            seen = {slug: site_seen(engine, "north", slug) for slug in tokens}
            if all(seen[s] is not None for s in ("puller", "asker", "refused")):
                break
            time.sleep(0.2)
        for slug in ("puller", "asker", "refused"):
            at = seen[slug]
            assert at is not None, f"{slug} not seen: {seen}"
            assert before - timedelta(seconds=1) <= at <= after + timedelta(seconds=1)
        assert seen["silent"] is None
    finally:
        process.stop()
        engine.dispose()


@pytest.mark.parametrize("kind", ENGINES)
def test_what_a_process_saw_is_written_at_shutdown_and_never_moves_back(
    kind: str, workdir: Path, request: pytest.FixtureRequest
) -> None:
    process, engine = hub_writing_every(3600, kind, workdir, request, f"seen_stop_{kind}")
    try:
        directory.create_region(engine, "south", "South")
        directory.create_site(engine, "south", "late", "Late")
        directory.create_site(engine, "south", "ahead", "Ahead")
        tokens = {s: directory.issue_token(engine, "south", s)[1] for s in ("late", "ahead")}
        # "ahead" was seen later by another process, which wrote it already.
        later = datetime.now(UTC) + timedelta(hours=1)
        with engine.begin() as conn:
            conn.execute(sites.update().where(sites.c.slug == "ahead").values(last_seen_at=later))
        with httpx.Client(base_url=process.url, timeout=30) as client:
            for token in tokens.values():
                headers = {"Authorization": f"Bearer {token}"}
                assert client.get("/api/v1/site/changes", headers=headers).status_code == 200
        time.sleep(1.5)
        assert site_seen(engine, "south", "late") is None  # nothing written yet: 3,600 s
        process.stop()  # SIGTERM: the app's shutdown writes what it saw
        # uvicorn ends by raising the signal again, once its shutdown is done.
        assert process.proc is not None and process.proc.returncode in (0, -signal.SIGTERM)
        at = site_seen(engine, "south", "late")
        assert at is not None and abs(datetime.now(UTC) - at) < timedelta(seconds=30)
        assert site_seen(engine, "south", "ahead") == later
    finally:
        process.stop()
        engine.dispose()
