"""A 30 MB document crosses a 1 Mbit/s link to a real hub, cut in the middle, the sender
killed and restarted, and arrives intact (the hub's sha256 equal to the site's).

The scenario (tests/hub/slow_link_scenario.py: its own hub, network namespace, tc
shaping, the cut, the SIGKILL, the resume) is about 5 minutes of waiting on the link, so
it runs in the background from the end of collection (tests/support/background.py); this
test, moved to the end of the session, waits for it and checks what it saw. Needs root
(ip netns, tc).
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.hub import slow_link_scenario

pytestmark = [
    pytest.mark.slow,
    pytest.mark.timeout(900),  # the wait for the scenario, if it started late
    pytest.mark.skipif(not slow_link_scenario.can_run(), reason="needs root, ip and tc"),
    pytest.mark.background("tests.hub.slow_link_scenario"),
]


def test_30_mb_over_1_mbit_cut_midway_resumed_after_a_restart_arrives_intact(
    background_result: dict[str, Any],
) -> None:
    facts = background_result
    size, sha = facts["size"], facts["sha256"]
    assert abs(size - slow_link_scenario.SIZE) < 100

    # The link went down mid-chunk: the sender noticed, was killed; the site kept its copy.
    cut_at = facts["cut_at"]
    assert 0 < cut_at < size
    row = facts["after_kill"]
    assert row is not None and row["state"] == "waiting" and row["sent_bytes"] <= cut_at
    assert facts["spooled_after_kill_intact"]  # survives the restart

    # Resumed where the hub's copy ended, not from 0.
    holds = facts["resumed_from"]
    assert holds and holds[0] == cut_at, facts["resumed_log"]
    sent_up = facts["sent_upstream"]
    assert sent_up < size + cut_at  # a restart from 0 would have sent more

    assert (facts["hub"]["state"], facts["hub"]["sha256"], facts["hub"]["size"]) == (
        "ready",
        sha,
        size,
    )
    assert facts["shown_sha256"] == sha  # intact, end to end
    assert not facts["spooled_at_end"]
    print(
        f"\n30 MB over 1 Mbit/s: cut at {cut_at} bytes, {sent_up} bytes sent "
        f"upstream in all ({sent_up / size:.3f} x the document)"
    )
