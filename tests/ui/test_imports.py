"""What the app may import: core only through its public surface, and no import circle."""

from __future__ import annotations

import ast
import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest

import tui_detector.core as core

UI = Path(__file__).resolve().parents[2] / "tui_detector" / "ui"


def _ui_modules() -> dict[str, tuple[str, ast.Module]]:
    """Every module of the app: its name -> (the package its relative imports start from, its code)."""
    modules = {}
    for path in sorted(UI.rglob("*.py")):
        parts = path.relative_to(UI.parent.parent).with_suffix("").parts
        package = ".".join(parts[:-1])
        name = package if parts[-1] == "__init__" else f"{package}.{parts[-1]}"
        modules[name] = (package, ast.parse(path.read_text(encoding="utf-8"), str(path)))
    return modules


def _imported(package: str, tree: ast.Module) -> list[str]:
    """Every module a module imports anywhere in its code (function-local ones too), absolute;
    ``from a import b`` counts as both ``a`` and ``a.b`` (b may be a module)."""
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = importlib.util.resolve_name("." * node.level + (node.module or ""), package) if node.level else node.module or ""
            found.append(base)
            found += [f"{base}.{alias.name}" for alias in node.names]
    return found


@pytest.mark.parametrize("name", core.__all__)
def test_every_name_of_the_core_surface_resolves(name):
    assert getattr(core, name) is not None


def test_an_unknown_name_is_an_attribute_error():
    with pytest.raises(AttributeError, match="no_such_name"):
        core.no_such_name  # noqa: B018


def test_importing_the_core_surface_loads_nothing_heavy():
    code = (
        "import sys, tui_detector.core; "
        "print(','.join(m for m in ('numpy', 'pandas', 'sklearn', 'tensorflow', 'textual') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


def _outside_the_surface(package: str, tree: ast.Module) -> list[str]:
    return [
        name
        for name in _imported(package, tree)
        if name.startswith("tui_detector.core.") and name.removeprefix("tui_detector.core.") not in core.__all__
    ]


def test_the_ui_imports_the_core_only_through_its_surface():
    wrong = {m: found for m, (p, tree) in _ui_modules().items() if (found := _outside_the_surface(p, tree))}
    assert wrong == {}


def test_the_surface_check_would_catch_a_private_import():
    code = "def prewarm():\n    from tui_detector.core.model._keras import import_keras\n"
    assert "tui_detector.core.model._keras" in _outside_the_surface("tui_detector.ui.screens", ast.parse(code))
    assert _outside_the_surface("tui_detector.ui", ast.parse("from tui_detector.core import ReadError")) == []


def test_screens_do_not_construct_each_other():
    """Only the app chooses the next screen; a screen may open a dialog that answers it."""
    dialogs = {"tui_detector.ui.screens.dialogs", "tui_detector.ui.screens.export"}
    modules = _ui_modules()
    screens = {m for m in modules if m.startswith("tui_detector.ui.screens.")}
    wrong = {}
    for module in sorted(screens):
        package, tree = modules[module]
        reached = {n for n in _imported(package, tree) if n in screens} - dialogs - {module}
        if reached:
            wrong[module] = sorted(reached)
    assert wrong == {}


def _circle(graph: dict[str, set[str]]) -> list[str] | None:
    """An import circle in ``graph`` (module -> the modules it imports), or ``None``."""
    done: set[str] = set()

    def visit(node: str, path: list[str]) -> list[str] | None:
        if node in path:
            return [*path[path.index(node) :], node]
        if node in done:
            return None
        for nxt in sorted(graph.get(node, ())):
            if found := visit(nxt, [*path, node]):
                return found
        done.add(node)
        return None

    return next((found for module in sorted(graph) if (found := visit(module, []))), None)


def test_no_import_circle_in_the_ui():
    modules = _ui_modules()
    graph = {m: {n for n in _imported(p, tree) if n in modules and n != m} for m, (p, tree) in modules.items()}
    # A package's __init__ is imported with its modules; only arrows between modules count.
    graph = {m: {n for n in deps if not m.startswith(n + ".")} for m, deps in graph.items()}
    assert _circle(graph) is None


def test_the_circle_check_would_catch_the_old_screens_circle():
    graph = {"results": {"baseline", "export"}, "baseline": {"results"}, "export": set()}
    assert _circle(graph) == ["baseline", "results", "baseline"]
    assert _circle({"results": {"export"}, "baseline": {"text"}, "export": set()}) is None


def test_prewarming_tensorflow_says_whether_it_loaded_and_never_raises(monkeypatch):
    from tui_detector.core.model import _keras

    def missing():
        raise ImportError("No module named 'tensorflow'")

    monkeypatch.setattr(_keras, "import_keras", missing)
    assert core.prewarm_tensorflow() is False


def test_finding_the_demo_workbook_loads_nothing_heavy(tmp_path):
    """``anomaly-tui --demo`` asks for the workbook's path before the app starts: once the file
    exists, that costs no pandas or NumPy (the app's first screen waits on it)."""
    from tui_detector.demo import workbook  # noqa: PLC0415

    (tmp_path / "demo").mkdir()
    code = (
        "import sys, platformdirs; platformdirs.user_cache_dir = lambda *a, **k: sys.argv[1]\n"
        "from tui_detector.demo import demo_workbook_path; path = demo_workbook_path()\n"
        "print(path.name, ','.join(m for m in ('numpy', 'pandas', 'openpyxl') if m in sys.modules))"
    )
    name = "expense-claims-demo-v1.xlsx"
    workbook.write_demo_workbook(tmp_path / "demo" / name, seed=0)
    out = subprocess.run([sys.executable, "-c", code, str(tmp_path)], capture_output=True, text=True, check=True)
    assert out.stdout.split() == [name]
