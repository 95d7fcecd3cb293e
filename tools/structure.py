"""The structure of disrupt/ as numbers (issue 15): import cycles between modules and between
feature packages, the largest modules and the functions over 60 lines.

    .venv/bin/python tools/structure.py [--root disrupt] [--json]
"""
from __future__ import annotations

import argparse
import ast
import json
import sys
from collections import defaultdict
from pathlib import Path


def module_name(root: Path, path: Path) -> str:
    parts = list(path.relative_to(root.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imports_of(root: Path) -> dict[str, set[str]]:
    """Module -> the project modules it imports (at any level of the file: a function-level
    import still ties the two modules together)."""
    modules = {module_name(root, p): p for p in root.rglob("*.py")}
    graph: dict[str, set[str]] = defaultdict(set)
    for name, path in modules.items():
        package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            targets: list[str] = []
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    base = ".".join(package.split(".")[:len(package.split(".")) - node.level + 1]
                                    + ([base] if base else []))
                targets = [base] + [f"{base}.{alias.name}" for alias in node.names]
            for target in targets:
                while target and target not in modules:
                    target = target.rpartition(".")[0]
                if target and target != name:
                    graph[name].add(target)
        graph.setdefault(name, set())
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one node (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    counter = [0]
    sys.setrecursionlimit(10_000)

    def visit(node: str) -> None:
        index[node] = low[node] = counter[0]
        counter[0] += 1
        stack.append(node)
        on_stack.add(node)
        for nxt in graph.get(node, ()):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                top = stack.pop()
                on_stack.discard(top)
                component.append(top)
                if top == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return sorted(found)


def packages_graph(graph: dict[str, set[str]], root: str) -> dict[str, set[str]]:
    """Feature package -> feature packages it imports (disrupt.cases.views -> cases)."""
    def feature(module: str) -> str:
        parts = module.split(".")
        return parts[1] if len(parts) > 2 else "(top)"

    out: dict[str, set[str]] = defaultdict(set)
    for module, targets in graph.items():
        for target in targets:
            a, b = feature(module), feature(target)
            if a != b and "(top)" not in (a, b):
                out[a].add(b)
        out.setdefault(feature(module), set())
    return out


def long_functions(root: Path, limit: int = 60) -> list[tuple[int, str]]:
    found = []
    for path in root.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                length = (node.end_lineno or node.lineno) - node.lineno + 1
                if length > limit:
                    found.append((length, f"{module_name(root, path)}.{node.name}"))
    return sorted(found, reverse=True)


def report(root: Path) -> dict[str, object]:
    graph = imports_of(root)
    sizes = sorted(((len(p.read_text(encoding="utf-8").splitlines()), module_name(root, p))
                    for p in root.rglob("*.py")), reverse=True)
    return {
        "module_cycles": cycles(graph),
        "package_cycles": cycles(packages_graph(graph, root.name)),
        "largest_modules": sizes[:10],
        "functions_over_60_lines": long_functions(root),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--root", default=str(Path(__file__).resolve().parents[1] / "disrupt"))
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    result = report(Path(args.root))
    if args.json:
        print(json.dumps(result, indent=1))
        return
    print(f"module import cycles: {len(result['module_cycles'])}")
    for cycle in result["module_cycles"]:
        print(f"  {len(cycle)} modules: {', '.join(cycle)}")
    print(f"feature package cycles: {len(result['package_cycles'])}")
    for cycle in result["package_cycles"]:
        print(f"  {' <-> '.join(cycle)}")
    print("largest modules: " + ", ".join(f"{n} ({lines})"
                                          for lines, n in result["largest_modules"][:6]))
    long = result["functions_over_60_lines"]
    print(f"functions over 60 lines: {len(long)}: " + ", ".join(
        f"{n} ({lines})" for lines, n in long[:8]))


if __name__ == "__main__":
    main()
