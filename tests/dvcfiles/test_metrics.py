"""Metrics and params read and diffed by mlgate agree with DVC's own diff, value for value."""

from __future__ import annotations

import json
import shutil
from collections.abc import Mapping
from pathlib import Path

import pytest
import yaml

from helpers import commit_all, dvc, git, init_dvc_repo
from mlgate import dvcfiles
from mlgate import git as gitmod
from mlgate.errors import DataError
from mlgate.snapshot import read_snapshot
from mlgate.values import diff, flatten

DVC_YAML = {
    "stages": {
        "train": {
            "cmd": "true",
            "params": ["train", {"custom.yaml": ["model.depth", "model.kind"]}],
            "metrics": [{"metrics.json": {"cache": False}}, {"eval/scores.yaml": {"cache": False}}],
        },
        "report": {"cmd": "true", "metrics": [{"summary.toml": {"cache": False}}]},
    },
    "params": ["extra.json"],
}

BASE_FILES = {
    "params.yaml": {"train": {"lr": 0.1, "layers": [64, 32], "opt": {"name": "adam"}}, "seed": 1},
    "custom.yaml": {"model": {"depth": 3, "kind": "tree", "ignored": 1}, "other": 5},
    "extra.json": {"batch": 32, "tags": ["a"]},
    "metrics.json": {
        "accuracy": 0.8,
        "loss": 0.5,
        "nested": {"auc": 0.7, "deep": {"f1": 0.6}},
        "name": "rf",
        "flag": True,
        "single": [0.5],
        "removed": 1,
    },
    "eval/scores.yaml": {"precision": 0.9, "counts": [1, 2, 3]},
}
HEAD_FILES = {
    "params.yaml": {
        "train": {"lr": 0.05, "layers": [64], "opt": {"name": "sgd"}},
        "seed": 1,
        "new": 2,
    },
    "custom.yaml": {"model": {"depth": 4, "kind": "tree", "ignored": 9}, "other": 6},
    "extra.json": {"batch": 64, "tags": ["b"]},
    "metrics.json": {
        "accuracy": 0.85,
        "loss": 0.4,
        "nested": {"auc": 0.75, "deep": {"f1": 0.6}},
        "name": "hgb",
        "flag": False,
        "single": [0.7],
        "added": 3,
    },
    "eval/scores.yaml": {"precision": 0.9, "counts": [1, 2, 4]},
    "summary.toml": {"rows": {"train": 100}},
}


def write_files(root: Path, files: Mapping[str, object]) -> None:
    for name, data in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if name.endswith(".json"):
            path.write_text(json.dumps(data))
        elif name.endswith(".toml"):
            path.write_text("[rows]\ntrain = 100\n")
        else:
            path.write_text(yaml.safe_dump(data))


@pytest.fixture
def two_revisions(tmp_path: Path) -> Path:
    root = init_dvc_repo(tmp_path / "repo")
    (root / "dvc.yaml").write_text(yaml.safe_dump(DVC_YAML))
    write_files(root, BASE_FILES)
    commit_all(root, "base")
    git(root, "tag", "base")
    (root / "metrics.json").unlink()
    write_files(root, HEAD_FILES)
    commit_all(root, "head")
    return root


def dvc_json(root: Path, *args: str) -> dict:
    return json.loads(dvc(root, *args, "--json").stdout or "{}")


def ours(root: Path, kind: str, with_unchanged: bool = False) -> dict:
    old = read_snapshot(gitmod.revision("base", root))
    new = read_snapshot(gitmod.revision("HEAD", root))
    return diff(getattr(old, kind), getattr(new, kind), with_unchanged=with_unchanged)


@pytest.mark.parametrize("all_keys", [False, True])
def test_metrics_diff_agrees_with_dvc(two_revisions: Path, all_keys: bool) -> None:
    flags = ["--all"] if all_keys else []
    expected = dvc_json(two_revisions, "metrics", "diff", "base", "HEAD", *flags)
    assert ours(two_revisions, "metrics", all_keys) == expected


@pytest.mark.parametrize("all_keys", [False, True])
def test_params_diff_agrees_with_dvc(two_revisions: Path, all_keys: bool) -> None:
    flags = ["--all"] if all_keys else []
    expected = dvc_json(two_revisions, "params", "diff", "base", "HEAD", *flags)
    assert ours(two_revisions, "params", all_keys) == expected


def test_workspace_diff_agrees_with_dvc(two_revisions: Path) -> None:
    metrics = json.loads((two_revisions / "metrics.json").read_text())
    metrics["accuracy"] = 0.91
    (two_revisions / "metrics.json").write_text(json.dumps(metrics))
    expected = dvc_json(two_revisions, "metrics", "diff", "HEAD")
    head = read_snapshot(gitmod.revision("HEAD", two_revisions))
    workspace = read_snapshot(gitmod.revision("workspace", two_revisions))
    assert diff(head.metrics, workspace.metrics) == expected


def test_this_repositorys_pipeline_agrees_with_dvc(reproduced_project: Path) -> None:
    project = reproduced_project
    assert "Data and pipelines are up to date" in dvc(project, "repro").stdout
    commit_all(project, "trained")
    git(project, "tag", "base")
    params = yaml.safe_load((project / "params.yaml").read_text())
    params["train"]["n_estimators"] = 5
    (project / "params.yaml").write_text(yaml.safe_dump(params))
    dvc(project, "repro")
    commit_all(project, "fewer trees")
    for kind in ("metrics", "params"):
        assert ours(project, kind) == dvc_json(project, kind, "diff", "base", "HEAD"), kind


def test_malformed_metrics_file_names_file_and_revision(two_revisions: Path) -> None:
    (two_revisions / "metrics.json").write_text("{not json")
    commit_all(two_revisions, "broken")
    with pytest.raises(DataError, match=r"metrics.json at HEAD \([0-9a-f]{8}\) is not valid JSON"):
        read_snapshot(gitmod.revision("HEAD", two_revisions))


def test_missing_metrics_file_is_reported_not_raised(two_revisions: Path) -> None:
    (two_revisions / "summary.toml").unlink()
    snapshot = read_snapshot(gitmod.revision("workspace", two_revisions))
    assert snapshot.missing_metrics == ("summary.toml",)


def test_flatten() -> None:
    assert flatten({"a": {"b": 1, "c": {"d": [1]}}, "e": {}, "f": None}) == {
        "a.b": 1,
        "a.c.d": [1],
        "f": None,
    }


def write_metric_stage(root: Path, accuracy: float) -> None:
    (root / "score.py").write_text(
        "import json, sys\n"
        "json.dump({'accuracy': float(sys.argv[1]), 'model': {'depth': 3}}, open('metrics.json', 'w'))\n"
    )
    stage = {
        "cmd": f"python score.py {accuracy}",
        "deps": ["score.py"],
        "metrics": ["metrics.json"],
    }
    (root / "dvc.yaml").write_text(yaml.safe_dump({"stages": {"score": stage}}))


@pytest.fixture
def cached_metrics(tmp_path: Path) -> Path:
    """metrics.json is a cached output: git holds only its hash in dvc.lock."""
    root = init_dvc_repo(tmp_path / "cached")
    for accuracy, tag in ((0.8, "base"), (0.9, "head")):
        write_metric_stage(root, accuracy)
        dvc(root, "repro", "-q")
        commit_all(root, tag)
        git(root, "tag", tag)
    return root


def test_metrics_in_the_dvc_cache_are_read_through_dvc(cached_metrics: Path) -> None:
    assert git(cached_metrics, "ls-files", "metrics.json") == ""
    old = read_snapshot(gitmod.revision("base", cached_metrics))
    new = read_snapshot(gitmod.revision("head", cached_metrics))
    assert old.metrics == {"metrics.json": {"accuracy": 0.8, "model.depth": 3}}
    expected = dvc_json(cached_metrics, "metrics", "diff", "base", "head")
    assert diff(old.metrics, new.metrics) == expected


def test_metrics_dvc_records_but_cannot_read_are_an_error_not_missing(cached_metrics: Path) -> None:
    """Issue 17.2: a cleared cache with no remote is "cannot read", never "never had it"."""
    shutil.rmtree(cached_metrics / ".dvc" / "cache")
    with pytest.raises(
        DataError,
        match=r"metrics.json at base \(\w+\) is tracked by DVC "
        r"\(dvc.lock records metrics.json, md5 \w+\) but cannot be read: .*"
        r"dvc fetch",
    ):
        read_snapshot(gitmod.revision("base", cached_metrics))


def test_a_templated_pipeline_is_read_as_dvc_reads_it(two_revisions: Path) -> None:
    templated = {
        "vars": [{"scores": "eval/scores.yaml"}],
        "stages": {
            "train": {
                "cmd": "true",
                "params": ["train"],
                "metrics": [{"metrics.json": {"cache": False}}, {"${scores}": {"cache": False}}],
            }
        },
    }
    (two_revisions / "dvc.yaml").write_text(yaml.safe_dump(templated))
    commit_all(two_revisions, "templated head")
    snapshot = read_snapshot(gitmod.revision("HEAD", two_revisions))
    assert set(snapshot.metrics) == {"metrics.json", "eval/scores.yaml"}
    for kind in ("metrics", "params"):
        expected = dvc_json(two_revisions, kind, "diff", "base", "HEAD", "--all")
        assert ours(two_revisions, kind, with_unchanged=True) == expected, kind


# --- issue 18: YAML read as DVC reads it (1.2, as ruamel.yaml resolves it) ------------------

SCALARS = [
    "1e-3",
    "1.0e-3",
    "1E3",
    "12e03",
    "1e400",
    "1_000",
    "0x1F",
    "0o17",
    "017",
    "010",
    "08",
    "1:20",
    "yes",
    "no",
    "on",
    "off",
    "Yes",
    "ON",
    "y",
    "n",
    "True",
    "TRUE",
    "false",
    "~",
    "null",
    "Null",
    ".inf",
    "-.Inf",
    ".NaN",
    "1.",
    "._1",
    ".5",
    "+.5",
    "-.5e-3",
    "+1",
    "-0",
    "0b101",
    "0x_1f",
    "-1_0.5e+3",
    "1e",
    "e3",
    "0b",
    "_1",
    "2001-12-14",
    "3.14",
    "-7",
]


def test_yaml_scalars_resolve_as_dvc_resolves_them() -> None:
    from ruamel.yaml import YAML

    from mlgate.dvcfiles import parse_yaml

    reference = YAML(typ="safe")  # what DVC loads params, dvc.yaml and dvc.lock with
    for text in SCALARS:
        theirs, ours_ = reference.load(f"k: {text}")["k"], parse_yaml(f"k: {text}", "x")["k"]
        if theirs != theirs:  # NaN
            assert ours_ != ours_, text
        else:
            assert (theirs, type(theirs)) == (ours_, type(ours_)), text


def test_params_yaml_1_2_values_diff_as_dvc_params_diff(tmp_path: Path) -> None:
    """params.yaml as people write it: 1e-3 is a number to DVC (YAML 1.2), on/yes text."""
    root = init_dvc_repo(tmp_path / "repo")
    (root / "dvc.yaml").write_text(
        yaml.safe_dump({"stages": {"t": {"cmd": "true", "params": ["train"]}}})
    )
    (root / "params.yaml").write_text(
        "train:\n  lr: 1e-3\n  warm: on\n  depth: 010\n  decay: 5E-4\n"
    )
    commit_all(root, "base")
    git(root, "tag", "base")
    (root / "params.yaml").write_text(
        "train:\n  lr: 2e-3\n  warm: off\n  depth: 012\n  decay: 5E-4\n"
    )
    commit_all(root, "head")
    expected = dvc_json(root, "params", "diff", "base", "HEAD", "--all")
    assert ours(root, "params", with_unchanged=True) == expected
    assert expected["params.yaml"]["train.lr"] == {"old": 0.001, "new": 0.002, "diff": 0.001}


PY_PARAMS_BASE = '''\
"""Training parameters."""
import math

LR = 1e-3
EPOCHS: int = 10
LAYERS = [64, 32]
SHAPE = (3, 4)
OPTIMIZER = {"name": "adam", "betas": [0.9, 0.999]}
DERIVED = math.sqrt(LR)  # not a literal: DVC leaves it out
A, B = 1, 2  # two targets: left out too


class Model:
    DEPTH = 3
    KIND = "tree"

    def __init__(self):
        self.dropout = 0.1
        self.seed = 42


class Data:
    SPLIT = 0.2
'''


def test_python_params_files_diff_as_dvc_params_diff(tmp_path: Path) -> None:
    """A params.py read without running it, as DVC reads it (literals only)."""
    root = init_dvc_repo(tmp_path / "repo")
    pipeline = {
        "stages": {"t": {"cmd": "true", "params": [{"params.py": ["LR", "Model"]}]}},
        "params": ["params.py"],
    }
    (root / "dvc.yaml").write_text(yaml.safe_dump(pipeline))
    (root / "params.py").write_text(PY_PARAMS_BASE)
    commit_all(root, "base")
    git(root, "tag", "base")
    head = (
        PY_PARAMS_BASE.replace("LR = 1e-3", "LR = 2e-3")
        .replace("0.1\n", "0.2\n")
        .replace('"adam"', '"sgd"')
        .replace("(3, 4)", "(3, 5)")
    )
    (root / "params.py").write_text(head + "NEW = True\n")
    commit_all(root, "head")
    expected = dvc_json(root, "params", "diff", "base", "HEAD", "--all")
    assert json.loads(json.dumps(ours(root, "params", with_unchanged=True))) == expected
    assert expected["params.py"]["SHAPE"] == {"old": [3, 4], "new": [3, 5]}  # a tuple, not text
    assert expected["params.py"]["LR"] == {"old": 0.001, "new": 0.002, "diff": 0.001}
    assert "DERIVED" not in expected["params.py"] and "Model.dropout" in expected["params.py"]


def test_a_python_params_file_that_is_not_python_is_one_line(tmp_path: Path) -> None:
    with pytest.raises(DataError, match=r"^params.py at x is not valid Python: .*line 1"):
        dvcfiles.parse_data_file("params.py", b"LR = (1e-3\n", "params.py at x")
    deep = b"X = " + b"[" * 5000 + b"]" * 5000 + b"\n"  # the parser's own limit
    with pytest.raises(DataError, match="too many nested parentheses"):
        dvcfiles.parse_data_file("params.py", deep, "params.py at x")


@pytest.mark.parametrize(
    "other",
    [
        {"scores.tsv": "a\tb\n1\t2\n"},  # DVC: "YAML file structure is corrupted", skipped
        {"scores.csv": "a,b\n1,2\n"},  # DVC: a YAML string, no values, skipped
        {"scores.txt": "acc: 0.5\n"},  # DVC reads any other extension as YAML: a table counts
    ],
)
def test_a_metrics_file_in_another_format_is_read_as_dvc_reads_it(
    tmp_path: Path, other: dict[str, str]
) -> None:
    """Issue 32.4: a TSV or CSV declared as metrics stopped the gate (exit 2, with advice to
    fetch the cache) where DVC warns and leaves it out."""
    from mlgate.gate.compare import compare

    root = init_dvc_repo(tmp_path / "repo")
    [(name, text)] = other.items()
    pipeline = {"stages": {"s": {"cmd": "true", "metrics": [{"m.json": {"cache": False}},
                                                           {name: {"cache": False}}]}}}  # fmt: skip
    (root / "dvc.yaml").write_text(yaml.safe_dump(pipeline))
    (root / "m.json").write_text('{"acc": 0.9}')
    (root / name).write_text(text)
    commit_all(root, "base")
    git(root, "tag", "base")
    (root / "m.json").write_text('{"acc": 0.8}')
    (root / name).write_text(text.replace("0.5", "0.6"))
    commit_all(root, "head")
    assert ours(root, "metrics") == dvc_json(root, "metrics", "diff", "base", "HEAD")
    notes = compare(root, "base", "HEAD", merge_base=False).notes
    left_out = name != "scores.txt"
    assert any(name in note and "left out" in note for note in notes) == left_out


def test_the_values_a_stage_interpolates_from_a_vars_file_are_params_as_dvc_shows_them(
    tmp_path: Path,
) -> None:
    """Issue 32.4: DVC shows the keys a stage's `${}` takes from a `vars` file as params of that
    file (`conf.yaml: greeting`), though no stage declares them; not the keys nothing uses."""
    root = init_dvc_repo(tmp_path / "repo")
    (root / "conf.yaml").write_text("greeting: hello\nunused: 1\nnested: {a: 1, b: 2}\n")
    (root / "params.yaml").write_text("x: 1\n")
    pipeline = {
        "vars": ["conf.yaml", {"local": {"v": 3}}],
        "stages": {
            "s": {"cmd": "echo ${greeting} ${nested.a} ${local.v} ${x} > out", "outs": ["out"]},
            "t": {"foreach": ["${nested.b}"], "do": {"cmd": "echo ${item}"}},
        },
    }
    (root / "dvc.yaml").write_text(yaml.safe_dump(pipeline))
    commit_all(root, "base")
    git(root, "tag", "base")
    (root / "conf.yaml").write_text("greeting: bye\nunused: 2\nnested: {a: 5, b: 3}\n")
    (root / "params.yaml").write_text("x: 2\n")
    commit_all(root, "head")
    for flags in ([], ["--all"]):
        expected = dvc_json(root, "params", "diff", "base", "HEAD", *flags)
        assert ours(root, "params", with_unchanged=bool(flags)) == expected, flags
