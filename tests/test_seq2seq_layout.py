"""Issue 32's seq2seq layout (tests/seq2seq.py: a dvc.yaml per folder, a TSV declared as
metrics, experiments with `dvc exp run -S`), read by mlgate as DVC reads it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from helpers import dvc, git, mlgate_in
from mlgate.hooks import staleness
from seq2seq import make_seq2seq_project

pytestmark = pytest.mark.slow

TRAIN = "models/seq2seq/dvc.yaml:train"


def dvc_json(root: Path, *args: str) -> dict:
    return json.loads(dvc(root, *args, "--json").stdout or "{}")


def test_several_dvc_yaml_a_tsv_metric_and_experiments(tmp_path: Path, monkeypatch, capsys) -> None:
    project = make_seq2seq_project(tmp_path / "project")
    assert staleness.check_workspace(project).checked
    assert not staleness.check_workspace(project).is_stale
    params = project / "models/seq2seq/params.yaml"
    params.write_text(params.read_text().replace("epochs: 4", "epochs: 5"))
    git(project, "add", str(params))
    stale = {s.name for s in staleness.check_staged(project).stale}
    assert stale == set(dvc_json(project, "status")) == {TRAIN}
    git(project, "checkout", "-q", "--", ".")
    git(project, "reset", "-q", "--hard")

    # run the plain way, the model's stage is never reproduced: its params are new, its
    # metrics are main's, and its dvc.lock says so; it cannot be judged, nor proposed
    dvc(project, "exp", "run", "-q", "-S", "models/seq2seq/params.yaml:train.epochs=12", "-n",
        "unreproduced")  # fmt: skip
    git(project, "checkout", "-q", "--", ".")
    capsys.readouterr()
    # nothing could be judged: exit 2, as for any verdict that cannot be given, not 1
    assert mlgate_in(project, monkeypatch, "exp") == 2
    said = capsys.readouterr()
    assert "CANNOT JUDGE" in said.out and "no experiment could be judged" in said.err

    for name, setting in (("longer", "train.epochs=8"), ("noisier", "train.dropout=0.9")):
        # the model's own dvc.yaml, as `dvc exp run` reproduces the root's alone by default
        dvc(project, "exp", "run", "-q", "models/seq2seq/dvc.yaml", "-S",
            f"models/seq2seq/params.yaml:{setting}", "-n", name)  # fmt: skip
        git(project, "checkout", "-q", "--", ".")  # each from main's params
    for name, code in (("longer", 0), ("noisier", 1)):
        capsys.readouterr()
        assert mlgate_in(project, monkeypatch, "diff", "main", name, "--format", "json") == 0
        said = capsys.readouterr()
        ours = json.loads(said.out)
        for kind in ("metrics", "params"):
            assert ours[kind] == dvc_json(project, kind, "diff", "main", name), (name, kind)
        assert "models/seq2seq/scores.tsv" in said.err  # left out, as DVC leaves it out
        assert "models/seq2seq/scores.tsv" not in ours["metrics"]
        assert mlgate_in(project, monkeypatch, "check", "--head", name) == code, name
    capsys.readouterr()
    assert mlgate_in(project, monkeypatch, "exp", "--format", "json") == 0
    ranking = json.loads(capsys.readouterr().out)
    assert [e["name"] for e in ranking["experiments"]] == ["longer", "noisier", "unreproduced"]
    assert ranking["proposed"] == "longer"
    [skipped] = [e for e in ranking["experiments"] if e["verdict"] == "cannot judge"]
    assert skipped["name"] == "unreproduced"
    assert f"{TRAIN}: params.yaml changed: train.epochs (4 -> 12)" in skipped["problem"]
