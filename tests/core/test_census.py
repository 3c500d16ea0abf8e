"""The census line (`kill -USR2`): what a full collection frees is told apart from what
stays, and `PVP_TRACEMALLOC` adds a tracemalloc snapshot to each census (off by default)."""

from __future__ import annotations

import gc
import os
import re
import tracemalloc
from collections.abc import Iterator
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
        name = re.search(r"tracemalloc snapshot (snapshot-\d+-\d+\.pickle)", line)
        assert name, line
        snapshot = tracemalloc.Snapshot.load(str(tmp_path / "snaps" / name.group(1)))
        assert snapshot.traces
    finally:
        if not was_tracing:
            tracemalloc.stop()


@pytest.fixture
def not_tracing() -> Iterator[None]:
    """tracemalloc as it was before the test (stopped after, unless it was on)."""
    was_tracing = tracemalloc.is_tracing()
    yield
    if not was_tracing:
        tracemalloc.stop()


@pytest.mark.parametrize("frames", ["ten", "0", "70000", ""])
def test_a_bad_frame_count_is_a_warning_and_ten_frames(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    not_tracing: None,
    frames: str,
) -> None:
    if tracemalloc.is_tracing():
        pytest.skip("tracemalloc already on in this process (pytest -X tracemalloc)")
    monkeypatch.setenv(census_module.TRACE_ENV, str(tmp_path / "snaps"))
    monkeypatch.setenv(f"{census_module.TRACE_ENV}_FRAMES", frames)
    assert start_tracing() is True  # the bridge starts, tracing
    assert tracemalloc.get_traceback_limit() == 10
    if frames:
        assert f"{census_module.TRACE_ENV}_FRAMES" in caplog.text and "10" in caplog.text


def test_a_directory_that_cannot_be_made_is_a_warning_and_no_tracing(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    not_tracing: None,
) -> None:
    if tracemalloc.is_tracing():
        pytest.skip("tracemalloc already on in this process (pytest -X tracemalloc)")
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    monkeypatch.setenv(census_module.TRACE_ENV, str(blocker / "snaps"))
    assert start_tracing() is False  # the bridge starts, not tracing
    assert not tracemalloc.is_tracing()
    assert census_module.TRACE_ENV in caplog.text and "snaps" in caplog.text
    assert "tracemalloc" not in census()


def test_snapshot_names_carry_the_process_id(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, not_tracing: None
) -> None:
    """A restarted bridge (another pid, its count from 1 again) never overwrites the
    snapshots of the run before."""
    monkeypatch.setenv(census_module.TRACE_ENV, str(tmp_path))
    before = tmp_path / "snapshot-001.pickle"
    before.write_bytes(b"the run before")
    assert start_tracing() is True
    name = re.search(r"tracemalloc snapshot (\S+\.pickle)", census())
    assert name, "no snapshot"
    assert re.fullmatch(rf"snapshot-{os.getpid()}-\d{{3}}\.pickle", name.group(1))
    assert before.read_bytes() == b"the run before"
