"""A subcommand imports only what it needs: `pvp queue` loads no reports, exports, doctor
or asyncio (start-up time: benchmarks/bench_cli.py)."""

from __future__ import annotations

import argparse
import importlib
import subprocess
import sys

import pytest

from pvp_tui import commands

from .conftest import ROOT, Pvp

# Runs pvp's main() in a fresh interpreter, then prints the modules it imported.
LIST_MODULES = """
import sys
from pvp_tui.cli import main
code = main(sys.argv[1:])
print("\\n".join(sorted(sys.modules)), file=sys.stderr)
sys.exit(code)
"""

NEVER_FOR_THE_DESK = {
    "asyncio",
    "pvp_tui.core.reports",
    "pvp_tui.core.exports",
    "pvp_tui.core.doctor",
    "pvp_tui.commands.report",
    "pvp_tui.commands.doctor",
    "pvp_tui.commands.serve",
    "sqlite_utils",  # only for migrations: the database is up to date
}


@pytest.mark.parametrize(
    "args", [("queue", "--json"), ("checkin", "--partner", "caf", "--name", "Marie")]
)
def test_a_desk_subcommand_imports_no_report_export_doctor_or_asyncio(
    pvp: Pvp, args: tuple[str, ...]
) -> None:
    assert pvp("queue").code == 0  # the database exists and is migrated
    command = [sys.executable, "-c", LIST_MODULES, "--config", str(pvp.config)]
    done = subprocess.run(
        [*command, "--db", str(pvp.db), *args],
        capture_output=True,
        text=True,
        env=pvp.env,
        cwd=ROOT,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    imported = set(done.stderr.split())
    assert imported & NEVER_FOR_THE_DESK == set()


def test_each_commands_module_registers_the_subcommands_it_is_listed_with() -> None:
    for module, names in commands.MODULES.items():
        parser = argparse.ArgumentParser()
        subparsers = parser.add_subparsers()
        importlib.import_module(f"pvp_tui.commands.{module}").register(subparsers)
        assert tuple(subparsers.choices) == names, module
