"""A bank-churn classifier's DVC project rebuilt from scratch, small and offline: the layout
issue 32 found mlgate could not read, with stand-in data.

Its dvc.yaml uses DVC's templating throughout: `vars` from a file (`config/paths.yaml`, whose
values the commands and paths interpolate, so DVC shows them as params), `${}` in commands,
paths and the artifact's path, a `foreach` stage that prepares each split, metrics and a plot
with DVC's `confusion` template (rows of actual and predicted labels, as dvclive writes them);
the model is a directory output (`model/clf-model/`, the model and its card inside) declared in
`artifacts:`. No mlgate file anywhere but the policy.
"""

from __future__ import annotations

from pathlib import Path

import yaml

from helpers import commit_all, dvc, init_dvc_repo

ARTIFACT = "churn-model"

PREPARE = """\
import sys
import numpy as np, pandas as pd
split, rows, seed = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
rng = np.random.default_rng(seed + (split == "test"))
frame = pd.DataFrame({"tenure": rng.integers(0, 72, rows).astype(float),
                      "balance": rng.normal(50, 20, rows), "products": rng.integers(1, 5, rows)})
risk = -0.05 * frame.tenure + 0.03 * frame.balance - 0.4 * frame.products
frame["churned"] = (risk + rng.normal(0, 1, rows) > risk.median()).astype(int)
frame.to_csv(f"data/{split}.csv", index=False)
"""

TRAIN = """\
import json, os, sys
import joblib, pandas as pd
from sklearn.linear_model import LogisticRegression
C, out = float(sys.argv[1]), sys.argv[2]
frame = pd.read_csv("data/train.csv")
features = ["tenure", "balance", "products"]
model = LogisticRegression(C=C, max_iter=500).fit(frame[features], frame.churned)
os.makedirs(out, exist_ok=True)
joblib.dump(model, os.path.join(out, "model.pkl"))
card = {"features": [{"name": "tenure", "dtype": "float64"}, {"name": "balance", "dtype": "float64"},
                     {"name": "products", "dtype": "int64"}],
        "input_example": frame[features].head(3).to_dict("records")}
json.dump(card, open(os.path.join(out, "model.json"), "w"))
"""

EVALUATE = """\
import json, os, sys
import joblib, pandas as pd
from sklearn import metrics
model_dir, metrics_file = sys.argv[1], sys.argv[2]
model = joblib.load(os.path.join(model_dir, "model.pkl"))
frame = pd.read_csv("data/test.csv")
predicted = model.predict(frame[["tenure", "balance", "products"]])
os.makedirs(os.path.dirname(metrics_file), exist_ok=True)
json.dump({"accuracy": metrics.accuracy_score(frame.churned, predicted),
           "f1": metrics.f1_score(frame.churned, predicted)}, open(metrics_file, "w"))
os.makedirs("eval", exist_ok=True)
rows = [{"actual": str(a), "predicted": str(p)} for a, p in zip(frame.churned, predicted)]
json.dump(rows, open("eval/cm.json", "w"))
"""

PIPELINE = """\
vars:
  - config/paths.yaml
stages:
  prepare:
    foreach: [train, test]
    do:
      cmd: python src/prepare.py ${item} ${data.rows} ${data.seed}
      deps: [src/prepare.py]
      params: [data]
      outs: ["data/${item}.csv"]
  train:
    cmd: python src/train.py ${train.C} ${model_dir}
    deps: [src/train.py, data/train.csv]
    params: [train]
    outs: ["${model_dir}"]
  evaluate:
    cmd: python src/evaluate.py ${model_dir} ${metrics_file}
    deps: [src/evaluate.py, data/test.csv, "${model_dir}"]
    metrics:
      - ${metrics_file}:
          cache: false
    plots:
      - eval/cm.json:
          template: confusion
          x: actual
          y: predicted
          cache: false
artifacts:
  churn-model:
    path: ${model_dir}
    type: model
"""

POLICY = """\
[tool.mlgate]
base = "main"

[tool.mlgate.rules]
accuracy = { direction = "higher", tolerance = 0.02 }

[tool.mlgate.environments.staging]
target = "deployed/staging"
"""


def make_churn_project(path: Path) -> Path:
    """The project, reproduced and committed on main."""
    init_dvc_repo(path)
    (path / "src").mkdir()
    for name, script in (("prepare", PREPARE), ("train", TRAIN), ("evaluate", EVALUATE)):
        (path / "src" / f"{name}.py").write_text(script)
    (path / "config").mkdir()
    paths = {"model_dir": "model/clf-model", "metrics_file": "reports/metrics.json"}
    (path / "config/paths.yaml").write_text(yaml.safe_dump(paths))
    params = {"data": {"rows": 800, "seed": 3}, "train": {"C": 1.0}}
    (path / "params.yaml").write_text(yaml.safe_dump(params))
    (path / "data").mkdir()
    (path / "dvc.yaml").write_text(PIPELINE)
    (path / "pyproject.toml").write_text(POLICY)
    dvc(path, "repro", "-q")
    commit_all(path, "a churn classifier")
    return path
