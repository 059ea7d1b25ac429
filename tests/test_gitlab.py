"""GitLab as a forge against a real HTTP server on loopback (see fake_gitlab.py): merge request
notes, merge requests, auto-merge, the CI variables, and the hostile cases the GitHub client
passes too (a foreign note carrying the marker, a redirect to another origin, an oversize
report, a forged gate status)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from fake_gitlab import FakeGitLab, fake_gitlab
from mlgate import forges
from mlgate.commands.main import main
from mlgate.errors import MlgateError
from mlgate.forges import gitlab

TOKEN = "glpat-t0ken"
MARKER = "<!-- mlgate -->"


@pytest.fixture
def server() -> Iterator[FakeGitLab]:
    with fake_gitlab() as state:
        yield state


def client(server: FakeGitLab, sleep=lambda s: None) -> gitlab.GitLabClient:
    return gitlab.GitLabClient(server.api, "42", TOKEN, sleep=sleep)


def _open(server: FakeGitLab, sha: str = "abc123") -> int:
    action, iid, url = client(server).upsert_change("mlgate/retrain", "main", "Retrain", "body")
    assert action == "opened" and url.endswith(f"/merge_requests/{iid}")
    server.merge_requests[-1]["sha"] = sha
    return iid


def test_a_note_is_created_then_updated_in_place(server: FakeGitLab) -> None:
    iid = _open(server)
    action, url = client(server).upsert_comment(iid, "first report", MARKER)
    assert action == "created" and url.endswith(f"/merge_requests/{iid}#note_5001")
    assert client(server).upsert_comment(iid, "second report", MARKER)[0] == "updated"
    assert [n["body"] for n in server.notes[iid]] == [f"{MARKER}\nsecond report"]
    assert {r["token"] for r in server.requests} == {TOKEN}


def test_a_note_someone_else_wrote_with_the_marker_is_not_ours(server: FakeGitLab) -> None:
    """Anyone can paste the marker into a note; GitLab's own system notes carry no author we
    are. Neither is edited, and the report is still posted, as our own note."""
    iid = _open(server)
    server.notes[iid] = [
        {"id": 1, "body": f"{MARKER} fake verdict", "author": {"username": "mallory"}},
        {"id": 3, "body": f"{MARKER} odd", "author": "project_42_bot"},  # not an object
        {
            "id": 2,
            "body": f"{MARKER} system",
            "author": {"username": "project_42_bot"},
            "system": True,
        },
    ]
    assert client(server).upsert_comment(iid, "report", MARKER)[0] == "created"
    bodies = [n["body"] for n in server.notes[iid]]
    assert bodies == [
        f"{MARKER} fake verdict",
        f"{MARKER} odd",
        f"{MARKER} system",
        f"{MARKER}\nreport",
    ]
    assert client(server).upsert_comment(iid, "again", MARKER)[0] == "updated"
    assert [n["body"] for n in server.notes[iid]][:3] == bodies[:3]


def test_our_newest_note_is_updated_among_many_pages(server: FakeGitLab) -> None:
    iid = _open(server)
    mine = {"username": "project_42_bot"}
    server.notes[iid] = [{"id": n, "body": f"n{n}", "author": mine} for n in range(1, 251)]
    server.notes[iid][10]["body"] = f"{MARKER} old"
    server.notes[iid][230]["body"] = f"{MARKER} newer"
    assert client(server).upsert_comment(iid, "report", MARKER)[0] == "updated"
    assert server.notes[iid][230]["body"] == f"{MARKER}\nreport"
    assert server.notes[iid][10]["body"] == f"{MARKER} old"


def test_an_oversize_report_is_fitted_to_the_note_limit(server: FakeGitLab) -> None:
    iid = _open(server)
    rows = "\n".join(f"| m{n} | {'x' * 90} |" for n in range(20_000))
    report = f"## report\n\n| metric | value |\n|---|---|\n{rows}\n"
    assert len(report) > gitlab.NOTE_LIMIT
    assert client(server).upsert_comment(iid, report, MARKER, "see the job log")[0] == "created"
    body = server.notes[iid][0]["body"]
    assert len(body) <= gitlab.NOTE_LIMIT
    assert (
        "more rows not shown: GitLab limits this to 1,000,000 characters; see the job log" in body
    )


def test_server_errors_and_rate_limits_are_retried(server: FakeGitLab) -> None:
    iid = _open(server)
    server.fail_next = [502, 429, 503]
    assert client(server).upsert_comment(iid, "report", MARKER)[0] == "created"


def test_a_persistent_failure_is_an_error_without_the_token(server: FakeGitLab) -> None:
    server.fail_next = [500] * 10
    with pytest.raises(MlgateError, match="GitLab API GET /user failed: HTTP 500") as info:
        client(server).upsert_comment(1, "report", MARKER)
    assert TOKEN not in str(info.value) and TOKEN not in repr(client(server))


def test_a_bad_token_is_an_error_saying_so(server: FakeGitLab) -> None:
    with pytest.raises(MlgateError, match="HTTP 401 \\(the token is not valid"):
        gitlab.GitLabClient(server.api, "42", "wrong").upsert_comment(1, "r", MARKER)


def test_a_redirect_to_another_origin_never_gets_the_token(server: FakeGitLab) -> None:
    """The API answers with a redirect to another server (another port on loopback is another
    origin): that server sees the request without the token, and answers 401."""
    with fake_gitlab() as elsewhere:
        server.moved["/api/v4/user"] = f"{elsewhere.url}/api/v4/user"
        with pytest.raises(MlgateError, match="HTTP 401"):
            client(server).identity()
        assert [r["token"] for r in elsewhere.requests] == [None]
        assert [r["token"] for r in server.requests] == [TOKEN]


def test_a_redirect_within_the_origin_keeps_the_token(server: FakeGitLab) -> None:
    """A renamed project's old path redirects on GitLab's own origin: followed with the token."""
    server.moved["/api/v4/projects/team%2Fold-name"] = "/api/v4/projects/42"
    old = gitlab.GitLabClient(server.api, gitlab.parse_project("team/old-name"), TOKEN)
    old.request("GET", "/projects/team%2Fold-name/merge_requests")
    assert [(r["path"], r["token"]) for r in server.requests] == [
        ("/api/v4/projects/team%2Fold-name/merge_requests", TOKEN),
        ("/api/v4/projects/42/merge_requests", TOKEN),
    ]


def test_a_merge_request_is_opened_then_updated(server: FakeGitLab) -> None:
    gl = client(server)
    assert gl.upsert_change("mlgate/retrain", "main", "Retrain 1", "one")[:2] == ("opened", 1)
    assert gl.upsert_change("mlgate/retrain", "main", "Retrain 2", "two")[:2] == ("updated", 1)
    [only] = server.merge_requests
    assert (only["title"], only["description"]) == ("Retrain 2", "two")


# --- auto-merge ------------------------------------------------------------------------------


def pipeline(
    number: int, status: str = "success", source: str = "merge_request_event", jobs=("gate",)
):
    return {
        "id": number,
        "sha": "abc123",
        "status": status,
        "source": source,
        "jobs": [{"name": job, "status": status} for job in jobs],
    }


def test_auto_merge_is_set_pinned_to_the_commit(server: FakeGitLab) -> None:
    iid = _open(server)
    server.pipelines = [pipeline(1, "running")]
    assert client(server).enable_auto_merge(iid, "abc123") is None
    assert server.merge_requests[0]["auto_merge_sha"] == "abc123"
    [put] = [r for r in server.requests if r["path"].endswith("/merge")]
    assert put["body"] == {
        "sha": "abc123",
        "auto_merge": True,
        "merge_when_pipeline_succeeds": True,
    }


@pytest.mark.parametrize(
    ("must_succeed", "pipelines", "sha", "said"),
    [
        (False, [pipeline(1, "running")], "abc123", "does not require pipelines to succeed"),
        (True, [], "abc123", "GitLab cannot merge it now"),
        (True, [pipeline(1, "running")], "other", "its source branch moved"),
    ],
)
def test_auto_merge_says_why_it_is_not_set(
    server: FakeGitLab, must_succeed: bool, pipelines, sha: str, said: str
) -> None:
    """Without "pipelines must succeed" GitLab could merge before the gate's job ran, so
    mlgate does not ask it to; a refusal is a reason, not an error."""
    iid = _open(server)
    server.pipelines_must_succeed, server.pipelines = must_succeed, pipelines
    assert said in (client(server).enable_auto_merge(iid, sha) or "")
    assert server.merge_requests[0]["state"] == "opened"


@pytest.mark.parametrize(
    ("pipelines", "merged", "said"),
    [
        ([pipeline(1)], True, "merged"),
        (
            [pipeline(1), pipeline(2, "failed", "push", jobs=("tests",))],
            False,
            "not merged: pipeline 2 (push) failed",
        ),
        ([pipeline(1, "running")], False, "not merged: pipeline 1 (merge_request_event) still"),
        ([], False, "not merged: the gate's own job (gate) has not passed"),
        # a commit status named "gate", posted through the API, is an external pipeline
        (
            [pipeline(1, source="external"), pipeline(2, jobs=("tests",))],
            False,
            "not merged: the gate's own job (gate) has not passed",
        ),
        # and a failure on the second page of pipelines is seen
        (
            [pipeline(1), *(pipeline(n, jobs=()) for n in range(2, 102)), pipeline(102, "failed")],
            False,
            "not merged: pipeline 102 (merge_request_event) failed",
        ),
    ],
)
def test_a_merge_waits_for_every_pipeline_and_the_gates_job(
    server: FakeGitLab, pipelines, merged: bool, said: str
) -> None:
    iid = _open(server)
    server.pipelines = pipelines
    slept: list[float] = []
    outcome = client(server, slept.append).merge_when_green(iid, "abc123", wait_seconds=0.2)
    assert outcome[0] is merged and outcome[1].startswith(said)
    assert (server.merge_requests[0]["state"] == "merged") is merged
    if merged:
        assert server.merge_requests[0]["merged_sha"] == "abc123" and not slept


def test_a_merge_waits_until_the_pipeline_passes(server: FakeGitLab) -> None:
    iid = _open(server)
    server.pipelines = [pipeline(1, "running")]
    server.pipelines_after = (2, [pipeline(1)])
    slept: list[float] = []
    assert client(server, slept.append).merge_when_green(iid, "abc123", wait_seconds=10)[0]
    assert slept == [1.0, 1.0]


# --- the CI variables, parsed once --------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "error"),
    [
        ("", "CI_MERGE_REQUEST_IID is not set"),
        ("7; rm", "not a merge request number: 7; rm"),
        ("-1", "not a merge request number"),
        ("99999999999", "not a merge request number"),
    ],
)
def test_a_merge_request_number_is_a_number(value: str, error: str) -> None:
    with pytest.raises(MlgateError, match=error):
        gitlab.merge_request_iid({"CI_MERGE_REQUEST_IID": value})


@pytest.mark.parametrize(
    ("value", "parsed"),
    [("42", "42"), ("team/model", "team%2Fmodel"), ("a/b.c/d-e_f", "a%2Fb.c%2Fd-e_f")],
)
def test_a_project_is_an_id_or_a_path_put_in_urls_encoded(value: str, parsed: str) -> None:
    assert gitlab.parse_project(value) == parsed


@pytest.mark.parametrize("value", ["team/../admin", "../x/y", "team", "a/b?x=1", "a/b#c", "a /b"])
def test_a_project_that_is_neither_is_refused(value: str) -> None:
    with pytest.raises(MlgateError, match="neither a project id nor a project path"):
        gitlab.parse_project(value)


@pytest.mark.parametrize(
    "value", ["ftp://x/api/v4", "gitlab.example/api/v4", "https:///api", "https://x/api?y"]
)
def test_an_api_address_is_http(value: str) -> None:
    with pytest.raises(MlgateError, match="not an http\\(s\\) address"):
        gitlab.parse_api_url(value)


def test_a_self_managed_server_is_reached_at_its_own_address() -> None:
    env = {"CI_SERVER_URL": "https://git.example.org/", "CI_PROJECT_ID": "3", "GITLAB_TOKEN": "t"}
    assert gitlab.GitLabClient.from_env(env).api_url == "https://git.example.org/api/v4"
    env["CI_API_V4_URL"] = "https://git.example.org:8443/gl/api/v4"
    assert gitlab.GitLabClient.from_env(env).api_url == "https://git.example.org:8443/gl/api/v4"


def test_the_job_token_is_never_used() -> None:
    env = {"GITLAB_CI": "true", "CI_PROJECT_ID": "3", "CI_JOB_TOKEN": "job-secret"}
    with pytest.raises(MlgateError, match=r"GITLAB_TOKEN is not set .*the job token may not"):
        gitlab.GitLabClient.from_env(env)


@pytest.mark.parametrize(
    ("env", "chosen"),
    [
        ({}, "github"),
        ({"GITLAB_CI": "true"}, "gitlab"),
        ({"GITHUB_ACTIONS": "true", "GITLAB_TOKEN": "t"}, "github"),
        ({"GITLAB_TOKEN": "t"}, "gitlab"),
        ({"GITLAB_TOKEN": "t", "GITHUB_TOKEN": "t"}, "github"),
        ({"MLGATE_FORGE": "gitlab", "GITHUB_ACTIONS": "true"}, "gitlab"),
    ],
)
def test_the_forge_is_the_one_asked_for_else_the_ci_running_it(env, chosen: str) -> None:
    assert forges.detect(env).key == chosen


def test_an_unknown_forge_exits_2(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys) -> None:
    monkeypatch.setenv("MLGATE_FORGE", "bitbucket\x1b[2J")
    (tmp_path / "r.md").write_text("x")
    assert main(["comment", str(tmp_path / "r.md")]) == 2
    err = capsys.readouterr().err
    assert "MLGATE_FORGE must be one of github, gitlab" in err and "\x1b" not in err


def test_a_merge_request_pipeline_names_its_target_branch_as_the_base() -> None:
    env = {"GITLAB_CI": "true", "CI_MERGE_REQUEST_TARGET_BRANCH_NAME": "develop"}
    assert forges.base_branch(env) == "develop"
    assert forges.base_branch({"CI_MERGE_REQUEST_TARGET_BRANCH_NAME": "develop"}) is None
    assert forges.base_branch({"GITHUB_BASE_REF": "main"}) == "main"


# --- the comment command in a merge request pipeline ------------------------------------------


@pytest.fixture
def pipeline_env(server: FakeGitLab, monkeypatch: pytest.MonkeyPatch) -> FakeGitLab:
    for name in ("GITHUB_ACTIONS", "GITHUB_TOKEN", "GITHUB_REPOSITORY", "MLGATE_FORGE"):
        monkeypatch.delenv(name, raising=False)
    for name, value in server.env(CI_MERGE_REQUEST_IID="1").items():
        monkeypatch.setenv(name, value)
    _open(server)
    return server


def test_the_comment_command_posts_one_note_across_two_runs(
    pipeline_env: FakeGitLab, tmp_path: Path, capsys
) -> None:
    report = tmp_path / "report.md"
    for text in ("run 1", "run 2"):
        report.write_text(text)
        assert main(["comment", str(report)]) == 0
    [note] = pipeline_env.notes[1]
    assert note["body"].endswith("run 2")
    assert "updated the merge request comment http" in capsys.readouterr().err


def test_a_token_that_may_not_write_is_a_warning_not_a_failure(
    pipeline_env: FakeGitLab, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    """A token with the Guest role, say: it reads the notes, and writing one answers 403."""
    pipeline_env.users["glpat-reader"] = "reader"
    pipeline_env.read_only.add("reader")
    monkeypatch.setenv("GITLAB_TOKEN", "glpat-reader")
    (tmp_path / "r.md").write_text("report")
    assert main(["comment", str(tmp_path / "r.md")]) == 0
    out = capsys.readouterr()
    assert "mlgate: warning: GitLab refused the note (403)" in out.out
    assert "glpat-reader" not in out.out + out.err and not pipeline_env.notes.get(1)


def test_a_job_token_alone_is_an_error_before_any_call(
    pipeline_env: FakeGitLab, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    monkeypatch.delenv("GITLAB_TOKEN")
    monkeypatch.setenv("CI_JOB_TOKEN", "job-secret")
    pipeline_env.requests.clear()
    (tmp_path / "r.md").write_text("report")
    assert main(["comment", str(tmp_path / "r.md")]) == 2
    assert "GITLAB_TOKEN is not set" in capsys.readouterr().err
    assert pipeline_env.requests == []


# --- outputs, as a dotenv report ------------------------------------------------------------


def test_outputs_go_to_the_dotenv_file_one_line_each(tmp_path: Path) -> None:
    """A value comes from the change's files (a metric's name): it cannot end its line and
    set another variable for the jobs after."""
    report = tmp_path / "mlgate.env"
    env = {"GITLAB_CI": "true", "MLGATE_DOTENV": str(report)}
    forges.write_outputs({"decision": "wait", "failed": "x\nMLGATE_DECISION=promote"}, env)
    forges.write_outputs({"check-ref": "a=b"}, env)
    assert report.read_text().splitlines() == [
        "MLGATE_DECISION=wait",
        "MLGATE_FAILED=x\\nMLGATE_DECISION=promote",
        "MLGATE_CHECK_REF=a=b",
    ]


def test_no_dotenv_file_is_written_outside_a_gitlab_job_or_without_its_name(
    tmp_path: Path,
) -> None:
    report = tmp_path / "mlgate.env"
    forges.write_outputs({"decision": "wait"}, {"MLGATE_DOTENV": str(report)})
    forges.write_outputs({"decision": "wait"}, {"GITLAB_CI": "true"})
    assert not report.exists()
    with pytest.raises(MlgateError, match="cannot write to MLGATE_DOTENV"):
        env = {"GITLAB_CI": "true", "MLGATE_DOTENV": str(tmp_path / "no" / "such" / "f.env")}
        forges.write_outputs({"decision": "wait"}, env)
