"""Builders for real git repositories and DVC projects in temporary directories."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml

REPO_ROOT = Path(__file__).resolve().parents[1]
# Code the pipeline stages depend on, copied so DVC can hash it: dvc.yaml's deps under src/,
# read from dvc.yaml itself so the two never disagree.
PIPELINE_CODE = tuple(
    sorted(
        {
            Path(dep)
            for stage in yaml.safe_load((REPO_ROOT / "dvc.yaml").read_text())["stages"].values()
            for dep in stage.get("deps", [])
            if dep.startswith("src/")
        }
    )
)
# Small enough that a full `dvc repro` takes a few seconds, big enough for a real model.
TEST_PARAMS = {"data": {"rows": 4000}, "train": {"n_estimators": 25}}


def run(cwd: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(args, cwd=cwd, capture_output=True, text=True)
    if check and result.returncode != 0:
        raise AssertionError(
            f"{' '.join(args)} exited {result.returncode}\n{result.stdout}\n{result.stderr}"
        )
    return result


def git(cwd: Path, *args: str) -> str:
    return run(cwd, "git", *args).stdout.strip()


def dvc(cwd: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return run(cwd, sys.executable, "-m", "dvc", *args, check=check)


def mlgate_in(cwd: Path, monkeypatch: Any, *args: str) -> int:
    """Run the mlgate CLI in ``cwd``, in this process; its exit code."""
    from mlgate.commands.main import main

    monkeypatch.chdir(cwd)
    return main(list(args))


def push_to_new_origin(clone: Path, origin: Path) -> Path:
    """A bare repository at ``origin``, added to ``clone`` as origin, with main pushed to it."""
    git(origin.parent, "init", "-q", "--bare", "-b", "main", str(origin))
    git(clone, "remote", "add", "origin", str(origin))
    git(clone, "push", "-q", "origin", "main")
    return origin


def commit_all(cwd: Path, message: str) -> str:
    git(cwd, "add", "-A")
    git(cwd, "commit", "-q", "--no-verify", "-m", message)
    return git(cwd, "rev-parse", "HEAD")


def deep_update(base: dict[str, Any], changes: dict[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in changes.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = deep_update(merged[key], value)
        else:
            merged[key] = value
    return merged


def write_params(project: Path, changes: dict[str, Any], replace: bool = False) -> None:
    path = project / "params.yaml"
    current = {} if replace else yaml.safe_load(path.read_text())
    path.write_text(yaml.safe_dump(deep_update(current, changes), sort_keys=False))


def init_dvc_repo(path: Path) -> Path:
    """An empty git repository on ``main`` with this repository's DVC config (no analytics,
    no remote) and .dvc/.gitignore, so the cache is never committed."""
    (path / ".dvc").mkdir(parents=True)
    for name in ("config", ".gitignore"):
        shutil.copy2(REPO_ROOT / ".dvc" / name, path / ".dvc" / name)
    git(path, "init", "-q", "-b", "main")
    return path


def make_project(path: Path, params: dict[str, Any] | None = None, commit: bool = True) -> Path:
    """Copy this repository's pipeline (dvc.yaml, params, stage code, .dvc) into a new git repo."""
    init_dvc_repo(path)
    for name in ("dvc.yaml", "params.yaml", ".dvcignore"):
        shutil.copy2(REPO_ROOT / name, path / name)
    for code in PIPELINE_CODE:
        if (REPO_ROOT / code).is_dir():
            shutil.copytree(
                REPO_ROOT / code, path / code, ignore=shutil.ignore_patterns("__pycache__")
            )
        else:
            (path / code).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(REPO_ROOT / code, path / code)
    write_params(path, deep_update(TEST_PARAMS, params or {}))
    if commit:
        commit_all(path, "pipeline")
    return path


TAG_EPOCH = 1_780_000_000  # tags made with tag_at are this many seconds after the epoch, plus n


def tag_at(repo: Path, name: str, rev: str, second: int, message: str | None = None) -> None:
    """An annotated tag with a fixed time, so GTO and mlgate see the same event order."""
    env = {**os.environ, "GIT_COMMITTER_DATE": f"{TAG_EPOCH + second} +0000"}
    subprocess.run(
        ["git", "tag", "-a", "-m", message or name, name, rev],
        cwd=repo,
        env=env,
        check=True,
        capture_output=True,
    )


SCORE_SCRIPT = """\
import json, pathlib, yaml
params = yaml.safe_load(open("params.yaml"))
rows = sum(len(f.read_text().splitlines()) for f in sorted(pathlib.Path("data").iterdir()))
pathlib.Path("model.txt").write_text(f"quality {params['score']['quality']} on {rows} rows\\n")
json.dump({"accuracy": params["score"]["quality"], "rows": rows}, open("metrics.json", "w"))
"""

SCORE_PIPELINE = {
    "stages": {
        "score": {
            "cmd": "python score.py",
            "deps": ["score.py", "lib", "data", "raw"],
            "params": ["score"],
            "outs": ["model.txt"],
            "metrics": [{"metrics.json": {"cache": False}}],
        },
        "report": {
            "cmd": "python -c \"open('report.txt', 'w').write(open('model.txt').read())\"",
            "deps": ["model.txt"],
            "outs": ["report.txt"],
        },
    }
}

# SCORE_PIPELINE as a templated dvc.yaml: `vars`, `${}` (selection, indexing) and `foreach`.
TEMPLATED_PIPELINE = {
    "vars": [
        {"files": {"model": "model.txt", "report": "report.txt"}, "inputs": ["lib", "data", "raw"]}
    ],
    "stages": {
        "score": {
            "cmd": "python score.py",
            "deps": ["score.py", "${inputs[0]}", "${inputs[1]}", "${inputs[2]}"],
            "params": ["score"],
            "outs": ["${files.model}"],
            "metrics": [{"metrics.json": {"cache": False}}],
        },
        "report": {
            "foreach": ["${files.report}"],
            "do": {
                "cmd": "python -c \"open('${item}', 'w').write(open('${files.model}').read())\"",
                "deps": ["${files.model}"],
                "outs": ["${item}"],
            },
        },
    },
}  # fmt: skip

GATE_POLICY = """\
[tool.mlgate]
base = "main"

[tool.mlgate.rules]
accuracy = { direction = "higher", tolerance = 0.01 }
"""


def make_score_project(path: Path) -> Path:
    """A two-stage DVC pipeline that runs in a second: every kind of dependency the pre-commit
    check reads (git-tracked code and directory, a `dvc add`-ed directory, untracked data, an
    upstream stage's output), a parameter, a git-tracked metric. Reproduced and committed."""
    init_dvc_repo(path)
    (path / "score.py").write_text(SCORE_SCRIPT)
    (path / "lib").mkdir()
    (path / "lib" / "a.py").write_text("A = 1\n")
    (path / "lib" / "b.py").write_text("B = 2\r\nC = 3\n")
    (path / "data").mkdir()
    (path / "data" / "train.csv").write_text("x,y\n1,0\n2,1\n")
    (path / "raw").mkdir()
    (path / "raw" / "events.log").write_text("one\ntwo\n")
    (path / "params.yaml").write_text(yaml.safe_dump({"score": {"quality": 0.9}}))
    (path / "dvc.yaml").write_text(yaml.safe_dump(SCORE_PIPELINE, sort_keys=False))
    (path / "pyproject.toml").write_text(GATE_POLICY)
    (path / ".gitignore").write_text("/raw\n")
    dvc(path, "add", "-q", "data")
    dvc(path, "repro", "-q")
    commit_all(path, "score pipeline")
    return path


# A one-stage DVC pipeline that "predicts" in a second: the same test rows on every revision
# (their own random stream); a worse model is wrong on `flip` of the rows the good one gets
# right (of the segment `flip_segment` only, when set). It writes metrics.json (accuracy),
# eval/predictions.csv (with each row's segment, s0 to s4) and model.txt (git-tracked).
PREDICT = """\
import json, pathlib, random, yaml
p = yaml.safe_load(open("params.yaml"))["predict"]
rows, flip = random.Random(p["rows_seed"]), random.Random(1)
lines, right = ["id,label,prediction,score,segment"], 0
for i in range(p["rows"]):
    label = int(rows.random() < 0.3)
    score = min(1.0, max(0.0, rows.gauss(0.75 if label else 0.25, 0.2)))
    prediction, segment = int(score >= 0.5), f"s{i % 5}"
    flipped = p.get("flip_segment") in (None, segment)
    if prediction == label and flipped and flip.random() < p["flip"]:
        prediction, score = 1 - label, 1 - score
    right += prediction == label
    lines.append(f"{p['first_id'] + i},{label},{prediction},{score:.6f},{segment}")
pathlib.Path("eval").mkdir(exist_ok=True)
pathlib.Path("eval/predictions.csv").write_text("\\n".join(lines) + "\\n")
json.dump({"accuracy": right / p["rows"]}, open("metrics.json", "w"))
pathlib.Path("model.txt").write_text(f"flip {p['flip']}\\n")
"""

PREDICT_PIPELINE: dict[str, Any] = {
    "stages": {
        "predict": {
            "cmd": "python predict.py",
            "deps": ["predict.py"],
            "params": ["predict"],
            "outs": [{"eval/predictions.csv": {"cache": False}}, {"model.txt": {"cache": False}}],
            "metrics": [{"metrics.json": {"cache": False}}],
        }
    },
    "artifacts": {"predictor": {"path": "model.txt", "type": "model"}},
}


def make_predict_project(path: Path, rows: int, policy: str) -> Path:
    """The pipeline above on main, trained with no flips and committed, with ``policy``."""
    init_dvc_repo(path)
    (path / "predict.py").write_text(PREDICT)
    (path / "dvc.yaml").write_text(yaml.safe_dump(PREDICT_PIPELINE))
    (path / "pyproject.toml").write_text(policy)
    retrain(path, rows=rows, flip=0.0, rows_seed=1, first_id=0)
    commit_all(path, "a model on main")
    return path


def retrain(path: Path, **params: object) -> None:
    params_file = path / "params.yaml"
    current = yaml.safe_load(params_file.read_text()) if params_file.exists() else {"predict": {}}
    current["predict"].update(params)
    params_file.write_text(yaml.safe_dump(current))
    dvc(path, "repro", "-q")


# The predictions pipeline behind a `fetch` stage that copies "fresh data" from a file outside
# the repository (the upstream source): how often the model is wrong. The stage has no
# dependency that would tell DVC the source changed; retraining reruns it on purpose.
FETCH = """\
import pathlib, shutil, yaml
source = yaml.safe_load(open("params.yaml"))["fetch"]["source"]
pathlib.Path("data").mkdir(exist_ok=True)
shutil.copyfile(source, "data/flip.txt")
"""

FETCH_PIPELINE = {
    "stages": {
        "fetch": {"cmd": "python fetch.py", "deps": ["fetch.py"], "outs": ["data/flip.txt"]},
        "predict": {
            **PREDICT_PIPELINE["stages"]["predict"],
            "deps": ["predict.py", "data/flip.txt"],
        },
    },
    "artifacts": PREDICT_PIPELINE["artifacts"],
}


def make_fetch_project(path: Path, upstream: Path, rows: int, policy: str) -> Path:
    """The pipeline above trained on ``upstream``'s flip share, committed on main."""
    init_dvc_repo(path)
    (path / "fetch.py").write_text(FETCH)
    (path / "predict.py").write_text(
        PREDICT.replace('p["flip"]', 'float(open("data/flip.txt").read())').replace(
            "p['flip']", "float(open('data/flip.txt').read())"
        )
    )
    (path / "dvc.yaml").write_text(yaml.safe_dump(FETCH_PIPELINE))
    (path / "pyproject.toml").write_text(policy)
    params = {
        "fetch": {"source": str(upstream)},
        "predict": {"rows": rows, "rows_seed": 1, "first_id": 0},
    }
    (path / "params.yaml").write_text(yaml.safe_dump(params))
    dvc(path, "repro", "-q")
    commit_all(path, "a model on main")
    return path


PLAIN_TRAIN = 'import json\njson.dump({"accuracy": 0.91, "loss": 0.3, "rows": 100}, open("metrics.json", "w"))\n'


def make_plain_project(root: Path) -> Path:
    """A plain DVC-less repository, as many start: one training script, a one-stage dvc.yaml,
    its metrics file, a pyproject.toml without a policy; committed on main."""
    root.mkdir()
    git(root, "init", "-q", "-b", "main")
    (root / "train.py").write_text(PLAIN_TRAIN)
    (root / "dvc.yaml").write_text(
        yaml.safe_dump(
            {
                "stages": {
                    "train": {
                        "cmd": "python train.py",
                        "deps": ["train.py"],
                        "metrics": [{"metrics.json": {"cache": False}}],
                    }
                }
            }
        )
    )
    subprocess.run([sys.executable, "train.py"], cwd=root, check=True)
    (root / "pyproject.toml").write_text('[project]\nname = "plain"\n')
    commit_all(root, "a training script")
    return root


# A real scikit-learn model in a second: logistic regression on 300 seeded rows of three
# features, saved with joblib (DVC-cached) with a card holding its features and an input
# example, as this repository's train stage writes them. `pad_mb` makes the file that much
# larger (for deploys interrupted mid-copy); `invert` learns the opposite labels (a model that
# visibly differs).
TRAIN_MODEL = """\
import json, os, joblib, numpy as np, pandas as pd, yaml
from sklearn.linear_model import LogisticRegression
p = yaml.safe_load(open("params.yaml"))["train"]
rng = np.random.default_rng(0)
frame = pd.DataFrame({"x1": rng.normal(size=300), "x2": rng.normal(size=300),
                      "kind": rng.choice(["a", "b"], size=300)})
label = (frame.x1 + frame.x2 + rng.normal(scale=0.5, size=300) > 0).astype(int)
label = 1 - label if p.get("invert") else label
if p.get("estimator") == "nearest_centroid":  # a classifier skl2onnx cannot convert
    from sklearn.neighbors import NearestCentroid
    model = NearestCentroid().fit(frame[["x1", "x2"]], label)
elif p.get("estimator") == "ridge":  # a regressor: a quantity from the same columns
    from sklearn.linear_model import Ridge
    model = Ridge().fit(frame[["x1", "x2"]], 3 * frame.x1 - frame.x2 + 10)
elif p.get("estimator") == "strict_kind":  # refuses a category of `kind` training lacked
    from sklearn.compose import ColumnTransformer
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder
    from mlgate.artifacts.profile import profile_frame
    columns = ColumnTransformer([("numbers", "passthrough", ["x1", "x2"]),
                                 ("kind", OneHotEncoder(handle_unknown="error"), ["kind"])])
    model = Pipeline([("columns", columns), ("estimator", LogisticRegression(C=p["C"]))])
    model.fit(frame, label)
    os.makedirs("models", exist_ok=True)
    json.dump(profile_frame(frame, ["x1", "x2", "kind"]), open("models/model.profile.json", "w"))
else:
    model = LogisticRegression(C=p["C"]).fit(frame[["x1", "x2"]], label)
model.padding = os.urandom(p.get("pad_mb", 0) << 20)
os.makedirs("models", exist_ok=True)
joblib.dump(model, "models/model.pkl")
features = [{"name": "x1", "dtype": "float64"}, {"name": "x2", "dtype": "float64"}]
if p.get("estimator") == "strict_kind":
    features.append({"name": "kind", "dtype": "object"})
example = frame[[f["name"] for f in features]].head(3).to_dict("records")
json.dump({"features": features, "input_example": example}, open("models/model.json", "w"))
inputs = frame if p.get("estimator") == "strict_kind" else frame[["x1", "x2"]]
json.dump({"accuracy": float(model.score(inputs, label))}, open("metrics.json", "w"))
"""

MODEL_PIPELINE = {
    "stages": {
        "train": {
            "cmd": "python train.py",
            "deps": ["train.py"],
            "params": ["train"],
            "outs": ["models/model.pkl", {"models/model.json": {"cache": False}}],
            "metrics": [{"metrics.json": {"cache": False}}],
        }
    },
    "artifacts": {"scorer": {"path": "models/model.pkl", "type": "model"}},
}


def make_model_project(path: Path, policy: str = "", **train: object) -> Path:
    """The pipeline above, trained and committed on main."""
    init_dvc_repo(path)
    (path / "train.py").write_text(TRAIN_MODEL)
    (path / "dvc.yaml").write_text(yaml.safe_dump(MODEL_PIPELINE))
    (path / "pyproject.toml").write_text(policy or '[project]\nname = "scorer"\n')
    (path / "params.yaml").write_text(yaml.safe_dump({"train": {"C": 1.0, **train}}))
    dvc(path, "repro", "-q")
    commit_all(path, "a scorer on main")
    return path


# DVC's get-started layout in miniature: the evaluate stage logs into eval/ as dvclive does, and
# eval/ is a DVC-cached output (not in git); dvc.yaml declares the metrics file at the top level,
# and the model is written by the project's own script (also cached).
LIVE_TRAIN = """\
import json, os, yaml
p = yaml.safe_load(open("params.yaml"))["train"]
os.makedirs("eval", exist_ok=True)
json.dump({"accuracy": p["quality"], "test": {"roc_auc": p["quality"] - 0.05}},
          open("eval/metrics.json", "w"))
open("model.txt", "w").write(f"quality {p['quality']}\\n")
"""

LIVE_PIPELINE = {
    "stages": {
        "train": {
            "cmd": "python train.py",
            "deps": ["train.py"],
            "params": ["train"],
            "outs": ["eval", "model.txt"],
        }
    },
    "metrics": ["eval/metrics.json"],
    "artifacts": {"scorer": {"path": "model.txt", "type": "model"}},
}

LIVE_POLICY = """\
[tool.mlgate]
base = "main"

[tool.mlgate.rules]
accuracy = { direction = "higher", tolerance = 0.01, min = 0.5 }
"""


def make_live_project(path: Path, quality: float = 0.9, policy: str = LIVE_POLICY) -> Path:
    """The layout above, reproduced and committed on main."""
    init_dvc_repo(path)
    (path / "train.py").write_text(LIVE_TRAIN)
    (path / "dvc.yaml").write_text(yaml.safe_dump(LIVE_PIPELINE, sort_keys=False))
    (path / "pyproject.toml").write_text(policy)
    (path / "params.yaml").write_text(yaml.safe_dump({"train": {"quality": quality}}))
    dvc(path, "repro", "-q")
    commit_all(path, "a live-style pipeline on main")
    return path


def drop_cached(project: Path, rev: str) -> None:
    """Remove from DVC's cache every object dvc.lock at ``rev`` records (directories: their
    manifest and files), as a cleared cache or a fresh clone without `dvc pull` would be."""
    import json

    lock = yaml.safe_load(git(project, "show", f"{rev}:dvc.lock"))
    cache = project / ".dvc" / "cache" / "files" / "md5"
    for stage in lock["stages"].values():
        for out in stage.get("outs", []):
            md5 = out["md5"]
            manifest = cache / md5[:2] / md5[2:]
            if md5.endswith(".dir") and manifest.exists():
                for entry in json.loads(manifest.read_text()):
                    (cache / entry["md5"][:2] / entry["md5"][2:]).unlink(missing_ok=True)
            manifest.unlink(missing_ok=True)
