"""`mlgate deploy`, `rollback` and `deployments` on real git repositories with a real DVC
pipeline that trains a scikit-learn model (helpers.make_model_project)."""

from __future__ import annotations

import fcntl
import json
import os
import pickle
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import yaml

from helpers import commit_all, dvc, git, make_model_project, mlgate_in, write_params
from mlgate.deploy import deployments, environments
from mlgate.files import file_md5
from mlgate.git import WORKSPACE, revision
from mlgate.snapshot import read_policy

pytestmark = pytest.mark.slow

POLICY = """\
[project]
name = "scorer"

[tool.mlgate]
promotion_order = ["staging", "production"]

[tool.mlgate.environments.staging]
target = "deployed/staging"

[tool.mlgate.environments.production]
target = "deployed/production"
"""


def current(project: Path, env: str = "local") -> dict[str, object] | None:
    target = project / (".mlgate/deployments/local" if env == "local" else f"deployed/{env}")
    path = target / "current"
    return json.loads(path.read_text()) if path.exists() else None


def log(project: Path, env: str) -> list[dict[str, object]]:
    path = project / f"deployed/{env}/deployments.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The scorer trained and committed once per module (per worker); each test gets a copy."""
    return make_model_project(tmp_path_factory.mktemp("built") / "project", POLICY)


@pytest.fixture
def project(built: Path, tmp_path: Path) -> Path:
    return Path(shutil.copytree(built, tmp_path / "project", symlinks=True))


def two_releases(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """scorer@v0.1.0 (C = 1) and scorer@v0.2.0 (C = 0.01)."""
    assert mlgate_in(project, monkeypatch, "release") == 0
    write_params(project, {"train": {"C": 0.01}})
    dvc(project, "repro", "-q")
    commit_all(project, "C = 0.01")
    assert mlgate_in(project, monkeypatch, "release", "--version", "v0.2.0") == 0


def test_deploying_a_model_file_prints_the_line_and_switches_local(
    project: Path, monkeypatch, capsys
) -> None:
    code = mlgate_in(
        project, monkeypatch, "deploy", "--model", "models/model.pkl", "--monitoring", "enable"
    )
    assert code == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == (
        "Deployment started for model 'models/model.pkl' in 'local' environment "
        "with monitoring enabled."
    )
    md5 = file_md5(project / "models/model.pkl")
    assert out[1].startswith(f"Deployed scorer md5-{md5[:12]} (md5 {md5[:8]}, from the workspace)")
    assert out[1].endswith("smoke test: 3 rows predicted.")
    assert out[2] == (  # 3 example rows, 2,000 around them, the 2,000 with holes refused
        "Runtime: onnx (agrees with the pickle on 2,003 rows: the same labels, probabilities "
        "within 0.0001)."
    )
    now = current(project)
    assert now is not None and now["md5"] == md5 and now["monitoring"] is True
    installed = project / ".mlgate/deployments/local/versions" / f"md5-{md5[:12]}"
    assert file_md5(installed / "model.pkl") == md5
    assert now["runtime"] == "onnx" and now["onnx_md5"] == file_md5(installed / "model.onnx")
    assert json.loads((installed / "model.json").read_text())["features"][0]["name"] == "x1"
    assert git(project, "status", "--porcelain") == ""  # .mlgate/ ignores itself


def test_a_model_that_does_not_compile_is_served_by_its_pickle_and_says_why(
    tmp_path: Path, monkeypatch, capsys
) -> None:
    project = make_model_project(tmp_path / "project", estimator="nearest_centroid")
    deploy = ("deploy", "--model", "models/model.pkl")
    assert mlgate_in(project, monkeypatch, *deploy, "--runtime", "onnx") == 2
    err = capsys.readouterr().err
    assert "--runtime onnx: skl2onnx cannot convert NearestCentroid" in err
    assert current(project) is None
    assert mlgate_in(project, monkeypatch, *deploy) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[-1].startswith("Runtime: pickle (skl2onnx cannot convert NearestCentroid: ")
    now = current(project)
    assert now is not None and now["runtime"] == "pickle" and now["onnx_md5"] is None
    assert "NearestCentroid" in str(now["runtime_note"])
    assert mlgate_in(project, monkeypatch, *deploy, "--runtime", "pickle") == 0
    assert capsys.readouterr().out.splitlines()[-1] == "Runtime: pickle (--runtime pickle)."


def test_deploy_by_release_promotion_tag_and_environment_then_roll_back(
    project: Path, monkeypatch, capsys
) -> None:
    two_releases(project, monkeypatch)
    assert (
        mlgate_in(project, monkeypatch, "deploy", "--model", "scorer@v0.1.0", "--env", "staging")
        == 0
    )
    assert mlgate_in(project, monkeypatch, "promote", "scorer@v0.2.0", "staging") == 0
    promotion = git(project, "tag", "--list", "scorer#staging#*")
    assert promotion == "scorer#staging#1"
    assert mlgate_in(project, monkeypatch, "deploy", "--model", promotion, "--env", "staging") == 0
    assert current(project, "staging")["version"] == "v0.2.0"  # type: ignore[index]
    assert (
        mlgate_in(
            project,
            monkeypatch,
            "deploy",
            "--model",
            "scorer#staging",
            "--env",
            "production",
            "--monitoring",
            "enable",
        )
        == 0
    )
    assert current(project, "production")["version"] == "v0.2.0"  # type: ignore[index]
    capsys.readouterr()

    assert mlgate_in(project, monkeypatch, "rollback", "--env", "staging") == 0
    assert capsys.readouterr().out.startswith("Rolled back scorer v0.1.0 ")
    assert current(project, "staging")["version"] == "v0.1.0"  # type: ignore[index]
    assert mlgate_in(project, monkeypatch, "rollback", "--env", "staging", "--to", "v0.2.0") == 0
    entries = log(project, "staging")
    assert [(e["action"], e["version"], e["previous"], e["outcome"]) for e in entries] == [
        ("deploy", "v0.1.0", None, "deployed"),
        ("deploy", "v0.2.0", "v0.1.0", "deployed"),
        ("rollback", "v0.1.0", "v0.2.0", "deployed"),
        ("rollback", "v0.2.0", "v0.1.0", "deployed"),
    ]
    assert entries[-1]["id"] == current(project, "staging")["id"]  # type: ignore[index]
    capsys.readouterr()
    assert mlgate_in(project, monkeypatch, "deployments", "--env", "staging") == 0
    table = capsys.readouterr().out.splitlines()
    assert len(table) == 2 + 4 and "rollback  deployed  scorer v0.2.0" in table[-1]
    assert mlgate_in(project, monkeypatch, "deployments", "--json") == 0
    assert len(json.loads(capsys.readouterr().out)) == 5  # staging's four and production's one


def test_a_version_is_compiled_once_per_machine_and_checked_at_every_deploy(
    project: Path, monkeypatch, capsys
) -> None:
    """Promoting a version to the next environment reuses its ONNX model (keyed by the model,
    its card and the converters' versions); parity is still checked, so a cached file that is
    cut short is compiled again and one that is wrong is served by nothing but the pickle."""
    from mlgate.deploy import onnx_model

    two_releases(project, monkeypatch)
    deploy = ("deploy", "--model")
    assert mlgate_in(project, monkeypatch, *deploy, "scorer@v0.1.0", "--env", "staging") == 0
    assert mlgate_in(project, monkeypatch, *deploy, "scorer@v0.2.0", "--env", "staging") == 0
    compiled = project / ".mlgate/compiled"
    first, second = sorted(compiled.iterdir(), key=lambda path: path.stat().st_mtime)
    assert ".mlgate" not in git(project, "status", "--porcelain")  # it ignores itself

    def not_again(*args: object) -> bytes:
        raise AssertionError("compiled again")

    with monkeypatch.context() as patched:
        patched.setattr(onnx_model, "compile_model", not_again)
        assert mlgate_in(project, monkeypatch, *deploy, "scorer@v0.2.0", "--env", "production") == 0
    assert current(project, "production")["runtime"] == "onnx"  # type: ignore[index]

    first.write_bytes(first.read_bytes()[:100])  # a crash or a bad disk cut it short
    capsys.readouterr()
    assert mlgate_in(project, monkeypatch, *deploy, "scorer@v0.1.0", "--env", "production") == 0
    assert "Runtime: onnx (agrees with the pickle" in capsys.readouterr().out
    assert onnx_model.readable(first.read_bytes())  # compiled again, and kept

    first.write_bytes(second.read_bytes())  # v0.2.0's model where v0.1.0's belongs
    shutil.rmtree(project / "deployed/production/versions/v0.1.0")
    assert mlgate_in(project, monkeypatch, *deploy, "scorer@v0.1.0", "--env", "production") == 0
    out = capsys.readouterr().out
    assert "Runtime: pickle (the ONNX model's" in out and "differ from the pickle's" in out
    assert current(project, "production")["runtime"] == "pickle"  # type: ignore[index]


@pytest.mark.faults
def test_a_lightweight_tag_is_never_a_promotion(project: Path, monkeypatch, capsys) -> None:
    assert mlgate_in(project, monkeypatch, "release") == 0
    git(project, "tag", "scorer#production#7", "HEAD")  # lightweight, at the release's commit
    capsys.readouterr()
    command = ("deploy", "--model", "scorer#production#7", "--env", "production")
    assert mlgate_in(project, monkeypatch, *command) == 2
    err = capsys.readouterr().err
    assert "lightweight tag, which is never a promotion" in err
    assert current(project, "production") is None


FORGED_POINTERS = [
    ("version", "{victim}"),
    ("version", "../../../{name}"),
    ("version", "v1.0.0/../../x"),
    ("previous", "{victim}"),
    ("model_file", "../../{name}/model.pkl"),
    ("md5", "ab/../../x"),
    ("environment", "staging\n::warning::x"),
]


@pytest.mark.faults
def test_a_current_pointer_naming_a_path_is_refused_before_any_file_is_touched(
    project: Path, monkeypatch, capsys, tmp_path: Path
) -> None:
    """Issue 31: anyone with the bucket (or the folder) writes ``current``; a version
    ``/victim`` had every replica delete that directory and write there. Each variant of the
    field, one deploy."""
    victim = tmp_path / "victim"
    victim.mkdir()
    (victim / "keep").write_text("mine")
    deploy = ("deploy", "--model", "models/model.pkl", "--env", "staging")
    assert mlgate_in(project, monkeypatch, *deploy) == 0
    pointer = project / "deployed/staging/current"
    good = json.loads(pointer.read_text())
    for field, forged in FORGED_POINTERS:
        pointer.write_text(
            json.dumps({**good, field: forged.format(victim=victim, name=victim.name)})
        )
        capsys.readouterr()
        for command in (deploy, ("rollback", "--env", "staging")):
            assert mlgate_in(project, monkeypatch, *command) == 2, (field, forged)
            err = capsys.readouterr().err
            assert "current is unreadable" in err and f"'{field}'" in err, err
            assert "::warning" not in err.replace(":\\:", "")
        assert sorted(victim.iterdir()) == [victim / "keep"]
    assert (victim / "keep").read_text() == "mine"


@pytest.mark.faults
@pytest.mark.parametrize("forged_md5", ["evil", "the workspace's"])
def test_a_forged_release_tag_whose_md5_is_not_dvc_locks_loads_nothing(
    project: Path, monkeypatch, capsys, tmp_path: Path, forged_md5: str
) -> None:
    """Issue 31: an annotated tag pushed by anyone, whose record names the md5 of a pickle the
    attacker placed in DVC's cache (or the workspace's changed model), at a commit whose
    dvc.lock records another md5: nothing is read from the cache, nothing unpickled."""
    from mlgate.artifacts.release_record import BEGIN, END

    assert mlgate_in(project, monkeypatch, "release") == 0
    marker = tmp_path / "unpickled"
    payload = pickle.dumps(_Mark(str(marker)))
    evil = project / "evil.pkl"
    evil.write_bytes(payload)
    md5 = file_md5(evil)
    cached = project / ".dvc/cache/files/md5" / md5[:2] / md5[2:]
    cached.parent.mkdir(parents=True, exist_ok=True)
    cached.write_bytes(payload)
    if forged_md5 != "evil":  # the model in the workspace swapped, and its md5 recorded
        (project / "models/model.pkl").chmod(0o644)
        (project / "models/model.pkl").write_bytes(payload)
    record = {
        "artifact": "scorer",
        "version": "v0.2.0",
        "model": {"path": "models/model.pkl", "md5": md5},
    }
    message = f"Release scorer v0.2.0\n\n{BEGIN}\n{json.dumps(record)}\n{END}\n"
    git(project, "tag", "-a", "scorer@v0.2.0", "-m", message)
    capsys.readouterr()
    code = mlgate_in(project, monkeypatch, "deploy", "--model", "scorer@v0.2.0", "--env", "staging")
    err = capsys.readouterr().err
    assert code == 2 and "dvc.lock at" in err and "nothing was read" in err, err
    assert not marker.exists()
    assert current(project, "staging") is None


@pytest.mark.faults
def test_a_tampered_model_is_refused_before_it_is_unpickled(
    project: Path, monkeypatch, capsys, tmp_path: Path
) -> None:
    assert mlgate_in(project, monkeypatch, "release") == 0
    assert (
        mlgate_in(project, monkeypatch, "deploy", "--model", "scorer@v0.1.0", "--env", "staging")
        == 0
    )
    write_params(project, {"train": {"C": 0.01}})
    dvc(project, "repro", "-q")
    commit_all(project, "C = 0.01")
    assert mlgate_in(project, monkeypatch, "release", "--version", "v0.2.0") == 0
    # The released file, in the workspace and in DVC's cache, replaced by a pickle that would
    # leave a mark if anything unpickled it.
    marker = tmp_path / "unpickled"
    payload = pickle.dumps(_Mark(str(marker)))
    released = file_md5(project / "models/model.pkl")
    cached = project / ".dvc/cache/files/md5" / released[:2] / released[2:]
    for path in (project / "models/model.pkl", cached):
        path.chmod(0o644)
        path.write_bytes(payload)
    capsys.readouterr()
    assert (
        mlgate_in(project, monkeypatch, "deploy", "--model", "scorer@v0.2.0", "--env", "staging")
        == 2
    )
    err = capsys.readouterr().err
    assert f"is not the recorded {released}" in err and "was not loaded" in err
    assert "scorer v0.1.0 is still deployed in staging" in err
    assert not marker.exists()
    assert current(project, "staging")["version"] == "v0.1.0"  # type: ignore[index]
    assert [e["outcome"] for e in log(project, "staging")] == ["deployed", "failed"]
    assert not list((project / "deployed/staging/versions").glob(".tmp-*"))

    # A deployed folder changed afterwards is refused on rollback too.
    assert (
        mlgate_in(project, monkeypatch, "deploy", "--model", "scorer@v0.1.0", "--env", "production")
        == 0
    )
    first = project / "deployed/production/versions/v0.1.0/model.pkl"
    first.write_bytes(payload)
    assert (
        mlgate_in(
            project, monkeypatch, "deploy", "--model", "models/model.pkl", "--env", "production"
        )
        == 2
    )
    assert not marker.exists()


class _Mark:
    """Unpickling this touches a file: the proof that something was unpickled."""

    def __init__(self, path: str) -> None:
        self.path = path

    def __reduce__(self) -> tuple[Any, tuple[Path, str]]:
        return (Path.write_text, (Path(self.path), "unpickled"))


def test_a_model_that_fails_its_smoke_test_is_not_switched_to(
    project: Path, monkeypatch, capsys
) -> None:
    assert (
        mlgate_in(project, monkeypatch, "deploy", "--model", "models/model.pkl", "--env", "staging")
        == 0
    )
    before = current(project, "staging")
    card = json.loads((project / "models/model.json").read_text())
    card["input_example"] = [{"x1": "not a number", "x2": 1.0}]
    (project / "models/model.json").write_text(json.dumps(card))
    write_params(project, {"train": {"C": 0.5}})
    dvc(project, "repro", "-q", "--force")  # a new model file, then the broken card over it
    (project / "models/model.json").write_text(json.dumps(card))
    capsys.readouterr()
    assert (
        mlgate_in(project, monkeypatch, "deploy", "--model", "models/model.pkl", "--env", "staging")
        == 2
    )
    err = capsys.readouterr().err
    assert "the model failed its smoke test on the card's input example: ValueError" in err
    assert "not a number" not in err.splitlines()[-1] or "could not convert" in err
    assert current(project, "staging") == before


def test_a_second_deploy_waits_for_the_first_then_fails_clearly(
    project: Path, monkeypatch, capsys
) -> None:
    target = project / "deployed/staging"
    target.mkdir(parents=True)
    with open(target / ".lock", "a+") as held:
        fcntl.flock(held.fileno(), fcntl.LOCK_EX)
        started = time.monotonic()
        code = mlgate_in(
            project,
            monkeypatch,
            "deploy",
            "--model",
            "models/model.pkl",
            "--env",
            "staging",
            "--wait",
            "0.5",
        )
        assert code == 2 and time.monotonic() - started >= 0.5
    assert "another deploy or rollback to" in capsys.readouterr().err
    assert current(project, "staging") is None and log(project, "staging") == []
    assert (
        mlgate_in(project, monkeypatch, "deploy", "--model", "models/model.pkl", "--env", "staging")
        == 0
    )


@pytest.mark.faults
@pytest.mark.long
def test_a_deploy_killed_mid_copy_leaves_the_previous_version_served(tmp_path: Path) -> None:
    project = make_model_project(tmp_path / "project", POLICY, pad_mb=120)
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    mlgate = [sys.executable, "-m", "mlgate", "deploy", "--env", "staging", "--model"]
    subprocess.run(
        [*mlgate, "models/model.pkl"], cwd=project, env=env, check=True, capture_output=True
    )
    first = current(project, "staging")
    write_params(project, {"train": {"C": 0.5}})
    dvc(project, "repro", "-q")
    size = (project / "models/model.pkl").stat().st_size
    process = subprocess.Popen(
        [*mlgate, "models/model.pkl"],
        cwd=project,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    versions = project / "deployed/staging/versions"
    deadline, copied = time.monotonic() + 60, 0
    while time.monotonic() < deadline and not 0 < copied < size:
        partial = list(versions.glob(".tmp-*/model.pkl"))
        copied = partial[0].stat().st_size if partial else 0
    process.send_signal(signal.SIGKILL)
    process.wait()
    assert 0 < copied < size, "the copy was not caught in progress"
    assert current(project, "staging") == first
    assert [e["version"] for e in log(project, "staging")] == [first["version"]]  # type: ignore[index]
    # The next deploy removes the half copy and completes.
    subprocess.run(
        [*mlgate, "models/model.pkl"], cwd=project, env=env, check=True, capture_output=True
    )
    assert not list(versions.glob(".tmp-*"))
    assert current(project, "staging")["previous"] == first["version"]  # type: ignore[index]


@pytest.mark.faults
def test_a_switch_the_log_missed_is_logged_by_the_next_deploy(project: Path, monkeypatch) -> None:
    assert (
        mlgate_in(project, monkeypatch, "deploy", "--model", "models/model.pkl", "--env", "staging")
        == 0
    )
    log_file = project / "deployed/staging/deployments.jsonl"
    switched = log_file.read_text()
    log_file.write_text("")  # as if the process died after renaming `current`, before logging
    env = environments.environment(project, read_policy(revision(WORKSPACE, project)), "staging")
    assert deployments.read_log(env) == []
    assert (
        mlgate_in(project, monkeypatch, "deploy", "--model", "models/model.pkl", "--env", "staging")
        == 0
    )
    entries = log(project, "staging")
    assert [json.dumps(entries[0], separators=(",", ":")) + "\n"] == [switched]
    assert entries[1]["previous"] == entries[0]["version"] and len(entries) == 2
    log_file.write_text(log_file.read_text() + '{"id": "cut sho')  # a line cut by a crash
    assert len(deployments.read_log(env)) == 2


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["deploy", "--model", "models/model.pkl", "--env", "prod"],
            "unknown environment 'prod': declare [tool.mlgate.environments.prod]",
        ),
        (["deploy", "--model", "scorer@v1.0.0"], "scorer@v1.0.0 is not an active release"),
        (["deploy", "--model", "nothing-here.pkl"], "'nothing-here.pkl' is neither a release"),
        (["deploy", "--model", "params.yaml"], "params.yaml is not an output in dvc.lock"),
        (["deploy", "--model", "scorer#production"], "no version of scorer is in production"),
        (["deploy", "--model", "scorer#staging#9"], "tag 'scorer#staging#9' does not exist"),
        (
            ["deploy", "--model", "models/model.pkl", "--env", "Bad Name"],
            "invalid environment name",
        ),
        (["rollback", "--env", "staging"], "nothing is deployed in staging: nothing to roll back"),
    ],
)
def test_bad_input_is_one_line_exit_2_and_changes_nothing(
    project: Path, monkeypatch, capsys, args: list[str], message: str
) -> None:
    assert mlgate_in(project, monkeypatch, *args) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1 and "Traceback" not in err
    assert not (project / "deployed").exists() or not any((project / "deployed").rglob("current"))


def test_a_model_outside_the_repository_and_an_unknown_url_target_are_refused(
    project: Path, monkeypatch, capsys, tmp_path: Path
) -> None:
    outside = tmp_path / "model.pkl"
    outside.write_bytes((project / "models/model.pkl").read_bytes())
    assert mlgate_in(project, monkeypatch, "deploy", "--model", str(outside)) == 2
    assert "is outside the repository" in capsys.readouterr().err
    (project / "pyproject.toml").write_text(POLICY.replace('"deployed/staging"', '"gs://bucket/m"'))
    assert (
        mlgate_in(project, monkeypatch, "deploy", "--model", "models/model.pkl", "--env", "staging")
        == 2
    )
    assert "target gs://bucket/m is a URL mlgate cannot deploy to (URL targets: s3://)" in (
        capsys.readouterr().err
    )


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (
            'target = "deployed/staging"\nmonitoring_sample = "half"',
            "monitoring_sample must be a number",
        ),
        (
            'target = "deployed/staging"\nmonitoring_sample = 1.5',
            "monitoring_sample is the share of requests",
        ),
        ('target = "deployed/staging"\nmonitoring_max_mb = 0', "monitoring_max_mb must be above 0"),
        ('target = ""', "target must be a directory"),
        ('target = "deployed/staging"\nmonitoring = true', "unknown key"),
        ('target = "s3://b/p"\nlease_seconds = 0', "lease_seconds"),
        (
            'target = "s3://b/p"\nmonitoring_segment_seconds = 1e9',
            "monitoring_segment_seconds (how long a replica's log segment stays open",
        ),
        ('target = "s3://"', "names no bucket"),
    ],
)
def test_a_bad_environment_table_is_named_and_nothing_is_deployed(
    project: Path, monkeypatch, capsys, options: str, message: str
) -> None:
    (project / "pyproject.toml").write_text(POLICY.replace('target = "deployed/staging"', options))
    args = ("deploy", "--model", "models/model.pkl", "--env", "staging")
    assert mlgate_in(project, monkeypatch, *args) == 2
    err = capsys.readouterr().err
    assert "[tool.mlgate.environments.staging]" in err and message in err, err
    assert err.count("\n") == 1 and not (project / "deployed").exists()


def test_rolling_back_to_a_version_never_deployed_names_the_ones_that_were(
    project: Path, monkeypatch, capsys
) -> None:
    assert (
        mlgate_in(project, monkeypatch, "deploy", "--model", "models/model.pkl", "--env", "staging")
        == 0
    )
    assert mlgate_in(project, monkeypatch, "rollback", "--env", "staging") == 2
    assert "has had no other version than md5-" in capsys.readouterr().err
    assert mlgate_in(project, monkeypatch, "rollback", "--env", "staging", "--to", "v9.9.9") == 2
    assert "v9.9.9 was never deployed to staging (deployed: md5-" in capsys.readouterr().err


def test_without_declared_environments_any_name_deploys_and_is_listed(
    tmp_path: Path, monkeypatch, capsys
) -> None:
    project = make_model_project(tmp_path / "project")  # no [tool.mlgate] at all
    assert (
        mlgate_in(project, monkeypatch, "deploy", "--model", "models/model.pkl", "--env", "edge")
        == 0
    )
    assert (project / ".mlgate/deployments/edge/current").is_file()
    capsys.readouterr()
    assert mlgate_in(project, monkeypatch, "deployments") == 0
    [row] = capsys.readouterr().out.splitlines()[2:]
    assert row.split()[2:5] == ["edge", "deploy", "deployed"]


# --- issue 19.2: the deployment log never loses a record, nor blocks an environment ---------


@pytest.mark.faults
@pytest.mark.parametrize("junk", ['{"id": "cut', "null", "[]", "5", '{"time": 5}', '"text"'])
def test_a_cut_or_malformed_log_line_is_skipped_with_a_warning_and_blocks_nothing(
    project: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], junk: str
) -> None:
    two_releases(project, monkeypatch)
    args = ("--env", "staging")
    assert mlgate_in(project, monkeypatch, "deploy", "--model", "scorer@v0.1.0", *args) == 0
    path = project / "deployed/staging/deployments.jsonl"
    path.write_bytes(path.read_bytes() + junk.encode())  # no newline: as a crash leaves it
    assert mlgate_in(project, monkeypatch, "deploy", "--model", "scorer@v0.2.0", *args) == 0
    assert mlgate_in(project, monkeypatch, "rollback", *args) == 0
    capsys.readouterr()
    assert mlgate_in(project, monkeypatch, "deployments", "--env", "staging", "--json") == 0
    printed = capsys.readouterr()
    listed = [(d["action"], d["version"]) for d in json.loads(printed.out)]
    assert listed == [("deploy", "v0.1.0"), ("deploy", "v0.2.0"), ("rollback", "v0.1.0")]
    assert "deployments.jsonl line 2 is not a deployment record" in printed.err
    assert printed.err.count("warning") == 1


@pytest.mark.faults
def test_a_full_disk_during_a_deploy_exits_2_keeps_current_and_logs_the_attempt(
    tmp_path: Path,
) -> None:
    """Issue 19.3, a real fault: the deploy runs with RLIMIT_FSIZE below the model's size, so
    copying it fails with EFBIG part way, as a full disk fails a write."""
    import resource

    project = make_model_project(tmp_path / "project", POLICY, pad_mb=2)
    command = [sys.executable, "-m", "mlgate", "deploy", "--model", "models/model.pkl"]
    command += ["--env", "staging"]
    deployed = subprocess.run(command, cwd=project, capture_output=True, text=True)
    assert deployed.returncode == 0, deployed.stderr
    before = current(project, "staging")
    write_params(project, {"train": {"C": 0.01}})
    dvc(project, "repro", "-q")

    def small_files() -> None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # EFBIG, as ENOSPC, not a kill
        resource.setrlimit(resource.RLIMIT_FSIZE, (1 << 20, 1 << 20))

    failed = subprocess.run(
        command,
        cwd=project,
        capture_output=True,
        text=True,
        preexec_fn=small_files,
    )
    assert failed.returncode == 2, failed.stderr
    [line] = failed.stderr.strip().splitlines()
    assert "File too large in" in line and "nothing was switched" in line
    assert "is still deployed in staging" in line
    assert current(project, "staging") == before
    entries = log(project, "staging")
    assert [e["outcome"] for e in entries] == ["deployed", "failed"]
    assert not list((project / "deployed/staging/versions").glob(".tmp-*"))


# --- issue 19.8-9: only model files are unpickled; paths are the workspace's ----------------


@pytest.mark.faults
def test_a_file_that_is_not_a_model_is_never_unpickled(
    project: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """metrics.json is a dvc.lock output like the model, but it is no pickle: refused before
    anything unpickles it (a CSV whose bytes name a module would import it)."""
    assert mlgate_in(project, monkeypatch, "deploy", "--model", "metrics.json") == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1
    assert "metrics.json is not a model file" in err and "pickle or joblib" in err
    assert current(project) is None


@pytest.mark.faults
def test_a_release_record_naming_a_path_outside_dvc_lock_copies_nothing(
    project: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from mlgate.artifacts.release_record import BEGIN, END

    for n, path in enumerate(["../../etc/passwd", "/etc/passwd", "train.py"]):
        record = json.dumps({"model": {"path": path, "md5": "0" * 32}})
        message = f"Registering artifact scorer version v0.0.{n}\n\n{BEGIN}\n{record}\n{END}\n"
        git(project, "tag", "-a", "-m", message, f"scorer@v0.0.{n}")
        capsys.readouterr()
        assert mlgate_in(project, monkeypatch, "deploy", "--model", f"scorer@v0.0.{n}") == 2
        err = capsys.readouterr().err
        # a path out of the repository is refused where the record is read; one inside it
        # that dvc.lock does not record, where it is resolved
        refused = (
            "must be a path inside the repository" if n < 2 else "is not an output in dvc.lock"
        )
        assert refused in err and len(err.strip().splitlines()) == 1, err
    assert not (project / ".mlgate/deployments/local/versions").exists() or not any(
        (project / ".mlgate/deployments/local/versions").iterdir()
    )


@pytest.mark.faults
def test_a_model_checked_out_as_a_symlink_into_the_cache_deploys(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """With DVC's cache.type symlink the workspace's models/model.pkl is a link into
    .dvc/cache: the workspace path is what dvc.lock records, not the link's target."""
    project = make_model_project(tmp_path / "project", POLICY)
    dvc(project, "config", "cache.type", "symlink")
    (project / "models" / "model.pkl").unlink()
    dvc(project, "checkout", "-q", "--relink")
    assert (project / "models" / "model.pkl").is_symlink()
    assert mlgate_in(project, monkeypatch, "deploy", "--model", "models/model.pkl") == 0
    assert "Deployed scorer" in capsys.readouterr().out


def directory_model(project: Path) -> None:
    """The scorer written into a directory output, `model/clf-model/` (model.pkl beside its
    card), declared as the artifact, as a project that keeps its model as a folder does."""
    script = (project / "train.py").read_text().replace('"models/', '"model/clf-model/')
    (project / "train.py").write_text(script.replace('"models"', '"model/clf-model"'))
    pipeline = yaml.safe_load((project / "dvc.yaml").read_text())
    pipeline["stages"]["train"]["outs"] = ["model/clf-model"]
    pipeline["artifacts"]["scorer"]["path"] = "model/clf-model"
    (project / "dvc.yaml").write_text(yaml.safe_dump(pipeline))
    git(project, "rm", "-q", "--cached", "models/model.json")
    dvc(project, "repro", "-q")
    commit_all(project, "the model as a directory")


def test_a_directory_artifact_is_released_and_deployed_verified_through_its_manifest(
    project: Path, monkeypatch, capsys
) -> None:
    """Issue 32.2: a model kept as a directory (a `.dir` manifest in dvc.lock) is released with
    the manifest's md5 and deployed: the manifest hashed against dvc.lock, the model file and
    its card against the manifest, before anything is loaded."""
    directory_model(project)
    assert mlgate_in(project, monkeypatch, "release") == 0
    capsys.readouterr()
    assert mlgate_in(project, monkeypatch, "deploy", "--model", "scorer@v0.1.0", "--env",
                     "staging") == 0  # fmt: skip
    out = capsys.readouterr().out
    assert "Deployed scorer v0.1.0" in out, out
    now = current(project, "staging")
    inner = file_md5(project / "model/clf-model/model.pkl")
    assert now is not None and now["md5"] == inner
    installed = project / "deployed/staging/versions/v0.1.0"
    assert json.loads((installed / "model.json").read_text())["features"][0]["name"] == "x1"
    # the card inside the directory is the release's input signature: a new one is major
    script = (project / "train.py").read_text()
    (project / "train.py").write_text(
        script.replace('"x2", "dtype": "float64"', '"x2", "dtype": "int64"')
    )
    dvc(project, "repro", "-q")
    commit_all(project, "x2 is an integer")
    capsys.readouterr()
    assert mlgate_in(project, monkeypatch, "release") == 0
    assert "Created tag scorer@v1.0.0" in capsys.readouterr().out


@pytest.mark.faults
@pytest.mark.parametrize("fault", ["manifest", "card", "no-cache"])
def test_a_directory_artifact_whose_manifest_or_card_was_tampered_with_is_refused(
    project: Path, fault: str, monkeypatch, capsys
) -> None:
    directory_model(project)
    assert mlgate_in(project, monkeypatch, "release") == 0
    lock = yaml.safe_load((project / "dvc.lock").read_text())
    md5 = next(o["md5"] for o in lock["stages"]["train"]["outs"] if o["path"] == "model/clf-model")
    cache = project / ".dvc/cache/files/md5"
    manifest = cache / md5[:2] / md5[2:]
    if fault == "manifest":  # another model's md5 in the manifest: its bytes no longer match
        entries = json.loads(manifest.read_text())
        next(e for e in entries if e["relpath"] == "model.pkl")["md5"] = "0" * 32
        manifest.chmod(0o644)
        manifest.write_text(json.dumps(entries))
    elif fault == "card":  # the card's object in the cache, edited
        entries = json.loads(manifest.read_text())
        card = next(e["md5"] for e in entries if e["relpath"] == "model.json")
        (project / "model/clf-model/model.json").unlink()
        obj = cache / card[:2] / card[2:]
        obj.chmod(0o644)
        obj.write_text('{"features": []}')
    else:
        shutil.rmtree(project / ".dvc/cache")
    capsys.readouterr()
    code = mlgate_in(project, monkeypatch, "deploy", "--model", "scorer@v0.1.0", "--env", "staging")
    err = capsys.readouterr().err.strip()
    assert code == 2 and len(err.splitlines()) == 1, err
    expected = {
        "manifest": "does not hash to the md5 dvc.lock records",
        "card": "is the one its manifest records",
        "no-cache": "is not in DVC's local cache",
    }[fault]
    assert expected in err
    assert current(project, "staging") is None  # nothing switched
