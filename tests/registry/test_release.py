"""Releases, promotions and deprecations on real git repositories with a bare origin.

These repositories declare metrics and an artifact in dvc.yaml but are not DVC repositories
(no .dvc/), so no pipeline runs: the slow end-to-end test with `dvc repro` is in
test_release_e2e.py. GTO itself reads what mlgate wrote.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from helpers import commit_all, git, mlgate_in, run, tag_at
from mlgate.errors import Refused
from mlgate.registry import tags as registry
from mlgate.registry.release import read_record, release

POLICY = """
[tool.mlgate]
promotion_order = ["staging", "production"]

[tool.mlgate.environments.staging]
target = "deployments/staging"

[tool.mlgate.environments.production]
target = "deployments/production"

[tool.mlgate.rules]
roc_auc = { direction = "higher", min = 0.8, tolerance = 0.01, required = true }
"""
FEATURES = [{"name": "amount", "dtype": "float64"}, {"name": "hour", "dtype": "int64"}]
NAME = "fraud"


def write_model(
    repo: Path, roc_auc: float, features: list[dict[str, str]] = FEATURES, weights: str = "w1"
) -> None:
    """What a pipeline run leaves behind: metrics, a model, its card, and dvc.lock's hashes."""
    (repo / "models").mkdir(exist_ok=True)
    (repo / "metrics.json").write_text(json.dumps({"roc_auc": roc_auc}))
    (repo / "models/model.json").write_text(json.dumps({"features": features}))
    lock = {
        "schema": "2.0",
        "stages": {
            "train": {
                "cmd": "train",
                "outs": [
                    {"path": "models/model.pkl", "md5": weights_md5(weights), "size": 10},
                    {
                        "path": "metrics.json",
                        "md5": f"{roc_auc}".replace(".", "").ljust(32, "0"),
                        "size": 17,
                    },
                ],
            }
        },
    }
    (repo / "dvc.lock").write_text(yaml.safe_dump(lock))


def weights_md5(weights: str) -> str:
    """A stand-in model's md5: 32 hex digits, as dvc.lock records them."""
    return hashlib.md5(weights.encode()).hexdigest()


@pytest.fixture
def origin(tmp_path: Path) -> Path:
    bare = tmp_path / "origin.git"
    git(tmp_path, "init", "-q", "--bare", "-b", "main", str(bare))
    return bare


@pytest.fixture
def repo(tmp_path: Path, origin: Path) -> Path:
    root = tmp_path / "repo"
    root.mkdir()
    git(root, "init", "-q", "-b", "main")
    dvc_yaml = {
        "stages": {
            "train": {
                "cmd": "train",
                "metrics": [{"metrics.json": {"cache": False}}],
                "outs": ["models/model.pkl"],
            }
        },
        "artifacts": {NAME: {"path": "models/model.pkl", "type": "model"}},
    }
    (root / "dvc.yaml").write_text(yaml.safe_dump(dvc_yaml))
    (root / "pyproject.toml").write_text(POLICY)
    write_model(root, 0.90)
    commit_all(root, "first model")
    git(root, "remote", "add", "origin", str(origin))
    git(root, "push", "-q", "origin", "main")
    return root


def new_model(repo: Path, roc_auc: float, **kwargs: object) -> None:
    write_model(repo, roc_auc, **kwargs)  # type: ignore[arg-type]
    commit_all(repo, f"model with roc_auc {roc_auc}")


def tags(repo: Path) -> list[str]:
    return git(repo, "tag", "--list").split()


def test_first_release_records_what_was_released(repo: Path, monkeypatch, capsys) -> None:
    assert mlgate_in(repo, monkeypatch, "release", "-m", "first model for the fraud team") == 0
    out = capsys.readouterr().out
    assert out.startswith(f"Created tag {NAME}@v0.1.0 on ")
    assert "Gate against the policy's bounds (first release): PASS" in out
    message = git(repo, "for-each-ref", "--format=%(contents)", f"refs/tags/{NAME}@v0.1.0")
    assert message.startswith(f"Registering artifact {NAME} version v0.1.0\n\nfirst model")
    record = read_record(message)
    assert record.commit == git(repo, "rev-parse", "HEAD")
    assert record.model.path == "models/model.pkl" and record.model.md5 == weights_md5("w1")
    assert record.metrics == {"metrics.json": {"roc_auc": 0.9}}
    assert record.gate.verdict == "pass" and record.gate.against is None
    assert record.bump.kind == "first"


@pytest.mark.parametrize(
    ("change", "expected", "kind"),
    [
        ({"roc_auc": 0.93}, "v0.2.0", "minor"),
        ({"roc_auc": 0.90, "weights": "w2"}, "v0.1.1", "patch"),
        (
            {"roc_auc": 0.89, "features": [*FEATURES, {"name": "mcc", "dtype": "str"}]},
            "v1.0.0",
            "major",
        ),
        (
            {"roc_auc": 0.90, "features": [{"name": "amount", "dtype": "int64"}, FEATURES[1]]},
            "v1.0.0",
            "major",
        ),
    ],
)
def test_auto_bump(repo: Path, change: dict, expected: str, kind: str) -> None:
    release(repo, NAME)
    new_model(repo, **change)
    made = release(repo, NAME).release
    assert (str(made.version), made.bump) == (expected, kind)
    assert read_record(made.message).previous == "v0.1.0"


def test_the_annotation_shows_values_as_the_gates_table_does(repo: Path) -> None:
    """Four decimals, the previous value too (0.9000, not 0.9)."""
    release(repo, NAME)
    new_model(repo, roc_auc=0.95)
    made = release(repo, NAME).release
    assert "  roc_auc 0.9500 (was 0.9000): pass" in made.message.splitlines()


def assert_refused(repo: Path, match: str, **kwargs: object) -> None:
    before = tags(repo)
    with pytest.raises(Refused, match=match):
        release(repo, NAME, **kwargs)  # type: ignore[arg-type]
    assert tags(repo) == before, "a refused release must not leave a tag"


def test_if_changed_releases_only_a_model_that_differs_from_the_latest_release(
    repo: Path, monkeypatch, capsys
) -> None:
    assert mlgate_in(repo, monkeypatch, "release", "--if-changed") == 0  # no release yet: released
    assert tags(repo) == [f"{NAME}@v0.1.0"]
    (repo / "README.md").write_text("docs only\n")
    commit_all(repo, "docs")
    capsys.readouterr()
    assert mlgate_in(repo, monkeypatch, "release", "--if-changed") == 0
    assert (
        capsys.readouterr().out
        == f"Nothing to release: the model is the one released as {NAME}@v0.1.0.\n"
    )
    assert tags(repo) == [f"{NAME}@v0.1.0"]
    new_model(repo, 0.90, weights="w2")
    assert mlgate_in(repo, monkeypatch, "release", "--if-changed") == 0
    assert tags(repo) == [f"{NAME}@v0.1.0", f"{NAME}@v0.1.1"]


def test_refuses_a_dirty_worktree(repo: Path) -> None:
    (repo / "metrics.json").write_text('{"roc_auc": 0.95}')
    assert_refused(repo, r"uncommitted changes \(metrics.json\): commit them first")


def test_refuses_a_commit_already_released_and_a_version_taken(repo: Path) -> None:
    release(repo, NAME)
    assert_refused(repo, rf"HEAD \([0-9a-f]{{8}}\) is already released as {NAME}@v0.1.0")
    new_model(repo, 0.91)
    assert_refused(repo, r"v0.1.0 is not above the latest version", version="v0.1.0")
    assert str(release(repo, NAME, version="0.3.0").release.version) == "v0.3.0"


def test_refuses_a_gate_failure_unless_forced_and_then_records_it(repo: Path) -> None:
    release(repo, NAME)
    new_model(repo, 0.85)
    assert_refused(repo, rf"the gate fails against {NAME}@v0.1.0: roc_auc: .*--force")
    made = release(repo, NAME, force=True).release
    record = read_record(made.message)
    assert record.gate.verdict == "fail" and record.gate.forced is True
    assert "FAIL (released with --force)" in made.message


def test_refuses_a_first_release_below_the_policys_bounds(repo: Path) -> None:
    new_model(repo, 0.7)
    assert_refused(repo, r"the gate fails against the policy's bounds \(first release\)")


def test_push_sends_only_the_release_tag(repo: Path, origin: Path) -> None:
    git(repo, "tag", "-a", "-m", "local only", "unrelated")
    made = release(repo, NAME, push=True)
    assert made.pushed and made.taken == ()
    assert git(origin, "tag", "--list").split() == [f"{NAME}@v0.1.0"]


def test_a_failed_push_keeps_no_tag(repo: Path) -> None:
    git(repo, "remote", "set-url", "origin", str(repo.parent / "nowhere.git"))
    with pytest.raises(Exception, match=rf"pushing {NAME}@v0.1.0 failed, so it was not kept"):
        release(repo, NAME, push=True)
    assert tags(repo) == []


def clone(origin: Path, path: Path) -> Path:
    git(origin.parent, "clone", "-q", str(origin), str(path))
    return path


def test_a_version_taken_meanwhile_is_planned_again(
    repo: Path, origin: Path, tmp_path: Path
) -> None:
    release(repo, NAME, push=True)
    other = clone(origin, tmp_path / "other")
    new_model(repo, 0.91, weights="a")
    new_model(other, 0.92, weights="b")
    first = release(repo, NAME, push=True)
    second = release(other, NAME, push=True)  # its tags are stale: it plans v0.2.0 too
    assert str(first.release.version) == "v0.2.0"
    assert second.taken == (f"{NAME}@v0.2.0",)
    assert str(second.release.version) == "v0.3.0"
    assert read_record(second.release.message).previous == "v0.2.0"
    assert sorted(git(origin, "tag", "--list").split()) == [
        f"{NAME}@v0.1.0",
        f"{NAME}@v0.2.0",
        f"{NAME}@v0.3.0",
    ]


RELEASE_SCRIPT = (
    "import sys; from mlgate.commands.main import main; sys.exit(main(['release', '--push']))"
)


def test_two_concurrent_releases_end_with_two_versions(
    repo: Path, origin: Path, tmp_path: Path
) -> None:
    release(repo, NAME, push=True)
    clones = [clone(origin, tmp_path / f"job{n}") for n in range(2)]
    for n, job in enumerate(clones):
        new_model(job, 0.91 + n / 100, weights=f"job{n}")
    jobs = [
        subprocess.Popen(
            [sys.executable, "-c", RELEASE_SCRIPT],
            cwd=job,
            env=os.environ,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for job in clones
    ]
    outputs = [job.communicate(timeout=60)[0] for job in jobs]
    assert [job.returncode for job in jobs] == [0, 0], outputs
    versions = sorted(git(origin, "tag", "--list").split())
    assert len(versions) == 3, outputs
    commits = {git(origin, "rev-list", "-n1", tag) for tag in versions}
    assert len(commits) == 3, "each job's commit got its own version"


def test_promotion_follows_the_policys_order(repo: Path, monkeypatch, capsys) -> None:
    release(repo, NAME)
    ref = f"{NAME}@v0.1.0"
    assert mlgate_in(repo, monkeypatch, "promote", ref, "production") == 2
    assert (
        "has not been in staging: the policy's promotion order is staging -> production"
        in capsys.readouterr().err
    )
    assert mlgate_in(repo, monkeypatch, "promote", ref, "qa") == 2
    assert (
        "unknown environment 'qa': the policy allows production, staging" in capsys.readouterr().err
    )
    assert mlgate_in(repo, monkeypatch, "promote", f"{NAME}@v9.9.9", "staging") == 2
    assert (
        f"{NAME}@v9.9.9 is not a registered version (versions: v0.1.0)" in capsys.readouterr().err
    )
    assert mlgate_in(repo, monkeypatch, "promote", "fraud-v1", "staging") == 2
    assert "is not a release: write it as NAME@vX.Y.Z" in capsys.readouterr().err
    assert tags(repo) == [ref]
    assert mlgate_in(repo, monkeypatch, "promote", ref, "staging") == 0
    assert mlgate_in(repo, monkeypatch, "assign", ref, "production") == 0
    assert sorted(tags(repo)) == sorted([ref, f"{NAME}#staging#1", f"{NAME}#production#2"])
    capsys.readouterr()
    assert mlgate_in(repo, monkeypatch, "promote", ref, "production") == 0
    assert "already the version in production: nothing to do" in capsys.readouterr().out
    assert len(tags(repo)) == 3


def test_a_deprecated_version_cannot_be_promoted(repo: Path, monkeypatch, capsys) -> None:
    release(repo, NAME)
    assert mlgate_in(repo, monkeypatch, "deprecate", f"{NAME}@v0.1.0") == 0
    assert f"{NAME}@v0.1.0!#1" in tags(repo)
    assert mlgate_in(repo, monkeypatch, "promote", f"{NAME}@v0.1.0", "staging") == 2
    assert f"{NAME}@v0.1.0 is deprecated" in capsys.readouterr().err
    assert mlgate_in(repo, monkeypatch, "deprecate", f"{NAME}@v0.1.0") == 2


def test_check_ref_reads_a_pushed_tag(repo: Path, monkeypatch, capsys, tmp_path: Path) -> None:
    release(repo, NAME)
    mlgate_in(repo, monkeypatch, "promote", f"{NAME}@v0.1.0", "staging")
    capsys.readouterr()
    outputs = tmp_path / "outputs"
    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    monkeypatch.setenv("GITHUB_OUTPUT", str(outputs))
    assert mlgate_in(repo, monkeypatch, "check-ref", f"refs/tags/{NAME}#staging#1") == 0
    meaning = json.loads(capsys.readouterr().out)
    assert meaning | {"commit": None} == {
        "artifact": NAME,
        "version": "v0.1.0",
        "event": "assignment",
        "stage": "staging",
        "tag": f"{NAME}#staging#1",
        "commit": None,
    }
    assert re.search(r"^stage<<(\S+)\nstaging\n\1$", outputs.read_text(), re.M)
    assert mlgate_in(repo, monkeypatch, "check-ref", "refs/heads/main") == 2
    assert "is not a registry tag" in capsys.readouterr().err


def test_releases_and_history(repo: Path, monkeypatch, capsys) -> None:
    release(repo, NAME)
    new_model(repo, 0.93)
    release(repo, NAME)
    mlgate_in(repo, monkeypatch, "promote", f"{NAME}@v0.1.0", "staging")
    git(repo, "tag", f"{NAME}#production#7")  # a lightweight mistake: ignored, with a warning
    capsys.readouterr()
    assert mlgate_in(repo, monkeypatch, "releases", "--json") == 0
    captured = capsys.readouterr()
    assert json.loads(captured.out) == [
        {"artifact": NAME, "latest": "v0.2.0", "stages": {"staging": "v0.1.0"}}
    ]
    assert f"ignoring lightweight tag {NAME}#production#7" in captured.err
    assert mlgate_in(repo, monkeypatch, "releases", NAME) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[2].startswith("v0.2.0") and "roc_auc 0.9300" in lines[2]
    assert lines[3].startswith("v0.1.0") and "staging" in lines[3]
    assert mlgate_in(repo, monkeypatch, "history", NAME, "--json") == 0
    events = json.loads(capsys.readouterr().out)
    assert [(e["event"], e["version"], e["stage"]) for e in events] == [
        ("registration", "v0.1.0", None),
        ("registration", "v0.2.0", None),
        ("assignment", "v0.1.0", "staging"),
    ]


def gto_json(repo: Path, *args: str) -> Any:
    return json.loads(run(repo, sys.executable, "-m", "gto.cli", *args, "--json").stdout)


def test_gto_reads_the_same_registry(repo: Path, monkeypatch, capsys) -> None:
    """mlgate's tags and GTO's own tags, read by both tools: the same artifacts, versions, stages."""
    monkeypatch.setenv("GIT_COMMITTER_DATE", "1780000000 +0000")
    release(repo, NAME)
    new_model(repo, 0.93)
    monkeypatch.setenv("GIT_COMMITTER_DATE", "1780000010 +0000")
    release(repo, NAME)
    tag_at(repo, f"{NAME}#staging#1", f"{NAME}@v0.1.0^{{commit}}", 20)
    monkeypatch.setenv("GIT_COMMITTER_DATE", "1780000030 +0000")
    run(
        repo,
        sys.executable,
        "-m",
        "gto.cli",
        "assign",
        NAME,
        "--version",
        "v0.2.0",
        "--stage",
        "staging",
    )  # GTO's own tag
    monkeypatch.setenv("GIT_COMMITTER_DATE", "1780000040 +0000")
    assert mlgate_in(repo, monkeypatch, "promote", f"{NAME}@v0.2.0", "production") == 0
    monkeypatch.setenv("GIT_COMMITTER_DATE", "1780000050 +0000")
    run(repo, sys.executable, "-m", "gto.cli", "register", "other", "HEAD~1", "--version", "v1.0.0")
    run(repo, sys.executable, "-m", "gto.cli", "register", "third", "HEAD", "--version", "v2.0.0")
    monkeypatch.setenv("GIT_COMMITTER_DATE", "1780000060 +0000")
    assert mlgate_in(repo, monkeypatch, "deprecate", "other@v1.0.0") == 0
    monkeypatch.setenv("GIT_COMMITTER_DATE", "1780000070 +0000")
    run(
        repo, sys.executable, "-m", "gto.cli", "deprecate", NAME, "v0.2.0", "staging"
    )  # GTO's unassign
    capsys.readouterr()

    shown = gto_json(repo, "show")
    mlgate_in(repo, monkeypatch, "releases", "--json")
    ours = {row["artifact"]: row for row in json.loads(capsys.readouterr().out)}
    assert set(ours) == {a for a, s in shown.items() if s["active"]}
    for artifact, state in shown.items():
        assert ours[artifact]["latest"] == state["version"], artifact
        assert {s: v for s, v in ours[artifact]["stages"].items() if v} == {
            s: v for s, v in state["stage"].items() if v
        }, artifact

    theirs = gto_json(repo, "history", NAME)
    mlgate_in(repo, monkeypatch, "history", NAME, "--json")
    ours_history = json.loads(capsys.readouterr().out)

    def key(e: dict) -> tuple:
        return (e["event"], e["version"], e["stage"], e["commit"])

    assert sorted(map(key, ours_history)) == sorted(map(key, theirs))
    reg = registry.read_registry(repo)
    assert reg.artifact(NAME).stages() == {"staging": "v0.1.0", "production": "v0.2.0"}
    assert reg.artifact("third").latest().name.version == "v2.0.0"


def test_registry_commands_import_neither_dvc_pandas_nor_sklearn(repo: Path) -> None:
    release(repo, NAME)
    code = (
        "import sys; from mlgate.commands.main import main; "
        f"codes = [main(['releases']), main(['promote', '{NAME}@v0.1.0', 'staging']), "
        f"main(['history', '{NAME}']), main(['check-ref', '{NAME}#staging#1'])]; "
        "print(codes, sorted(m for m in ('dvc', 'pandas', 'sklearn', 'gto') if m in sys.modules))"
    )
    result = subprocess.run([sys.executable, "-c", code], cwd=repo, capture_output=True, text=True)
    assert result.stdout.strip().endswith("[0, 0, 0, 0] []"), result.stdout + result.stderr


def test_auto_promote_puts_each_new_release_in_its_environment(
    repo: Path, origin: Path, monkeypatch, capsys
) -> None:
    pyproject = repo / "pyproject.toml"
    pyproject.write_text(
        pyproject.read_text() + '\n[tool.mlgate.retrain]\nauto_promote = "staging"\n'
    )
    commit_all(repo, "auto-promote releases to staging")
    assert mlgate_in(repo, monkeypatch, "release", "--push") == 0
    out = capsys.readouterr().out
    assert (
        f"Created tag {NAME}#staging#1 and pushed it to origin: {NAME}@v0.1.0 is in staging" in out
    )
    assert sorted(git(origin, "tag", "--list").split()) == [f"{NAME}#staging#1", f"{NAME}@v0.1.0"]
    new_model(repo, 0.93)
    assert mlgate_in(repo, monkeypatch, "release", "--push") == 0
    assert f"{NAME}@v0.2.0 is in staging" in capsys.readouterr().out
    assert git(repo, "rev-parse", f"{NAME}#staging#2^{{commit}}") == git(repo, "rev-parse", "HEAD")


@pytest.mark.parametrize(
    "path", ["models/other.pkl", "models", "../models/model.pkl", "metrics.json.bak"]
)
def test_an_artifact_that_no_stage_writes_is_refused_in_one_line(
    repo: Path, path: str, monkeypatch, capsys
) -> None:
    """Issue 32.2: dvc.yaml's artifact named a file no stage writes, and the release went out
    without an md5 (no deploy could verify it)."""
    dvc_yaml = yaml.safe_load((repo / "dvc.yaml").read_text())
    dvc_yaml["artifacts"][NAME]["path"] = path
    (repo / "dvc.yaml").write_text(yaml.safe_dump(dvc_yaml))
    commit_all(repo, "an artifact nothing writes")
    assert_refused(repo, "no stage in dvc.lock writes it")
    assert mlgate_in(repo, monkeypatch, "release", NAME) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "no stage in dvc.lock writes it" in err


def test_a_directory_artifact_is_released_with_its_manifest_s_md5(
    repo: Path, monkeypatch, capsys
) -> None:
    """A model kept as a directory (`model/clf-model`, a `.dir` manifest in dvc.lock) is
    released with the md5 DVC records for it, not without one."""
    dvc_yaml = yaml.safe_load((repo / "dvc.yaml").read_text())
    dvc_yaml["artifacts"][NAME]["path"] = "model/clf-model"
    dvc_yaml["stages"]["train"]["outs"] = ["model/clf-model"]
    (repo / "dvc.yaml").write_text(yaml.safe_dump(dvc_yaml))
    lock = yaml.safe_load((repo / "dvc.lock").read_text())
    manifest = weights_md5("dir") + ".dir"
    lock["stages"]["train"]["outs"][0] = {
        "path": "model/clf-model", "md5": manifest, "size": 20, "nfiles": 2
    }  # fmt: skip
    (repo / "dvc.lock").write_text(yaml.safe_dump(lock))
    commit_all(repo, "a directory model")
    made = release(repo, NAME).release
    record = read_record(made.message)
    assert record is not None
    assert (record.model.path, record.model.md5) == ("model/clf-model", manifest)
    # deploying it needs the manifest, which only DVC's cache holds: said in one line
    deployed = mlgate_in(
        repo, monkeypatch, "deploy", "--model", f"{NAME}@v0.1.0", "--env", "staging"
    )
    err = capsys.readouterr().err.strip()
    assert deployed == 2 and len(err.splitlines()) == 1, err
    assert "the manifest of its model directory 'model/clf-model'" in err
    assert "is not in DVC's local cache" in err
    assert not (repo / "deployments").exists()
