"""Fixtures of the bridge tests: real daemons per session, a real pvp-bridge process."""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
import time
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from kiosk_bridge.client import BridgeClient
from tests.support.bridge_client import Events
from tests.support.bridge_daemons import (
    BridgeProcess,
    Cupsd,
    DnsSd,
    Ippe,
    cleanup_cups_pdf_output,
    write_sane_config,
)

SESSION_CONFIG = """
[server]
port = 1                      # overridden by --port: checks that flags win
origins = ["https://staff.example"]
health_interval = 2
max_in_flight = 64

[spool]
dir = "/nonexistent"          # overridden by --spool-dir
max_document_mb = 40

[printer]
offline_after = 1
"""


@dataclass
class Lab:
    root: Path
    cups: Cupsd
    ippe: Ippe
    sane_dir: Path

    @property
    def env(self) -> dict[str, str]:
        return {**self.cups.env, "SANE_CONFIG_DIR": str(self.sane_dir)}


@pytest.fixture(scope="session")
def lab() -> Iterator[Lab]:
    """cupsd (cups-pdf, ippeveprinter and /dev/null queues) + SANE test backend."""
    root = Path(tempfile.mkdtemp(prefix="pvp-bridge-tests-"))
    os.chmod(root, 0o755)  # cups filters run as lp and must reach their files
    since = time.time()
    with contextlib.ExitStack() as stack:
        if not os.environ.get("PVP_KEEP_TEST_DIR"):  # set it to read the daemons' logs
            stack.callback(shutil.rmtree, root, True)
        stack.callback(cleanup_cups_pdf_output, since)
        sane_dir = write_sane_config(root / "sane")
        dnssd = DnsSd(root / "dnssd")
        stack.callback(dnssd.stop)
        dnssd.start()
        ippe = Ippe(root / "ippe", dnssd.env)
        stack.callback(ippe.stop)
        ippe.start()
        cups = Cupsd(root / "cups")
        stack.callback(cups.stop)
        cups.start()
        ppd = "lsb/usr/cups-pdf/CUPS-PDF_opt.ppd"
        cups.run("lpadmin", "-p", "pvp-pdf", "-E", "-v", "cups-pdf:/", "-m", ppd)
        cups.run("lpadmin", "-p", "pvp-ippe", "-E", "-v", ippe.uri, "-m", "everywhere")
        for name in ("pvp-null", "pvp-paused", "pvp-reject"):
            cups.run("lpadmin", "-p", name, "-E", "-v", "file:///dev/null", "-m", "raw")
        cups.run("cupsdisable", "pvp-paused")
        cups.run("cupsreject", "pvp-reject")
        yield Lab(root, cups, ippe, sane_dir)


@pytest.fixture(scope="session")
def bridge(lab: Lab) -> Iterator[BridgeProcess]:
    proc = BridgeProcess(lab.root / "bridge", lab.env, config=SESSION_CONFIG)
    try:
        proc.start()
        yield proc
    finally:
        proc.stop()


@pytest.fixture
def new_bridge(
    lab: Lab, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Callable[..., BridgeProcess]]:
    """Start extra bridges (own spool, own config); all stopped at the end of the test."""
    started: list[BridgeProcess] = []

    def make(
        config: str = SESSION_CONFIG, env: dict[str, str] | None = None, **kw: Any
    ) -> BridgeProcess:
        root = lab.root / f"bridge-{len(started)}-{time.monotonic_ns()}"
        proc = BridgeProcess(root, env if env is not None else lab.env, config=config, **kw)
        started.append(proc)
        proc.start()
        return proc

    yield make
    for proc in started:
        proc.stop()


@pytest.fixture
async def client(bridge: BridgeProcess) -> AsyncIterator[BridgeClient]:
    c = BridgeClient(bridge.url, bridge.token, max_size=1024 * 1024, reconnect=False)
    await c.connect()
    try:
        yield c
    finally:
        await c.close()


@pytest.fixture
def events(client: BridgeClient) -> Events:
    ev = Events()
    client.subscribe(ev)
    return ev
