"""No import cycles in engine/, worker/, api/ or mlpq/, not even through imports inside functions;
and dependencies flow one way: mlpq -> api -> worker -> engine.

Read from the source (an AST scan of every import statement, wherever it sits), so an import
hidden inside a function counts as much as one at the top of a module.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("engine", "worker", "api", "mlpq")
# What each package may import from the others (dependencies flow one way).
ALLOWED = {"engine": set(), "worker": {"engine"}, "api": {"worker", "engine"},
           "mlpq": {"api", "worker", "engine"}}
# Frameworks the engine must not know about (it is a library on its own).
# pandas and scikit-learn too: the built-in tables are read with NumPy alone (engine/data/).
ENGINE_FORBIDDEN = {"flask", "flask_smorest", "celery", "kombu", "redis", "werkzeug", "pandas",
                    "sklearn"}


def module_name(path: Path) -> str:
    parts = path.relative_to(REPO_ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def our_modules() -> dict[str, Path]:
    return {module_name(path): path for package in PACKAGES
            for path in sorted((REPO_ROOT / package).rglob("*.py"))}


def imported_names(path: Path, name: str, modules=()) -> set[str]:
    """Every module name an import statement anywhere in the file names (top level or nested).

    `from a import b` names the module a.b when `modules` has it (a itself is then only the
    parent package, which Python runs first but which is not what the code depends on), else a.
    """
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    names = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            for alias in node.names:
                submodule = f"{base}.{alias.name}"
                names.add(submodule if submodule in modules or not modules else base)
    return names


def import_graph() -> dict[str, set[str]]:
    modules = our_modules()
    graph = {}
    for name, path in modules.items():
        edges = set()
        for imported in imported_names(path, name, modules):
            # `import a.b.c` runs a, a.b and a.b.c; the edge that matters is to the deepest
            # module of ours it names (the parent packages are mere namespaces here).
            while imported and imported not in modules:
                imported = imported.rpartition(".")[0]
            if imported and imported != name:
                edges.add(imported)
        graph[name] = edges
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index, low, stack, on_stack, found = {}, {}, [], set(), []

    def visit(node):
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for successor in graph[node]:
            if successor not in index:
                visit(successor)
                low[node] = min(low[node], low[successor])
            elif successor in on_stack:
                low[node] = min(low[node], index[successor])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_the_scan_sees_imports_inside_functions():
    from tests.support.waiting import wait_until  # noqa: F401 - the scan must see this one

    source = REPO_ROOT / "tests" / "infra" / "test_imports.py"
    tree_imports = imported_names(source, "tests.infra.test_imports")
    assert {"ast", "pathlib.Path", "pytest", "tests.support.waiting.wait_until"} <= tree_imports
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_no_import_cycles():
    assert cycles(import_graph()) == []


@pytest.mark.parametrize("package", PACKAGES)
def test_dependencies_flow_one_way(package):
    modules = our_modules()
    wrong = {}
    for name, path in modules.items():
        if name.split(".")[0] != package:
            continue
        for imported in imported_names(path, name):
            top = imported.split(".")[0]
            if top in PACKAGES and top != package and top not in ALLOWED[package]:
                wrong.setdefault(name, set()).add(imported)
            if package == "engine" and top in ENGINE_FORBIDDEN:
                wrong.setdefault(name, set()).add(imported)
    assert wrong == {}


def test_the_api_depends_on_the_stores_not_on_the_celery_process():
    """The API shares worker/store/ (settings, logs, ids, job and artifact stores, the queue
    client) with the worker; the Celery process (worker/*.py) is the worker's alone."""
    modules = our_modules()
    wrong = {}
    for name, path in modules.items():
        if name.split(".")[0] not in ("api", "mlpq"):
            continue
        for imported in imported_names(path, name, modules):
            if imported.split(".")[0] == "worker" and not imported.startswith("worker.store"):
                wrong.setdefault(name, set()).add(imported)
    assert wrong == {}


def test_the_api_root_holds_only_the_factory_the_gunicorn_config_and_the_rooms():
    root = REPO_ROOT / "api"
    modules = sorted(path.name for path in root.glob("*.py"))
    assert modules == ["__init__.py", "gunicorn_conf.py"]
    rooms = sorted(path.name for path in root.iterdir()
                   if path.is_dir() and path.name != "__pycache__")
    assert all((root / room / "__init__.py").exists() for room in rooms), rooms


def test_the_api_core_imports_no_room():
    """api.core is what every room stands on (config, services, errors, auth, metrics); a room
    (api.jobs, api.models, ...) that core needed would stand on itself."""
    root = REPO_ROOT / "api"
    rooms = {f"api.{path.name}" for path in root.iterdir()
             if (path / "__init__.py").exists() and path.name != "core"}
    assert {"api.jobs", "api.models", "api.insight", "api.health"} <= rooms
    modules = our_modules()
    wrong = {}
    for name, path in modules.items():
        if name == "api.core" or name.startswith("api.core."):
            for imported in imported_names(path, name, modules):
                if any(imported == room or imported.startswith(room + ".") for room in rooms):
                    wrong.setdefault(name, set()).add(imported)
    assert wrong == {}


def test_tests_share_code_only_through_tests_support():
    """Test modules and conftests take what they share from tests/support/ (fixtures reach them
    through tests/conftest.py's plugins), never from a conftest or another test module; and
    tests/support/ stands on no suite. So a suite can move or go without breaking another."""
    tests = REPO_ROOT / "tests"
    wrong = {}
    for path in sorted(tests.rglob("*.py")):
        name = module_name(path)
        for imported in imported_names(path, name):
            package = imported.split(".")[:2]
            if package[0] == "tests" and package != ["tests", "support"]:
                wrong.setdefault(name, set()).add(imported)
    assert wrong == {}
