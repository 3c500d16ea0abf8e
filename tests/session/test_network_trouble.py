"""Quality under real network trouble: tbf shaping in a private network namespace (root)."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from typing import Any

import pytest

from kiosk_bridge.session.config import SessionConfig
from tests.session.conftest import Child, child_spec
from tests.session.netns import in_netns, network_namespace, shape, unshape

pytestmark = pytest.mark.skipif(
    os.geteuid() != 0, reason="needs root to make a network namespace and shape it with tc"
)


@pytest.fixture
def netns() -> Iterator[str]:
    try:
        namespace = network_namespace()
        name = namespace.__enter__()
    except subprocess.CalledProcessError as exc:
        pytest.skip(f"cannot make a network namespace here: {exc.stderr.decode().strip()}")
    try:
        try:  # tbf must be there (the kernel of SESSION.md has it, but no netem)
            shape(name)
            unshape(name)
        except subprocess.CalledProcessError as exc:
            pytest.skip(f"cannot shape traffic with tc tbf here: {exc.stderr.decode().strip()}")
        yield name
    finally:
        namespace.__exit__(None, None, None)


def stats_where(pred: Any) -> Any:
    return lambda x: x.get("event") == "session.stats" and pred(x["data"])


async def test_quality_drops_under_shaping_and_comes_back(
    netns: str, session_config: SessionConfig
) -> None:
    spec = child_spec(session_config, "C-060", far_end="127.0.0.1", reconnect=30)
    # After congestion, the aiortc agent's REMB keeps the kiosk's outgoing estimate at its
    # floor for up to a minute (see trace_shaped.json): judge this run without bitrate,
    # which the replay tests cover.
    spec["session"]["quality"] = {"bitrate_warn_kbps": 0, "bitrate_poor_kbps": 0}
    child = await Child.start(spec, prefix=in_netns(netns))
    try:
        await child.state("in_call", timeout=30)
        await child.read_until(stats_where(lambda d: d["quality"] == "good"), 10, "good stats")

        shape(netns)
        dropped = await child.read_until(
            stats_where(lambda d: d["quality"] != "good"), 60, "quality drop", len(child.lines)
        )
        assert dropped["data"]["quality_changed"] is True
        assert dropped["data"]["quality"] in ("degraded", "poor")
        assert set(dropped["data"]["reasons"]) & {"rtt", "loss", "jitter", "fps"}

        unshape(netns)
        back = await child.read_until(
            stats_where(lambda d: d["quality"] == "good"), 90, "recovery", len(child.lines)
        )
        assert back["data"]["quality_changed"] is True
        assert back["data"]["worst_quality"] in ("degraded", "poor")
        assert back["data"]["state"] == "in_call"

        await child.send("end")
        ended = await child.state("ended")
        assert ended["reason"] == "ended_by_staff"
        assert ended["worst_quality"] == dropped["data"]["quality"]
        await child.send("quit")
        assert await child.proc.wait() == 0
    finally:
        await child.stop()
