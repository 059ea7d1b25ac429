"""`mlgate monitor` on a real project: this repository's pipeline trained by `dvc repro` (which
writes the reference profile), deployed by `mlgate deploy`, its monitoring log written by the
server's own writer with transactions from the synthetic generator, drifted or not."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pandas as pd
import pytest

from helpers import commit_all, mlgate_in
from mlgate.artifacts import requestlog
from mlgate.artifacts.profile import NUMERIC, ColumnProfile, parse_profile, profile_frame
from mlgate.deploy import deployments, environments
from mlgate.git import WORKSPACE, revision
from mlgate.pipeline.synthetic import generate_transactions
from mlgate.snapshot import read_policy

pytestmark = pytest.mark.slow

POLICY = """\
[tool.mlgate.environments.production]
target = "deployed/production"
"""


@pytest.fixture(scope="module")
def trained(_reproduced_once: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The session's reproduced project with this module's policy, committed once for the
    module; each test deploys a copy."""
    import shutil

    project = tmp_path_factory.mktemp("trained") / "p"
    shutil.copytree(_reproduced_once, project, symlinks=True)
    (project / "pyproject.toml").write_text(POLICY)
    commit_all(project, "trained")
    return project


@pytest.fixture
def project(trained: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    import shutil

    copy = tmp_path / "p"
    shutil.copytree(trained, copy, symlinks=True)
    assert (
        mlgate_in(
            copy,
            monkeypatch,
            "deploy",
            "--model",
            "models/model.pkl",
            "--env",
            "production",
            "--monitoring",
            "enable",
        )
        == 0
    )
    monkeypatch.delenv("GITHUB_ACTIONS", raising=False)
    return copy


def production(project: Path) -> environments.Environment:
    return environments.environment(
        project, read_policy(revision(WORKSPACE, project)), "production"
    )


def features(project: Path) -> list[str]:
    return [f["name"] for f in json.loads((project / "models/model.json").read_text())["features"]]


def log_traffic(project: Path, rows: int, drift: float, seed: int = 5) -> None:
    """Requests as `mlgate serve` logs them: 50 rows per request, with the writer it uses."""
    env = production(project)
    version = deployments.read_current(env).version  # type: ignore[union-attr]
    names = features(project)
    log = requestlog.RequestLog(env.target.workdir(), names)
    frame = generate_transactions(rows, seed=seed, drift=drift)[names]
    for start in range(0, rows, 50):
        part = frame.iloc[start : start + 50]
        log.append(version, part, [0] * len(part))


def test_traffic_like_the_training_data_does_not_drift(project: Path, monkeypatch, capsys) -> None:
    log_traffic(project, 1_000, drift=0.0)
    assert mlgate_in(project, monkeypatch, "monitor", "--env", "production") == 0
    out = capsys.readouterr().out
    assert out.startswith("mlgate monitor: NO DRIFT:") and "1,000 rows" in out
    assert "reference |" in out and "current   |" in out


def test_drifted_traffic_is_reported_in_every_format_and_to_actions(
    project: Path, monkeypatch, capsys, tmp_path: Path
) -> None:
    log_traffic(project, 1_000, drift=1.0)
    summary, outputs = tmp_path / "summary.md", tmp_path / "outputs.txt"
    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    monkeypatch.setenv("GITHUB_OUTPUT", str(outputs))
    report = tmp_path / "out" / "drift.md"
    assert (
        mlgate_in(project, monkeypatch, "monitor", "--env", "production", "--report", str(report))
        == 1
    )
    printed = capsys.readouterr()
    assert printed.out.startswith("mlgate monitor: DRIFT:")
    assert "::error title=mlgate%3A drift in amount::amount: Wasserstein (normed)" in printed.err
    assert "mlgate monitor: DRIFT" in summary.read_text()
    written = outputs.read_text()
    assert "verdict<<" in written and "\ndrift\n" in written and "amount" in written
    markdown = report.read_text()
    images = sorted((tmp_path / "out" / "drift-images").iterdir())
    assert len(images) == len(features(project))
    assert all(f"(drift-images/{image.name})" in markdown for image in images)
    assert images[0].read_text().startswith("<svg")

    monkeypatch.delenv("GITHUB_ACTIONS")
    assert (
        mlgate_in(project, monkeypatch, "monitor", "--env", "production", "--format", "json") == 1
    )
    document = json.loads(capsys.readouterr().out)
    assert document["verdict"] == "drift" and document["rows"] == 1_000
    by_name = {c["name"]: c for c in document["columns"]}
    assert by_name["amount"]["drifted"] and by_name["amount"]["test"] == "Wasserstein (normed)"
    assert by_name["merchant_category"]["test"] == "Jensen-Shannon distance"


def test_since_looks_only_at_recent_requests(project: Path, monkeypatch, capsys) -> None:
    log_traffic(project, 1_000, drift=1.0)
    time.sleep(2.1)
    log_traffic(project, 1_000, drift=0.0, seed=6)
    assert mlgate_in(project, monkeypatch, "monitor", "--env", "production", "--since", "2s") == 0
    assert "NO DRIFT" in capsys.readouterr().out
    assert mlgate_in(project, monkeypatch, "monitor", "--env", "production", "--since", "1h") == 1


def test_fewer_rows_than_min_rows_is_not_enough_data(project: Path, monkeypatch, capsys) -> None:
    log_traffic(project, 50, drift=1.0)
    assert mlgate_in(project, monkeypatch, "monitor", "--env", "production") == 0
    assert "NOT ENOUGH DATA: 50 rows, 100 needed" in capsys.readouterr().out
    (project / "pyproject.toml").write_text(POLICY + "\n[tool.mlgate.monitor]\nmin_rows = 20\n")
    assert mlgate_in(project, monkeypatch, "monitor", "--env", "production") == 1


def test_a_batch_file_is_checked_against_the_workspace_or_the_deployed_model(
    project: Path, monkeypatch, capsys, tmp_path: Path
) -> None:
    batch = tmp_path / "incoming.csv"
    generate_transactions(800, seed=9, drift=1.0).to_csv(batch, index=False)
    assert mlgate_in(project, monkeypatch, "monitor", "--file", str(batch)) == 1
    out = capsys.readouterr().out
    assert "DRIFT" in out and "models/model.pkl's training data in the workspace" in out
    generate_transactions(800, seed=9).to_parquet(tmp_path / "incoming.parquet")
    assert (
        mlgate_in(
            project,
            monkeypatch,
            "monitor",
            "--env",
            "production",
            "--file",
            str(tmp_path / "incoming.parquet"),
        )
        == 0
    )
    assert "NO DRIFT" in capsys.readouterr().out


def _drop_column(project: Path) -> None:
    [path] = requestlog.log_files(production(project).target.workdir())
    frame = pd.read_csv(path).drop(columns=["amount"])
    path.write_text(frame.to_csv(index=False))


def _remove_profile(project: Path) -> None:
    env = production(project)
    version = deployments.read_current(env).version  # type: ignore[union-attr]
    (env.target.workdir() / "versions" / version / "profile.json").unlink()


def _garble(project: Path) -> None:
    [path] = requestlog.log_files(production(project).target.workdir())
    path.write_text(path.read_text().replace("grocery", '"unclosed'))


@pytest.mark.parametrize(
    ("spoil", "args", "message"),
    [
        (_drop_column, [], "the log has no column amount"),
        (_remove_profile, [], "production md5-"),
        (_garble, [], "is not a monitoring log mlgate can read"),
        (None, ["--since", "yesterday"], "--since 'yesterday' is not a duration"),
        (None, ["--file", "nothing.csv"], "nothing.csv: no such file"),
        (None, ["--env", "staging"], "unknown environment 'staging'"),
    ],
)
def test_what_cannot_be_computed_is_one_line_and_exit_2(
    project: Path, monkeypatch, capsys, spoil, args: list[str], message: str
) -> None:
    log_traffic(project, 200, drift=0.0)
    if spoil is not None:
        spoil(project)
    full = args if "--env" in args else ["--env", "production", *args]
    assert mlgate_in(project, monkeypatch, "monitor", *full) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1 and "Traceback" not in err, err


def test_no_log_and_monitoring_off_are_explained(project: Path, monkeypatch, capsys) -> None:
    assert mlgate_in(project, monkeypatch, "monitor", "--env", "production") == 0
    assert "NOT ENOUGH DATA: 0 rows" in capsys.readouterr().out
    assert mlgate_in(project, monkeypatch, "rollback", "--env", "production") == 2  # nothing before
    capsys.readouterr()
    assert (
        mlgate_in(
            project,
            monkeypatch,
            "deploy",
            "--model",
            "models/model.pkl",
            "--env",
            "local",
            "--monitoring",
            "disable",
        )
        == 0
    )
    capsys.readouterr()
    assert mlgate_in(project, monkeypatch, "monitor", "--env", "local") == 2
    assert "monitoring is off for local's md5-" in capsys.readouterr().err
    assert mlgate_in(project, monkeypatch, "monitor") == 2
    assert "give --env ENV" in capsys.readouterr().err


def test_prediction_drift_is_its_own_row_against_the_evaluation_time_predictions(
    trained: Path, tmp_path: Path, monkeypatch, capsys
) -> None:
    """With the policy's predictions file, deploy keeps the model's evaluation-time
    predictions with the version; `mlgate monitor` compares the answers served with them, in a
    row of its own that the share of drifted columns leaves out. A predictions file that
    cannot be read is said after the deploy line."""
    import shutil

    project = Path(shutil.copytree(trained, tmp_path / "p", symlinks=True))
    deploy = ("deploy", "--model", "models/model.pkl", "--env", "production")
    assert mlgate_in(project, monkeypatch, *deploy, "--monitoring", "enable") == 0
    assert "note:" not in capsys.readouterr().out  # no predictions file named: nothing to say
    version = deployments.read_current(production(project)).version  # type: ignore[union-attr]
    kept = production(project).target.version_folder(version)
    assert not (kept / "predictions.json").exists()
    (project / "pyproject.toml").write_text(
        '[tool.mlgate]\npredictions = "eval/predictions.csv"\n\n' + POLICY
    )
    commit_all(project, "the evaluation's predictions")
    shutil.rmtree(project / "deployed")
    assert mlgate_in(project, monkeypatch, *deploy, "--monitoring", "enable") == 0
    assert "note:" not in capsys.readouterr().out
    env = production(project)
    version = deployments.read_current(env).version  # type: ignore[union-attr]
    assert (env.target.version_folder(version) / "predictions.json").is_file()
    names = features(project)
    log = requestlog.RequestLog(env.target.workdir(), names)
    frame = generate_transactions(1_000, seed=5, drift=0.0)[names]
    for start in range(0, 1_000, 50):  # every answer "1": the evaluation said mostly 0
        log.append(version, frame.iloc[start : start + 50], [1] * 50)
    assert (
        mlgate_in(project, monkeypatch, "monitor", "--env", "production", "--format", "json") == 0
    )
    report = json.loads(capsys.readouterr().out)
    assert report["verdict"] == "no drift" and report["share_drifted"] < 0.5
    prediction = report["prediction"]
    assert prediction["drifted"] and prediction["kind"] == "categorical"
    assert prediction["histogram"]["current"][prediction["histogram"]["bins"].index("1")] == 1.0
    assert mlgate_in(project, monkeypatch, "monitor", "--env", "production") == 0
    assert "Prediction drift (the answers served against" in capsys.readouterr().out
    (project / "pyproject.toml").write_text('[tool.mlgate]\npredictions = "nowhere.csv"\n' + POLICY)
    commit_all(project, "a predictions file that is not there")
    shutil.rmtree(project / "deployed")
    assert mlgate_in(project, monkeypatch, *deploy, "--monitoring", "enable") == 0
    out = capsys.readouterr().out.splitlines()
    assert out[-1].startswith("note: no prediction drift for this version: nowhere.csv is not")


def test_a_regressors_predicted_values_drift_as_numbers(tmp_path: Path) -> None:
    """A regression model's predictions file holds values: deploy keeps their distribution,
    the log is read as numbers, and shifted answers are a numeric drift row."""
    import numpy as np

    from mlgate.monitor import drift_report
    from mlgate.policy import Monitoring

    rng = np.random.default_rng(0)
    evaluated = rng.normal(150, 50, 2000)
    content = (
        "id,label,prediction\n"
        + "".join(f"{i},{v + 3:.3f},{v:.3f}\n" for i, v in enumerate(evaluated))
    ).encode()
    profile = ColumnProfile.from_json(
        "prediction", drift_report.predictions_profile(content, "eval/predictions.csv")
    )
    assert profile.kind == NUMERIC
    frame = pd.DataFrame({"x": rng.normal(0, 1, 2000)})
    reference = drift_report.Reference(
        parse_profile(profile_frame(frame, ["x"]), "p"), "training data", profile
    )
    assert drift_report.logged_kinds(reference)["prediction"] == "numeric"
    served = frame.assign(prediction=rng.normal(200, 50, 2000))  # the model now answers higher
    report = drift_report.assess(served, reference, "requests", Monitoring())
    assert report.prediction is not None and report.prediction.drifted
    assert report.prediction.test == "Wasserstein (normed)" and report.verdict == "no drift"
