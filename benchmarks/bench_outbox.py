"""Draining a site's outbox to a local hub: the sync worker against a bare httpx loop.

One real `pvp-hub serve` (SQLite by default, `--engine postgresql` for a cluster started
here), one region, one site and its token. Each run writes --events fresh events (visits
of 10 events each: checked_in, called, started, finished and document events) into a
site store's outbox as the front desk does (`outbox.enqueue`), then:

- **worker**: `SyncWorker.drain()`: batches of 500 with their Idempotency-Key and body
  committed first, each acknowledged batch deleted from the outbox, over one keep-alive
  httpx connection;
- **bare loop** (the baseline): the same number of fresh events posted one per request
  with an httpx.Client (keep-alive), each with its own key, nothing recorded anywhere.

Runs alternate; prints each side's median wall time, events/s, and the ratio (goal: the
worker >= 2x the bare loop).

Usage: uv run python benchmarks/bench_outbox.py [--events N] [--runs N] [--engine E]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from pvp_hub import directory  # noqa: E402
from pvp_hub.database import make_engine  # noqa: E402
from pvp_tui.core import outbox  # noqa: E402
from pvp_tui.core.clock import to_iso  # noqa: E402
from pvp_tui.core.config import Hub  # noqa: E402
from pvp_tui.core.store import Store  # noqa: E402
from pvp_tui.core.sync import SyncWorker  # noqa: E402
from tests.support.hub_daemons import HubProcess, PostgresCluster  # noqa: E402

STEPS = (
    ("checked_in", {"partner": "caf", "ticket": "C-001", "kind": "walk_in", "needs": []}),
    ("called", {"from": "waiting", "to": "called"}),
    ("started", {"from": "called", "to": "in_session"}),
    ("session_started", {"kiosk": "kiosque-1", "partner": "caf"}),
    (
        "document_captured",
        {
            "document": "d",
            "kiosk": "kiosque-1",
            "type": "payslip",
            "pages": 2,
            "sha256": "ab" * 32,
            "consent": False,
        },
    ),
    ("document_printed", {"document": "d", "printer": "p", "copies": 1, "pages": 2}),
    ("session_ended", {"kiosk": "kiosque-1", "state": "ended", "reason": "hangup"}),
    ("finished", {"from": "in_session", "to": "done", "outcome": "resolved"}),
    ("document_purged", {"document": "d", "kiosk": "kiosque-1", "reason": "visit_closed"}),
    ("note_edited", {"length": 12}),
)


def fresh_events(count: int) -> list[dict[str, object]]:
    """`count` new events in the push shape, a visit per 10, dated in the last hour."""
    start = datetime.now(UTC) - timedelta(hours=1)
    result: list[dict[str, object]] = []
    visit = ""
    for n in range(count):
        if n % len(STEPS) == 0:
            visit = str(uuid.uuid4())
        kind, data = STEPS[n % len(STEPS)]
        at = to_iso(start + timedelta(milliseconds=n))
        result.append(outbox.push_shape(str(uuid.uuid4()), visit, kind, at, dict(data)))
    return result


def fill_outbox(store: Store, items: list[dict[str, object]]) -> None:
    now = to_iso(datetime.now(UTC))
    with store.transaction() as db:
        for item in items:
            outbox.enqueue(db, str(item["id"]), str(item["visit_id"]), str(item["type"]),
                           str(item["at"]), dict(item["data"]), now)  # type: ignore[call-overload]  # fmt: skip


def run_worker(store: Store, hub: Hub, count: int) -> float:
    fill_outbox(store, fresh_events(count))
    worker = SyncWorker(store, hub)
    assert worker.acquire()
    started = time.perf_counter()
    result = worker.drain(timeout=60)
    elapsed = time.perf_counter() - started
    worker._release()
    assert result.error is None and result.events == count, result
    assert result.applied == count, result
    return elapsed


def run_bare(url: str, token: str, count: int) -> float:
    items = fresh_events(count)
    auth = {"Authorization": f"Bearer {token}"}
    with httpx.Client(base_url=url, timeout=30) as client:
        started = time.perf_counter()
        for item in items:
            answer = client.post(
                "/api/v1/site/events",
                json={"events": [item]},
                headers={**auth, "Idempotency-Key": str(uuid.uuid4())},
            )
            assert answer.status_code == 200, answer.text
        return time.perf_counter() - started


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--engine", choices=("sqlite", "postgresql"), default="sqlite")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-outbox-") as tmp:
        work = Path(tmp)
        cluster = None
        if args.engine == "postgresql":
            cluster = PostgresCluster()
            cluster.start()
            db_url = cluster.create_database("bench_outbox")
        else:
            db_url = f"sqlite:///{work / 'hub.db'}"
        process = HubProcess(db_url, work)
        try:
            process.start()
            engine = make_engine(db_url, pool_size=2)
            directory.create_region(engine, "bench", "Bench")
            directory.save_partners(
                engine,
                "bench",
                directory.check_partners([{"id": "caf", "name": "CAF", "prefix": "C"}]),
            )
            directory.create_site(engine, "bench", "bench-site", "Bench site")
            _token_id, token = directory.issue_token(engine, "bench", "bench-site")
            engine.dispose()
            (work / "hub.token").write_text(token)
            hub = Hub(url=process.url, token_file=work / "hub.token")
            store = Store(work / "site.db", create=True)
            worker_times: list[float] = []
            bare_times: list[float] = []
            for run in range(args.runs):
                worker_times.append(run_worker(store, hub, args.events))
                bare_times.append(run_bare(process.url, token, args.events))
                print(f"run {run + 1}: worker {worker_times[-1]:.2f} s, "
                      f"bare loop {bare_times[-1]:.2f} s", flush=True)  # fmt: skip
        finally:
            process.stop()
            if cluster is not None:
                cluster.stop()
    worker = statistics.median(worker_times)
    bare = statistics.median(bare_times)
    print(f"\n{args.events} events, {args.engine}, median of {args.runs} runs")
    print(f"worker (batches of 500): {worker:.2f} s, {args.events / worker:,.0f} events/s")
    print(f"bare httpx loop (1 per request, keep-alive): {bare:.2f} s, "
          f"{args.events / bare:,.0f} events/s")  # fmt: skip
    ratio = bare / worker
    print(f"ratio: {ratio:.1f}x (goal >= 2x): {'met' if ratio >= 2 else 'NOT met'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
