"""The pre-commit hooks run exactly the checks scripts/test.sh runs before pytest."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]


def checks_in_test_script() -> list[str]:
    """The `uv run ...` commands of scripts/test.sh, in order, up to pytest."""
    commands = re.findall(
        r"^echo \"== [^\"]+\"; (uv run .+)$", (ROOT / "scripts/test.sh").read_text(), re.M
    )
    assert commands, "scripts/test.sh no longer has its '== check; command' lines"
    return [c for c in commands if " pytest" not in c]


def hooks() -> list[dict[str, object]]:
    config = yaml.safe_load((ROOT / ".pre-commit-config.yaml").read_text())
    return [hook for repo in config["repos"] for hook in repo["hooks"]]


def test_hooks_run_what_the_test_script_runs_before_pytest() -> None:
    assert [hook["entry"] for hook in hooks()] == checks_in_test_script()


def test_hooks_check_the_whole_tree_with_the_locked_tools() -> None:
    for hook in hooks():
        assert hook["language"] == "system", hook["id"]
        assert hook["pass_filenames"] is False, hook[
            "id"
        ]  # mypy and lint-imports need the whole tree
        assert str(hook["entry"]).startswith("uv run --locked "), hook["id"]
