"""scripts/bootstrap.sh: sourced as its header says, from any directory, it neither ends
nor reshapes the calling shell; the install guides list exactly the packages it installs."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
BOOTSTRAP = ROOT / "scripts" / "bootstrap.sh"


def bash(script: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", "-c", script], cwd=cwd, capture_output=True, text=True, timeout=600, check=False
    )


def listed(profile: str) -> list[str]:
    result = bash(f"{BOOTSTRAP} --list {profile}", ROOT)
    assert result.returncode == 0, result.stderr
    return result.stdout.split()


@pytest.mark.parametrize(
    ("guide", "profile"), [("install-kiosk.md", "kiosk"), ("install-staff-pc.md", "app")]
)
def test_install_guides_list_what_bootstrap_installs(guide: str, profile: str) -> None:
    text = (ROOT / "docs" / guide).read_text("utf-8")
    assert f"scripts/bootstrap.sh {profile}" in text
    said = re.search(r"installs these Debian packages \([^)]*\):\s*([^.]+)\.", text)
    assert said, f"{guide} does not list the packages bootstrap.sh {profile} installs"
    assert said.group(1).split() == listed(profile)


def test_the_bridge_bindings_build_everywhere_they_are_installed() -> None:
    # pycups and python-sane compile against Python.h and the two libraries' headers
    for profile in ("kiosk", "test"):
        assert {"gcc", "python3-dev", "libsane-dev", "libcups2-dev"} <= set(listed(profile))


def test_sourced_from_another_directory_it_leaves_the_shell_as_it_was(tmp_path: Path) -> None:
    result = bash(
        f"set +e +u; source {BOOTSTRAP}; status=$?; "
        'echo "status=$status"; echo "dir=$PWD"; echo "opts=$-"; command -v uv',
        tmp_path,
    )
    lines = result.stdout.splitlines()
    assert "status=0" in lines, result.stdout + result.stderr
    assert f"dir={tmp_path}" in lines
    opts = next(line for line in lines if line.startswith("opts="))
    assert "e" not in opts.removeprefix("opts=") and "u" not in opts.removeprefix("opts=")
    assert lines[-1].endswith("/uv")  # uv is on the caller's PATH afterwards


def test_a_failure_returns_to_the_calling_shell_instead_of_ending_it(tmp_path: Path) -> None:
    result = bash(f'source {BOOTSTRAP} no-such-profile; echo "still here: $?"', tmp_path)
    assert "still here: 2" in result.stdout
    assert "unknown profile 'no-such-profile'" in result.stderr


def test_the_two_commands_name_their_profile() -> None:
    # a sourced script sees its caller's arguments: `./scripts/test.sh -x` must not reach it
    for script, profile in (("test.sh", "test"), ("demo.sh", "app")):
        text = (ROOT / "scripts" / script).read_text("utf-8")
        assert re.search(rf"^source scripts/bootstrap\.sh {profile}\b", text, re.M), script
