"""ARCHITECTURE.md's drawing, made from the code: one box per top-level module or folder of
mlgate, in the layers pyproject.toml's import-linter contract declares (top to bottom), and an
arrow for each import between them, lazy and type-only ones included. The contract keeps every
arrow pointing down; `MLGATE_UPDATE_GOLDEN=1 pytest tests/test_code_quality.py` redraws it."""

from __future__ import annotations

import sys

from helpers import REPO_ROOT

BEGIN, END = "<!-- drawing: begin (tests/architecture.py) -->", "<!-- drawing: end -->"


def _contract() -> dict:  # type: ignore[type-arg]
    if sys.version_info >= (3, 11):
        import tomllib
    else:
        import tomli as tomllib

    config = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]
    return config["contracts"][0]  # type: ignore[no-any-return]


def layers() -> list[list[str]]:
    """The layers, top first, each a list of module names (``gate``, ``commands``)."""
    return [
        [name.strip().removeprefix("mlgate.") for name in layer.replace(":", "|").split("|")]
        for layer in _contract()["layers"]
    ]


def edges() -> set[tuple[str, str]]:
    """(importer, imported) between top-level units, lazy and type-only imports counted."""
    import grimp

    graph = grimp.build_graph("mlgate", cache_dir=None)
    ignored = {tuple(i.replace(" ", "").split("->")) for i in _contract().get("ignore_imports", [])}
    found = set()
    for module in graph.modules:
        for imported in graph.find_modules_directly_imported_by(module):
            if (module, imported) in ignored:  # the contract's own exceptions, drawn by none
                continue
            a, b = _unit(module), _unit(imported)
            if a and b and a != b:
                found.add((a, b))
    return found


def _unit(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else None


def _node(name: str) -> str:
    return name.strip("_") + "_" if name.startswith("_") else name


def drawing() -> str:
    lines = ["```mermaid", "flowchart TB"]
    for number, layer in enumerate(layers()):
        lines.append(f'    subgraph L{number}[" "]')
        lines.append("        direction LR")
        lines.extend(f'        {_node(name)}["{name}"]' for name in layer)
        lines.append("    end")
    for a, b in sorted(edges()):
        lines.append(f"    {_node(a)} --> {_node(b)}")
    lines.append("```")
    return "\n".join(lines)


def in_document(text: str) -> str:
    """The drawing as ARCHITECTURE.md holds it, between its markers."""
    start, end = text.index(BEGIN) + len(BEGIN), text.index(END)
    return text[start:end].strip("\n")


def with_drawing(text: str) -> str:
    start, end = text.index(BEGIN) + len(BEGIN), text.index(END)
    return text[:start] + "\n" + drawing() + "\n" + text[end:]
