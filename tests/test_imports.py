"""No import cycle in `pvp_common`, `pvp_tui`, `kiosk_bridge` or `pvp_hub`: neither between
modules nor between the parts (subpackages and modules) of any package.

The graph is built as `lint-imports` builds it: an import under `TYPE_CHECKING` counts,
so a type hint cannot hide a cycle either. The contracts in pyproject.toml say which
way each import must go; this test says that no import goes both ways.
"""

from __future__ import annotations

import grimp

PACKAGES = ("pvp_common", "pvp_tui", "kiosk_bridge", "pvp_hub")
# Imports left in a cycle between parts, each with why (none may be added).
KNOWN: dict[tuple[str, str], str] = {}


def import_graph() -> grimp.ImportGraph:
    return grimp.build_graph(*PACKAGES, cache_dir=None)


def module_cycles(graph: grimp.ImportGraph) -> list[list[str]]:
    """Every set of modules that import one another (strongly connected, 2 or more)."""
    modules = sorted(m for m in graph.modules if m.split(".")[0] in PACKAGES)
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(module: str) -> None:
        index[module] = low[module] = len(index)
        stack.append(module)
        on_stack.add(module)
        for imported in sorted(graph.find_modules_directly_imported_by(module)):
            if imported.split(".")[0] not in PACKAGES:
                continue
            if imported not in index:
                visit(imported)
                low[module] = min(low[module], low[imported])
            elif imported in on_stack:
                low[module] = min(low[module], index[imported])
        if low[module] == index[module]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == module:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for module in modules:
        if module not in index:
            visit(module)
    return found


def part_cycles(graph: grimp.ImportGraph) -> dict[str, set[tuple[str, str]]]:
    """For each package whose parts import one another in a circle: the imports that,
    removed, would break its circles (grimp's, as import-linter's acyclic_siblings)."""
    for importer, imported in KNOWN:
        graph.remove_import(importer=importer, imported=imported)
    found: dict[str, set[tuple[str, str]]] = {}
    packages = [p for p in sorted(graph.modules) if p.split(".")[0] in PACKAGES]
    for package in packages:
        if len(graph.find_children(package)) > 1:
            breakers = graph.nominate_cycle_breakers(package)
            if breakers:
                found[package] = set(breakers)
    return found


def test_no_module_is_in_an_import_cycle() -> None:
    cycles = module_cycles(import_graph())
    assert not cycles, "modules importing one another:\n" + "\n".join(map(str, cycles))


def test_no_package_has_parts_importing_one_another() -> None:
    graph = import_graph()
    for importer, imported in KNOWN:
        assert graph.direct_import_exists(importer=importer, imported=imported), (
            f"{importer} -> {imported} is gone: take it off KNOWN"
        )
    cycles = part_cycles(graph)
    assert not cycles, "\n".join(
        f"{package}: its parts import one another; break it at one of {sorted(imports)}"
        for package, imports in cycles.items()
    )
