"""The headless `pvp` under concurrency: how long a write holds SQLite's lock, many cold
check-ins at once on a loaded machine, and the start-up of `pvp queue` and `pvp checkin`.

Every figure comes from real cold `pvp` processes (the installed console script) on a real
SQLite file; none is timed in-process. (The app's own start, to its first frame, is
benchmarks/bench_queue.py's part (a).)

(a) write-lock hold: each `pvp checkin` runs with a connection class that stamps
    `BEGIN IMMEDIATE` returning (lock taken) and `COMMIT` returning (lock released),
    and appends the difference to a file. p50 and p99 over the runs.
    Goal: p99 <= 5 ms. Baseline: the same measure on an older tree (--baseline DIR, e.g.
    `git archive 90da001 | tar -x -C DIR`: sqlite-utils was imported inside the lock).
(b) 8 workers x 25 sequential `pvp checkin` each (8 processes at any moment, 200 in all),
    with `yes > /dev/null` on every core (killed at the end), on one fresh database.
    Goal: 0 refused, 0 lost (rows = accepted), 0 duplicate tickets, counted in the file
    afterwards; also the lock hold (p50, p99) under that load. Baseline: the older tree
    (--baseline) under the same load.
(c) start-up: `pvp queue --json` and `pvp checkin` (median of --runs cold processes)
    against a bare Python script that opens the same file and prints the same waiting
    rows as JSON (sqlite3 + json only). Goals on this machine: queue <= 0.1 s,
    checkin <= 0.12 s. Timed twice, whatever .pyc files lie beside the modules: with
    compiled bytecode (a PYTHONPYCACHEPREFIX filled by a first run), as an install that
    compiled its modules runs; and with nothing compiled (an empty PYTHONPYCACHEPREFIX,
    PYTHONDONTWRITEBYTECODE=1), the standard library included, an upper bound of an
    install whose bytecode nobody may write. With --baseline, the same for the older tree (the
    bare script's median is taken again before each tree: the machine's load drifts).

Usage: uv run python benchmarks/bench_cli.py [--runs 30] [--workers 8] [--each 25]
       [--only a|b|c] [--baseline DIR]
"""

from __future__ import annotations

import argparse
import os
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from pvp_tui.core.store import Store  # noqa: E402
from tests.support.sites import OPEN_SITE  # noqa: E402

PVP = str(Path(sys.executable).with_name("pvp"))

# Runs pvp's main() with every sqlite3 connection timing its write lock: from BEGIN
# IMMEDIATE's return to COMMIT's (or ROLLBACK's) return, appended to $PVP_BENCH_LOCKS.
TIMED_PVP = textwrap.dedent(
    """
    import os, sqlite3, sys, time

    class Timed(sqlite3.Connection):
        taken = None

        def execute(self, sql, *args):
            if sql == "BEGIN IMMEDIATE":
                cursor = super().execute(sql, *args)
                self.taken = time.perf_counter()
                return cursor
            if sql in ("COMMIT", "ROLLBACK") and self.taken is not None:
                try:
                    return super().execute(sql, *args)
                finally:
                    held = time.perf_counter() - self.taken
                    self.taken = None
                    with open(os.environ["PVP_BENCH_LOCKS"], "a") as out:
                        out.write(f"{held}\\n")
            return super().execute(sql, *args)

    connect = sqlite3.connect

    def timed_connect(*args, **kwargs):
        kwargs.setdefault("factory", Timed)
        return connect(*args, **kwargs)

    sqlite3.connect = timed_connect
    from pvp_tui.cli import main
    sys.exit(main(sys.argv[1:]))
    """
)

BARE_QUEUE = textwrap.dedent(
    """
    import json, sqlite3, sys
    conn = sqlite3.connect(sys.argv[1])
    conn.row_factory = sqlite3.Row
    rows = conn.execute(
        "SELECT v.*, d.name FROM visits v LEFT JOIN visitor_details d ON d.visit_id = v.id"
        " WHERE v.status = 'waiting' ORDER BY v.arrived_at"
    ).fetchall()
    print(json.dumps([dict(r) for r in rows]))
    """
)


def percentile(values: Sequence[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f} ms"


class Site:
    """A site config and a fresh database in `root`; runs `pvp` from `source`."""

    def __init__(self, root: Path, source: Path) -> None:
        self.root = root
        self.config = root / "site.toml"
        self.config.write_text(OPEN_SITE, "utf-8")
        self.db = root / "pvp.db"
        self.locks = root / "locks.txt"
        Store(self.db, create=True).close()  # the same schema whatever tree runs pvp
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("PVP_")}
        self.env.update(
            PYTHONPATH=str(source),
            PVP_CONFIG=str(self.config),
            PVP_DB=str(self.db),
            PVP_BENCH_LOCKS=str(self.locks),
            HOME=str(root),  # the i18n cache and logs stay in the temporary directory
            XDG_CACHE_HOME=str(root / "cache"),
        )
        # The French catalog is compiled into the cache by the first start, once per machine.
        subprocess.run([PVP, "queue"], env=self.env, check=True, capture_output=True)

    def timed_checkin(self, name: str) -> subprocess.CompletedProcess[str]:
        command = [sys.executable, "-c", TIMED_PVP, "checkin", "--partner", "caf"]
        # cwd: `python -c` puts the current directory first on sys.path, before PYTHONPATH
        return subprocess.run(
            [*command, "--name", name],
            capture_output=True,
            text=True,
            env=self.env,
            cwd=self.root,
            timeout=120,
        )

    def lock_times(self) -> list[float]:
        if not self.locks.exists():
            return []
        return [float(line) for line in self.locks.read_text().split()]


def bench_lock(source: Path, runs: int, label: str) -> None:
    with tempfile.TemporaryDirectory(prefix="pvp-lock-") as tmp:
        site = Site(Path(tmp), source)
        for n in range(runs):
            done = site.timed_checkin(f"Visiteur {n}")
            assert done.returncode == 0, done.stderr
        held = site.lock_times()
    print(
        f"    {label}: {len(held)} write transactions in {runs} cold `pvp checkin`: "
        f"p50 {ms(statistics.median(held))}   p99 {ms(percentile(held, 0.99))}   "
        f"max {ms(max(held))}   over 5 ms: {sum(t > 0.005 for t in held)}   "
        f"(goal p99 <= 5 ms: ratio {percentile(held, 0.99) / 0.005:.2f})"
    )


def bench_load(source: Path, workers: int, each: int, label: str) -> None:
    hogs = [
        subprocess.Popen(["yes"], stdout=subprocess.DEVNULL)  # one busy loop per core
        for _ in range(os.cpu_count() or 1)
    ]
    try:
        with tempfile.TemporaryDirectory(prefix="pvp-load-") as tmp:
            site = Site(Path(tmp), source)

            def worker(index: int) -> list[tuple[int, str, float]]:
                results = []
                for n in range(each):
                    start = time.perf_counter()
                    done = site.timed_checkin(f"W{index}-{n}")
                    results.append((done.returncode, done.stderr, time.perf_counter() - start))
                return results

            start = time.perf_counter()
            with ThreadPoolExecutor(workers) as pool:
                results = [r for batch in pool.map(worker, range(workers)) for r in batch]
            wall = time.perf_counter() - start
            accepted = sum(code == 0 for code, _err, _t in results)
            refused = [err.strip() for code, err, _t in results if code != 0]
            conn = sqlite3.connect(site.db)
            rows, distinct = conn.execute(
                "SELECT count(*), count(DISTINCT ticket) FROM visits"
            ).fetchone()
            events = conn.execute("SELECT count(*) FROM events").fetchone()[0]
            conn.close()
            held = site.lock_times()
    finally:
        for hog in hogs:
            hog.kill()
            hog.wait()
    latencies = [t for _code, _err, t in results]
    print(
        f"    {label}: {workers} workers x {each} sequential cold `pvp checkin`, "
        f"{len(hogs)} CPU hogs: "
        f"{wall:.1f} s wall, one check-in p50 {statistics.median(latencies):.2f} s "
        f"p99 {percentile(latencies, 0.99):.2f} s"
    )
    print(
        f"    accepted {accepted}, refused {len(refused)}, rows {rows} (lost {accepted - rows}), "
        f"events {events}, duplicate tickets {rows - distinct}   (goal: 0 refused, 0 lost, 0 dup)"
    )
    for message in sorted(set(refused))[:3]:
        print(f"      refused: {message}")
    if held:
        print(
            f"    lock hold under this load: p50 {ms(statistics.median(held))}   "
            f"p99 {ms(percentile(held, 0.99))}   max {ms(max(held))}"
        )


def median_run(command: list[str], env: dict[str, str], runs: int) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(command, env=env, check=True, capture_output=True, timeout=60)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def bench_startup(runs: int, baseline: Path | None) -> None:
    with tempfile.TemporaryDirectory(prefix="pvp-start-") as tmp:
        site = Site(Path(tmp), ROOT)
        for n in range(20):  # a queue to read
            done = site.timed_checkin(f"Visiteur {n}")
            assert done.returncode == 0, done.stderr
        bare = Path(tmp) / "bare.py"
        bare.write_text(BARE_QUEUE)
        no_writes = {k: v for k, v in site.env.items() if k != "PYTHONDONTWRITEBYTECODE"}
        variants = {
            "with compiled bytecode": {**no_writes, "PYTHONPYCACHEPREFIX": str(Path(tmp) / "pyc")},
            "nothing compiled (the standard library included: an upper bound)": {
                **no_writes,
                "PYTHONPYCACHEPREFIX": str(Path(tmp) / "empty"),
                "PYTHONDONTWRITEBYTECODE": "1",
            },
        }
        for label, env in variants.items():
            queue = [PVP, "queue", "--json"]
            checkin = [PVP, "checkin", "--partner", "caf", "--name", "Marie"]
            bare_cmd = [sys.executable, str(bare), str(site.db)]
            trees = {"this tree": env}
            if baseline:
                trees[f"baseline {baseline}"] = {**env, "PYTHONPATH": str(baseline.resolve())}
            print(f"    {label}:")
            bare_med = 0.0
            for tree, tree_env in trees.items():
                for command in (queue, checkin, bare_cmd):  # fills the bytecode cache
                    subprocess.run(command, env=tree_env, check=True, capture_output=True)
                bare_med = median_run(bare_cmd, tree_env, runs)
                queue_med = median_run(queue, tree_env, runs)
                checkin_med = median_run(checkin, tree_env, runs)
                print(
                    f"      {tree}: bare script {bare_med:.3f} s   "
                    f"pvp queue --json {queue_med:.3f} s (ratio {queue_med / bare_med:.1f}, "
                    f"goal <= 0.1 s)   pvp checkin {checkin_med:.3f} s "
                    f"(ratio {checkin_med / bare_med:.1f}, goal <= 0.12 s)"
                )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--workers", type=int, default=8)
    parser.add_argument("--each", type=int, default=25)
    parser.add_argument("--only", choices=("a", "b", "c"))
    parser.add_argument("--baseline", type=Path, help="an older source tree to compare with")
    args = parser.parse_args()
    if shutil.which("yes") is None:
        sys.exit("`yes` (coreutils) is needed for the CPU hogs")
    if args.only in (None, "a"):
        print(
            "(a) write-lock hold per transaction, cold `pvp checkin` one at a time "
            f"(load average {os.getloadavg()[0]:.1f}: other work on the machine)"
        )
        bench_lock(ROOT, args.runs, "this tree")
        if args.baseline:
            bench_lock(args.baseline.resolve(), args.runs, f"baseline {args.baseline}")
    if args.only in (None, "b"):
        print(f"(b) concurrent cold check-ins, load average {os.getloadavg()[0]:.1f} before")
        bench_load(ROOT, args.workers, args.each, "this tree")
        if args.baseline:
            bench_load(
                args.baseline.resolve(), args.workers, args.each, f"baseline {args.baseline}"
            )
    if args.only in (None, "c"):
        print(f"(c) start-up of cold processes, load average {os.getloadavg()[0]:.1f}")
        bench_startup(args.runs, args.baseline)


if __name__ == "__main__":
    main()
