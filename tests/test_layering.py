"""The layers hold: the core and the demo load no UI or TensorFlow, and no module imports itself back.

The import check runs in a fresh interpreter, because this one has long since imported Textual
and friends for other tests. One interpreter is enough for every module: a heavy package that
some module pulls in stays in ``sys.modules``, so the check after each import names the first
module that brought it (with anything that module itself imports); every later module is only
ever checked against what is new after its own import.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import tomllib
from pathlib import Path

import grimp
import pytest

ROOT = Path(__file__).resolve().parents[1]

# Top-level names whose import at start-up costs seconds or drags a UI into the library.
HEAVY = ("textual", "rich", "tensorflow", "keras")

_CHECKER = textwrap.dedent(
    """
    import importlib, json, pkgutil, sys

    heavy = set(sys.argv[1].split(","))
    roots = sys.argv[2:]

    def loaded():
        return {name.partition(".")[0] for name in sys.modules} & heavy

    report = {"before": sorted(loaded()), "checked": [], "first": {}, "failed": {}}
    seen = set(report["before"])

    def check(name):
        try:
            importlib.import_module(name)
        except Exception as exc:
            report["failed"][name] = f"{type(exc).__name__}: {exc}"
            return
        report["checked"].append(name)
        for pkg in sorted(loaded() - seen):
            report["first"][pkg] = name
            seen.add(pkg)

    for root in roots:
        check(root)
        package = sys.modules.get(root)
        if package is None or not hasattr(package, "__path__"):
            continue
        # walk_packages yields a subpackage before importing it to look inside, so check()
        # always imports a module first, and what it pulls in is charged to it.
        for info in pkgutil.walk_packages(package.__path__, root + ".", onerror=lambda name: None):
            check(info.name)

    print(json.dumps(report))
    """
)


def import_report(*roots: str, heavy: tuple[str, ...] = HEAVY, path: Path | None = None) -> dict:
    """Import ``roots`` and every module below them in a fresh interpreter; say what got loaded."""
    env = os.environ.copy()
    if path is not None:
        env["PYTHONPATH"] = os.pathsep.join([str(path), env.get("PYTHONPATH", "")])
    proc = subprocess.run(
        [sys.executable, "-c", _CHECKER, ",".join(heavy), *roots],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
        cwd=ROOT,
    )
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout.strip().splitlines()[-1])


def heavy_imports(report: dict) -> list[str]:
    return [f"{module} imports {pkg} at import time" for pkg, module in sorted(report["first"].items())]


@pytest.fixture(scope="module")
def core_report() -> dict:
    return import_report("tui_detector.core")


def test_every_core_module_was_imported(core_report):
    on_disk = {
        ".".join(p.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")
        for p in (ROOT / "tui_detector" / "core").rglob("*.py")
    }
    assert core_report["failed"] == {}
    assert core_report["before"] == [], "the interpreter had heavy modules before the first import"
    # "tui_detector" itself is imported on the way to the core: its __init__ is checked too.
    assert on_disk <= set(core_report["checked"]), sorted(on_disk - set(core_report["checked"]))


def test_no_core_module_imports_ui_or_tensorflow(core_report):
    assert heavy_imports(core_report) == []


def test_demo_imports_no_ui_or_tensorflow():
    report = import_report("tui_detector.demo")
    assert report["failed"] == {}
    assert {"tui_detector.demo.workbook", "tui_detector.demo.planting"} <= set(report["checked"])
    assert heavy_imports(report) == []


def test_the_check_names_the_module_that_pulled_a_heavy_import_in(tmp_path):
    # A stub named "rich" shadows the real one, so the control costs nothing to import.
    (tmp_path / "rich.py").write_text("")
    pkg = tmp_path / "layering_probe"
    (pkg / "sub").mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "clean.py").write_text("import json\n")
    (pkg / "sub" / "__init__.py").write_text("")
    (pkg / "sub" / "dirty.py").write_text("import rich\n")
    (pkg / "sub" / "later.py").write_text("import rich\n")
    report = import_report("layering_probe", path=tmp_path)
    assert report["first"] == {"rich": "layering_probe.sub.dirty"}
    assert heavy_imports(report) == ["layering_probe.sub.dirty imports rich at import time"]
    assert "layering_probe.sub.later" in report["checked"]


def test_the_check_sees_textual_in_the_ui():
    report = import_report("tui_detector.ui.app", heavy=("textual",))
    assert report["first"] == {"textual": "tui_detector.ui.app"}


# -- import circles ---------------------------------------------------------------------------


def import_circles(graph: grimp.ImportGraph, package: str) -> list[list[str]]:
    """Strongly connected components of more than one module (or a module importing itself).

    grimp records every import statement in a module, function-local ones too, so a circle
    dodged with a late import is still a circle here.
    """
    modules = sorted(m for m in graph.modules if m == package or m.startswith(package + "."))
    edges = {m: sorted(i for i in graph.find_modules_directly_imported_by(m) if i in modules) for m in modules}
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    circles: list[list[str]] = []

    # Tarjan's algorithm, iterative so a deep package cannot hit the recursion limit.
    for start in modules:
        if start in index:
            continue
        work = [(start, iter(edges[start]))]
        index[start] = low[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(edges[child])))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1 or node in edges[node]:
                    circles.append(sorted(component))
    return sorted(circles)


def describe(graph: grimp.ImportGraph, circle: list[str]) -> str:
    lines = [" <-> ".join(circle)]
    for importer in circle:
        for imported in circle:
            if importer != imported and graph.direct_import_exists(importer=importer, imported=imported):
                for detail in graph.get_import_details(importer=importer, imported=imported):
                    lines.append(f"    {importer}:{detail['line_number']}: {detail['line_contents']}")
    return "\n".join(lines)


def test_the_circle_finder_finds_a_circle_and_only_the_circle():
    graph = grimp.ImportGraph()
    for module in ("p", "p.a", "p.b", "p.c", "p.d"):
        graph.add_module(module)
    graph.add_import(importer="p.a", imported="p.b")
    graph.add_import(importer="p.b", imported="p.c")
    graph.add_import(importer="p.c", imported="p.a")
    graph.add_import(importer="p.d", imported="p.a")
    assert import_circles(graph, "p") == [["p.a", "p.b", "p.c"]]


def test_no_import_circles():
    graph = grimp.build_graph("tui_detector", cache_dir=None)
    circles = import_circles(graph, "tui_detector")
    assert not circles, f"{len(circles)} import circle(s):\n" + "\n".join(describe(graph, c) for c in circles)


# -- the import-linter contract -----------------------------------------------------------------


def test_the_contract_lists_every_private_core_module():
    """import-linter wildcards replace whole names only, so the private modules are listed by name."""
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]
    contract = next(c for c in config["contracts"] if c["id"] == "ui-uses-the-public-core")
    private = {
        ".".join(p.relative_to(ROOT).with_suffix("").parts)
        for p in (ROOT / "tui_detector" / "core").rglob("_*.py")
        if p.name != "__init__.py"
    }
    assert set(contract["forbidden_modules"]) == private


def test_ci_runs_the_readme_test_command_and_it_checks_the_contracts():
    readme = (ROOT / "README.md").read_text()
    block = readme.split("**Install and run the whole test suite**", 1)[1].split("```")[1]
    command = block.strip()
    assert command.splitlines()[-1] in (ROOT / ".ci" / "run").read_text().splitlines()
    steps = [step.strip() for step in command.split("&&")]
    assert "lint-imports" in steps
    # No -m filter: CI runs the slow tests too.
    pytest_args = steps[-1].removeprefix("python3 -m pytest").split()
    assert steps[-1].startswith("python3 -m pytest") and "-m" not in pytest_args
