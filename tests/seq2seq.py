"""A sequence-to-sequence project's DVC layout rebuilt from scratch, small and offline: the
second layout issue 32 found mlgate could not read, with stand-in data and a stand-in model.

A root dvc.yaml prepares the data (a TSV of sentence pairs, DVC-cached); the model lives in its
own folder with its own dvc.yaml, params.yaml and outputs (`models/seq2seq/dvc.yaml:train`, as
DVC names the stage), and declares a TSV of per-sentence scores as metrics beside its JSON
metrics, which DVC warns about and leaves out. Experiments are run with `dvc exp run -S`.
"""

from __future__ import annotations

from pathlib import Path

import yaml

from helpers import commit_all, dvc, init_dvc_repo

PREPARE = """\
import os, random
random.seed(1)
words = ["the", "cat", "sat", "on", "a", "mat", "dog", "ran", "far", "home"]
os.makedirs("data", exist_ok=True)
with open("data/pairs.tsv", "w") as out:
    for _ in range(400):
        sentence = " ".join(random.choice(words) for _ in range(random.randint(3, 8)))
        out.write(f"{sentence}\\t{sentence[::-1]}\\n")
"""

# "Trains" for a number of epochs: the score rises with epochs and falls with dropout, exactly.
TRAIN = """\
import json, yaml
p = yaml.safe_load(open("params.yaml"))["train"]
pairs = [line.split("\\t") for line in open("../../data/pairs.tsv").read().splitlines()]
bleu = round(min(0.9, 0.2 + 0.05 * p["epochs"] - 0.1 * p["dropout"]), 4)
json.dump({"bleu": bleu, "pairs": len(pairs)}, open("metrics.json", "w"))
with open("scores.tsv", "w") as out:
    out.write("sentence\\tbleu\\n")
    out.writelines(f"{n}\\t{bleu}\\n" for n in range(len(pairs)))
open("model.txt", "w").write(f"epochs {p['epochs']} dropout {p['dropout']}\\n")
"""

POLICY = """\
[tool.mlgate]
base = "main"

[tool.mlgate.rules]
bleu = { direction = "higher", tolerance = 0.01 }
"""


def make_seq2seq_project(path: Path) -> Path:
    """The project, reproduced and committed on main."""
    init_dvc_repo(path)
    (path / "prepare.py").write_text(PREPARE)
    root_pipeline = {
        "stages": {
            "prepare": {
                "cmd": "python prepare.py",
                "deps": ["prepare.py"],
                "outs": ["data/pairs.tsv"],
            }
        }
    }
    (path / "dvc.yaml").write_text(yaml.safe_dump(root_pipeline))
    model = path / "models" / "seq2seq"
    model.mkdir(parents=True)
    (model / "train.py").write_text(TRAIN)
    (model / "params.yaml").write_text(yaml.safe_dump({"train": {"epochs": 4, "dropout": 0.2}}))
    model_pipeline = {
        "stages": {
            "train": {
                "cmd": "python train.py",
                "deps": ["train.py", "../../data/pairs.tsv"],
                "params": ["train"],
                "outs": ["model.txt"],
                "metrics": [{"metrics.json": {"cache": False}}, {"scores.tsv": {"cache": False}}],
            }
        }
    }
    (model / "dvc.yaml").write_text(yaml.safe_dump(model_pipeline))
    (path / "pyproject.toml").write_text(POLICY)
    dvc(path, "repro", "-q", "--all-pipelines")
    commit_all(path, "a seq2seq model")
    return path
