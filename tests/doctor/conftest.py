"""`pvp doctor` tests: real files and groups, a real pvp-bridge, the real `pvp`."""

from __future__ import annotations

import contextlib
import grp
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.support.processes import free_port
from tests.support.sites import OPEN_SITE

REPO = Path(__file__).resolve().parents[2]
PVP = str(Path(sys.executable).with_name("pvp"))
STAFF_GROUP = "users"  # exists on every Debian; the tests run as root to chgrp


@dataclass(frozen=True)
class Kiosk:
    """A kiosk as [[kiosks]] in the site config describes it."""

    id: str
    name: str
    url: str
    token_file: Path
    ca_file: Path | None = None


@dataclass
class SharedSite:
    root: Path
    config: Path
    db: Path

    def env(self, **extra: str) -> dict[str, str]:
        return {
            "PATH": f"{Path(PVP).parent}:/usr/bin:/bin",
            "HOME": str(self.root),
            # no user or system-wide config can leak in
            "XDG_CONFIG_HOME": str(self.root / "xdg"),
            "XDG_CONFIG_DIRS": str(self.root / "xdg-sys"),
            "PVP_CONFIG": str(self.config),
            "PVP_DB": str(self.db),
            **extra,
        }

    def pvp(self, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [PVP, *args],
            env=self.env(**env),
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )


@pytest.fixture(autouse=True)
def english() -> Iterator[None]:
    """In-process checks are asserted in English (the msgids); the real `pvp` speaks
    French, as staff see it."""
    from pvp_tui.core import i18n

    i18n.set_language("en")
    yield
    i18n.set_language("fr")


@pytest.fixture
def staff_gid() -> int:
    if os.geteuid() != 0:
        pytest.skip("changing a file's group to the staff group needs root here")
    return grp.getgrnam(STAFF_GROUP).gr_gid


@pytest.fixture
def shared(tmp_path: Path, staff_gid: int) -> SharedSite:
    """A site set up as docs/install-staff-pc.md says: the db's directory in the staff
    group, mode 2770 (setgid), the database created there by pvp itself."""
    shared_dir = tmp_path / "shared"
    shared_dir.mkdir()
    os.chown(shared_dir, -1, staff_gid)
    shared_dir.chmod(0o2770)
    config = tmp_path / "config.toml"
    config.write_text(OPEN_SITE)
    site = SharedSite(tmp_path, config, shared_dir / "pvp.db")
    result = site.pvp("--create-db", "checkin", "--partner", "caf", "--name", "Test")
    assert result.returncode == 0, result.stderr
    return site


@contextlib.contextmanager
def bridge(
    root: Path, *, scanner: bool, tls: tuple[Path, Path] | None = None
) -> Iterator[tuple[str, Path]]:
    """A real pvp-bridge: SANE's test backend (or no backend at all), CUPS unreachable.
    Yields its URL and token file; stopped by its PID."""
    root.mkdir(parents=True, exist_ok=True)
    sane = root / "sane"
    sane.mkdir()
    (sane / "dll.conf").write_text("test\n" if scanner else "")
    token = root / "token"
    subprocess.run(
        [sys.executable, "-m", "kiosk_bridge", "token", "--out", str(token)],
        check=True,
        capture_output=True,
        cwd=REPO,
    )
    port = free_port()
    config = root / "bridge.toml"
    config.write_text("")
    args = [
        sys.executable,
        "-m",
        "kiosk_bridge",
        "--config",
        str(config),
        "--port",
        str(port),
        "--token-file",
        str(token),
        "--spool-dir",
        str(root / "spool"),
    ]
    if tls:
        args += ["--tls-cert", str(tls[0]), "--tls-key", str(tls[1])]
    env = {
        **os.environ,
        "SANE_CONFIG_DIR": str(sane),
        "CUPS_SERVER": f"127.0.0.1:{free_port()}",  # nothing listens: CUPS is down
        "PYTHONUNBUFFERED": "1",
    }
    log = root / "bridge.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(args, stdout=out, stderr=subprocess.STDOUT, env=env, cwd=REPO)
    try:
        deadline = time.monotonic() + 20
        while b"pvp-bridge listening" not in log.read_bytes():
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"pvp-bridge did not start:\n{log.read_text()[-2000:]}")
            time.sleep(0.05)
        scheme, host = ("wss", "localhost") if tls else ("ws", "127.0.0.1")
        yield f"{scheme}://{host}:{port}/v1", token
    finally:
        proc.terminate()
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def self_signed(root: Path) -> tuple[Path, Path]:
    root.mkdir(parents=True, exist_ok=True)
    cert, key = root / "cert.pem", root / "key.pem"
    subprocess.run(
        [
            "openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
            "-nodes", "-days", "2", "-subj", "/CN=localhost",
            "-addext", "subjectAltName=DNS:localhost",
            "-keyout", str(key), "-out", str(cert),
        ],
        check=True,
        capture_output=True,
    )  # fmt: skip
    return cert, key
