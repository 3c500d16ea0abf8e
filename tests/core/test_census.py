"""The census line (`kill -USR2`): what a full collection frees is told apart from what
stays, and `PVP_TRACEMALLOC` adds a tracemalloc snapshot to each census (off by default)."""

from __future__ import annotations

import gc
import re
import tracemalloc
from pathlib import Path

import pytest

from pvp_common import census as census_module
from pvp_common.census import census, start_tracing


class _Cycle:
    def __init__(self) -> None:
        self.me = self


def test_census_counts_the_garbage_a_full_collection_frees() -> None:
    gc.collect()
    gc.disable()
    try:
        for _ in range(50):
            _Cycle()
        line = census()
    finally:
        gc.enable()
    found = re.search(r"after a full collection \((\d+) freed\): blocks (\d+)", line)
    assert found, line
    assert int(found.group(1)) >= 50


def test_no_snapshot_unless_asked(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(census_module.TRACE_ENV, raising=False)
    assert start_tracing() is False
    assert "tracemalloc" not in census()


def test_tracemalloc_snapshots_when_asked(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(census_module.TRACE_ENV, str(tmp_path / "snaps"))
    monkeypatch.setenv(f"{census_module.TRACE_ENV}_FRAMES", "3")
    was_tracing = tracemalloc.is_tracing()
    try:
        assert start_tracing() is True
        line = census()
        name = re.search(r"tracemalloc snapshot (snapshot-\d+\.pickle)", line)
        assert name, line
        snapshot = tracemalloc.Snapshot.load(str(tmp_path / "snaps" / name.group(1)))
        assert snapshot.traces
    finally:
        if not was_tracing:
            tracemalloc.stop()
