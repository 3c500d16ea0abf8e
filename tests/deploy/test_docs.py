"""The install docs and the French guide: their pictures come from the app through
scripts/screens.py, and every file they tell the admin to copy exists."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"
GUIDE = DOCS / "guide-fr.md"


def test_screens_script_draws_the_guides_pictures(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "screens.py"), "--out", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        cwd=ROOT,
    )
    assert result.returncode == 0, result.stderr
    drawn = {p.name: p.read_text("utf-8") for p in tmp_path.glob("*.svg")}
    expected = {
        "queue.svg": "En&#160;attente",
        "check-in.svg": "Nouvel&#160;arrivant",
        "outcome.svg": "quel&#160;résultat",
        "help.svg": "Touches",
        "privacy.svg": "confidentiel",
        "db-unreachable.svg": "base&#160;inaccessible",
    }
    for name, text in expected.items():
        assert name in drawn, sorted(drawn)
        assert text in drawn[name], name
    # the guide shows every picture the script draws, and only those
    shown = set(re.findall(r"\]\(images/([\w.-]+\.svg)\)", GUIDE.read_text("utf-8")))
    assert shown == set(drawn)
    assert shown <= {p.name for p in (DOCS / "images").glob("*.svg")}  # committed too


def test_every_deploy_file_the_docs_name_exists() -> None:
    named: set[str] = set()
    for doc in ("install-kiosk.md", "install-staff-pc.md"):
        named |= set(re.findall(r"(deploy/[\w./-]+\w)", (DOCS / doc).read_text("utf-8")))
    assert "deploy/systemd/pvp-bridge.service" in named
    missing = [path for path in sorted(named) if not (ROOT / path).exists()]
    assert missing == []


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze missing")
def test_kiosk_display_unit_verifies(tmp_path: Path) -> None:
    unit = tmp_path / "pvp-kiosk-display.service"
    text = (ROOT / "deploy" / "systemd" / "pvp-kiosk-display.service").read_text()
    # cage is installed on kiosks only: any executable stands in for it here
    unit.write_text(text.replace("/usr/bin/cage", shutil.which("true") or "/bin/true"))
    result = subprocess.run(
        ["systemd-analyze", "verify", "--man=no", str(unit)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert [line for line in result.stderr.splitlines() if "pvp-kiosk-display" in line] == []
