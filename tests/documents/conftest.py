"""The documents tests' real things: a private cupsd (cups-pdf + a paused queue), SANE's
test backend and real pvp-bridge processes, all started here and stopped by their PIDs.
The daemon code is shared with the bridge tests (tests/support/bridge_daemons.py)."""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from pvp_tui.core import i18n
from tests.support.bridge_daemons import (
    BridgeProcess,
    Cupsd,
    DnsSd,
    Ippe,
    cleanup_cups_pdf_output,
    write_sane_config,
)

BRIDGE_CONFIG = """
[server]
health_interval = 1
[printer]
offline_after = 2
"""


@dataclass
class Lab:
    root: Path
    cups: Cupsd
    sane_dir: Path
    since: float

    @property
    def env(self) -> dict[str, str]:
        return {**self.cups.env, "SANE_CONFIG_DIR": str(self.sane_dir)}

    def pdfs_since(self, doc_id: str) -> list[Path]:
        """cups-pdf's output files for one bridge document (title pvp-<doc>-<nonce>)."""
        found: list[Path] = []
        for folder in (Path.home() / "PDF", Path("/var/spool/cups-pdf/ANONYMOUS")):
            if folder.is_dir():
                found += [p for p in folder.glob(f"*{doc_id}*.pdf")]
        return found


@pytest.fixture(autouse=True)
def french(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("TEXTUAL_ANIMATIONS", "none")
    monkeypatch.setenv("PVP_IMAGES", "halfblock")
    i18n.set_language("fr")
    yield
    i18n.set_language("fr")


@pytest.fixture(scope="session")
def lab() -> Iterator[Lab]:
    root = Path(tempfile.mkdtemp(prefix="pvp-documents-tests-"))
    os.chmod(root, 0o755)  # cups filters run as lp
    since = time.time()
    with contextlib.ExitStack() as stack:
        if not os.environ.get("PVP_KEEP_TEST_DIR"):
            stack.callback(shutil.rmtree, root, True)
        stack.callback(cleanup_cups_pdf_output, since)
        sane_dir = write_sane_config(root / "sane")
        cups = Cupsd(root / "cups")
        stack.callback(cups.stop)
        cups.start()
        ppd = "lsb/usr/cups-pdf/CUPS-PDF_opt.ppd"
        cups.run("lpadmin", "-p", "pvp-pdf", "-E", "-v", "cups-pdf:/", "-m", ppd)
        cups.run("lpadmin", "-d", "pvp-pdf")
        cups.run("lpadmin", "-p", "pvp-paused", "-E", "-v", "file:///dev/null", "-m", "raw")
        cups.run("cupsdisable", "pvp-paused")
        yield Lab(root, cups, sane_dir, since)


@pytest.fixture(scope="session")
def ippe(lab: Lab) -> Iterator[Ippe]:
    """A simulated IPP printer (paper out on demand) as the cupsd queue pvp-ippe."""
    with contextlib.ExitStack() as stack:
        dnssd = DnsSd(lab.root / "dnssd")
        stack.callback(dnssd.stop)
        dnssd.start()
        printer = Ippe(lab.root / "ippe", dnssd.env)
        stack.callback(printer.stop)
        printer.start()
        lab.cups.run("lpadmin", "-p", "pvp-ippe", "-E", "-v", printer.uri, "-m", "everywhere")
        stack.callback(lab.cups.run, "lpadmin", "-x", "pvp-ippe")
        yield printer


@pytest.fixture
def bridge(lab: Lab, tmp_path: Path) -> Iterator[BridgeProcess]:
    """A pvp-bridge of this test only (its own spool: a test can look at every file)."""
    proc = BridgeProcess(tmp_path / "bridge", lab.env, config=BRIDGE_CONFIG)
    try:
        proc.start()
        yield proc
    finally:
        proc.stop()
