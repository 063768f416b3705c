"""The import graph of ``bench/`` and ``methods/``: no cycles, layers that point one way, no
private name imported across modules, and a module table in ``docs/architecture.md`` that is
complete against the tree.

Every import statement of every module counts, also those inside functions.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("bench", "methods")

#: what the report layer may import: records, their metadata, and itself
REPORT_MAY_IMPORT = ("bench.report", "bench.records", "bench.metadata", "bench.errors",
                     "bench.labels.regimes")

#: the layers of the harness, bottom first: a module imports only its own group and groups of
#: lower layers (a group is a subpackage of ``bench``, a top-level module, or ``methods``)
LAYERS: list[tuple[str, ...]] = [
    ("bench", "bench.errors", "bench.metadata"),
    ("bench.registry",),
    ("bench.records", "bench.labels", "bench.metrics"),
    ("bench.tasks",),
    ("bench.nets", "bench.weightings", "bench.data"),
    ("bench.config",),
    ("bench.method",),
    ("methods",),
    ("bench.engine",),
    ("bench.grid",),
    ("bench.launch",),
    ("bench.report",),
    ("bench.studies",),
    ("bench.cli",),
    ("bench.__main__",),
]
#: the only modules at the top of ``bench/``
TOP_LEVEL = {"bench", "bench.__main__", "bench.errors", "bench.metadata", "bench.registry"}


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


def group(module: str) -> str:
    """The group of a module: ``methods``, a top-level module of bench, or its subpackage."""
    parts = module.split(".")
    if parts[0] == "methods":
        return "methods"
    return ".".join(parts[:2])


def layer(module: str) -> int:
    g = group(module)
    return next(i for i, names in enumerate(LAYERS) if g in names)


def test_the_graph_sees_imports_inside_functions():
    # bench.registry imports nothing of methods/: the registry finds them by name
    assert "bench.errors" in GRAPH["bench.registry"]
    assert not any(m.startswith("methods") for m in GRAPH["bench.registry"])
    assert "bench.metrics.semantic" in GRAPH["bench.tasks.semantic"]  # inside a method


def test_every_module_has_a_layer():
    assert sorted({group(m) for m in GRAPH} - {g for names in LAYERS for g in names}) == []


def test_no_import_points_up_a_layer():
    """Launchers above the engine above methods above nets…: an import of a higher layer, or
    of another group of the same layer, is a dependency pointing the wrong way."""
    bad = sorted(f"{m} -> {t}" for m, targets in GRAPH.items() for t in targets
                 if group(m) != group(t) and layer(t) >= layer(m))
    assert bad == []


def test_layer_check_finds_an_upward_import():
    assert layer("bench.engine.execute") > layer("bench.method.base") > layer("bench.tasks.base")
    assert layer("bench.launch.claim") > layer("bench.engine.execute")


def test_no_module_imports_a_private_name_of_another():
    modules = set(GRAPH)
    bad = []
    for name, path in module_files().items():
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.ImportFrom) and node.module and not node.level:
                if node.module.split(".")[0] not in PACKAGES or node.module == name:
                    continue
                bad += [f"{name}: from {node.module} import {a.name}" for a in node.names
                        if a.name.startswith("_") and not a.name.startswith("__")
                        and f"{node.module}.{a.name}" not in modules]
    assert bad == []


def test_the_top_of_bench_keeps_only_a_few_modules():
    top = {m for m in GRAPH if m.startswith("bench") and m.count(".") <= 1
           and not (ROOT / Path(*m.split("."))).is_dir()}
    assert top == TOP_LEVEL - {"bench"}


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
    allowed = ("bench.tasks", "bench.metrics", "bench.errors", "bench.registry")
    for module, targets in GRAPH.items():
        if module.startswith("bench.tasks"):
            assert sorted(t for t in targets if not t.startswith(allowed)) == [], module


def test_a_test_outside_slow_cannot_build_a_runner():
    """The fast suite does not train: conftest's guard fails a test that builds a Runner."""
    from conftest import BuildsRunnerOutsideSlow
    from mmengine.runner import Runner

    with pytest.raises(BuildsRunnerOutsideSlow, match="not marked slow"):
        Runner(model=None, work_dir="unused")


REFERENCE = re.compile(r":(mod|func|class|meth|data|attr|exc):`~?((?:bench|methods)(?:\.\w+)+)`")


def top_level_names(path: Path) -> set[str]:
    """The names a module defines at its top level (functions, classes, assignments, imports)."""
    names: set[str] = set()
    for node in ast.parse(path.read_text(), str(path)).body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, (ast.Assign, ast.AnnAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            names |= {t.id for t in targets if isinstance(t, ast.Name)}
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            names |= {(a.asname or a.name).split(".")[0] for a in node.names}
    return names


def test_docstrings_name_only_modules_and_names_that_exist():
    """Every :mod:/:func:/:class:… reference to the harness in a docstring or comment resolves."""
    files = module_files()
    defined = {name: top_level_names(path) for name, path in files.items()}
    bad = []
    for name, path in files.items():
        for role, target in REFERENCE.findall(path.read_text()):
            parts = target.split(".")
            module = next((".".join(parts[:i]) for i in range(len(parts), 0, -1)
                           if ".".join(parts[:i]) in files), None)
            rest = parts[len(module.split(".")):] if module else parts
            if module is None or (role == "mod" and rest):
                bad.append(f"{name}: :{role}:`{target}` names no module")
            elif rest and rest[0] not in defined[module]:
                bad.append(f"{name}: :{role}:`{target}`: {module} defines no {rest[0]}")
    assert bad == []


def test_the_module_table_of_docs_architecture_is_complete_against_the_tree():
    text = (ROOT / "docs" / "architecture.md").read_text()
    named = set(re.findall(r"^\| `((?:bench|methods)/[\w/]+\.py)` \|", text, re.M))
    files = {str(p.relative_to(ROOT)) for p in module_files().values()}
    assert sorted(files - named) == [], "modules missing from docs/architecture.md"
    assert sorted(named - files) == [], "docs/architecture.md names modules that do not exist"
