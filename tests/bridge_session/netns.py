"""A private network namespace with a veth pair, and tbf shaping of its loopback.

Chromium ignores loopback for ICE host candidates, so the namespace gets a veth pair
(10.99.0.1 and 10.99.0.2); both ends are local addresses, so the call's packets go
through `lo`, which tbf shapes (this kernel has no netem). Needs root. See docs/session.md.
"""

from __future__ import annotations

import contextlib
import secrets
import subprocess
from collections.abc import Iterator

# Harsh enough for poor quality within seconds, mild enough to keep the call up.
SHAPING = ("rate", "120kbit", "burst", "10kb", "latency", "400ms")


def ip(*args: str) -> None:
    subprocess.run(["ip", *args], check=True, capture_output=True)


@contextlib.contextmanager
def network_namespace() -> Iterator[str]:
    name = f"pvp-test-{secrets.token_hex(4)}"
    ip("netns", "add", name)
    try:
        ip("-n", name, "link", "set", "lo", "mtu", "1500", "up")  # tbf drops > burst
        ip("-n", name, "link", "add", "va", "type", "veth", "peer", "name", "vb")
        ip("-n", name, "addr", "add", "10.99.0.1/24", "dev", "va")
        ip("-n", name, "addr", "add", "10.99.0.2/24", "dev", "vb")
        ip("-n", name, "link", "set", "va", "up")
        ip("-n", name, "link", "set", "vb", "up")
        yield name
    finally:
        subprocess.run(["ip", "netns", "del", name], check=False, capture_output=True)


def shape(netns: str) -> None:
    ip("netns", "exec", netns, "tc", "qdisc", "add", "dev", "lo", "root", "tbf", *SHAPING)


def unshape(netns: str) -> None:
    ip("netns", "exec", netns, "tc", "qdisc", "del", "dev", "lo", "root")


def in_netns(netns: str) -> tuple[str, ...]:
    return ("ip", "netns", "exec", netns)


def cut(netns: str) -> None:
    """The call's addresses vanish (a cable pulled); DevTools on 127.0.0.1 still works."""
    ip("-n", netns, "addr", "del", "10.99.0.1/24", "dev", "va")
    ip("-n", netns, "addr", "del", "10.99.0.2/24", "dev", "vb")


def restore(netns: str) -> None:
    ip("-n", netns, "addr", "add", "10.99.0.1/24", "dev", "va")
    ip("-n", netns, "addr", "add", "10.99.0.2/24", "dev", "vb")
