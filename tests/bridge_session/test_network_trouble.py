"""Quality under real network trouble: tbf shaping in a private network namespace (root)."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from typing import Any

import pytest

from kiosk_bridge.session.config import SessionConfig
from tests.bridge_session.harness import Child, child_spec
from tests.bridge_session.netns import cut, in_netns, network_namespace, restore, shape, unshape

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
        try:  # tbf must be there (Debian 12's kernel has it, but no netem)
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


async def test_network_cut_then_back_is_a_reconnect(
    netns: str, session_config: SessionConfig
) -> None:
    child = await Child.start(
        child_spec(session_config, "C-061", far_end="127.0.0.1", reconnect=30),
        prefix=in_netns(netns),
    )
    try:
        await child.state("in_call", timeout=30)
        cut(netns)
        lost = await child.state("reconnecting")  # ICE consent fails after ~7 s
        assert lost["reconnects"] == 1
        restore(netns)
        back = await child.read_until(
            lambda x: x.get("event") == "session.state" and x["data"]["state"] != "reconnecting",
            30,
            "the call back",
            len(child.lines),
        )
        assert back["data"]["state"] == "in_call" and back["data"]["reconnects"] == 1
    finally:
        await child.stop()


async def test_network_cut_for_good_is_connection_lost(
    netns: str, session_config: SessionConfig
) -> None:
    child = await Child.start(
        child_spec(session_config, "C-062", far_end="127.0.0.1", reconnect=4),
        prefix=in_netns(netns),
    )
    try:
        await child.state("in_call", timeout=30)
        cut(netns)
        await child.state("reconnecting")
        failed = await child.state("failed")
        assert failed["reason"] == "connection_lost"
        assert failed["message"]["fr"].startswith("La connexion avec l'agent est perdue")
        await child.state("idle")
    finally:
        await child.stop()
