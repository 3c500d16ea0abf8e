"""The region's view at scale: the activity report of a whole region (and of one site)
made by the hub the way `pvp report` makes a site's, and the overview page's figures.

A region of --sites sites (50), each with --visits visits a day (30) over twice --days
days (30: the period and the previous one, which the report compares with), is written
straight into the hub's tables (about 7 events a visit, as sites push them: check-in,
call, start, a video session (a tenth of them failed), scans, the end; some no-shows and
cancellations), on SQLite and on a PostgreSQL cluster started here. Then, in this
process, each measured --runs times (the median is printed):

- reading the period's events from the hub's database alone (no report);
- the region's report (read, write into the throw-away site store, `activity_report`),
  and one site's, with this process's peak memory;
- the CSV and XLSX exports of the region's report;
- the overview of the region (every site's figures of today).

Usage: uv run python benchmarks/bench_region_report.py [--sites N] [--days D]
       [--visits V] [--engines sqlite,postgresql] [--runs N]
"""

from __future__ import annotations

import argparse
import os
import random
import resource
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import select  # noqa: E402

from pvp_hub import directory, region, region_report  # noqa: E402
from pvp_hub.database import make_engine, migrate, write_transaction  # noqa: E402
from pvp_hub.schema import events, sites, visits  # noqa: E402
from pvp_tui.core import exports  # noqa: E402
from pvp_tui.core.config import load_config  # noqa: E402
from pvp_tui.core.reports import Period  # noqa: E402
from tests.support.hub_daemons import PostgresCluster  # noqa: E402

PARIS = ZoneInfo("Europe/Paris")
OUTCOMES = ("resolved", "resolved", "follow_up", "redirected", "technical_failure")


def visit_events(
    rng: random.Random, arrived: datetime, partner: str
) -> list[tuple[str, datetime, dict[str, Any]]]:
    """A visit's events as a site writes them."""
    needs = rng.sample(["hearing", "sight", "papers_help"], 1) if rng.random() < 0.1 else []
    out = [("checked_in", arrived, {"partner": partner, "ticket": "C-001", "kind": "walk_in",
                                     "priority": False, "needs": needs})]  # fmt: skip
    called = arrived + timedelta(minutes=rng.randint(0, 60))
    out.append(("called", called, {"from": "waiting", "to": "called"}))
    story = rng.random()
    if story < 0.07:
        out.append(("no_show", called + timedelta(minutes=5), {"from": "called", "to": "no_show"}))
        return out
    if story < 0.12:
        out.append(
            ("cancelled", called + timedelta(minutes=2), {"from": "called", "to": "cancelled"})
        )
        return out
    started = called + timedelta(minutes=2)
    out.append(("started", started, {"from": "called", "to": "in_session"}))
    kiosk = f"kiosque-{rng.randint(1, 2)}"
    failed = rng.random() < 0.1
    out.append(("session_started", started + timedelta(seconds=10),
                {"kiosk": kiosk, "partner": partner, "room_host": "visio.example.fr"}))  # fmt: skip
    end = started + timedelta(minutes=rng.randint(5, 40))
    out.append(("session_ended", end, {"kiosk": kiosk, "state": "failed" if failed else "ended",
                                        "reason": "connection_lost" if failed else "staff_ended",
                                        "worst_quality": "good", "reconnects": 0,
                                        "seconds_in_call": 600}))  # fmt: skip
    if rng.random() < 0.4:
        out.append(("document_captured", end + timedelta(seconds=5),
                    {"document": str(uuid.uuid4()), "kiosk": kiosk, "type": "other", "pages": 2,
                     "sha256": "0" * 64}))  # fmt: skip
    out.append(("finished", end + timedelta(minutes=1),
                {"from": "in_session", "to": "done", "outcome": rng.choice(OUTCOMES)}))  # fmt: skip
    return out


def fill(engine: Any, region_slug: str, n_sites: int, days: int, per_day: int, last: date) -> int:
    """The region's sites and their visits' events over `days` days up to `last`."""
    rng = random.Random(5)
    partners = [p.id for p in load_config(None).partners]
    site_ids = []
    for i in range(n_sites):
        directory.create_site(engine, region_slug, f"site-{i:03d}", f"France Services {i:03d}")
    with engine.connect() as conn:
        site_ids = list(conn.execute(sites.select().with_only_columns(sites.c.id)).scalars())
    now = datetime.now(UTC)
    total = 0
    for site_id in site_ids:
        visit_rows, event_rows = [], []
        for offset in range(days):
            day = last - timedelta(days=offset)
            for _ in range(per_day):
                arrived = datetime.combine(day, datetime.min.time(), PARIS) + timedelta(
                    hours=rng.randint(8, 15), minutes=rng.randint(0, 59)
                )
                vid = uuid.uuid4()
                partner = rng.choice(partners)
                visit_rows.append({"id": vid, "site_id": site_id, "first_at": arrived,
                                   "partner": partner, "ticket": "C-001", "status": "done",
                                   "status_at": arrived})  # fmt: skip
                for kind, at, data in visit_events(rng, arrived, partner):
                    event_rows.append({"id": uuid.uuid4(), "site_id": site_id, "visit_id": vid,
                                       "type": kind, "at": at, "data": data, "digest": "0" * 64,
                                       "received_at": now})  # fmt: skip
        with write_transaction(engine) as conn:
            conn.execute(visits.insert(), visit_rows)
            for start in range(0, len(event_rows), 5000):
                conn.execute(events.insert(), event_rows[start : start + 5000])
        total += len(event_rows)
    return total


CPU: list[float] = []  # this process's CPU seconds of the last `timed` (median)


def timed(runs: int, work: Callable[[], Any]) -> tuple[float, Any]:
    """The median wall time of `work` over `runs`, and its last result; its median CPU
    time in this process goes to CPU[-1] (steadier than wall time on a busy machine)."""
    times, cpu, result = [], [], None
    for _ in range(runs):
        began, began_cpu = time.perf_counter(), time.process_time()
        result = work()
        times.append(time.perf_counter() - began)
        cpu.append(time.process_time() - began_cpu)
    CPU.append(statistics.median(cpu))
    return statistics.median(times), result


def peak_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def bench(url: str, args: argparse.Namespace) -> None:
    engine = make_engine(url)
    migrate(engine)
    slug = "bench"
    directory.create_region(engine, slug, "Région de mesure")
    directory.save_partners(engine, slug, list(load_config(None).partners))
    today = datetime.now(PARIS).date()
    last = today - timedelta(days=1)
    began = time.perf_counter()
    n = fill(engine, slug, args.sites, 2 * args.days, args.visits, last)
    print(f"  filled: {args.sites} sites x {2 * args.days} days x {args.visits} visits = "
          f"{n:,} events in {time.perf_counter() - began:.0f} s")  # fmt: skip
    ref = region.region_for(engine, _admin(engine, slug), slug)
    assert ref is not None
    period = Period(last - timedelta(days=args.days - 1), last)

    def read_only() -> int:
        with engine.connect() as conn:
            slugs = {row.id: row.slug for row in conn.execute(select(sites.c.id, sites.c.slug))}
            scope = select(sites.c.id).where(sites.c.region_id == ref.id)
            found = region_report._logged_events(
                conn, slugs, scope, ref.id, period, PARIS, rename=True
            )
            return sum(1 for _ in found)

    seconds, count = timed(args.runs, read_only)
    print(f"  reading the events (current and previous period): {seconds:.2f} s "
          f"(CPU {CPU[-1]:.2f} s), {count:,} events")  # fmt: skip
    before = peak_mib()
    seconds, report = timed(args.runs, lambda: region_report.report(engine, ref, period))
    print(f"  region report, {args.days} days: {seconds:.2f} s (CPU {CPU[-1]:.2f} s; "
          f"{report.current.total.visits:,} visitors; peak memory {before:.0f} -> "
          f"{peak_mib():.0f} MiB)")  # fmt: skip
    seconds, _ = timed(args.runs, lambda: region_report.report(engine, ref, period, "site-000"))
    print(f"  one site's report: {seconds:.2f} s (CPU {CPU[-1]:.2f} s)")
    seconds, data = timed(args.runs, lambda: exports.to_csv(report))
    print(f"  CSV export: {seconds * 1000:.0f} ms ({len(data):,} bytes)")
    seconds, data = timed(args.runs, lambda: exports.to_xlsx(report))
    print(f"  XLSX export: {seconds * 1000:.0f} ms ({len(data):,} bytes)")
    seconds, view = timed(args.runs, lambda: region.overview(engine, ref))
    print(f"  overview of {len(view.sites)} sites: {seconds * 1000:.0f} ms")
    engine.dispose()


def _admin(engine: Any, slug: str) -> uuid.UUID:
    return directory.create_admin(engine, slug, f"bench-{uuid.uuid4().hex[:8]}@region.fr", "Bench")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sites", type=int, default=50)
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--visits", type=int, default=30)
    parser.add_argument("--engines", default="sqlite,postgresql")
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    for engine in args.engines.split(","):
        load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
        print(f"{engine} (load average {load}):", flush=True)
        if engine == "sqlite":
            with tempfile.TemporaryDirectory(prefix="pvp-bench-region-") as tmp:
                bench(f"sqlite:///{tmp}/hub.db", args)
        else:
            cluster = PostgresCluster()
            try:
                cluster.start()
                bench(cluster.create_database("bench_region"), args)
            finally:
                cluster.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
