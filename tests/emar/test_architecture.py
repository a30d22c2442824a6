"""The direction of dependencies (docs/architecture.md), read from the source with `ast`.

Every import between the project's own modules counts, including imports inside functions;
imports under `if TYPE_CHECKING:` do not, as they never run. Two rules:

- no services or selectors module imports a views module, directly or through other modules
  (rendering a PDF belongs in a rendering module both use);
- no import cycles.
"""

from __future__ import annotations

import ast
import graphlib
from collections.abc import Iterable
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def apps(root: Path) -> list[str]:
    """The project's Django apps: the top-level packages with an `apps.py`."""
    return sorted(p.parent.name for p in root.glob("*/apps.py"))


def _modules(root: Path, packages: Iterable[str]) -> dict[str, Path]:
    found = {}
    for package in packages:
        for path in sorted((root / package).rglob("*.py")):
            parts = path.relative_to(root).with_suffix("").parts
            if "migrations" in parts:
                continue
            if parts[-1] == "__init__":
                parts = parts[:-1]
            found[".".join(parts)] = path
    return found


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _import_nodes(node: ast.AST) -> Iterable[ast.Import | ast.ImportFrom]:
    """Every import statement under `node`, at any depth, except in `if TYPE_CHECKING:`."""
    for child in ast.iter_child_nodes(node):
        if isinstance(child, ast.If) and _is_type_checking(child.test):
            for other in child.orelse:
                yield from _import_nodes(ast.Module(body=[other], type_ignores=[]))
            continue
        if isinstance(child, ast.Import | ast.ImportFrom):
            yield child
        yield from _import_nodes(child)


def import_graph(root: Path, packages: Iterable[str]) -> dict[str, set[str]]:
    """Module → the project modules it imports. `from a import b` names the module `a.b` when
    there is one, else `a`; a relative import is resolved against the importing module."""
    modules = _modules(root, packages)
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        is_package = path.name == "__init__.py"
        here = name.split(".") if is_package else name.split(".")[:-1]
        edges: set[str] = set()
        for node in _import_nodes(ast.parse(path.read_text(), filename=str(path))):
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            else:
                base = here[: len(here) - node.level + 1] if node.level else []
                source = ".".join([*base, *(node.module.split(".") if node.module else [])])
                targets = [
                    f"{source}.{alias.name}" if f"{source}.{alias.name}" in modules else source
                    for alias in node.names
                ]
            for target in targets:
                # `import a.b.c` with only `a.b` in the project (or a name from a module).
                while target and target not in modules:
                    target = target.rpartition(".")[0]
                if target and target != name:
                    edges.add(target)
        graph[name] = edges
    return graph


def _is_layer(module: str, layer: str) -> bool:
    return any(part == layer or part.endswith(f"_{layer}") for part in module.split("."))


def views_reached_from_reads_and_writes(graph: dict[str, set[str]]) -> list[str]:
    """`service → … → views` chains, shortest first, one per services/selectors module."""
    found = []
    for start in sorted(graph):
        if not (_is_layer(start, "services") or _is_layer(start, "selectors")):
            continue
        paths = {start: [start]}
        queue = [start]
        while queue:
            module = queue.pop(0)
            for target in sorted(graph.get(module, ())):
                if target in paths:
                    continue
                paths[target] = [*paths[module], target]
                if _is_layer(target, "views"):
                    found.append(" → ".join(paths[target]))
                    queue.clear()
                    break
                queue.append(target)
    return found


def import_cycle(graph: dict[str, set[str]]) -> list[str]:
    """One import cycle (its modules, the first repeated at the end), or []."""
    try:
        graphlib.TopologicalSorter(graph).prepare()
    except graphlib.CycleError as e:
        return list(e.args[1])
    return []


@pytest.fixture(scope="module")
def project_graph() -> dict[str, set[str]]:
    return import_graph(ROOT, apps(ROOT))


def test_the_graph_covers_the_apps_and_their_imports(project_graph):
    """The checks below read the real project: every app, nested packages, relative and
    in-function imports."""
    assert apps(ROOT) == [
        "audits",
        "demo",
        "emar",
        "fhir_api",
        "medications",
        "residents",
        "training",
    ]
    assert "medications.selectors" in project_graph["medications.services.mar"]
    assert "medications.services.stock" in project_graph["medications.services.mar"]
    assert "medications.services" in project_graph["fhir_api.services"]
    assert "medications.views.rounds" in project_graph["medications.urls"]
    assert len(project_graph) > 100


def test_no_service_or_selector_imports_a_view(project_graph):
    assert views_reached_from_reads_and_writes(project_graph) == []


def test_no_import_cycles(project_graph):
    assert import_cycle(project_graph) == []


# --- the checks themselves catch what they are for -------------------------------------------


def _write(root: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)


def test_a_service_reaching_a_view_is_found(tmp_path):
    _write(
        tmp_path,
        {
            "shop/__init__.py": "",
            "shop/apps.py": "",
            "shop/views/__init__.py": "",
            "shop/views/orders.py": "",
            "shop/rendering.py": "def render():\n    from .views.orders import page\n",
            "shop/services/__init__.py": "from .orders import *\n",
            "shop/services/orders.py": "from .. import rendering\n",
            "shop/selectors.py": "import shop.rendering\n",
            "shop/models.py": "from shop import views\n",
        },
    )
    graph = import_graph(tmp_path, apps(tmp_path))
    assert graph["shop.services.orders"] == {"shop.rendering"}
    assert graph["shop.rendering"] == {"shop.views.orders"}
    assert views_reached_from_reads_and_writes(graph) == [
        "shop.selectors → shop.rendering → shop.views.orders",
        "shop.services → shop.services.orders → shop.rendering → shop.views.orders",
        "shop.services.orders → shop.rendering → shop.views.orders",
    ]


def test_a_cycle_through_a_function_import_is_found_and_type_checking_is_not(tmp_path):
    _write(
        tmp_path,
        {
            "shop/__init__.py": "",
            "shop/apps.py": "",
            "shop/models.py": (
                "from typing import TYPE_CHECKING\n"
                "if TYPE_CHECKING:\n"
                "    from .services import order_place\n"
            ),
            "shop/services.py": "from . import models\nfrom .tasks import send\n",
            "shop/tasks.py": "def send():\n    from shop.services import order_place\n",
        },
    )
    graph = import_graph(tmp_path, apps(tmp_path))
    assert graph["shop.models"] == set()
    assert sorted(import_cycle(graph)) == ["shop.services", "shop.services", "shop.tasks"]
    graph["shop.tasks"] = set()
    assert import_cycle(graph) == []
