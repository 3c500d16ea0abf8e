"""Record real session traces for the replay tests (run by hand, as root, then commit).

    uv run python -m tests.bridge_session.record_fixtures

Writes tests/bridge_session/fixtures/trace_far_end_leaves.json (a call the agent leaves) and
trace_shaped.json (a call through tbf shaping and back, ended by staff): what the
injected script reported and every getStats() summary, with times from the start.
"""

from __future__ import annotations

import asyncio
import shutil
import tempfile
from pathlib import Path
from typing import Any

from kiosk_bridge.session.config import SessionConfig, Timeouts
from tests.bridge_session.harness import Child, child_spec
from tests.bridge_session.netns import in_netns, network_namespace, shape, unshape

FIXTURES = Path(__file__).parent / "fixtures"


def stats_where(pred: Any) -> Any:
    return lambda x: x.get("event") == "session.stats" and pred(x["data"])


async def far_end_leaves(config: SessionConfig, out: Path) -> None:
    spec = child_spec(config, "C-007", far_end="127.0.0.1") | {"trace_file": str(out)}
    child = await Child.start(spec)
    try:
        await child.state("in_call")
        await child.read_until(stats_where(lambda d: True), 20, "stats")
        mark = len(child.lines)
        for _ in range(4):
            await child.read_until(stats_where(lambda d: True), 20, "stats", len(child.lines))
        assert len(child.lines) > mark
        await child.send("leave")
        await child.state("ended")
        await child.send("quit")
        await child.proc.wait()
    finally:
        await child.stop()


async def shaped(config: SessionConfig, out: Path) -> None:
    with network_namespace() as ns:
        spec = child_spec(config, "C-008", far_end="127.0.0.1", reconnect=30)
        child = await Child.start(spec | {"trace_file": str(out)}, prefix=in_netns(ns))
        try:
            await child.state("in_call", timeout=30)
            for _ in range(3):
                await child.read_until(stats_where(lambda d: True), 20, "stats", len(child.lines))
            shape(ns)
            await child.read_until(
                stats_where(lambda d: d["quality"] == "poor"), 60, "poor", len(child.lines)
            )
            for _ in range(2):
                await child.read_until(stats_where(lambda d: True), 20, "stats", len(child.lines))
            unshape(ns)
            await child.read_until(
                stats_where(lambda d: d["quality"] == "good"), 90, "good", len(child.lines)
            )
            await child.send("end")
            await child.state("ended")
            await child.send("quit")
            await child.proc.wait()
        finally:
            await child.stop()


async def main() -> None:
    profiles = Path(tempfile.mkdtemp(prefix="pvp-record-"))
    config = SessionConfig(
        chromium=shutil.which("chromium") or "chromium",
        headless=True,
        fake_media=True,
        profile_dir=profiles,
        stats_interval=1.0,
        timeouts=Timeouts(page=10, agent=60, reconnect=10, media=1),
    )
    try:
        FIXTURES.mkdir(exist_ok=True)
        await far_end_leaves(config, FIXTURES / "trace_far_end_leaves.json")
        await shaped(config, FIXTURES / "trace_shaped.json")
    finally:
        shutil.rmtree(profiles, ignore_errors=True)


if __name__ == "__main__":
    asyncio.run(main())
