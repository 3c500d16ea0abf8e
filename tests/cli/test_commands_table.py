"""Every module of the subcommands' table can be loaded, and registers what it says."""

from __future__ import annotations

import argparse

from pvp_tui import commands


def test_every_module_has_its_registrar_and_registers_its_subcommands() -> None:
    for module, names in commands.MODULES.items():
        parser = argparse.ArgumentParser()
        subparsers = parser.add_subparsers()
        commands.registrar(module)(subparsers)
        assert set(subparsers.choices) == set(names), module
