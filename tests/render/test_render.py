"""Golden-output tests for render/: fixed results in, the exact text, Markdown, JSON and SVG out,
compared with files in tests/golden/. A change to a renderer shows here as a diff to review;
`MLGATE_UPDATE_GOLDEN=1 pytest tests/render/test_render.py` rewrites the files after such a review.

The results are built by the pure core (judge, drift) from fixed values, not by hand, so the
fixtures stay what the commands would really render."""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from helpers import REPO_ROOT
from mlgate import escape
from mlgate.artifacts.deployment import Deployment
from mlgate.artifacts.profile import profile_column
from mlgate.dvcfiles import DataChange
from mlgate.gate.compare import Check, Comparison
from mlgate.gate.judge import evaluate
from mlgate.gate.stats import BOOTSTRAP, MCNEMAR, PAIRED, Difference
from mlgate.git import Revision
from mlgate.hooks.scripts import HookState
from mlgate.monitor import drift
from mlgate.monitor.drift_report import Report
from mlgate.policy import Monitoring, parse_policy
from mlgate.render import check as render_check
from mlgate.render import hooks as render_hooks
from mlgate.render import junit as render_junit
from mlgate.render import monitor as render_monitor
from mlgate.render import registry as render_registry
from mlgate.snapshot import Snapshot

GOLDEN = REPO_ROOT / "tests" / "golden"
UPDATE = os.environ.get("MLGATE_UPDATE_GOLDEN") == "1"


def assert_golden(name: str, rendered: str) -> None:
    path = GOLDEN / name
    if UPDATE:
        path.write_text(rendered, encoding="utf-8")
    assert path.exists(), f"{path} is missing: MLGATE_UPDATE_GOLDEN=1 writes it"
    assert rendered == path.read_text(encoding="utf-8"), f"{name} differs from its golden file"


def a_check() -> Check:
    policy = parse_policy(
        {
            "predictions": "eval/predictions.csv",
            "rules": {
                "roc_auc": {"direction": "higher", "significance": 0.05, "min": 0.8},
                "accuracy": {"direction": "higher", "significance": 0.05},
                "log_loss": {"direction": "lower", "tolerance": 0.01},
                "rows": {"min": 100, "required": True},
            },
        },
        "pyproject.toml at main (1a2b3c4d)",
        "pyproject.toml",
    )
    base_metrics = {"metrics.json": {"roc_auc": 0.91, "accuracy": 0.88, "log_loss": 0.30}}
    head_metrics = {
        "metrics.json": {"roc_auc": 0.87, "accuracy": 0.885, "log_loss": 0.33, "rows": 4000}
    }
    tested = {
        "roc_auc": Difference(
            "roc_auc", 0.91, 0.87, -0.055, -0.025, 0.95, 0.002, PAIRED, BOOTSTRAP, 4000, 1000, 7
        ),
        "accuracy": Difference(
            "accuracy", 0.88, 0.885, -0.002, 0.012, 0.95, 0.31, PAIRED, MCNEMAR, 4000, 1000, 7
        ),
    }
    result = evaluate(policy, base_metrics, head_metrics, tested)
    root = Path("/nonexistent")
    base = Snapshot(
        Revision(root, "1a2b3c4d5e6f", "main"),
        base_metrics,
        {"params.yaml": {"train.C": 1.0, "train.model": "random_forest"}},
    )
    head = Snapshot(
        Revision(root, None, "workspace"),
        head_metrics,
        {"params.yaml": {"train.C": 0.5, "train.model": "random_forest"}},
    )
    comparison = Comparison(base, head, ("compared with main's tip (a fork point note)",))
    changes = (
        DataChange("models/model.pkl", "0123456789abcdef", "fedcba9876543210", 514_000, 821_000),
        DataChange("eval/predictions.csv", None, "00112233445566ff", None, 86_000),
    )
    return Check(comparison, policy, "base", False, result, changes)


@pytest.mark.parametrize(
    ("name", "render"),
    [
        ("check.txt", lambda c: render_check.check_text(c)),
        ("check-colour.txt", lambda c: render_check.check_text(c, colour=True)),
        ("check.md", render_check.check_markdown),
        ("check.json", render_check.check_json),
        ("diff.txt", lambda c: render_check.diff_text(c.comparison)),
        ("diff.json", lambda c: render_check.diff_json(c.comparison)),
        ("check-unpushed.txt", lambda c: render_check.check_text(unpushed(c))),
        ("check-unpushed.md", lambda c: render_check.check_markdown(unpushed(c))),
        ("check.junit.xml", render_junit.check_junit),
        ("check-unpushed.junit.xml", lambda c: render_junit.check_junit(unpushed(c))),
    ],
)
def test_check_renders_as_its_golden_file(name: str, render) -> None:  # type: ignore[no-untyped-def]
    assert_golden(name, render(a_check()))


def unpushed(check: Check) -> Check:
    """The same change, its data not in the DVC remote (one path a hostile name)."""
    gate = dataclasses.replace(
        check.gate, unpushed=("data/raw", "models/model.pkl", "x`|<!--y"), remote="'storage'"
    )
    return dataclasses.replace(check, gate=gate)


@pytest.mark.parametrize(
    "name",
    ["a]]>b", "<script>&amp;", "x\x1b[2Jy\x00z", "bad\ufffe\ud800", "q\"u'o", "line\nbreak"],
)
def test_a_junit_report_is_xml_whatever_a_metric_is_called(name: str) -> None:
    """A metric's name comes from the change's files: the report stays well-formed XML (parsed
    here by a real parser), the name shown as one line with its controls visible."""
    import xml.etree.ElementTree as ET

    policy = parse_policy({"rules": {name: {"direction": "higher"}}}, "p", "pyproject.toml")
    base, head = {"m.json": {name: 0.9}}, {"m.json": {name: 0.5}}
    result = evaluate(policy, base, head)
    check = dataclasses.replace(a_check(), policy=policy, gate=result)
    document = ET.fromstring(render_junit.check_junit(check).split("\n", 1)[1])
    [case] = document.iter("testcase")
    shown = case.get("name") or ""
    assert shown.startswith(escape.one_line(name) + ":") and "\n" not in shown
    [failure] = case.iter("failure")
    assert document.find("testsuite").get("failures") == "1" and failure.get("message")


def a_monitor_report() -> Report:
    rng = np.random.default_rng(20261201)
    reference = {
        "amount": rng.lognormal(3, 1, 5_000),
        "hour": rng.integers(0, 24, 5_000).astype(float),
        "country": rng.choice(["FR", "DE", "US"], 5_000, p=[0.5, 0.3, 0.2]),
    }
    current = {
        "amount": rng.lognormal(3.5, 1, 2_000),
        "hour": rng.integers(0, 24, 2_000).astype(float),
        "country": rng.choice(["FR", "DE", "US"], 2_000, p=[0.5, 0.3, 0.2]),
    }
    columns = tuple(
        drift.compare(profile_column(name, values), current[name])
        for name, values in reference.items()
    )
    evaluated = profile_column("prediction", rng.choice(["0", "1"], 1_000, p=[0.9, 0.1]), text=True)
    served = rng.choice(["0", "1"], 2_000, p=[0.7, 0.3])
    return Report(
        "production (v0.2.0), requests since 2026-11-30T00:00:00Z",
        "scorer v0.2.0's training data (5,000 rows)",
        2_000,
        Monitoring(),
        columns,
        drift.compare(evaluated, served),
    )


@pytest.mark.parametrize(
    ("name", "render"),
    [
        ("monitor.txt", render_monitor.monitor_text),
        ("monitor.md", lambda r: render_monitor.monitor_markdown(r)),
        ("monitor.json", render_monitor.monitor_json),
        ("monitor-amount.svg", lambda r: render_monitor.histogram_svg(r.columns[0])),
    ],
)
def test_monitor_renders_as_its_golden_file(name: str, render) -> None:  # type: ignore[no-untyped-def]
    assert_golden(name, render(a_monitor_report()))


def test_registry_tables_render_as_their_golden_file() -> None:
    releases: list[dict[str, Any]] = [
        {"artifact": "scorer", "latest": "v1.2.0", "stages": {"staging": "v1.2.0", "prod": None}},
        {"artifact": "sub:ranker", "latest": "v0.1.0", "stages": {"staging": None, "prod": None}},
    ]
    versions: list[dict[str, Any]] = [
        {
            "version": "v1.2.0",
            "created_at": "2026-11-30T10:00:00+00:00",
            "commit": "0123456789abcdef",
            "stages": ["staging"],
            "active": True,
            "gate": "PASS",
            "gated": {"roc_auc": 0.91, "log_loss": 0.3},
        },
        {
            "version": "v1.1.0",
            "created_at": "2026-11-01T09:30:00+00:00",
            "commit": "fedcba9876543210",
            "stages": [],
            "active": False,
            "gate": None,
            "gated": None,
        },
    ]
    history: list[dict[str, Any]] = [
        {
            "created_at": "2026-11-30T10:00:00+00:00",
            "event": "registration",
            "version": "v1.2.0",
            "stage": None,
            "tag": "scorer@v1.2.0",
            "author": "ada@example.com",
        },
        {
            "created_at": "2026-11-30T11:00:00+00:00",
            "event": "assignment",
            "version": "v1.2.0",
            "stage": "staging",
            "tag": "scorer#staging#1",
            "author": "ada@example.com",
        },
    ]
    deployed = [
        Deployment(
            "id1",
            "2026-11-30T12:00:00+00:00",
            "production",
            "deploy",
            "deployed",
            "scorer",
            "v1.2.0",
            "0123456789abcdef0123456789abcdef",
            "0123456789abcdef",
            "model.pkl",
            "ada@example.com",
            True,
            "v1.1.0",
            smoke_rows=5,
            runtime="onnx",
            onnx_md5="fedcba9876543210fedcba9876543210",
        )
    ]
    rendered = "\n".join(
        [
            render_registry.releases_text(releases),
            render_registry.versions_text(versions),
            render_registry.history_text(history),
            render_registry.deployments_text(deployed),
        ]
    )
    assert_golden("registry.txt", rendered)


def test_hook_states_render_as_their_golden_file() -> None:
    hooks = Path("/repo/.git/hooks")
    states = [
        HookState("pre-commit", hooks / "pre-commit", True, False, False, "/usr/bin/python3"),
        HookState("pre-push", hooks / "pre-push", True, False, True, "/usr/bin/python3"),
        HookState("post-checkout", hooks / "post-checkout", False, True, False, None),
        HookState("post-merge", hooks / "post-merge", False, False, False, None),
    ]
    assert_golden("hooks.txt", render_hooks.hooks_text(states))
