"""A site's pull from a local hub: `pvp_tui.core.pull.pull` against a bare httpx GET.

One real `pvp-hub serve` (SQLite), one region with its partners, one site and its token,
and --appointments appointments for the site made on the hub. Two cases, each measured
side by side with its baseline, runs alternating:

- **idle pull** (what the sync worker does every 10 s most of the day): nothing new since
  the cursor; the pull's one GET, and no write (a page with nothing new commits nothing).
  Baseline: the same GET with an httpx.Client, nothing else.
- **full pull** (a new site, or a cursor the hub no longer knows): every partner and
  appointment from no cursor, each page applied in one transaction with its cursor.
  Baseline: the same pages fetched with httpx and thrown away.

Prints each side's median (ms) and the ratio pull / bare.

Usage: uv run python benchmarks/bench_pull.py [--appointments N] [--runs N]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from pvp_hub import appointments, directory  # noqa: E402
from pvp_hub.database import make_engine  # noqa: E402
from pvp_tui.core.config import Hub, parse_config  # noqa: E402
from pvp_tui.core.pull import pull  # noqa: E402
from pvp_tui.core.store import Store  # noqa: E402
from pvp_tui.core.sync import SyncWorker  # noqa: E402
from tests.support.hub_daemons import HubProcess  # noqa: E402
from tests.support.sites import OPEN_SITE  # noqa: E402


def bare_pages(client: httpx.Client, token: str, cursor: str | None) -> int:
    pages = 0
    while True:
        params = {"cursor": cursor} if cursor else {}
        answer = client.get(
            "/api/v1/site/changes", params=params, headers={"Authorization": f"Bearer {token}"}
        ).json()
        pages += 1
        cursor = answer["cursor"]
        if not answer["more"]:
            return pages


def timed(fn: Callable[[], object]) -> float:
    start = time.perf_counter()
    fn()
    return (time.perf_counter() - start) * 1000


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--appointments", type=int, default=1000)
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-pull-") as tmp:
        work = Path(tmp)
        url = f"sqlite:///{work / 'hub.db'}"
        hub = HubProcess(url, work)
        hub.start()
        engine = make_engine(url, pool_size=2)
        try:
            directory.create_region(engine, "bench", "Bench")
            site_config = parse_config(OPEN_SITE, "bench")
            directory.save_partners(engine, "bench", list(site_config.partners))
            directory.create_site(engine, "bench", "test-site", "Relais")
            _, token = directory.issue_token(engine, "bench", "test-site")
            start = datetime.now(UTC) + timedelta(hours=1)
            for n in range(args.appointments):
                item = appointments.AppointmentInput(
                    "test-site", "caf", start + timedelta(minutes=n), f"Visiteur {n}"
                )
                appointments.upsert(engine, "bench", item)
            (work / "hub.token").write_text(token + "\n")
            config = parse_config(
                OPEN_SITE + f'\n[hub]\nurl = "{hub.url}"\ntoken_file = "hub.token"\n',
                "bench",
                base_dir=work,
            )
            assert isinstance(config.hub, Hub)
            results: dict[str, list[float]] = {
                k: [] for k in ("full", "full_bare", "idle", "idle_bare")
            }
            with httpx.Client(base_url=hub.url, timeout=30) as client:
                for run in range(args.runs):
                    store = Store(work / f"site-{run}.db", create=True)
                    worker = SyncWorker(store, config.hub)
                    results["full"].append(timed(lambda: pull(worker, config)))  # noqa: B023
                    cursor = store.query("SELECT cursor FROM pull_state")[0]["cursor"]
                    results["full_bare"].append(timed(lambda: bare_pages(client, token, None)))
                    for _ in range(10):
                        results["idle"].append(timed(lambda: pull(worker, config)))  # noqa: B023
                        results["idle_bare"].append(
                            timed(lambda: bare_pages(client, token, cursor))  # noqa: B023
                        )
                    worker.close()
                    store.close()
        finally:
            hub.stop()
            engine.dispose()
    print(f"{args.appointments} appointments + 5 partners, {args.runs} runs (SQLite hub)")
    for case in ("full", "idle"):
        mine, bare = statistics.median(results[case]), statistics.median(results[case + "_bare"])
        print(f"{case:5} pull: median {mine:7.1f} ms   bare GET(s): {bare:7.1f} ms   "
              f"ratio {mine / bare:.2f}x")  # fmt: skip


if __name__ == "__main__":
    main()
