"""The import graph of disrupt/ has no circles (issue 15), measured by tools/structure.py:
modules import one way, feature packages depend one way (docs/architecture.md)."""
from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "disrupt"


def _load_structure():
    spec = importlib.util.spec_from_file_location("disrupt_tools_structure",
                                                  ROOT / "tools" / "structure.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


structure = _load_structure()


def _describe(found: list[list[str]], graph: dict[str, set[str]]) -> str:
    lines = []
    for cycle in found:
        members = set(cycle)
        edges = [f"    {a} -> {b}" for a in cycle for b in sorted(graph[a]) if b in members]
        lines.append(f"  cycle of {len(cycle)}: {' <-> '.join(cycle)}\n" + "\n".join(edges))
    return "\n".join(lines)


def _reachable(graph: dict[str, set[str]], start: str) -> set[str]:
    seen: set[str] = set()
    todo = [start]
    while todo:
        for nxt in graph.get(todo.pop(), ()):
            if nxt not in seen:
                seen.add(nxt)
                todo.append(nxt)
    return seen


@pytest.fixture(scope="module")
def graph() -> dict[str, set[str]]:
    return structure.imports_of(PACKAGE)


def test_no_module_imports_itself_back(graph):
    found = structure.cycles(graph)
    assert not found, "import cycles between modules of disrupt/:\n" + _describe(found, graph)


def test_feature_packages_depend_one_way(graph):
    packages = structure.packages_graph(graph, PACKAGE.name)
    found = structure.cycles(packages)
    assert not found, ("import cycles between feature packages (see docs/architecture.md for "
                       "the allowed direction):\n" + _describe(found, packages))


def test_nothing_a_blueprint_imports_imports_the_app_factory(graph):
    blueprints = [name for name in graph if name.endswith("views")]
    assert "disrupt.console.views" in blueprints and "disrupt.accounts.views" in blueprints
    reaching = {view: sorted(_reachable(graph, view) & {"disrupt", "disrupt.configure"})
                for view in blueprints}
    assert not {view: found for view, found in reaching.items() if found}


def test_the_shared_layers_import_no_feature(graph):
    packages = structure.packages_graph(graph, PACKAGE.name)
    assert packages["urls"] == set()
    assert packages["accounts"] == set()
    assert packages["cases"] <= {"urls", "accounts", "hashing"}
    assert not [name for name, targets in packages.items() if "console" in targets]


def test_the_measure_finds_a_circle_where_there_is_one(tmp_path):
    """Guard against a measure that can only say zero: a module pair and a feature pair that
    import each other are both reported."""
    root = tmp_path / "shop"
    for folder in ("orders", "billing"):
        (root / folder).mkdir(parents=True)
        (root / folder / "__init__.py").write_text("")
    (root / "__init__.py").write_text("from shop import web\n")
    (root / "web.py").write_text("from shop import config\nfrom shop.orders.views import bp\n")
    (root / "config.py").write_text("")
    (root / "orders" / "views.py").write_text("from shop.web import db_session\n")
    (root / "orders" / "models.py").write_text("from shop.billing.models import Invoice\n")
    (root / "billing" / "models.py").write_text("from ..orders import models\n")

    found = structure.imports_of(root)
    assert structure.cycles(found) == [
        ["shop", "shop.orders.views", "shop.web"],
        ["shop.billing.models", "shop.orders.models"],
    ]
    assert structure.cycles(structure.packages_graph(found, root.name)) == [
        ["billing", "orders"]]


# Functions over 60 lines that stay whole, each with its reason. A new long function fails
# here until it is split or its reason is written down.
LONG_FUNCTIONS_KEPT = {
    "disrupt.monitoring.fetch._one_hop": "one HTTP hop with every bound checked in the order "
    "the bytes arrive (connect, TLS, headers, body); split, the order of the checks is lost",
    "disrupt.dashboard.reference.naive_statistics": "the benchmark's reference: written as "
    "the plain definition of every figure, on purpose not factored like the fold it checks",
}


def test_no_function_over_60_lines_without_a_reason():
    long = {name: lines for lines, name in structure.long_functions(PACKAGE)}
    unexplained = {name: lines for name, lines in long.items()
                   if name not in LONG_FUNCTIONS_KEPT}
    assert not unexplained, f"split these or give the reason in LONG_FUNCTIONS_KEPT: {unexplained}"
    stale = set(LONG_FUNCTIONS_KEPT) - set(long)
    assert not stale, f"no longer over 60 lines, drop from LONG_FUNCTIONS_KEPT: {stale}"


def test_the_length_measure_sees_a_long_function(tmp_path):
    root = tmp_path / "shop"
    root.mkdir()
    body = "\n".join(f"    x{n} = {n}" for n in range(70))
    (root / "__init__.py").write_text(f"def long():\n{body}\n\n\ndef short():\n    return 1\n")
    assert [name for _, name in structure.long_functions(root)] == ["shop.long"]


def test_no_type_ignore_that_nothing_checks():
    """No type checker runs in `make test`, so an ignore comment would only look like one."""
    marked = [f"{path.relative_to(ROOT)}:{number}"
              for folder in ("disrupt", "tests", "bench", "tools")
              for path in (ROOT / folder).rglob("*.py") if "node_modules" not in path.parts
              for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
              if "type: " + "ignore" in line]
    assert not marked, marked


def test_tests_import_helpers_from_support_never_from_a_conftest():
    """Fixtures live in conftest files, helpers in tests/support: a conftest imported as a
    module runs twice (once as a plugin, once as a module) and hides where a helper lives."""
    importing = [f"{path.relative_to(ROOT)}:{number}"
                 for path in (ROOT / "tests").rglob("*.py") if "node_modules" not in path.parts
                 for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
                 if line.lstrip().startswith(("from ", "import ")) and "conftest" in line]
    assert not importing, importing
