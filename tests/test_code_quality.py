"""Lint and type checks run with the tests, so CI enforces them."""

from __future__ import annotations

import ast
import os
import subprocess
import sys

from helpers import REPO_ROOT


def test_ruff_finds_nothing() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "ruff", "check", "src", "tests", "bench"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_mypy_finds_nothing() -> None:
    """mlgate's code fully typed; the tests checked against it too (src on the path, so a call
    that breaks a signature is caught; a test's arguments are fixtures, so untyped definitions
    are allowed there)."""
    # Tests index results they expect to be there (a release record, the latest event): None
    # fails the test anyway, so the Optional checks are off for them.
    lenient = [
        "--allow-untyped-defs",
        "--disable-error-code",
        "index",
        "--disable-error-code",
        "union-attr",
    ]
    for extra in ([], ["tests", *lenient]):
        result = subprocess.run(
            [sys.executable, "-m", "mypy", *extra],
            cwd=REPO_ROOT,
            capture_output=True,
            text=True,
            env={**os.environ, "MYPYPATH": "tests:src"},
        )
        assert result.returncode == 0, result.stdout + result.stderr


def _imports(runtime: bool = False) -> dict[str, set[str]]:
    """Every mlgate module and the mlgate modules it imports anywhere in it: at the top, inside
    a function (lazily), or for type checking only (left out when ``runtime``)."""
    package = REPO_ROOT / "src"
    modules = {}
    for path in sorted((package / "mlgate").rglob("*.py")):
        parts = path.relative_to(package).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        modules[name] = path
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        found: set[str] = set()
        tree = ast.parse(path.read_text())
        typing_only = {
            id(n)
            for block in ast.walk(tree)
            if isinstance(block, ast.If) and ast.unparse(block.test) == "TYPE_CHECKING"
            for n in ast.walk(block)
        }
        for node in ast.walk(tree):
            if runtime and id(node) in typing_only:
                continue
            if (
                isinstance(node, ast.ImportFrom)
                and node.module
                and node.module.startswith("mlgate")
            ):
                for alias in node.names:  # `from mlgate.gate import compare` names a module
                    sub = f"{node.module}.{alias.name}"
                    found.add(sub if sub in modules else node.module)
            elif isinstance(node, ast.Import):
                found.update(a.name for a in node.names if a.name in modules)
        graph[name] = {m for m in found if m in modules and m != name and m != "mlgate"}
    return graph


def test_dependencies_point_one_way() -> None:
    """No import cycle between mlgate's modules, counting lazy and type-only imports."""
    graph = _imports()
    order: list[str] = []
    state: dict[str, int] = {}

    def visit(module: str, path: list[str]) -> None:
        if state.get(module) == 2:
            return
        assert state.get(module) != 1, "import cycle: " + " -> ".join([*path, module])
        state[module] = 1
        for dependency in sorted(graph[module]):
            visit(dependency, [*path, module])
        state[module] = 2
        order.append(module)

    for module in sorted(graph):
        visit(module, [])


PURE = (
    "mlgate.gate.judge",
    "mlgate.gate.stats",
    "mlgate.values",
    "mlgate.policy",
    "mlgate.measures",
    "mlgate.monitor.drift",
    "mlgate.escape",
    "mlgate.render.table",
    "mlgate.render.check",
    "mlgate.render.registry",
    "mlgate.render.hooks",
    "mlgate.render.monitor",
    "mlgate.render.describe",
    "mlgate.render.charts",
    "mlgate.gate.curves",
)


def test_pure_modules_import_nothing_that_does_io() -> None:
    """The judge, the statistics and the renderers work on values: none of them imports git,
    DVC's files, the file system helpers, GitHub or a command."""
    graph = _imports(runtime=True)
    io = {
        "mlgate.git",
        "mlgate.dvc",
        "mlgate.dvcfiles",
        "mlgate.files",
        "mlgate.github",
        "mlgate.cli",
        "mlgate.snapshot",
    }

    def reach(module: str, seen: set[str]) -> set[str]:
        for dependency in graph[module] - seen:
            seen.add(dependency)
            reach(dependency, seen)
        return seen

    for module in PURE:
        runtime = reach(module, set())
        assert not runtime & io, f"{module} reaches {sorted(runtime & io)}"
