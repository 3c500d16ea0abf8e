"""Benchmark: a year's activity report over 100,000 visits.

Two databases, written in the shape FrontDesk and the session/documents features write
them (visits and their event log, sessions and documents included):
  1. 100,000 visits over four years (a busy site), the report on the last year (2025);
  2. stress: 100,000 visits in 2025 and as many in 2024 (the report compares with it).
For each: the report's median time (warm, in-process), the first report in a fresh
process and its peak memory, the report after one more day of activity, and the cold
build of the per-visit summaries from the whole log (once per database).

Goals: under 1 s and under 200 MB. Baseline: one bare SQL pass over the same
year's events (counting them by type), the least any report from the event log must read.

    uv run python benchmarks/bench_report.py [--visits 100000] [--runs 7] [--keep DIR]
"""

from __future__ import annotations

import argparse
import atexit
import json
import os
import random
import resource
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from pvp_tui.core.config import load_config  # noqa: E402
from pvp_tui.core.reports import Period, activity_report  # noqa: E402
from pvp_tui.core.store import Store  # noqa: E402

YEAR = Period(date(2025, 1, 1), date(2025, 12, 31))
GOAL_SECONDS = 1.0
GOAL_MB = 200.0
OUTCOMES = ("resolved", "resolved", "resolved", "follow_up", "redirected", "technical_failure")
NEEDS = ("sign_language", "transcription", "hearing", "sight", "reduced_mobility", "papers_help")


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="milliseconds")


class Writer:
    """Visits and their events, in the rows FrontDesk and the session/documents features
    write (the schema comes from the real migrations)."""

    def __init__(self, path: Path, seed: int = 2025) -> None:
        self.config = load_config(None)
        Store(path, create=True).close()
        self.rng = random.Random(seed)
        self.tz = self.config.site.timezone
        self.partners = [(p.id, p.prefix) for p in self.config.partners]
        self.conn = sqlite3.connect(path)
        self.conn.execute("PRAGMA synchronous = OFF")
        self.visit_rows: list[tuple[object, ...]] = []
        self.event_rows: list[tuple[object, ...]] = []
        self.visits = 0
        self.events = 0

    def event(self, visit_id: str, at: datetime, kind: str, data: dict[str, object]) -> None:
        self.event_rows.append(
            (str(uuid.uuid4()), visit_id, "demo", iso(at), kind, json.dumps(data), "bench")
        )

    def flush(self) -> None:
        self.conn.executemany(
            """INSERT INTO visits (id, site_id, day, prefix, seq, ticket, partner_id, status,
               kind, appointment_at, priority, needs, outcome, arrived_at, called_at,
               started_at, ended_at, transferred_from, updated_at)
               VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)""",
            self.visit_rows,
        )
        self.conn.executemany(
            "INSERT INTO events (id, visit_id, site_id, at, type, data, actor) "
            "VALUES (?, ?, ?, ?, ?, ?, ?)",
            self.event_rows,
        )
        self.conn.commit()
        self.events += len(self.event_rows)
        self.visit_rows.clear()
        self.event_rows.clear()

    def day(self, day: date, count: int) -> None:
        rng, tz, event = self.rng, self.tz, self.event
        seqs: dict[str, int] = {}
        for _ in range(count):
            pid, prefix = rng.choice(self.partners)
            seqs[prefix] = seqs.get(prefix, 0) + 1
            ticket = f"{prefix}-{seqs[prefix]:03d}"
            arrived = datetime(
                day.year, day.month, day.day, rng.randint(8, 16), rng.randint(0, 59), 0, 0, tz
            )
            vid = str(uuid.uuid4())
            kind = "appointment" if rng.random() < 0.3 else "walk_in"
            needs = sorted(rng.sample(NEEDS, 1)) if rng.random() < 0.1 else []
            event(
                vid,
                arrived,
                "checked_in",
                {"partner": pid, "ticket": ticket, "kind": kind, "appointment_at": None,
                 "priority": False, "needs": needs},
            )  # fmt: skip
            called = arrived + timedelta(seconds=rng.randint(0, 3600))
            started = called + timedelta(seconds=rng.randint(30, 300))
            ended = started + timedelta(seconds=rng.randint(300, 2700))
            status, outcome = "done", rng.choice(OUTCOMES)
            story = rng.random()
            event(vid, called, "called", {"from": "waiting", "to": "called"})
            if story < 0.06:
                status, outcome, ended = "no_show", None, called + timedelta(minutes=5)
                event(vid, ended, "no_show", {"from": "called", "to": "no_show"})
            elif story < 0.10:
                status, outcome, ended = "cancelled", None, called + timedelta(minutes=2)
                event(vid, ended, "cancelled", {"from": "called", "to": "cancelled"})
            else:
                event(vid, started, "started", {"from": "called", "to": "in_session"})
                kiosk = f"kiosque-{rng.randint(1, 2)}"
                begin = started + timedelta(seconds=10)
                event(vid, begin, "session_started", {"kiosk": kiosk, "partner": pid})
                event(vid, begin + timedelta(seconds=20), "session_agent_joined", {})
                failed = outcome == "technical_failure"
                event(
                    vid,
                    ended - timedelta(seconds=30),
                    "session_ended",
                    {
                        "kiosk": kiosk,
                        "state": "failed" if failed else "ended",
                        "reason": "connection_lost" if failed else "staff_ended",
                        "worst_quality": "poor" if failed else "good",
                        "reconnects": 1 if failed else 0,
                        "seconds_in_call": (ended - begin).total_seconds() - 30,
                    },
                )
                if rng.random() < 0.4:
                    event(
                        vid,
                        begin + timedelta(minutes=3),
                        "document_captured",
                        {"document": str(uuid.uuid4()), "kiosk": kiosk, "pages": 2},
                    )
                event(vid, ended, "finished", {"from": "in_session", "to": "done",
                                               "outcome": outcome})  # fmt: skip
            self.visit_rows.append(
                (
                    vid, "demo", day.isoformat(), prefix, seqs[prefix], ticket, pid, status,
                    kind, None, 0, json.dumps(needs), outcome, iso(arrived), iso(called),
                    iso(started), iso(ended), None, iso(ended),
                )
            )  # fmt: skip
            self.visits += 1
        if len(self.event_rows) > 50_000:
            self.flush()

    def close(self) -> None:
        self.flush()
        self.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        self.conn.close()


def opening_days(start: date, end: date) -> list[date]:
    days = [start + timedelta(days=i) for i in range((end - start).days + 1)]
    return [d for d in days if d.weekday() < 6]


def build(path: Path, total: int, years: int) -> tuple[int, int]:
    """`total` visits spread evenly over the opening days of `years` years ending with
    the reported one."""
    writer = Writer(path)
    days = opening_days(date(YEAR.start.year - years + 1, 1, 1), YEAR.end)
    per_day, extra = divmod(total, len(days))
    for index, day in enumerate(days):
        writer.day(day, per_day + (1 if index < extra else 0))
    writer.close()
    return writer.visits, writer.events


def baseline(path: Path) -> float:
    """One bare pass over the year's events, grouped by type."""
    tz = load_config(None).site.timezone
    start, end = YEAR.bounds(tz)
    conn = sqlite3.connect(path)
    t = time.perf_counter()
    conn.execute(
        "SELECT type, COUNT(*) FROM events WHERE at >= ? AND at < ? GROUP BY type", (start, end)
    ).fetchall()
    elapsed = time.perf_counter() - t
    conn.close()
    return elapsed


def measure_once(path: Path, cold: bool) -> None:
    """Child process: one report (after dropping the summaries when `cold`), then print
    its time and the process's peak memory (imports included)."""
    config = load_config(None)
    store = Store(path, create=True)
    if cold:
        with store.transaction() as db:
            for table in ("report_state", "report_visits", "report_sessions", "report_labels"):
                db.conn.execute(f"DROP TABLE IF EXISTS {table}")
    t = time.perf_counter()
    report = activity_report(store, config, YEAR)
    elapsed = time.perf_counter() - t
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    store.close()
    print(
        json.dumps({"seconds": elapsed, "peak_mb": peak_mb, "visits": report.current.total.visits})
    )


def child(path: Path, cold: bool) -> dict[str, float]:
    mode = "cold" if cold else "warm"
    done = subprocess.run(
        [sys.executable, __file__, "--child", str(path), "--mode", mode],
        capture_output=True,
        text=True,
        check=True,
    )
    return dict(json.loads(done.stdout))


def run_layout(name: str, folder: Path, total: int, years: int, runs: int) -> bool:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"bench-{years}y.db"
    print(f"== {name}")
    if not path.exists():
        t = time.perf_counter()
        visits, events = build(path, total, years)
        print(f"built {visits:,} visits, {events:,} events in {time.perf_counter() - t:.0f} s")
    print(f"database: {path} ({path.stat().st_size / 1e6:.0f} MB)")

    cold = child(path, cold=True)  # summaries built from the whole event log
    warm = child(path, cold=False)  # a fresh process, summaries up to date
    config = load_config(None)
    store = Store(path, create=True)
    times, cpu = [], []
    report = None
    for _ in range(runs):
        t, c = time.perf_counter(), time.process_time()
        report = activity_report(store, config, YEAR)
        times.append(time.perf_counter() - t)
        cpu.append(time.process_time() - c)
    # One more day of activity (400 visits), then the report again: what a staff member
    # meets when opening the report after a day at the desk.
    writer = Writer(path, seed=7)
    last = writer.conn.execute("SELECT MAX(day) FROM visits").fetchone()[0]
    writer.day(date.fromisoformat(last) + timedelta(days=1), 400)
    writer.close()
    t = time.perf_counter()
    activity_report(store, config, YEAR)
    incremental = time.perf_counter() - t
    store.close()
    bases = [baseline(path) for _ in range(runs)]
    assert report is not None
    median, base = statistics.median(times), statistics.median(bases)
    total_f = report.current.total
    print(
        f"report {YEAR.start} to {YEAR.end}: visits {total_f.visits:,} "
        f"(previous year {report.previous.total.visits:,}), served {total_f.served:,}, "
        f"no-shows {total_f.no_shows:,}, median wait {total_f.wait_median_s / 60:.1f} min, "
        f"sessions {total_f.sessions:,}"
    )
    print(
        f"  median of {runs} runs: {median:.3f} s wall, {statistics.median(cpu):.3f} s CPU "
        f"(min {min(times):.3f}, max {max(times):.3f})"
    )
    print(
        f"  first report in a fresh process: {warm['seconds']:.3f} s, "
        f"peak RSS {warm['peak_mb']:.0f} MB"
    )
    print(f"  after one more day (400 visits) to summarise: {incremental:.3f} s")
    print(
        f"  cold (summaries rebuilt from the whole log, once per database): "
        f"{cold['seconds']:.2f} s, peak RSS {cold['peak_mb']:.0f} MB"
    )
    print(
        f"  baseline (bare SQL pass over the year's events): {base:.3f} s; "
        f"ratio {median / base:.2f}x"
    )
    peak = max(warm["peak_mb"], cold["peak_mb"])
    print(
        f"  goals: {median:.3f} s / {GOAL_SECONDS:.1f} s = {median / GOAL_SECONDS:.2f}; "
        f"{peak:.0f} MB / {GOAL_MB:.0f} MB = {peak / GOAL_MB:.2f}"
    )
    ok = median < GOAL_SECONDS and warm["seconds"] < GOAL_SECONDS and peak < GOAL_MB
    print("  goal met" if ok else "  GOAL NOT MET")
    return ok


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--visits", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--keep", metavar="DIR", help="keep the databases in DIR (reused)")
    parser.add_argument("--child", metavar="DB", help=argparse.SUPPRESS)
    parser.add_argument("--mode", choices=("cold", "warm"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        measure_once(Path(args.child), cold=args.mode == "cold")
        return 0
    folder = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="bench-report-"))
    if not args.keep:
        atexit.register(shutil.rmtree, folder, True)  # the scratch folder goes at the end
    print(f"load average before: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    ok = run_layout(
        f"{args.visits:,} visits over four years (a busy site); report on the last year",
        folder,
        args.visits,
        4,
        args.runs,
    )
    ok &= run_layout(
        f"stress: {args.visits:,} visits in the reported year and as many the year before",
        folder,
        2 * args.visits,
        2,
        args.runs,
    )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
