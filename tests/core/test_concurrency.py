"""The store under real concurrency: several processes on one file."""

from __future__ import annotations

import multiprocessing
import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path

import pytest

from pvp_tui.core.changes import ChangeWatcher
from pvp_tui.core.frontdesk import FrontDesk
from pvp_tui.core.store import Store
from tests.support import workers

from .conftest import check_in

ROOT = Path(__file__).resolve().parents[2]
PROCESSES = 8
CHECK_INS = 200

pytestmark = pytest.mark.slow


def test_eight_processes_checking_in_at_once_lose_and_duplicate_nothing(
    db_path: Path, store: Store
) -> None:
    spawn = multiprocessing.get_context("spawn")
    go = spawn.Event()
    procs = [
        spawn.Process(target=workers.check_in_many, args=(str(db_path), n, CHECK_INS, go))
        for n in range(PROCESSES)
    ]
    for proc in procs:
        proc.start()
    try:
        time.sleep(0.5)  # let every child open the file, then start them together
        go.set()
        for proc in procs:
            proc.join(timeout=120)
        assert [proc.exitcode for proc in procs] == [0] * PROCESSES
    finally:
        for proc in procs:
            if proc.is_alive():
                proc.kill()
                proc.join()
    rows = store.query(
        "SELECT v.ticket, v.prefix, v.seq, d.name FROM visits v "
        "JOIN visitor_details d ON d.visit_id = v.id"
    )
    total = PROCESSES * CHECK_INS
    expected_names = {f"w{w}-{i}" for w in range(PROCESSES) for i in range(CHECK_INS)}
    assert {row["name"] for row in rows} == expected_names  # 0 lost
    assert len(rows) == total
    assert len({row["ticket"] for row in rows}) == total  # 0 duplicate tickets
    per_prefix = Counter(row["prefix"] for row in rows)
    for prefix, n in per_prefix.items():  # each daily sequence is 1..n without a gap
        seqs = sorted(row["seq"] for row in rows if row["prefix"] == prefix)
        assert seqs == list(range(1, n + 1)), prefix
    events = store.query("SELECT count(*) AS n FROM events WHERE type = 'checked_in'")
    assert events[0]["n"] == total
    assert store.integrity_ok()


def test_a_writer_killed_mid_transaction_leaves_no_partial_write(
    db_path: Path, store: Store, desk: FrontDesk
) -> None:
    check_in(desk, name="Before")
    writer = subprocess.Popen(
        [sys.executable, "-m", "tests.support.workers", "hold", str(db_path)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert writer.stdout is not None
        assert writer.stdout.readline().strip() == "holding"
        # Another front desk checks in meanwhile: it waits for the lock...
        result: dict[str, object] = {}

        def other_desk() -> None:
            try:
                result["ticket"] = check_in(desk, name="During").ticket
            except Exception as exc:
                result["error"] = exc

        waiter = threading.Thread(target=other_desk)
        waiter.start()
        time.sleep(0.3)
        assert waiter.is_alive()  # blocked by the writer's lock, not refused
        os.kill(writer.pid, signal.SIGKILL)
        waiter.join(timeout=10)
        assert not waiter.is_alive()
    finally:
        if writer.poll() is None:
            writer.kill()
        writer.wait(timeout=10)
    assert writer.returncode == -signal.SIGKILL
    assert result == {"ticket": "C-002"}  # ...and goes on once the writer is gone
    assert store.query("SELECT id FROM visits WHERE id = 'half'") == []
    assert store.query("SELECT * FROM visitor_details WHERE name = 'Half Done'") == []
    assert store.integrity_ok()
    assert check_in(desk, name="After").ticket == "C-003"


def test_a_second_process_sees_a_change_within_one_second(db_path: Path, store: Store) -> None:
    seen: list[float] = []
    changed = threading.Event()

    def on_change() -> None:
        seen.append(time.time())
        changed.set()

    watcher = ChangeWatcher(db_path, on_change).start()
    try:
        time.sleep(0.2)  # the watcher has read the current data_version
        writer = subprocess.run(
            [sys.executable, "-m", "tests.support.workers", "once", str(db_path)],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=30,
            check=True,
        )
        committed_at = float(writer.stdout.strip())
        assert changed.wait(timeout=5)
    finally:
        watcher.stop()
    assert seen[0] - committed_at < 1.0
    assert watcher.error is None
    names = [r["name"] for r in store.query("SELECT name FROM visitor_details")]
    assert names == ["Second Process"]


def test_the_watcher_stays_quiet_without_changes_and_creates_no_file(tmp_path: Path) -> None:
    calls: list[int] = []
    Store(tmp_path / "quiet.db", create=True).close()
    watcher = ChangeWatcher(tmp_path / "quiet.db", lambda: calls.append(1), interval=0.05)
    watcher.start()
    time.sleep(0.3)
    watcher.stop()
    assert calls == []
    missing = ChangeWatcher(tmp_path / "missing.db", lambda: None, interval=0.05).start()
    missing.stop()
    assert not (tmp_path / "missing.db").exists()
    assert missing.error is not None
