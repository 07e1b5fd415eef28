"""The import graph the layout promises (CONTRIBUTING.md, "One shape"), read from the source.

The modules are parsed with `ast`, never imported, so nothing runs and every import counts:
the ones inside functions and under `if TYPE_CHECKING:` too, because a lazy import is still a
dependency and a type-only one still ties two modules' designs together.
"""

from __future__ import annotations

import ast
import sys
from collections.abc import Iterator
from functools import cache
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
TOP_LEVEL = ("baton", "shared", "services")
# What the contracts may import besides themselves: they are the one thing every service and
# every outside consumer shares, so they carry no runtime with them.
CONTRACT_DEPENDENCIES = {"pydantic", "pydantic_core", "typing_extensions"}


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(REPO).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


@cache
def _sources() -> dict[str, Path]:
    return {
        _module_name(path): path
        for top in TOP_LEVEL
        for path in sorted((REPO / top).rglob("*.py"))
        if "__pycache__" not in path.parts
    }


def _imported_names(module: str, path: Path) -> Iterator[str]:
    """Every dotted name `module` imports, relative imports resolved."""
    is_package = path.name == "__init__.py"
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                package = module.split(".") if is_package else module.split(".")[:-1]
                base = ".".join(package[: len(package) - node.level + 1])
                target = f"{base}.{node.module}" if node.module else base
            else:
                target = node.module or ""
            # `from shared import migrations` depends on the module shared.migrations.
            for alias in node.names:
                yield f"{target}.{alias.name}" if f"{target}.{alias.name}" in _sources() else target


@cache
def _graph() -> dict[str, frozenset[str]]:
    return {module: frozenset(_imported_names(module, path)) for module, path in _sources().items()}


def _local_edges(prefix: str) -> dict[str, set[str]]:
    """The imports among the modules under `prefix` (a package), to modules that exist."""
    inside = {m for m in _graph() if m == prefix or m.startswith(prefix + ".")}
    return {m: {t for t in _graph()[m] if t in inside and t != m} for m in inside}


def _cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """One cycle (as a path that returns to its start) per strongly connected component (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components: list[set[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in sorted(edges[node]):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = set()
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.add(member)
                if member == node:
                    break
            if len(component) > 1:
                components.append(component)

    for node in sorted(edges):
        if node not in index:
            visit(node)
    return [_cycle_through(min(component), component, edges) for component in components]


def _cycle_through(start: str, component: set[str], edges: dict[str, set[str]]) -> list[str]:
    """The shortest path from `start` back to itself inside its component (breadth first)."""
    came_from: dict[str, str] = {}
    frontier = [start]
    while frontier:
        following = []
        for node in frontier:
            for target in sorted(edges[node] & component):
                if target == start:
                    path = [node]
                    while path[-1] != start:
                        path.append(came_from[path[-1]])
                    return [start, *reversed(path[:-1]), start]
                if target not in came_from:
                    came_from[target] = node
                    following.append(target)
        frontier = following
    raise AssertionError(f"{start} is in a component but on no cycle")


def _service_of(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if parts[0] == "services" and len(parts) > 1 else None


def _top(name: str) -> str:
    return name.split(".")[0]


def test_the_source_tree_is_found() -> None:
    assert {"baton.cli", "shared.runtime", "shared.contracts.events", "services.routing.main"} <= set(
        _sources()
    )


def test_no_service_imports_another_service() -> None:
    crossings = sorted(
        f"{module} imports {target}"
        for module, targets in _graph().items()
        if (own := _service_of(module))
        for target in targets
        if _service_of(target) not in {None, own}
    )
    assert crossings == []


def test_no_service_imports_the_application() -> None:
    found = sorted(
        f"{module} imports {target}"
        for module, targets in _graph().items()
        if _top(module) == "services"
        for target in targets
        if _top(target) == "baton"
    )
    assert found == []


def test_shared_imports_no_service_and_not_the_application() -> None:
    found = sorted(
        f"{module} imports {target}"
        for module, targets in _graph().items()
        if _top(module) == "shared"
        for target in targets
        if _top(target) in {"services", "baton"}
    )
    assert found == []


def test_shared_names_no_service_module_even_in_a_string() -> None:
    """`importlib.import_module(f"services.{name}.main")` is an import the graph cannot see."""
    found = sorted(
        f"{module}:{node.lineno} {node.value!r}"
        for module, path in _sources().items()
        if _top(module) == "shared"
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
        if isinstance(node, ast.Constant) and isinstance(node.value, str)
        if node.value.startswith("services.")
    )
    assert found == []


def test_contracts_import_only_pydantic_the_standard_library_and_themselves() -> None:
    allowed = set(sys.stdlib_module_names) | CONTRACT_DEPENDENCIES | {"__future__"}
    found = sorted(
        f"{module} imports {target}"
        for module, targets in _graph().items()
        if module == "shared.contracts" or module.startswith("shared.contracts.")
        for target in targets
        if not (target == "shared.contracts" or target.startswith("shared.contracts."))
        and _top(target) not in allowed
    )
    assert found == []


@pytest.mark.parametrize(
    "package",
    ["shared", "baton", "services.ingest", "services.scoring", "services.routing", "services.feedback"],
)
def test_no_import_cycles_inside(package: str) -> None:
    assert _cycles(_local_edges(package)) == []


def test_cycles_are_reported_as_paths() -> None:
    edges = {"a": {"b"}, "b": {"c"}, "c": {"a", "d"}, "d": set(), "e": {"e"}}
    assert _cycles(edges) == [["a", "b", "c", "a"]]
