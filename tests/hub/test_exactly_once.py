"""Exactly once through concurrent retries and a hub killed mid-batch."""

from __future__ import annotations

import concurrent.futures
import json
import random
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select, text

from pvp_hub.database import write_transaction
from pvp_hub.schema import events, sites
from pvp_hub.sync import _lock_id
from tests.hub.regions import Hub, Region, Site, event, push
from tests.support.hub_daemons import REPO, HubProcess, wait_for


def batches_file(tmp_path: Path, name: str, batches: list[dict[str, Any]]) -> Path:
    path = tmp_path / f"{name}.json"
    path.write_text(json.dumps(batches))
    return path


def start_pusher(url: str, site: Site, path: Path, start_at: float = 0) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "tests.hub.pusher", url, site.token, str(path), str(start_at)],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def finish(proc: subprocess.Popen[str]) -> list[dict[str, Any]]:
    out, err = proc.communicate(timeout=180)
    assert proc.returncode == 0, (out[-2000:], err[-2000:])
    return [json.loads(line) for line in out.splitlines()]


def count_events(hub: Hub, ids: list[str]) -> int:
    with hub.engine.connect() as conn:
        wanted = [uuid.UUID(i) for i in ids]
        total = 0
        for start in range(0, len(wanted), 500):
            chunk = wanted[start : start + 500]
            total += conn.execute(
                select(func.count()).select_from(events).where(events.c.id.in_(chunk))
            ).scalar_one()
        return total


def many_events(visits: int, per_visit: int) -> list[dict[str, Any]]:
    out = []
    for _ in range(visits):
        visit = uuid.uuid4()
        out.append(event(visit))
        out += [event(visit, "session_quality", quality="good") for _ in range(per_visit - 1)]
    return out


def test_the_same_batch_retried_by_several_processes_at_once_is_applied_once(
    hub: Hub, region: Region, tmp_path: Path
) -> None:
    site = region.site()
    batch = {"key": str(uuid.uuid4()), "events": many_events(40, 5)}
    path = batches_file(tmp_path, "same", [batch])
    # Two hub processes on the one database, as behind a load balancer.
    second = HubProcess(hub.process.db_url, tmp_path)
    second.start()
    try:
        start_at = time.time() + 1.5  # every sender is up and connected by then
        urls = [hub.url, second.url] * 3
        results = [finish(p)[0] for p in [start_pusher(u, site, path, start_at) for u in urls]]
    finally:
        second.stop()
    answers = [r["answer"] for r in results]
    # Whoever won, every sender gets the first answer; the others waited (SQLite's write
    # lock) or were told 409 (PostgreSQL) and retried.
    assert answers == [{"received": 200, "applied": 200, "duplicates": 0}] * 6
    assert all(set(r["seen"]) <= {200, 409} for r in results), results
    assert count_events(hub, [e["id"] for e in batch["events"]]) == 200


def test_a_request_still_in_flight_is_answered_409_or_waited_for(
    hub: Hub, region: Region, client: httpx.Client
) -> None:
    site = region.site()
    key = str(uuid.uuid4())
    with hub.engine.connect() as conn:
        site_id = conn.execute(select(sites.c.id).where(sites.c.slug == site.slug)).scalar_one()
        if hub.kind == "postgresql":
            # What a request being applied holds: the key's transaction-scoped lock.
            conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _lock_id(site_id, key)})
            busy = push(client, site, [event(uuid.uuid4())], key=key)
            assert busy.status_code == 409 and busy.headers["retry-after"] == "1"
            assert busy.json()["error"]["code"] == "in_flight"
            conn.rollback()
            assert push(client, site, [event(uuid.uuid4())], key=key).status_code == 200
        else:
            # SQLite: another writer holds the lock; the request waits for it, then goes on.
            conn.rollback()
            with concurrent.futures.ThreadPoolExecutor(1) as pool:
                with write_transaction(hub.engine):
                    pending = pool.submit(push, client, site, [event(uuid.uuid4())], key)
                    time.sleep(0.5)
                    assert not pending.done()
                assert pending.result(timeout=10).status_code == 200


def test_a_database_busy_too_long_is_a_503_to_retry(
    hub: Hub, region: Region, client: httpx.Client
) -> None:
    if hub.kind != "sqlite":
        pytest.skip("SQLite's write lock; PostgreSQL's rows are locked, not the database")
    site = region.site()
    batch = [event(uuid.uuid4())]
    with write_transaction(hub.engine):  # held past the hub's 5 s busy timeout
        busy = push(client, site, batch, key="busy")
    assert busy.status_code == 503 and busy.headers["retry-after"] == "2"
    assert busy.json()["error"]["code"] == "database_unavailable"
    assert push(client, site, batch, key="busy").json()["applied"] == 1


def test_the_same_events_under_different_keys_at_once_are_stored_once(
    hub: Hub, region: Region, tmp_path: Path
) -> None:
    site = region.site()
    shared = many_events(20, 5)
    start_at = time.time() + 1.5
    senders = []
    for n in range(5):
        path = batches_file(tmp_path, f"key{n}", [{"key": str(uuid.uuid4()), "events": shared}])
        senders.append(start_pusher(hub.url, site, path, start_at))
    answers = [finish(p)[0]["answer"] for p in senders]
    assert sum(a["applied"] for a in answers) == 100
    assert sum(a["duplicates"] for a in answers) == 400
    assert count_events(hub, [e["id"] for e in shared]) == 100


@pytest.mark.slow
def test_a_hub_killed_mid_batch_loses_nothing_and_applies_nothing_twice(
    hub: Hub, region: Region, tmp_path: Path
) -> None:
    site = region.site()
    # Long enough that the kills fall mid-stream: a hub on asyncpg takes a 30-event
    # batch in milliseconds, and a restart takes seconds.
    batches = [{"key": str(uuid.uuid4()), "events": many_events(5, 6)} for _ in range(400)]
    all_ids = [e["id"] for b in batches for e in b["events"]]
    # A hub of its own on the session's database, so it can be killed.
    victim = HubProcess(hub.process.db_url, tmp_path)
    victim.start()
    sender = start_pusher(victim.url, site, batches_file(tmp_path, "stream", batches))
    rng = random.Random(14)
    try:
        for _ in range(4):
            before = count_events(hub, all_ids)
            wait_for(
                lambda b=before: sender.poll() is not None or count_events(hub, all_ids) > b + 60,
                180,
                "progress",
            )
            if sender.poll() is not None:
                break  # the whole stream is in: the kills so far are the test
            time.sleep(rng.uniform(0, 0.05))
            victim.kill()  # SIGKILL, while the sender is mid-stream
            time.sleep(rng.uniform(0.1, 0.5))
            victim.start()
        lines = finish(sender)
    finally:
        victim.stop()
        if sender.poll() is None:
            sender.kill()
    assert [line["batch"] for line in lines] == list(range(len(batches)))
    # A batch whose reply was lost is answered again with its first answer: the applied
    # counts add up to exactly every event once.
    assert sum(line["answer"]["applied"] for line in lines) == len(all_ids)
    assert all(line["answer"]["duplicates"] == 0 for line in lines)
    assert count_events(hub, all_ids) == len(all_ids)
    retried = [line for line in lines if len(line["seen"]) > 1]
    assert retried, "the kills should have interrupted some requests"
