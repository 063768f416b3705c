"""The import graph of ``bench/`` and ``methods/``: no cycles, and dependencies that point one way.

Every import statement of every module counts, also those inside functions.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("bench", "methods")

#: what the report layer may import: records, their metadata, and itself
REPORT_MAY_IMPORT = ("bench.report", "bench.record", "bench.metadata", "bench.store",
                     "bench.errors", "bench.regimes")


def module_files() -> dict[str, Path]:
    out = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            parts = list(path.relative_to(ROOT).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts = parts[:-1]
            out[".".join(parts)] = path
    return out


def imports_of(name: str, path: Path, modules: set[str]) -> set[str]:
    """Internal modules named by the import statements of module ``name``."""
    is_package = path.name == "__init__.py"
    out = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = name.split(".") if is_package else name.split(".")[:-1]
                anchor = anchor[:len(anchor) - node.level + 1]
                base = ".".join([*anchor, *([base] if base else [])])
            targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in modules else base
                       for a in node.names]
        else:
            continue
        for target in targets:
            # the longest internal module the statement names
            parts = target.split(".")
            while parts and ".".join(parts) not in modules:
                parts.pop()
            if parts:
                out.add(".".join(parts))
    out.discard(name)
    return out


def import_graph() -> dict[str, set[str]]:
    files = module_files()
    return {name: imports_of(name, path, set(files)) for name, path in files.items()}


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    out: list[list[str]] = []
    counter = [0]

    def visit(v: str) -> None:
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


GRAPH = import_graph()


def test_the_graph_sees_imports_inside_functions():
    # bench.registry imports nothing of methods/: the registry finds them by name
    assert "bench.errors" in GRAPH["bench.registry"]
    assert not any(m.startswith("methods") for m in GRAPH["bench.registry"])
    assert "bench.metrics" in GRAPH["bench.tasks.semantic"]  # imported inside a method


def test_no_import_cycles():
    assert cycles(GRAPH) == []


def test_cycle_detection_finds_a_cycle():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_nothing_in_bench_imports_a_method_module():
    """Methods are plugins of the harness: found through the registry, never imported by name."""
    offenders = {m: sorted(t for t in targets if t.split(".")[0] == "methods")
                 for m, targets in GRAPH.items() if m.startswith("bench")}
    assert {m: t for m, t in offenders.items() if t} == {}


@pytest.mark.parametrize("module", sorted(m for m in GRAPH if m.startswith("bench.report")))
def test_report_layer_reads_records_and_metadata_only(module):
    bad = sorted(t for t in GRAPH[module] if not t.startswith(REPORT_MAY_IMPORT))
    assert bad == []


def test_tasks_depend_on_nothing_above_them():
    allowed = ("bench.tasks", "bench.metrics", "bench.errors")
    for module, targets in GRAPH.items():
        if module.startswith("bench.tasks"):
            assert sorted(t for t in targets if not t.startswith(allowed)) == [], module
