"""The workflows `mlgate init` writes, run step by step (actions_runner.py) on real git
repositories with a bare origin, real `dvc repro`, and GitHub's REST API played by a server on
127.0.0.1 (fake_github.py)."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from actions_runner import Job, pull_request_event, run_job
from daily_loop import POLICY_OF_THE_LOOP, get, send
from fake_github import FakeGitHub, fake_github
from helpers import (
    PLAIN_TRAIN,
    commit_all,
    dvc,
    git,
    make_fetch_project,
    make_model_project,
    make_plain_project,
    make_predict_project,
    make_project,
    mlgate_in,
    push_to_new_origin,
    retrain,
)
from mlgate import init
from mlgate.pipeline.synthetic import generate_transactions

pytestmark = pytest.mark.slow

POLICY = """\
[tool.mlgate]
base = "main"

[tool.mlgate.rules]
accuracy = { direction = "higher", tolerance = 0.01 }
"""
PULL_REQUEST = 7


@pytest.fixture
def workflows(tmp_path: Path) -> Path:
    """The workflows as `mlgate init` writes them for any repository."""
    folder = tmp_path / "workflows"
    for path, content in init.workflows(init.Settings()).items():
        if path.startswith(".github/workflows/"):
            (folder / Path(path).name).parent.mkdir(exist_ok=True)
            (folder / Path(path).name).write_text(content)
    return folder


@pytest.fixture
def project(tmp_path: Path) -> tuple[Path, Path]:
    """A developer's clone whose main branch has a model wrong on 5% of its rows, pushed to a
    bare origin."""
    developer = make_predict_project(tmp_path / "developer", 2_000, POLICY)
    retrain(developer, flip=0.05)
    commit_all(developer, "a model on main")
    origin = push_to_new_origin(developer, tmp_path / "origin.git")
    return developer, origin


def push_model(developer: Path, branch: str, flip: float) -> str:
    git(developer, "checkout", "-q", "-B", branch, "main" if branch != "main" else "HEAD")
    retrain(developer, flip=flip)
    commit_all(developer, f"a model wrong on {flip:.0%} of the rows")
    git(developer, "push", "-q", "-f", "origin", branch)
    return git(developer, "rev-parse", "HEAD")


def scheduled(sha: str, server: FakeGitHub) -> dict[str, str]:
    """The context of the retrain workflow's nightly run on main."""
    return {
        "github.token": "t0ken",
        "github.ref": "refs/heads/main",
        "github.sha": sha,
        "github.event_name": "schedule",
        "github.repository": "team/model",
        "github.api_url": server.url,
    }


def pushed_to_main(sha: str) -> dict[str, str]:
    """The context of the release workflow's run on a push to main."""
    return {
        "github.token": "t0ken",
        "github.ref": "refs/heads/main",
        "github.sha": sha,
        "github.event_name": "push",
        "github.repository": "team/model",
    }


def pull_request_job(
    workflows: Path, developer: Path, origin: Path, sha: str, server: FakeGitHub, workspace: Path
) -> Job:
    context = {
        "github.token": "t0ken",
        "github.base_ref": "main",
        "github.head_ref": "change",
        "github.ref": f"refs/pull/{PULL_REQUEST}/merge",
        "github.sha": sha,
        "github.event_name": "pull_request",
        "github.repository": "team/model",
        "github.api_url": server.url,
        "event": pull_request_event(PULL_REQUEST, "main", sha),
    }
    return run_job(
        workflows / "pr.yml",
        "gate",
        workspace,
        origin.as_uri(),
        sha,
        context,
        dvc_cache=developer / ".dvc" / "cache",
    )


SLICED_POLICY = """\
[tool.mlgate]
base = "main"
predictions = "eval/predictions.csv"

[tool.mlgate.rules]
accuracy = { direction = "higher", tolerance = 0.05 }

[tool.mlgate.slices]
columns = ["segment"]

[tool.mlgate.slices.rules]
accuracy = { direction = "higher", significance = 0.05, min_effect = 0.02 }
"""


def test_the_pull_request_job_passes_an_improvement_fails_a_regression_and_comments_once(
    workflows: Path, project: tuple[Path, Path], tmp_path: Path
) -> None:
    """Main judges each segment too: a change worse everywhere fails, and so does one worse in
    one segment only, which moves the whole file's accuracy within the rule's tolerance."""
    developer, origin = project
    (developer / "pyproject.toml").write_text(SLICED_POLICY)
    commit_all(developer, "gate each segment")
    git(developer, "push", "-q", "origin", "main")
    with fake_github() as server:
        better = push_model(developer, "change", flip=0.0)
        first = pull_request_job(workflows, developer, origin, better, server, tmp_path / "run1")
        assert first.succeeded, [(s.name, s.exit_code, s.output[-500:]) for s in first.steps]
        assert "PASS" in first.step("Gate").output
        assert "mlgate" in first.summary and "PASS" in first.summary
        assert "mlgate-report.md" in first.uploaded
        worse = push_model(developer, "change", flip=0.2)
        second = pull_request_job(workflows, developer, origin, worse, server, tmp_path / "run2")
        assert second.step("Gate").exit_code == 1 and not second.succeeded
        assert "FAIL" in second.summary
        assert second.step("Upload the report and plots").exit_code == 0  # runs after a failure
        [comment] = server.comments[PULL_REQUEST]
        assert "FAIL" in comment["body"] and "accuracy" in comment["body"]
        git(developer, "checkout", "-q", "-B", "change", "main")
        retrain(developer, flip=0.1, flip_segment="s2")  # wrong on a tenth of s2's right rows
        commit_all(developer, "a model worse in one segment")
        git(developer, "push", "-q", "-f", "origin", "HEAD:change")
        sha = git(developer, "rev-parse", "HEAD")
        third = pull_request_job(workflows, developer, origin, sha, server, tmp_path / "run3")
        gate = third.step("Gate").output
        assert third.step("Gate").exit_code == 1, gate[-1500:]
        assert "FAIL: 1 slice significantly worse (accuracy on segment = s2)" in gate
        assert "checks failed" not in gate  # the whole file's accuracy, within its tolerance
        [comment] = server.comments[PULL_REQUEST]  # the same comment, updated
        assert "segment = s2" in comment["body"] and "### Slices" in comment["body"]
        tokens = {r["authorization"] for r in server.requests}
        assert tokens == {"Bearer t0ken"}


def test_the_release_job_tags_a_changed_model_once(
    workflows: Path, project: tuple[Path, Path], tmp_path: Path
) -> None:
    developer, origin = project
    sha = push_model(developer, "main", flip=0.0)
    context = pushed_to_main(sha)
    job = run_job(
        workflows / "release.yml", "release", tmp_path / "run1", origin.as_uri(), sha, context
    )
    assert job.succeeded, [(s.name, s.exit_code, s.output[-500:]) for s in job.steps]
    assert "Created tag predictor@v0.1.0" in job.step("Release if the model changed").output
    assert git(origin, "tag", "--list") == "predictor@v0.1.0"
    again = run_job(
        workflows / "release.yml", "release", tmp_path / "run2", origin.as_uri(), sha, context
    )
    assert "Nothing to release" in again.step("Release if the model changed").output
    assert git(origin, "tag", "--list") == "predictor@v0.1.0"


def test_the_release_job_pulls_the_data_dvc_lock_records_from_the_remote(
    workflows: Path, tmp_path: Path
) -> None:
    """A project whose model DVC caches (not git): the release job's fresh checkout has none of
    the data, and `--pull --allow-missing` would leave it out, so the release found the
    pipeline stale; the job pulls it from the DVC remote instead."""
    developer = make_model_project(tmp_path / "developer")
    dvc(developer, "remote", "add", "--default", "storage", str(tmp_path / "storage"))
    commit_all(developer, "a DVC remote")
    dvc(developer, "push", "-q")
    origin = push_to_new_origin(developer, tmp_path / "origin.git")
    sha = git(developer, "rev-parse", "HEAD")
    context = pushed_to_main(sha)
    job = run_job(
        workflows / "release.yml", "release", tmp_path / "run", origin.as_uri(), sha, context
    )
    assert job.succeeded, [(s.name, s.exit_code, s.output[-800:]) for s in job.steps]
    assert "Created tag scorer@v0.1.0" in job.step("Release if the model changed").output


def test_the_retrain_job_opens_a_pull_request_when_fresh_data_changes_the_model(
    workflows: Path, tmp_path: Path
) -> None:
    upstream = tmp_path / "upstream.txt"
    upstream.write_text("0.05")
    policy = POLICY + '\n[tool.mlgate.retrain]\nrefresh = ["fetch"]\n'
    developer = make_fetch_project(tmp_path / "developer", upstream, 2_000, policy)
    origin = push_to_new_origin(developer, tmp_path / "origin.git")
    sha = git(developer, "rev-parse", "HEAD")
    upstream.write_text("0.0")
    with fake_github() as server:
        context = scheduled(sha, server)
        job = run_job(
            workflows / "retrain.yml", "retrain", tmp_path / "run", origin.as_uri(), sha, context
        )
        assert job.succeeded, [(s.name, s.exit_code, s.output[-800:]) for s in job.steps]
        assert "opened pull request #1" in job.step("Retrain and propose").output
        [pull] = server.pulls
        assert (pull["head"], pull["base"]) == ("mlgate/retrain", "main")
        assert "PASS" in job.summary and job.uploaded == ["mlgate-report.md"]
    assert git(origin, "show", "mlgate/retrain:model.txt") == "flip 0.0"


def test_the_workflows_init_writes_into_a_plain_repository_run_there(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    developer = make_plain_project(tmp_path / "developer")
    assert mlgate_in(developer, monkeypatch, "init") == 0
    dvc(developer, "repro", "-q")
    commit_all(developer, "mlgate init")
    origin = push_to_new_origin(developer, tmp_path / "origin.git")
    workflows = developer / ".github" / "workflows"

    def change(accuracy: float) -> str:
        git(developer, "checkout", "-q", "-B", "change", "main")
        (developer / "train.py").write_text(PLAIN_TRAIN.replace("0.91", str(accuracy)))
        dvc(developer, "repro", "-q")
        commit_all(developer, f"accuracy {accuracy}")
        git(developer, "push", "-q", "-f", "origin", "change")
        return git(developer, "rev-parse", "HEAD")

    with fake_github() as server:
        better = change(0.95)
        passed = pull_request_job(workflows, developer, origin, better, server, tmp_path / "pr1")
        assert passed.succeeded, [(s.name, s.exit_code, s.output[-500:]) for s in passed.steps]
        worse = change(0.85)
        failed = pull_request_job(workflows, developer, origin, worse, server, tmp_path / "pr2")
        assert failed.step("Gate").exit_code == 1 and "accuracy" in failed.summary
        assert len(server.comments[PULL_REQUEST]) == 1
    main = git(developer, "rev-parse", "main")
    push = {
        "github.token": "t0ken",
        "github.ref": "refs/heads/main",
        "github.sha": main,
        "github.event_name": "push",
        "github.repository": "team/plain",
    }
    for workflow, job, step, said in (
        ("release.yml", "release", "Release if the model changed", "Nothing to release"),
        ("retrain.yml", "retrain", "Retrain and propose", "Nothing to retrain"),
    ):
        run = run_job(workflows / workflow, job, tmp_path / job, origin.as_uri(), main, push)
        assert run.succeeded and said in run.step(step).output, run.step(step).output


def test_the_deploy_job_deploys_the_promoted_version_from_the_dvc_remote(
    workflows: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    served = tmp_path / "served"
    policy = (
        f'[project]\nname = "scorer"\n\n[tool.mlgate.environments.production]\n'
        f'target = "{served / "production"}"\n'
    )
    developer = make_model_project(tmp_path / "developer", policy)
    dvc(developer, "remote", "add", "--default", "storage", str(tmp_path / "storage"))
    commit_all(developer, "a DVC remote")
    dvc(developer, "push", "-q")
    origin = push_to_new_origin(developer, tmp_path / "origin.git")
    assert mlgate_in(developer, monkeypatch, "release", "--push") == 0
    assert (
        mlgate_in(developer, monkeypatch, "promote", "scorer@v0.1.0", "production", "--push") == 0
    )
    tag = "scorer#production#1"
    sha = git(developer, "rev-parse", f"{tag}^{{commit}}")
    context = {
        "github.token": "t0ken",
        "github.ref": f"refs/tags/{tag}",
        "github.sha": sha,
        "github.ref_name": tag,
        "github.event_name": "push",
        "github.repository": "team/scorer",
    }
    resolve = run_job(
        workflows / "deploy.yml", "resolve", tmp_path / "resolve", origin.as_uri(), sha, context
    )
    assert resolve.succeeded, [(s.name, s.exit_code, s.output[-800:]) for s in resolve.steps]
    assert resolve.outputs["ref.event"] == "assignment"
    needs = {f"needs.resolve.outputs.{k.split('.', 1)[1]}": v for k, v in resolve.outputs.items()}
    job = run_job(
        workflows / "deploy.yml",
        "deploy",
        tmp_path / "deploy",
        origin.as_uri(),
        sha,
        {**context, **needs},
    )
    assert job.succeeded, [(s.name, s.exit_code, s.output[-800:]) for s in job.steps]
    output = job.step("Deploy").output
    assert output.startswith(
        "Deployment started for model 'scorer@v0.1.0' in 'production' "
        "environment with monitoring enabled."
    )
    assert "Deployed scorer v0.1.0" in output and "smoke test: 3 rows predicted" in output
    current = json.loads((served / "production" / "current").read_text())
    assert (current["version"], current["monitoring"], current["commit"]) == ("v0.1.0", True, sha)


@pytest.mark.long
def test_the_daily_loop_merges_releases_canaries_and_judges_on_late_labels(
    workflows: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    """The daily loop, hands-off, locally: a model served in production sees drifted traffic;
    the retrain workflow finds drift, retrains on the drifted upstream data, opens a pull
    request whose gate passes and turns on auto-merge; merged, it is released and promoted to
    staging by the policy, deployed to production as a canary, and judged on late labels: not
    worse, promoted. Then an upstream labelling bug: the next model passes the gate (its test
    set has the same bug), is merged, released and canaried the same way, and live labels show
    it worse: rolled back, the good model serving every request."""
    from mlgate.deploy import deployments, environments
    from mlgate.git import WORKSPACE, revision
    from mlgate.snapshot import read_policy
    from servers import serving

    upstream = tmp_path / "upstream.csv"
    target, staging = tmp_path / "deployments" / "production", tmp_path / "deployments" / "staging"
    generate_transactions(3_000, seed=1).to_csv(upstream, index=False)
    params = {"data": {"source": str(upstream), "target": "is_fraud", "id": "transaction_id"}}
    developer = make_project(tmp_path / "developer", params, commit=False)
    (developer / "pyproject.toml").write_text(
        POLICY_OF_THE_LOOP.format(target=target, staging=staging)
    )
    dvc(developer, "repro", "-q")
    commit_all(developer, "a fraud model on main")
    origin = push_to_new_origin(developer, tmp_path / "origin.git")
    assert mlgate_in(developer, monkeypatch, "release", "--version", "v0.1.0", "--push") == 0
    deploy = ("deploy", "--env", "production", "--monitoring", "enable")
    assert mlgate_in(developer, monkeypatch, *deploy, "--model", "fraud-detector@v0.1.0") == 0
    env = environments.environment(
        developer, read_policy(revision(WORKSPACE, developer)), "production"
    )
    names = [
        f["name"] for f in json.loads((developer / "models/model.json").read_text())["features"]
    ]

    def retrain_job(run: str, *, monitor: bool = True) -> Job:
        sha = git(origin, "rev-parse", "main")
        context = scheduled(sha, server)
        if monitor:  # retrain on drift; without it, on every schedule
            context["vars.MLGATE_MONITOR_ENV"] = "production"
        return run_job(
            workflows / "retrain.yml", "retrain", tmp_path / run, origin.as_uri(), sha, context
        )

    def merged_released_and_canaried(run: str) -> tuple[Path, str]:
        """GitHub merges the pull request auto-merge was enabled on; the release job releases
        it (promoted to staging by the policy); production gets it as a canary. (The runner's
        checkout, the version.)"""
        [pull] = [p for p in server.pulls if p["state"] == "open"]
        proposed = git(origin, "rev-parse", "refs/heads/mlgate/retrain")
        assert pull["auto_merge"] == {"merge_method": "SQUASH", "expected_head": proposed}
        git(origin, "update-ref", "refs/heads/main", proposed)
        pull["state"] = "closed"
        runner = tmp_path / run
        git(runner, "fetch", "-q", "origin", "main")
        git(runner, "checkout", "-q", "-f", "FETCH_HEAD")
        capsys.readouterr()
        assert mlgate_in(runner, monkeypatch, "release", "--push") == 0
        out = capsys.readouterr().out
        version = out.split("Created tag fraud-detector@", 1)[1].split(" ", 1)[0]
        assert f"fraud-detector@{version} is in staging" in out, out
        model = ("--model", f"fraud-detector@{version}")
        assert mlgate_in(runner, monkeypatch, *deploy, *model, "--canary", "50") == 0
        deadline = time.monotonic() + 30
        while json.loads(get(address, "/version")).get("canary", {}).get("version") != version:
            assert time.monotonic() < deadline, f"the server did not take {version} as a canary"
            time.sleep(0.2)
        return runner, version

    def judged(runner: Path, truth: dict[str, int], expected: int) -> str:
        labels = runner.parent / f"{runner.name}-labels.csv"  # chargebacks, days later
        labels.write_text("request_id,label\n" + "".join(f"{k},{v}\n" for k, v in truth.items()))
        capsys.readouterr()
        judge = ("canary", "--env", "production", "--labels", str(labels), "--apply")
        code = mlgate_in(runner, monkeypatch, *judge, "--metrics", f"http://{address}/metrics")
        out = capsys.readouterr().out
        assert code == expected, out
        return out

    with fake_github() as server, serving(env) as address:
        quiet = retrain_job("run-quiet")  # nothing logged yet: not enough data, no retraining
        assert quiet.succeeded and quiet.step("Retrain and propose").exit_code is None
        assert "NOT ENOUGH DATA" in quiet.step("Look for drift").output and not server.pulls

        send(address, 600, seed=2, drift=1.0, names=names)
        generate_transactions(3_000, seed=3, drift=1.0).to_csv(upstream, index=False)
        job = retrain_job("run-drift")
        assert job.succeeded, [(s.name, s.exit_code, s.output[-1500:]) for s in job.steps]
        assert job.outputs["monitor.drift"] == "true"
        proposing = job.step("Retrain and propose").output
        assert "PASS" in proposing and "Auto-merge enabled on pull request #1" in proposing
        runner, good = merged_released_and_canaried("run-drift")
        truth = send(address, 1_000, seed=4, drift=1.0, names=names, prefix="day1")
        out = judged(runner, truth, 0)
        assert f"PROMOTE: canary {good} against v0.1.0" in out
        deadline = time.monotonic() + 30
        while json.loads(get(address, "/version"))["version"] != good:
            assert time.monotonic() < deadline, f"the server did not switch to {good}"
            time.sleep(0.2)
        assert "canary" not in json.loads(get(address, "/version"))

        # An upstream labelling bug: every night-time payment marked fraud. The test split has
        # the bug too, so the new model's metrics look fine and the gate passes it.
        buggy = generate_transactions(3_000, seed=5, drift=1.0)
        buggy["is_fraud"] = (buggy["hour"] < 6).astype(int)
        buggy.to_csv(upstream, index=False)
        job = retrain_job("run-bug", monitor=False)
        proposing = job.step("Retrain and propose").output
        assert job.succeeded and "PASS" in proposing, proposing[-1500:]
        runner, bad = merged_released_and_canaried("run-bug")
        truth = send(address, 1_000, seed=7, drift=1.0, names=names, prefix="day2")
        out = judged(runner, truth, 1)
        assert f"ROLL BACK: canary {bad} against {good} (accuracy: worse" in out
        deadline = time.monotonic() + 30
        while "canary" in json.loads(get(address, "/version")):
            assert time.monotonic() < deadline, "the server kept the rolled-back canary"
            time.sleep(0.2)
        assert json.loads(get(address, "/version"))["version"] == good
    actions = [(d.action, d.version) for d in deployments.read_log(env)]
    assert actions == [
        ("deploy", "v0.1.0"),
        ("canary", good),
        ("promote", good),
        ("canary", bad),
        ("remove-canary", bad),
    ]
