"""Scenarios that are mostly waiting run beside the rest of the session.

A test marked `@pytest.mark.background("package.module")` has its scenario, a program
(`python -m package.module OUTDIR` writes OUTDIR/result.json), started when collection
ends, in a process group and a temporary folder of its own; the test is moved to the end
of the session and its `background_result` fixture waits for the program and hands over
the JSON. Nothing starts when the test is not collected (`-k`, `-m`, a single file
elsewhere), is skipped by a true `skipif`, or on `--collect-only`. When the session ends,
what still runs is stopped (SIGTERM to the group, then SIGKILL) and the module's
`cleanup(OUTDIR)`, if it has one, runs in any case (a network namespace, say); OUTDIR is
removed unless a failure's report names it. A session killed outright runs no hook: the
scenario watches its parent and stops itself (tests/hub/slow_link_scenario.py does).
"""

from __future__ import annotations

import contextlib
import importlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.support.hub_daemons import REPO

WAIT = 870  # seconds the test waits for its scenario, from the test's own start


@dataclass
class Scenario:
    module: str
    outdir: Path
    proc: subprocess.Popen[bytes]
    kept: bool = False  # its folder, named in a failure's report


SCENARIOS = pytest.StashKey[dict[str, Scenario]]()


def _module(item: pytest.Item) -> str | None:
    marker = item.get_closest_marker("background")
    return None if marker is None else str(marker.args[0])


def _skipped(item: pytest.Item) -> bool:
    if item.get_closest_marker("skip") is not None:
        return True
    return any(
        any(arg is True for arg in mark.args) or mark.kwargs.get("condition") is True
        for mark in item.iter_markers("skipif")
    )


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The tests that wait for a background scenario go last: the longest overlap. Under
    pytest-xdist, where the scenario runs in its test, they go first instead: one worker
    waits on it while the others run the rest."""
    first = _xdist_worker()
    items.sort(key=lambda item: (_module(item) is not None) != first)  # stable sort


def _xdist_worker() -> bool:
    """Under pytest-xdist every worker collects every test: the scenario then runs in
    the test itself, on the worker that gets it, while the other workers go on."""
    return bool(os.environ.get("PYTEST_XDIST_WORKER"))


def _start(module: str) -> Scenario:
    outdir = Path(tempfile.mkdtemp(prefix="pvp-background-"))
    with (outdir / "stdout.txt").open("wb") as out, (outdir / "stderr.txt").open("wb") as err:
        proc = subprocess.Popen(
            [sys.executable, "-m", module, str(outdir)],
            cwd=REPO,
            env=os.environ.copy(),
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=err,
            start_new_session=True,  # its own process group, stopped as a whole
        )
    return Scenario(module, outdir, proc)


def pytest_collection_finish(session: pytest.Session) -> None:
    if session.config.option.collectonly or _xdist_worker():
        return
    started = session.config.stash.setdefault(SCENARIOS, {})
    for item in session.items:
        module = _module(item)
        if module is None or _skipped(item) or item.nodeid in started:
            continue
        started[item.nodeid] = _start(module)


def pytest_sessionfinish(session: pytest.Session) -> None:
    for scenario in session.config.stash.get(SCENARIOS, {}).values():
        _stop(scenario)


def _stop(scenario: Scenario) -> None:
    proc = scenario.proc
    if proc.poll() is None:
        with contextlib.suppress(subprocess.TimeoutExpired, ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)  # its `finally`s tidy up
            proc.wait(20)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)  # whatever of the group is left
    proc.wait(10)
    cleanup = getattr(importlib.import_module(scenario.module), "cleanup", None)
    if cleanup is not None:
        cleanup(scenario.outdir)
    if not scenario.kept:
        shutil.rmtree(scenario.outdir, ignore_errors=True)


@pytest.fixture
def background_result(request: pytest.FixtureRequest) -> dict[str, Any]:
    """The result of this test's background scenario, once it has ended."""
    started = request.config.stash.setdefault(SCENARIOS, {})
    scenario = started.get(request.node.nodeid)
    module = _module(request.node)
    if scenario is None and _xdist_worker() and module is not None:
        scenario = started[request.node.nodeid] = _start(module)
    if scenario is None:
        pytest.fail(f"no background scenario was started for {request.node.nodeid}")
    try:
        status = scenario.proc.wait(WAIT)
    except subprocess.TimeoutExpired:
        _stop(scenario)
        status = None
    result = scenario.outdir / "result.json"
    if status != 0 or not result.exists():
        tail = (scenario.outdir / "stderr.txt").read_text(errors="replace")[-4000:]
        scenario.kept = True
        pytest.fail(
            f"{scenario.module} {'timed out' if status is None else f'exited {status}'} "
            f"(its folder: {scenario.outdir}):\n{tail}",
            pytrace=False,
        )
    facts: dict[str, Any] = json.loads(result.read_text())
    return facts
