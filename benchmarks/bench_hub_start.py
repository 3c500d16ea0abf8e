"""The start of `pvp-hub` on a database already at the newest migration: `serve` to its
first healthy answer, and an admin command (`admin region list`) to its exit.

Each start and each admin command asks whether the schema needs migrating; this measures
what that question costs a process (the hub's tests start many). Median of --runs cold
processes each, on one SQLite file migrated beforehand. Baseline: an older tree
(--baseline DIR, e.g. `git archive a1e87db | tar -x -C DIR`: Alembic loaded its
environment for every start, even with nothing to do), timed the same way, in turns.

Usage: uv run python benchmarks/bench_hub_start.py [--runs 7] [--baseline DIR]
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def env_for(tree: Path) -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(tree)}


def serve_start(tree: Path, db: str) -> float:
    port = free_port()
    began = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, "-m", "pvp_hub", "serve", "--db", db, "--port", str(port)],
        cwd=tree, env=env_for(tree), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        while True:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/api/v1/health", timeout=1).is_success:
                    return time.perf_counter() - began
            except httpx.HTTPError:
                pass
            if proc.poll() is not None:
                raise RuntimeError("pvp-hub serve exited")
            time.sleep(0.02)
    finally:
        proc.terminate()
        proc.wait(10)


def admin_command(tree: Path, db: str) -> float:
    began = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "pvp_hub", "admin", "region", "list", "--db", db],
        cwd=tree, env=env_for(tree), check=True, capture_output=True,
    )  # fmt: skip
    return time.perf_counter() - began


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--baseline", type=Path, help="an older tree to compare with")
    args = parser.parse_args()
    trees = {"this tree": REPO, **({"baseline": args.baseline} if args.baseline else {})}
    with tempfile.TemporaryDirectory() as tmp:
        db = f"sqlite:///{Path(tmp) / 'hub.db'}"
        admin_command(REPO, db)  # creates and migrates it
        times: dict[tuple[str, str], list[float]] = {}
        for _ in range(args.runs):  # in turns: the machine's load drifts
            for name, tree in trees.items():
                times.setdefault((name, "serve"), []).append(serve_start(tree, db))
                times.setdefault((name, "admin"), []).append(admin_command(tree, db))
    for what in ("serve", "admin"):
        here = statistics.median(times[("this tree", what)])
        line = f"{what:5}: this tree {here:.3f} s (median of {args.runs})"
        if args.baseline:
            base = statistics.median(times[("baseline", what)])
            line += f", baseline {base:.3f} s, ratio {here / base:.2f}"
        print(line)


if __name__ == "__main__":
    main()
