"""dvc.yaml's templating resolved by mlgate (dvcfiles.templating, no DVC import) and by DVC's
own resolver (dvc.parsing.DataResolver) on the same files: the same stages, key for key, and
the same top-level sections; what DVC refuses, mlgate refuses with one line."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
import yaml

from mlgate.dvcfiles import templating
from mlgate.errors import DataError

PARAMS = {
    "train": {"epochs": 10, "lr": 0.01, "layers": [64, 32], "early_stop": True},
    "data": {"path": "data/raw.csv", "splits": ["train", "test"]},
    "seed": 42,
}


def both(
    root: Path,
    monkeypatch: pytest.MonkeyPatch,
    document: dict[str, Any],
    files: dict[str, Any] | None = None,
    folder: str = "",
) -> tuple[dict[str, Any], dict[str, Any]]:
    """(mlgate's, DVC's) resolution of ``document`` as ``folder``/dvc.yaml in ``root``."""
    from dvc.parsing import DataResolver
    from dvc.repo import Repo

    for name, content in {"params.yaml": PARAMS, **(files or {})}.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(content if isinstance(content, str) else yaml.safe_dump(content))
    (root / folder).mkdir(parents=True, exist_ok=True)
    monkeypatch.chdir(root)
    if not (root / ".dvc").is_dir():
        Repo.init(str(root), no_scm=True).close()
    repo = Repo(str(root))
    try:
        resolver = DataResolver(repo, str(root / folder), document)
        theirs: dict[str, Any] = {"stages": resolver.resolve()["stages"]}
        for section in ("metrics", "params", "plots"):
            if section in document:
                theirs[section] = getattr(resolver, f"resolve_{section}")()
        if "artifacts" in document:
            theirs["artifacts"] = resolver.resolve_artifacts()
        # the plain values stages took from vars files, which `dvc params diff` shows
        tracked: dict[str, set[str]] = {}
        for files_used in resolver.tracked_vars.values():
            for file, keys in files_used.items():
                tracked.setdefault(os.path.relpath(file, root), set()).update(keys)
        theirs["tracked"] = tracked
    finally:
        repo.close()

    def read(path: str) -> bytes | None:
        file = root / path
        return file.read_bytes() if file.is_file() else None

    ours, used = templating.resolve_tracking(
        document, folder=folder, read=read, where=f"{folder}/dvc.yaml"
    )
    ours = {k: v for k, v in ours.items() if k in theirs}
    ours["tracked"] = {file: set(keys) for file, keys in used.items()}
    return ours, theirs


def test_vars_and_interpolation_in_every_field(tmp_path: Path, monkeypatch) -> None:
    document = {
        "vars": ["config/model.yaml:model", {"out": "models", "threshold": 0.5}],
        "stages": {
            "train": {
                "cmd": "python train.py --epochs ${train.epochs} --lr ${train.lr} "
                "--stop ${train.early_stop} --first ${train.layers[0]} --kind ${model.kind}",
                "deps": ["${data.path}", "src/train.py"],
                "params": ["train.epochs", "train.lr"],
                "outs": ["${out}/model-${seed}.pkl"],
                "metrics": [{"metrics.json": {"cache": False}}],
            }
        },
    }
    files = {"config/model.yaml": {"model": {"kind": "gbdt", "depth": 6}, "other": 1}}
    ours, theirs = both(tmp_path, monkeypatch, document, files)
    assert ours == theirs
    assert ours["stages"]["train"]["outs"] == ["models/model-42.pkl"]


def test_a_whole_string_expression_keeps_its_type(tmp_path: Path, monkeypatch) -> None:
    document = {
        "vars": [{"n": 3, "flag": False}],
        "stages": {"s": {"cmd": "echo ${n}", "deps": ["a"], "frozen": "${flag}"}},
    }
    ours, theirs = both(tmp_path, monkeypatch, document)
    assert ours == theirs and ours["stages"]["s"]["frozen"] is False


@pytest.mark.parametrize(
    "foreach",
    [
        ["us", "uk", "de"],  # scalars: the values name the stages
        [{"name": "small", "size": 1}, {"name": "big", "size": 9}],  # tables: their index
        {"fast": {"lr": 0.1}, "slow": {"lr": 0.001}},  # a table: its keys, and ${key}
        "${data.splits}",  # a list selected from the vars
        [1, 2.5, True],  # numbers and booleans as names
    ],
)
def test_foreach_generates_the_stages_dvc_generates(tmp_path: Path, monkeypatch, foreach) -> None:
    do = {"cmd": "run ${item}", "outs": ["out/${item}.txt"]}
    if isinstance(foreach, dict):
        do = {"cmd": "run ${key} --lr ${item.lr}", "outs": ["out/${key}.txt"]}
    elif isinstance(foreach, list) and isinstance(foreach[0], dict):
        do = {"cmd": "run ${item.name} ${item.size}", "outs": ["out/${item.name}.txt"]}
    ours, theirs = both(
        tmp_path, monkeypatch, {"stages": {"build": {"foreach": foreach, "do": do}}}
    )
    assert ours == theirs
    assert list(ours["stages"]) == list(theirs["stages"])  # the same names, in the same order


def test_matrix_generates_every_combination_named_as_dvc_names_it(
    tmp_path: Path, monkeypatch
) -> None:
    document = {
        "stages": {
            "fit": {
                "matrix": {
                    "model": ["lgbm", "xgb"],
                    "fold": [0, 1, 2],
                    "opts": [{"depth": 3}, {"depth": 6}],
                },
                "cmd": "fit ${item.model} ${item.fold} ${item.opts.depth} ${key}",
                "outs": ["models/${key}.bin"],
            }
        }
    }
    ours, theirs = both(tmp_path, monkeypatch, document)
    assert ours == theirs and len(ours["stages"]) == 12
    assert "fit@lgbm-0-opts0" in ours["stages"]


def test_a_table_in_cmd_becomes_flags(tmp_path: Path, monkeypatch) -> None:
    document = {
        "vars": [{"args": {"epochs": 5, "name": "a b", "verbose": True, "quiet": False,
                           "sizes": [1, 2], "opt": {"lr": 0.1}}}],
        "stages": {"s": {"cmd": "python train.py ${args}"}},
    }  # fmt: skip
    ours, theirs = both(tmp_path, monkeypatch, document)
    assert ours == theirs


def test_an_escaped_expression_is_kept_as_text(tmp_path: Path, monkeypatch) -> None:
    document = {"stages": {"s": {"cmd": "echo \\${HOME} ${seed}"}}}
    ours, theirs = both(tmp_path, monkeypatch, document)
    assert ours == theirs and ours["stages"]["s"]["cmd"] == "echo ${HOME} 42"


def test_stage_vars_and_an_interpolated_wdir_in_a_subfolder(tmp_path: Path, monkeypatch) -> None:
    document = {
        "vars": [{"where": "job"}],
        "stages": {
            "s": {
                "wdir": "${where}",
                "vars": ["local.yaml", {"extra": 7}],
                "cmd": "run ${local.value} ${extra} ${seed}",
            }
        },
    }
    files = {
        "nlp/params.yaml": {"seed": 1},
        "nlp/job/local.yaml": {"local": {"value": "here"}},
    }
    ours, theirs = both(tmp_path, monkeypatch, document, files, folder="nlp")
    assert ours == theirs and ours["stages"]["s"]["cmd"] == "run here 7 1"


def test_top_level_plots_metrics_params_and_artifacts(tmp_path: Path, monkeypatch) -> None:
    document = {
        "vars": [{"name": "churn", "eval": "eval"}],
        "stages": {"s": {"cmd": "true"}},
        "metrics": ["${eval}/metrics.json"],
        "params": ["${eval}/params.json"],
        "plots": [{"${eval}/roc.json": {"x": "fpr", "y": "tpr"}}, "${eval}/pr.csv"],
        "artifacts": {"${name}-model": {"path": "models/${name}.pkl", "type": "model"}},
    }
    ours, theirs = both(tmp_path, monkeypatch, document)
    assert ours == theirs and "churn-model" in ours["artifacts"]


@pytest.mark.parametrize(
    "document",
    [
        {"stages": {"s": {"cmd": "echo ${missing}"}}},
        {"stages": {"s": {"cmd": "echo ${train.nothing}"}}},
        {"stages": {"s": {"cmd": "echo", "deps": "${data.splits}"}}},  # a list in a field
        {"stages": {"s": {"cmd": "echo ${train}"}, "t": {"cmd": "x", "outs": ["${train}"]}}},
        {"vars": [{"seed": 1}], "stages": {"s": {"cmd": "x"}}},  # redefines params.yaml's key
        {"vars": ["nothing.yaml"], "stages": {"s": {"cmd": "x"}}},
        {"vars": ["${seed}.yaml"], "stages": {"s": {"cmd": "x"}}},
        {"stages": {"s": {"foreach": 5, "do": {"cmd": "x"}}}},
        {"stages": {"s": {"foreach": ["a"], "do": {"cmd": "x", "vars": [{"item": 1}]}}}},
        {"stages": {"s": {"cmd": "echo ${a..b}"}}},
    ],
)
def test_what_dvc_refuses_is_refused_in_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, document: dict[str, Any]
) -> None:
    from dvc.exceptions import DvcException

    with pytest.raises((DataError, DvcException)) as raised:
        both(tmp_path, monkeypatch, document)
    assert isinstance(raised.value, DvcException), "DVC resolves it, mlgate should too"
    with pytest.raises(DataError) as ours:
        templating.resolve(document, folder="", read=lambda p: _read(tmp_path, p), where="dvc.yaml")
    assert "\n" not in str(ours.value) and str(ours.value).startswith("dvc.yaml: ")


def _read(root: Path, path: str) -> bytes | None:
    file = root / path
    return file.read_bytes() if file.is_file() else None


def test_is_templated_says_when_resolving_changes_anything() -> None:
    assert not templating.is_templated({"stages": {"s": {"cmd": "echo $HOME"}}})
    assert templating.is_templated({"stages": {"s": {"cmd": "echo ${x}"}}})
    assert templating.is_templated({"vars": [], "stages": {}})
    assert templating.is_templated({"stages": {"s": {"foreach": [1], "do": {"cmd": "x"}}}})


def test_a_templated_pipeline_declares_its_plots_metrics_and_artifacts(tmp_path: Path) -> None:
    """Issue 32: a dvc.yaml with `vars` declared no plots (no charts in the report), and its
    metrics and params were left to DVC to find."""
    from helpers import commit_all, init_dvc_repo
    from mlgate import dvcfiles
    from mlgate.git import revision

    repo = init_dvc_repo(tmp_path / "p")
    (repo / "params.yaml").write_text(yaml.safe_dump({"eval": {"dir": "eval"}, "lr": 0.1}))
    (repo / "dvc.yaml").write_text(
        yaml.safe_dump(
            {
                "vars": [{"model": "churn"}],
                "stages": {
                    "evaluate": {
                        "cmd": "python eval.py",
                        "params": ["lr"],
                        "metrics": [{"${eval.dir}/metrics.json": {"cache": False}}],
                        "plots": [{"${eval.dir}/roc.json": {"x": "fpr", "y": "tpr"}}],
                    }
                },
                "artifacts": {"${model}": {"path": "models/${model}.pkl", "type": "model"}},
            }
        )
    )
    commit_all(repo, "templated")
    at_head = revision("HEAD", repo)
    assert dvcfiles.declared_plots(at_head) == {"eval/roc.json": dvcfiles.Plot("fpr", "tpr")}
    declared = dvcfiles.read_declarations(at_head)
    assert [m.path for m in declared.metrics] == ["eval/metrics.json"]
    assert declared.params == {"params.yaml": None}
    assert declared.artifacts == {"churn": {"path": "models/churn.pkl", "type": "model"}}


def test_the_values_stages_take_from_vars_files_are_tracked_as_dvc_tracks_them(
    tmp_path: Path, monkeypatch
) -> None:
    """`dvc params diff` shows them: a table's plain values (not the table), through `item` of
    a foreach over a file's table or list, from a stage's own vars file, never a local var."""
    document = {
        "vars": ["conf.yaml", {"local": {"v": 1}}],
        "stages": {
            "fit": {
                "foreach": "${models}",
                "do": {"cmd": "fit ${item.lr} ${key} ${local.v} ${train}", "outs": ["${key}"]},
            },
            "each": {"foreach": "${data.splits}", "do": {"cmd": "split ${item}"}},
            "own": {"vars": ["stage.yaml"], "cmd": "own ${depth} ${seed}", "wdir": "${sub}"},
        },
    }
    files = {
        "conf.yaml": {"models": {"a": {"lr": 1, "x": 2}, "b": {"lr": 3}}, "sub": "."},
        "stage.yaml": {"depth": 4, "spare": 5},
    }
    ours, theirs = both(tmp_path, monkeypatch, document, files)
    assert ours == theirs
    assert ours["tracked"]["conf.yaml"] == {"models.a.lr", "models.b.lr", "sub"}
