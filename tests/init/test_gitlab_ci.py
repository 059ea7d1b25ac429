"""The .gitlab-ci.yml `mlgate init --ci gitlab` writes: valid under GitLab's CI schema (offline,
check-jsonschema's copy), the right jobs for each kind of pipeline, and its jobs run as a
GitLab runner would (gitlab_runner.py) on real git repositories with a bare origin, real `dvc
repro`, and GitLab's API played by a server on 127.0.0.1 (fake_gitlab.py)."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from fake_gitlab import PROJECT, FakeGitLab, fake_gitlab
from gitlab_runner import pipeline_jobs, run_job
from helpers import (
    commit_all,
    dvc,
    git,
    make_model_project,
    make_plain_project,
    make_predict_project,
    make_project,
    mlgate_in,
    push_to_new_origin,
    retrain,
)
from mlgate import init

TOOLS = Path(sys.executable).parent
TOKEN = "glpat-t0ken"
POLICY = """\
[tool.mlgate]
base = "main"

[tool.mlgate.rules]
accuracy = { direction = "higher", tolerance = 0.01 }
"""
ENVIRONMENTS = (
    '[tool.mlgate.environments.staging]\ntarget = "{0}/staging"\n\n'
    '[tool.mlgate.environments.production]\ntarget = "{0}/production"\n'
)


def ci_file(tmp_path: Path, environments: tuple[str, ...] = ("staging", "production")) -> Path:
    path = tmp_path / "ci" / ".gitlab-ci.yml"
    path.parent.mkdir(parents=True, exist_ok=True)
    settings = init.Settings(environments=environments)
    path.write_text(init.workflows(settings, "gitlab")[".gitlab-ci.yml"])
    return path


def schema_check(path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(TOOLS / "check-jsonschema"), "--builtin-schema", "vendor.gitlab-ci", str(path)],
        capture_output=True,
        text=True,
    )


def test_the_pipeline_passes_gitlabs_schema_which_catches_a_broken_one(tmp_path: Path) -> None:
    path = ci_file(tmp_path)
    result = schema_check(path)
    assert result.returncode == 0, result.stdout + result.stderr
    broken = tmp_path / "broken.yml"
    document = yaml.safe_load(path.read_text())
    document["gate"]["artifacts"]["reports"] = {"junit": 3}
    document["release"]["when"] = "whenever"
    broken.write_text(yaml.safe_dump(document))
    assert schema_check(broken).returncode == 1


def pipeline(**variables: str) -> dict[str, str]:
    return {"CI_DEFAULT_BRANCH": "main", **variables}


@pytest.mark.parametrize(
    ("variables", "jobs"),
    [
        (
            pipeline(CI_PIPELINE_SOURCE="merge_request_event", CI_COMMIT_REF_NAME="change"),
            ["gate"],
        ),
        (pipeline(CI_PIPELINE_SOURCE="push", CI_COMMIT_BRANCH="main"), ["release"]),
        (pipeline(CI_PIPELINE_SOURCE="push", CI_COMMIT_BRANCH="change"), []),
        (
            pipeline(
                CI_PIPELINE_SOURCE="push",
                CI_COMMIT_BRANCH="change",
                CI_OPEN_MERGE_REQUESTS="team/model!1",
            ),
            [],
        ),
        (
            pipeline(CI_PIPELINE_SOURCE="push", CI_COMMIT_TAG="scorer#production#3"),
            ["deploy-production"],
        ),
        (pipeline(CI_PIPELINE_SOURCE="push", CI_COMMIT_TAG="scorer#staging#1"), ["deploy-staging"]),
        (pipeline(CI_PIPELINE_SOURCE="push", CI_COMMIT_TAG="scorer@v0.1.0"), []),
        (pipeline(CI_PIPELINE_SOURCE="push", CI_COMMIT_TAG="scorer#production!#4"), []),
        (pipeline(CI_PIPELINE_SOURCE="push", CI_COMMIT_TAG="x#production#3#staging#1"), []),
        (pipeline(CI_PIPELINE_SOURCE="schedule", CI_COMMIT_BRANCH="main"), ["retrain"]),
        (pipeline(CI_PIPELINE_SOURCE="schedule", CI_COMMIT_BRANCH="old"), []),
    ],
)
def test_each_pipeline_has_the_jobs_its_event_calls_for(
    tmp_path: Path, variables: dict[str, str], jobs: list[str]
) -> None:
    """A deprecation tag (`!`) deploys nothing; a promotion deploys to its own environment
    only, so GitLab's protected environments decide who may deploy there."""
    assert pipeline_jobs(ci_file(tmp_path), variables) == jobs


def test_no_secret_reaches_a_log_and_the_job_token_is_never_used(tmp_path: Path) -> None:
    """GitLab prints every script line before running it: the token is only ever named, in
    the one line that gives git the address to push to (and GitLab masks its value)."""
    text = ci_file(tmp_path).read_text()
    document = yaml.safe_load(text)
    assert "CI_JOB_TOKEN" not in text
    lines = [line for job in document.values() if isinstance(job, dict) for line in _script(job)]
    named = {line for line in lines if "TOKEN" in line}
    assert named == {
        'git remote set-url origin "${CI_SERVER_PROTOCOL}://oauth2:${GITLAB_TOKEN}@'
        '${CI_SERVER_FQDN}/${CI_PROJECT_PATH}.git"'
    }
    assert not any(
        line.lstrip().startswith(("echo", "set -x", "env", "printenv")) for line in lines
    )
    assert "GITLAB_TOKEN" not in yaml.safe_dump(document.get("variables"))


def _script(job: dict[str, object]) -> list[str]:
    lines: list[str] = []
    for key in ("before_script", "script", "after_script"):
        stack = [job.get(key) or []]
        while stack:
            item = stack.pop()
            if isinstance(item, list):
                stack.extend(reversed(item))
            elif isinstance(item, str):
                lines.append(item)
    return lines


def test_a_name_that_cannot_be_a_job_is_refused_before_anything_is_written(
    tmp_path: Path,
) -> None:
    with pytest.raises(Exception, match="cannot write a deploy job"):
        init.workflows(init.Settings(environments=("prod'\n  script: [x]",)), "gitlab")


# --- the jobs, run -------------------------------------------------------------------------


def variables_for(server: FakeGitLab, **extra: str) -> dict[str, str]:
    return {
        **server.env(),
        "CI_DEFAULT_BRANCH": "main",
        "CI_PROJECT_PATH": PROJECT,
        "CI_SERVER_PROTOCOL": "http",
        "CI_SERVER_HOST": "gitlab.test",
        "CI_SERVER_FQDN": "gitlab.test",
        **extra,
    }


def push_address(origin: Path) -> dict[str, str]:
    """Where a job's pushes go: GitLab's address with the token, which the runner machine's git
    sends to the bare origin instead (git's own url.insteadOf)."""
    address = f"http://oauth2:{TOKEN}@gitlab.test/{PROJECT}.git"
    return {f"url.{origin.as_uri()}.insteadOf": address}


@pytest.mark.slow
def test_the_merge_request_gate_passes_an_improvement_fails_a_regression_in_one_note(
    tmp_path: Path,
) -> None:
    developer = make_predict_project(tmp_path / "developer", 2_000, POLICY)
    retrain(developer, flip=0.05)
    commit_all(developer, "a model on main")
    origin = push_to_new_origin(developer, tmp_path / "origin.git")
    path = ci_file(tmp_path, ())
    with fake_gitlab() as server:
        server.merge_requests.append(
            {
                "iid": 1,
                "state": "opened",
                "source_branch": "change",
                "target_branch": "main",
                "web_url": f"{server.url}/{PROJECT}/-/merge_requests/1",
            }
        )
        runs = []
        for number, flip in enumerate((0.0, 0.2)):
            git(developer, "checkout", "-q", "-B", "change", "main")
            retrain(developer, flip=flip)
            commit_all(developer, f"a model wrong on {flip:.0%} of the rows")
            git(developer, "push", "-q", "-f", "origin", "change")
            sha = git(developer, "rev-parse", "HEAD")
            variables = variables_for(
                server,
                CI_PIPELINE_SOURCE="merge_request_event",
                CI_COMMIT_REF_NAME="change",
                CI_MERGE_REQUEST_IID="1",
                CI_MERGE_REQUEST_TARGET_BRANCH_NAME="main",
            )
            runs.append(
                run_job(
                    path,
                    "gate",
                    tmp_path / f"run{number}",
                    origin.as_uri(),
                    sha,
                    variables,
                    dvc_cache=developer / ".dvc" / "cache",
                )
            )
        better, worse = runs
        assert better.succeeded, better.output[-1500:]
        assert "PASS" in better.output and 'failures="0"' in (better.junit or "")
        assert "created the merge request comment" in better.after_output
        assert worse.exit_code == 1 and "FAIL" in worse.output
        assert 'failures="1"' in (worse.junit or "") and "accuracy" in (worse.junit or "")
        assert "updated the merge request comment" in worse.after_output
        assert worse.artifacts == ["mlgate-report.md"]
        [note] = server.notes[1]
        assert "FAIL" in note["body"] and "accuracy" in note["body"]
        assert {r["token"] for r in server.requests} == {TOKEN}


@pytest.mark.slow
def test_a_promotion_tag_deploys_to_its_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    served = tmp_path / "served"
    policy = '[project]\nname = "scorer"\n\n' + ENVIRONMENTS.format(served)
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
    with fake_gitlab() as server:
        variables = variables_for(server, CI_PIPELINE_SOURCE="push", CI_COMMIT_TAG=tag)
        path = ci_file(tmp_path)
        assert pipeline_jobs(path, variables) == ["deploy-production"]
        job = run_job(path, "deploy-production", tmp_path / "run", origin.as_uri(), sha, variables)
    assert job.succeeded, job.output[-1500:]
    assert "Deployed scorer v0.1.0" in job.output
    current = json.loads((served / "production" / "current").read_text())
    assert (current["version"], current["monitoring"], current["commit"]) == ("v0.1.0", True, sha)
    assert not (served / "staging").exists()


@pytest.mark.slow
def test_init_writes_the_gitlab_pipeline_into_a_plain_repository(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    repo = make_plain_project(tmp_path / "plain")
    assert mlgate_in(repo, monkeypatch, "init", "--ci", "gitlab") == 0
    out = capsys.readouterr().out
    assert "wrote     .gitlab-ci.yml" in out and ".github" not in out
    assert "CODEOWNERS" in out and "Pipelines must succeed" in out
    assert not (repo / ".github").exists()
    assert schema_check(repo / ".gitlab-ci.yml").returncode == 0
    assert mlgate_in(repo, monkeypatch, "init", "--ci", "gitlab") == 0
    assert "unchanged .gitlab-ci.yml" in capsys.readouterr().out


@pytest.mark.slow
def test_retraining_stops_when_the_monitored_environment_cannot_be_read(tmp_path: Path) -> None:
    """MLGATE_MONITOR_ENV names an environment that is not declared: the monitor's exit 2 is
    the job's failure, never a retraining started anyway."""
    developer = make_predict_project(tmp_path / "developer", 200, POLICY)
    origin = push_to_new_origin(developer, tmp_path / "origin.git")
    sha = git(developer, "rev-parse", "HEAD")
    with fake_gitlab() as server:
        variables = variables_for(
            server,
            CI_PIPELINE_SOURCE="schedule",
            CI_COMMIT_BRANCH="main",
            MLGATE_MONITOR_ENV="nowhere",
        )
        job = run_job(
            ci_file(tmp_path, ()), "retrain", tmp_path / "run", origin.as_uri(), sha, variables
        )
        assert job.exit_code == 1 and "nowhere" in job.output, job.output[-800:]
        assert "mlgate retrain" not in job.output and server.merge_requests == []


@pytest.mark.slow
@pytest.mark.long
def test_the_daily_loop_on_gitlab_merges_releases_and_promotes_a_canary(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    """The daily loop's first day (tests/init/test_workflows.py runs both days on GitHub), with
    GitLab's jobs: production sees drifted traffic; the scheduled `retrain` job finds the drift,
    retrains, opens a merge request whose gate passes and sets it to merge when its pipeline
    succeeds (pinned to the proposed commit); merged, the `release` job tags it, pushing through
    the token's address (promoted to staging by the policy);
    production gets it as a canary, which the next scheduled run leaves waiting (no labels)
    and the one after, given late labels, promotes."""
    from daily_loop import POLICY_OF_THE_LOOP, get, send
    from mlgate.deploy import deployments, environments
    from mlgate.git import WORKSPACE, revision
    from mlgate.pipeline.synthetic import generate_transactions
    from mlgate.snapshot import read_policy
    from servers import serving

    upstream = tmp_path / "upstream.csv"
    target, staging = tmp_path / "deployments" / "production", tmp_path / "deployments" / "staging"
    generate_transactions(3_000, seed=1).to_csv(upstream, index=False)
    params = {"data": {"source": str(upstream), "target": "is_fraud", "id": "transaction_id"}}
    developer = make_project(tmp_path / "developer", params, commit=False)
    policy = POLICY_OF_THE_LOOP.format(target=target, staging=staging)
    (developer / "pyproject.toml").write_text(policy)
    dvc(developer, "repro", "-q")
    dvc(developer, "remote", "add", "--default", "storage", str(tmp_path / "storage"))
    commit_all(developer, "a fraud model on main, its data in a DVC remote")
    dvc(developer, "push", "-q")  # so that each job pulls what the one before it pushed
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
    path = ci_file(tmp_path, ("staging", "production"))

    def job(name: str, run: str, **variables: str):
        sha = git(origin, "rev-parse", "main")
        pipeline = variables_for(server, CI_COMMIT_BRANCH="main", **variables)
        return run_job(
            path,
            name,
            tmp_path / run,
            origin.as_uri(),
            sha,
            pipeline,
            git_config=push_address(origin),
        )

    with fake_gitlab() as server, serving(env) as address:
        server.pipelines = [{"id": 8, "status": "running", "source": "merge_request_event"}]
        scheduled = {
            "CI_PIPELINE_SOURCE": "schedule",
            "MLGATE_MONITOR_ENV": "production",
            "MLGATE_CANARY_ENV": "production",
        }
        quiet = job("retrain", "run-quiet", **scheduled)  # no canary, nothing logged: no work
        assert quiet.succeeded and "NOT ENOUGH DATA" in quiet.output, quiet.output[-1500:]
        said = (tmp_path / "run-quiet" / "mlgate-canary.md").read_text()
        assert said.startswith("Nothing to judge: production has no canary")
        assert server.merge_requests == []

        send(address, 600, seed=2, drift=1.0, names=names)
        generate_transactions(3_000, seed=3, drift=1.0).to_csv(upstream, index=False)
        drifted = job("retrain", "run-drift", **scheduled)
        assert drifted.succeeded, drifted.output[-1500:]
        assert "PASS" in drifted.output
        assert "Auto-merge enabled on merge request !1" in drifted.output
        [merge_request] = server.merge_requests
        assert (merge_request["source_branch"], merge_request["target_branch"]) == (
            "mlgate/retrain",
            "main",
        )
        proposed = git(origin, "rev-parse", "refs/heads/mlgate/retrain")
        assert merge_request["auto_merge_sha"] == proposed  # pinned to what the gate judged
        assert (
            f"by [this run]({server.url}/{PROJECT}/-/pipelines/7)" in (merge_request["description"])
        )
        git(origin, "update-ref", "refs/heads/main", proposed)  # GitLab merges it, green
        merge_request["state"] = "merged"

        released = job("release", "run-release", CI_PIPELINE_SOURCE="push")
        assert released.succeeded, released.output[-1500:]
        version = released.output.split("Created tag fraud-detector@", 1)[1].split(" ", 1)[0]
        assert f"fraud-detector@{version}" in git(origin, "tag", "--list").split()
        assert TOKEN not in released.output  # pushed through the token's address, never shown
        assert f"fraud-detector@{version} is in staging" in released.output
        runner = tmp_path / "run-release"
        git(runner, "remote", "set-url", "origin", str(origin))  # as a person's clone has it
        model = ("--model", f"fraud-detector@{version}")
        assert mlgate_in(runner, monkeypatch, *deploy, *model, "--canary", "50") == 0
        deadline = time.monotonic() + 30
        while json.loads(get(address, "/version")).get("canary", {}).get("version") != version:
            assert time.monotonic() < deadline, f"the server did not take {version} as a canary"
            time.sleep(0.2)
        waiting = job("retrain", "run-wait", **scheduled)  # no label yet: the canary waits
        assert waiting.succeeded, waiting.output[-1500:]
        assert "WAIT: canary" in (tmp_path / "run-wait" / "mlgate-canary.md").read_text()
        assert len(server.merge_requests) == 1  # the model is unchanged: nothing proposed

        truth = send(address, 1_000, seed=4, drift=1.0, names=names, prefix="day1")
        labels = tmp_path / "labels.csv"  # chargebacks, days later
        labels.write_text("request_id,label\n" + "".join(f"{k},{v}\n" for k, v in truth.items()))
        judging = {
            **scheduled,
            "MLGATE_LABELS": str(labels),
            "MLGATE_METRICS_URLS": f"http://{address}/metrics",
        }
        judged = job("retrain", "run-judge", **judging)
        assert judged.succeeded, judged.output[-1500:]
        verdict = (tmp_path / "run-judge" / "mlgate-canary.md").read_text()
        assert f"PROMOTE: canary {version} against v0.1.0" in verdict, verdict
        deadline = time.monotonic() + 30
        while json.loads(get(address, "/version"))["version"] != version:
            assert time.monotonic() < deadline, f"the server did not switch to {version}"
            time.sleep(0.2)
    assert [(d.action, d.version) for d in deployments.read_log(env)] == [
        ("deploy", "v0.1.0"),
        ("canary", version),
        ("promote", version),
    ]
    assert {r["token"] for r in server.requests} == {TOKEN}
