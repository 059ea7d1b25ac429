"""Lint and type checks run with the tests, so CI enforces them."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

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


def test_the_architecture_s_contracts_hold() -> None:
    """import-linter checks the layers (pyproject.toml: no import runs up a layer, lazy and
    type-only imports counted) and what the pure modules import when they run
    (importlinter-runtime.ini)."""
    lint_imports = Path(sys.executable).with_name("lint-imports")
    result = subprocess.run(
        [lint_imports, "--no-cache", "--no-logo", "pyproject.toml", "importlinter-runtime.ini"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "4 kept, 0 broken" in result.stdout


def test_every_module_is_in_a_layer() -> None:
    """A new top-level module or folder is given its place in the layers, or the contract
    would say nothing about it."""
    if sys.version_info >= (3, 11):
        import tomllib
    else:
        import tomli as tomllib

    config = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]
    layered = {
        name.strip()
        for layer in config["contracts"][0]["layers"]
        for name in layer.replace(":", "|").split("|")
    }
    package = REPO_ROOT / "src" / "mlgate"
    present = {
        f"mlgate.{path.stem if path.is_file() else path.name}"
        for path in package.iterdir()
        if (path.suffix == ".py" and path.stem != "__init__")
        or (path.is_dir() and (path / "__init__.py").exists())
    }
    assert present - layered == set(), "modules in no layer"
    assert layered - present == set(), "layers naming no module"


def test_each_stage_depends_on_all_the_code_it_runs() -> None:
    """dvc.yaml's deps for a stage `python -m mlgate.pipeline.STAGE` name every mlgate module
    the stage imports, lazily or not: otherwise a change to that code leaves the stage's
    outputs stale while `dvc status` says they are up to date."""
    import re

    import grimp
    import yaml

    graph = grimp.build_graph("mlgate", cache_dir=None)
    stages = yaml.safe_load((REPO_ROOT / "dvc.yaml").read_text())["stages"]
    for name, stage in stages.items():
        found = re.search(r"python -m (mlgate\.pipeline\.\w+)", stage["cmd"])
        assert found, f"{name} does not run a pipeline module"
        modules = graph.find_upstream_modules(found[1]) | {found[1]}
        files = {
            f"src/{module.replace('.', '/')}.py"
            for module in modules
            if not (REPO_ROOT / "src" / module.replace(".", "/")).is_dir()  # a package's __init__
        }
        missing = sorted(f for f in files if f not in stage["deps"])
        assert not missing, f"stage {name} runs {missing}, which its deps leave out"


def test_the_architecture_drawing_is_the_code_s() -> None:
    """ARCHITECTURE.md draws the layers and every import between them as the code has them
    today, Mermaid's parser accepts it, and every arrow points down a layer."""
    import architecture
    import mermaid_parser

    path = REPO_ROOT / "ARCHITECTURE.md"
    text = path.read_text()
    if os.environ.get("MLGATE_UPDATE_GOLDEN"):
        path.write_text(text := architecture.with_drawing(text))
    drawn = architecture.in_document(text)
    assert drawn == architecture.drawing(), (
        "run MLGATE_UPDATE_GOLDEN=1 pytest tests/test_code_quality.py"
    )
    assert mermaid_parser.errors(mermaid_parser.blocks(drawn)) == [None]
    rank = {name: n for n, layer in enumerate(architecture.layers()) for name in layer}
    upward = sorted((a, b) for a, b in architecture.edges() if rank[a] >= rank[b])
    assert not upward, f"imports that do not point down a layer: {upward}"
