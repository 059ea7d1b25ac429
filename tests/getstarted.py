"""DVC's get-started project rebuilt from scratch, small and offline, as mlgate meets it.

Its shape follows iterative/example-get-started: data tracked with `dvc add`, stages
`featurize -> train -> evaluate` with their scripts in src/ and requirements in
src/requirements.txt, params in YAML 1.2 exponent notation (`1e-2`, read through
`dvc.api.params_show` as DVC's docs show), a model pickled by the project's own script into
model.pkl, an evaluate stage logging with dvclive into `eval/` (a DVC-cached output, not in
git), top-level `metrics:` and `plots:` pointing inside it, an `artifacts:` entry for GTO, and a
CML workflow already running on pull requests. No mlgate file anywhere.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import yaml

from helpers import commit_all, dvc, git, init_dvc_repo

ARTIFACT = "text-classification"  # the artifact's name in get-started's dvc.yaml

# The features are a wide numeric matrix whose columns have no names (get-started's bag of
# words): column 0 the row id, column 1 the label, the rest features.
FEATURIZE = """\
import os, pickle, sys
import numpy as np, pandas as pd
import dvc.api
p = dvc.api.params_show(stages="featurize")["featurize"]
data = pd.read_csv(sys.argv[1])
x = data[[c for c in data.columns if c.startswith("w")]].to_numpy()[:, : p["max_features"]]
matrix = np.column_stack([data["id"], data["label"], x]).astype(float)
split = int(len(matrix) * (1 - p["split"]))
os.makedirs(sys.argv[2], exist_ok=True)
for name, part in (("train", matrix[:split]), ("test", matrix[split:])):
    with open(os.path.join(sys.argv[2], f"{name}.pkl"), "wb") as fd:
        pickle.dump((part, [f"w{i}" for i in range(x.shape[1])]), fd)
"""

TRAIN = """\
import os, pickle, sys
import dvc.api
from sklearn.ensemble import RandomForestClassifier
p = dvc.api.params_show(stages="train")["train"]
with open(os.path.join(sys.argv[1], "train.pkl"), "rb") as fd:
    matrix, _ = pickle.load(fd)
clf = RandomForestClassifier(n_estimators=p["n_est"], min_samples_split=p["min_split"],
                             n_jobs=1, random_state=p["seed"])
clf.fit(matrix[:, 2:], matrix[:, 1].astype(int))
with open(sys.argv[2], "wb") as fd:
    pickle.dump(clf, fd)
"""

EVALUATE = """\
import os, pickle, sys
from dvclive import Live
from sklearn import metrics
with open(sys.argv[1], "rb") as fd:
    model = pickle.load(fd)
with Live("eval", dvcyaml=False) as live:
    for split in ("train", "test"):
        with open(os.path.join(sys.argv[2], f"{split}.pkl"), "rb") as fd:
            matrix, _ = pickle.load(fd)
        labels = matrix[:, 1].astype(int)
        scores = model.predict_proba(matrix[:, 2:])[:, 1]
        if not live.summary:
            live.summary = {"avg_prec": {}, "roc_auc": {}}
        live.summary["avg_prec"][split] = metrics.average_precision_score(labels, scores)
        live.summary["roc_auc"][split] = metrics.roc_auc_score(labels, scores)
        live.log_sklearn_plot("roc", labels, scores, name=f"roc/{split}")
        live.log_sklearn_plot("precision_recall", labels, scores, name=f"prc/{split}")
"""

PIPELINE = {
    "artifacts": {
        ARTIFACT: {
            "path": "model.pkl",
            "type": "model",
            "desc": "Detect whether a question should have the R tag",
        }
    },
    "stages": {
        "featurize": {
            "cmd": "python src/featurization.py data/data.csv data/features",
            "deps": ["data/data.csv", "src/featurization.py"],
            "params": ["featurize.max_features", "featurize.split"],
            "outs": ["data/features"],
        },
        "train": {
            "cmd": "python src/train.py data/features model.pkl",
            "deps": ["data/features", "src/train.py"],
            "params": ["train.min_split", "train.n_est", "train.seed"],
            "outs": ["model.pkl"],
        },
        "evaluate": {
            "cmd": "python src/evaluate.py model.pkl data/features",
            "deps": ["data/features", "model.pkl", "src/evaluate.py"],
            "outs": ["eval"],
        },
    },
    "metrics": ["eval/metrics.json"],
    "plots": [
        {
            "ROC": {
                "template": "simple",
                "x": "fpr",
                "y": {
                    "eval/plots/sklearn/roc/train.json": "tpr",
                    "eval/plots/sklearn/roc/test.json": "tpr",
                },
            }
        }
    ],
}

# Written as a person writes it: exponent notation, which YAML 1.1 (PyYAML) reads as a string.
PARAMS = """\
featurize:
  max_features: 20
  split: 0.25

train:
  seed: 20170428
  n_est: 30
  min_split: 1e-2
"""

CML = """\
name: CML Report
on: pull_request
jobs:
  run:
    runs-on: [ubuntu-latest]
    steps:
      - uses: actions/checkout@v4
      - run: dvc pull eval && dvc metrics diff main --md
"""

FEATURES = 30


def write_data(path: Path, rows: int = 800, seed: int = 0) -> None:
    """Bag-of-words-like counts where a few words make the label likely."""
    rng = np.random.default_rng(seed)
    words = rng.poisson(1.0, size=(rows, FEATURES))
    logit = words[:, :4] @ np.array([1.2, -0.9, 0.8, 0.6]) - 1.0 + rng.normal(0, 1.0, rows)
    label = (logit > 0).astype(int)
    header = ",".join(["id", "label", *[f"w{i}" for i in range(FEATURES)]])
    lines = [header] + [",".join(map(str, [i, label[i], *words[i]])) for i in range(rows)]
    path.write_text("\n".join(lines) + "\n")


def make_get_started(path: Path) -> Path:
    """The project, reproduced and committed on main, with a GTO release and stage tags."""
    init_dvc_repo(path)
    (path / "src").mkdir()
    (path / "src/featurization.py").write_text(FEATURIZE)
    (path / "src/train.py").write_text(TRAIN)
    (path / "src/evaluate.py").write_text(EVALUATE)
    (path / "src/requirements.txt").write_text("dvclive>=3.0\npandas\nscikit-learn>=1.3\n")
    (path / ".github/workflows").mkdir(parents=True)
    (path / ".github/workflows/cml.yaml").write_text(CML)
    (path / "data").mkdir()
    write_data(path / "data/data.csv")
    dvc(path, "add", "-q", "data/data.csv")
    (path / "dvc.yaml").write_text(yaml.safe_dump(PIPELINE, sort_keys=False))
    (path / "params.yaml").write_text(PARAMS)
    commit_all(path, "the get-started pipeline")  # dvclive needs a commit to start from
    dvc(path, "repro", "-q")
    commit_all(path, "reproduce the pipeline")
    for tag, message in (
        (f"{ARTIFACT}@v1.0.0", "Registering artifact"),
        (f"{ARTIFACT}#dev#1", "Assigning stage dev"),
        (f"{ARTIFACT}#prod#2", "Assigning stage prod"),
    ):
        git(path, "tag", "-a", tag, "-m", message)
    return path
