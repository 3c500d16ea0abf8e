"""What the install docs tell a site's admin to copy: the systemd unit of pvp-bridge
(verified by systemd itself), its spool, and the example configs (loaded by the code that
will read them)."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from kiosk_bridge.config import Config as BridgeConfig
from kiosk_bridge.config import load as load_bridge_config
from pvp_tui.core.config import load_config

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
UNIT = DEPLOY / "systemd" / "pvp-bridge.service"
INSTALLED_BRIDGE = "/opt/pvp-relais/.venv/bin/pvp-bridge"

needs_systemd = pytest.mark.skipif(
    shutil.which("systemd-analyze") is None,
    reason="systemd-analyze is missing (Debian package systemd; scripts/bootstrap.sh)",
)


def directives(text: str) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith(("#", ";", "[")) and "=" in line:
            key, value = line.split("=", 1)
            found.setdefault(key.strip(), []).append(value.strip())
    return found


def installable_copy(tmp_path: Path, text: str | None = None) -> Path:
    """The unit as installed, its ExecStart pointing at this checkout's pvp-bridge
    (systemd-analyze checks that the program exists)."""
    here = str(Path(sys.executable).with_name("pvp-bridge"))
    unit = tmp_path / "pvp-bridge.service"
    unit.write_text((text or UNIT.read_text()).replace(INSTALLED_BRIDGE, here))
    return unit


def verify(unit: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["systemd-analyze", "verify", "--man=no", str(unit)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@needs_systemd
def test_unit_verifies_clean(tmp_path: Path) -> None:
    result = verify(installable_copy(tmp_path))
    assert result.returncode == 0, result.stderr
    # systemd-analyze verify only warns about unknown keys: no warning at all
    assert [line for line in result.stderr.splitlines() if "pvp-bridge" in line] == []


@needs_systemd
def test_verify_catches_a_mistake(tmp_path: Path) -> None:
    broken = UNIT.read_text().replace("NoNewPrivileges=yes", "NoNewPrivilege=yes")
    result = verify(installable_copy(tmp_path, broken))
    assert "NoNewPrivilege" in result.stderr


@needs_systemd
def test_unit_exposure_is_low(tmp_path: Path) -> None:
    result = subprocess.run(
        [
            "systemd-analyze",
            "security",
            "--offline=yes",
            "--no-pager",
            str(installable_copy(tmp_path)),
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    match = re.search(r"Overall exposure level for \S+: (\d+\.\d+)", result.stdout)
    assert match, result.stdout + result.stderr
    assert float(match.group(1)) <= 3.0  # systemd's "OK" band; the device access costs a bit


def test_unit_hardening() -> None:
    unit = directives(UNIT.read_text())
    assert unit["User"] == ["pvp-bridge"] and unit["Group"] == ["pvp-bridge"]
    assert unit["ExecStart"][0].startswith(INSTALLED_BRIDGE + " ")
    for key, value in {
        "NoNewPrivileges": "yes",
        "ProtectSystem": "strict",
        "ProtectHome": "yes",
        "PrivateTmp": "yes",
        "CapabilityBoundingSet": "",
        "AmbientCapabilities": "",
        "DevicePolicy": "closed",
        "KillMode": "control-group",  # Chromium goes with the bridge
        "UMask": "0077",
    }.items():
        assert unit[key] == [value], key
    assert "@system-service" in unit["SystemCallFilter"]
    assert set(unit["RestrictAddressFamilies"][0].split()) <= {
        "AF_UNIX",
        "AF_INET",
        "AF_INET6",
        "AF_NETLINK",
    }
    groups = unit["SupplementaryGroups"][0].split()
    assert "scanner" in groups and "lp" in groups
    assert "MemoryDenyWriteExecute" not in unit  # would break Chromium's JIT


def test_spool_is_one_path_everywhere() -> None:
    """The bridge's default spool = the unit's only writable path = what tmpfiles
    creates = the example config's."""
    spool = str(BridgeConfig().spool_dir)
    assert directives(UNIT.read_text())["ReadWritePaths"] == [spool]
    tmpfiles = (DEPLOY / "tmpfiles.d" / "pvp-bridge.conf").read_text()
    assert re.search(rf"^d {re.escape(spool)} 0700 pvp-bridge pvp-bridge", tmpfiles, re.M)
    example = load_bridge_config(DEPLOY / "examples" / "bridge.toml")
    assert str(example.spool_dir) == spool
    assert example.tls and str(example.token_file).startswith("/etc/pvp-bridge/")
    assert "--config /etc/pvp-bridge/bridge.toml" in directives(UNIT.read_text())["ExecStart"][0]


def test_example_site_config_loads() -> None:
    config = load_config(DEPLOY / "examples" / "config.toml")
    assert config.database == Path("/var/lib/pvp-relais/pvp.db")
    assert [k.url.split(":")[0] for k in config.kiosks] == ["wss"]
    assert all(k.ca_file is not None for k in config.kiosks)
