"""The layers stay true: no import cycles between the project's modules, the domain imports
only the standard library, pydantic and eventsourcing's domain module, and the store adapters
are chosen in one place: the SQLite and PostgreSQL adapters never import each other, the port
imports neither, and only the composition root imports both.

(`make lint` checks the layer order itself with import-linter's contract in pyproject.toml.)
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import grimp

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("domain", "projections", "privacy", "simulation", "infra", "bench")


def _cycles() -> list[list[str]]:
    graph = grimp.build_graph(*PACKAGES)
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(module: str) -> None:  # Tarjan's strongly connected components
        index[module] = low[module] = len(index)
        stack.append(module)
        on_stack.add(module)
        for other in sorted(graph.find_modules_directly_imported_by(module)):
            if other not in index:
                visit(other)
                low[module] = min(low[module], low[other])
            elif other in on_stack:
                low[module] = min(low[module], index[other])
        if low[module] == index[module]:
            component = []
            while True:
                top = stack.pop()
                on_stack.discard(top)
                component.append(top)
                if top == module:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(max(limit, 10_000))
    try:
        for module in sorted(graph.modules):
            if module not in index:
                visit(module)
    finally:
        sys.setrecursionlimit(limit)
    return found


def test_no_module_imports_itself_through_others() -> None:
    assert _cycles() == []


ADAPTERS = ("infra.sqlite", "infra.postgres")


# Modules that still choose an adapter themselves, until that choice moves to the composition
# root with the read-model views (``open_view`` and the update lock of ``infra.readmodel``).
def _in(module: str, package: str) -> bool:
    return module == package or module.startswith(package + ".")


def test_the_store_adapters_never_import_each_other() -> None:
    graph = grimp.build_graph(*PACKAGES)
    sqlite, postgres = ADAPTERS
    assert not graph.chain_exists(sqlite, postgres, as_packages=True), graph.find_shortest_chain(
        sqlite, postgres
    )
    assert not graph.chain_exists(postgres, sqlite, as_packages=True), graph.find_shortest_chain(
        postgres, sqlite
    )


def test_the_store_port_knows_no_adapter() -> None:
    tree = ast.parse((ROOT / "infra" / "store.py").read_text(encoding="utf8"))
    imported = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            imported.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            imported.add(node.module)
    allowed = {"__future__", "abc", "collections.abc", "dataclasses", "infra.encoding"}
    assert imported <= allowed, f"the port imports {sorted(imported - allowed)}"


def test_only_the_composition_root_imports_both_store_adapters() -> None:
    graph = grimp.build_graph(*PACKAGES)
    both = set()
    # The benchmarks are left out: ``bench.bench_postgres`` compares the two on purpose.
    for module in (m for m in graph.modules if _in(m, "infra")):
        imported = graph.find_modules_directly_imported_by(module)
        if all(any(_in(m, adapter) for m in imported) for adapter in ADAPTERS):
            both.add(module)
    assert both == {"infra.composition"}


def test_only_the_composition_root_decides_by_the_configured_store() -> None:
    """No module but the composition root (and the settings that define the choice) asks
    whether the store is SQLite or PostgreSQL: every other one asks the root what it needs."""
    deciding = []
    for package in ("application", "infra"):
        for path in sorted((ROOT / package).rglob("*.py")):
            if path.relative_to(ROOT).as_posix() in {"infra/composition.py", "infra/settings.py"}:
                continue
            for node in ast.walk(ast.parse(path.read_text(encoding="utf8"))):
                if isinstance(node, ast.Compare):
                    operands = [node.left, *node.comparators]
                    names = {o.value for o in operands if isinstance(o, ast.Constant)}
                    if names & {"sqlite", "postgres"} and any(
                        isinstance(o, ast.Attribute) and o.attr == "store" for o in operands
                    ):
                        deciding.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    assert deciding == []


def test_the_domain_imports_only_the_standard_library_pydantic_and_eventsourcing_domain() -> None:
    allowed_roots = set(sys.stdlib_module_names) | {"pydantic", "pydantic_core", "domain"}
    for path in sorted((ROOT / "domain").glob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            else:
                continue
            for name in names:
                root = name.split(".")[0]
                ok = root in allowed_roots or name == "eventsourcing.domain"
                assert ok, f"{path.name} imports {name}"


def test_worker_processes_are_started_only_by_the_one_pool_module() -> None:
    """Every worker process comes from ``infra.workers``, under its one policy (forked, ending
    with its parent): no other module builds an executor of processes of its own."""
    starting = []
    for package in ("application", "infra", "projections", "privacy"):
        for path in sorted((ROOT / package).rglob("*.py")):
            if path.relative_to(ROOT).as_posix() == "infra/workers.py":
                continue
            for node in ast.walk(ast.parse(path.read_text(encoding="utf8"))):
                if isinstance(node, ast.Call):
                    name = getattr(node.func, "id", getattr(node.func, "attr", None))
                    if name in {"ProcessPoolExecutor", "Pool", "Process"}:
                        starting.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    assert starting == []
