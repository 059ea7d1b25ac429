"""MkDocs hooks for mlgate's site: the reference table of every policy key, generated from the
policy's dataclasses (their fields, types, defaults and `metadata["doc"]`) at build time."""

from __future__ import annotations

import dataclasses
import importlib
import json
import re
from typing import Any

PLACEHOLDER = "<!-- mlgate: policy keys -->"

# Where each dataclass's keys are written in pyproject.toml
SECTIONS = (
    ("Policy", "[tool.mlgate]"),
    ("Rule", "[tool.mlgate.rules] NAME = { ... }"),
    ("EnvironmentOptions", "[tool.mlgate.environments.NAME]"),
    ("Retraining", "[tool.mlgate.retrain]"),
    ("Monitoring", "[tool.mlgate.monitor]"),
    ("Canary", "[tool.mlgate.canary]"),
    ("Slicing", "[tool.mlgate.slices]"),
)
# Keys whose default is the one the code that reads them has (None in the policy)
_READERS_DEFAULTS = {
    "monitoring_sample": ("mlgate.artifacts.requestlog", "DEFAULT_SAMPLE"),
    "monitoring_max_mb": ("mlgate.artifacts.requestlog", "DEFAULT_MAX_MB"),
    "monitoring_segment_seconds": ("mlgate.serve.shipping", "DEFAULT_SEGMENT_SECONDS"),
    "lease_seconds": ("mlgate.deploy.targets.s3", "LEASE_SECONDS"),
}
_TYPES = {
    "str": "string",
    "int": "integer",
    "float": "number",
    "bool": "boolean",
    "tuple[str, ...]": "array of strings",
}


def on_page_markdown(markdown: str, **_: Any) -> str:
    if PLACEHOLDER not in markdown:
        return markdown
    return markdown.replace(PLACEHOLDER, policy_keys())


def policy_keys() -> str:
    """One table per section: key, type, default, meaning."""
    from mlgate import policy

    parts = []
    for name, section in SECTIONS:
        record = getattr(policy, name)
        rows = [
            f"| `{f.name}` | {_type(f.type)} | {_default(f)} | {f.metadata['doc']} |"
            for f in dataclasses.fields(record)
            if "doc" in f.metadata
        ]
        summary = " ".join((record.__doc__ or "").strip().split("\n\n")[0].split())
        parts += [
            f"## `{section}`",
            "",
            _sentence(re.sub(r"^``[^`]+``: ", "", summary)),
            "",
            "| key | type | default | meaning |",
            "|---|---|---|---|",
            *rows,
            "",
        ]
    return "\n".join(parts)


def _sentence(text: str) -> str:
    return text[:1].upper() + text[1:]


def _type(annotation: Any) -> str:
    text = str(annotation).removesuffix(" | None")
    if text in _TYPES:
        return _TYPES[text]
    if text == "tuple[Rule, ...]":
        return "table of rules"
    literal = re.fullmatch(r"(Direction|Fallback|Correction)", text)
    if literal:
        from mlgate import policy

        values = getattr(policy, literal[1]).__args__
        return " or ".join(f"`{v}`" for v in values)
    return "table"


def _default(field: dataclasses.Field[Any]) -> str:
    value = field.default
    if value is None and field.name in _READERS_DEFAULTS:
        module, name = _READERS_DEFAULTS[field.name]
        value = getattr(importlib.import_module(module), name)
    if value is dataclasses.MISSING or value is None or value == ():
        return ""
    return f"`{json.dumps(value)}`"
