"""The GitHub integration against a real HTTP server on loopback (see fake_github.py)."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import ClassVar

import pytest

from fake_github import FakeGitHub, fake_github
from mlgate.commands.main import main
from mlgate.errors import MlgateError
from mlgate.forges import github, rest

TOKEN = "ghs_secret_token_value"


@pytest.fixture
def server() -> Iterator[FakeGitHub]:
    with fake_github() as state:
        yield state


@pytest.fixture
def actions_env(server: FakeGitHub, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    event = tmp_path / "event.json"
    event.write_text(json.dumps({"number": 7, "pull_request": {"number": 7}}))
    for name, value in {
        "GITHUB_ACTIONS": "true",
        "GITHUB_API_URL": server.url,
        "GITHUB_REPOSITORY": "acme/fraud",
        "GITHUB_TOKEN": TOKEN,
        "GITHUB_EVENT_PATH": str(event),
        "GITHUB_OUTPUT": str(tmp_path / "output"),
        "GITHUB_STEP_SUMMARY": str(tmp_path / "summary"),
    }.items():
        monkeypatch.setenv(name, value)
    return tmp_path


def client(server: FakeGitHub) -> github.GitHubClient:
    return github.GitHubClient(server.url, "acme/fraud", TOKEN, sleep=lambda s: None)


def test_comment_is_created_then_updated_in_place(server: FakeGitHub) -> None:
    gh = client(server)
    assert gh.upsert_comment(7, "first report", "<!-- m -->")[0] == "created"
    server.comments[7].insert(0, {"id": 1, "body": "someone else's comment"})
    assert gh.upsert_comment(7, "second report", "<!-- m -->")[0] == "updated"
    bodies = [c["body"] for c in server.comments[7]]
    assert bodies == ["someone else's comment", "<!-- m -->\nsecond report"]
    assert all(r["authorization"] == f"Bearer {TOKEN}" for r in server.requests)


def test_server_error_is_retried(server: FakeGitHub) -> None:
    server.fail_next = [502, 503]
    assert client(server).upsert_comment(7, "report", "<!-- m -->")[0] == "created"
    assert [(r["method"], r["path"].split("?")[0]) for r in server.requests] == [
        ("GET", "/user"),
        ("GET", "/user"),
        ("GET", "/user"),
        ("GET", "/repos/acme/fraud/issues/7/comments"),
        ("POST", "/repos/acme/fraud/issues/7/comments"),
    ]


def test_rate_limit_is_retried(server: FakeGitHub) -> None:
    server.fail_next = [429]
    assert client(server).upsert_comment(7, "report", "<!-- m -->")[0] == "created"


def test_persistent_failure_is_an_error_without_the_token(server: FakeGitHub) -> None:
    server.fail_next = [500] * 10
    with pytest.raises(MlgateError, match="HTTP 500") as info:
        client(server).upsert_comment(7, "report", "<!-- m -->")
    assert TOKEN not in str(info.value) and TOKEN not in repr(client(server))


def test_forbidden_comment_is_a_warning_not_a_failure(
    server: FakeGitHub, actions_env: Path, tmp_path: Path, capsys
) -> None:
    server.fail_next = [403, 403]  # GET /user (the Actions token), then the comments
    report = tmp_path / "report.md"
    report.write_text("# report\n")
    assert main(["comment", str(report)]) == 0
    out = capsys.readouterr()
    assert "::warning title=mlgate::" in out.err and "job summary" in out.err
    assert TOKEN not in out.out + out.err


def test_comment_command_posts_once_across_two_runs(
    server: FakeGitHub, actions_env: Path, tmp_path: Path
) -> None:
    report = tmp_path / "report.md"
    for text in ("run 1", "run 2"):
        report.write_text(text)
        assert main(["comment", str(report)]) == 0
    assert len(server.comments[7]) == 1 and server.comments[7][0]["body"].endswith("run 2")


def test_comment_outside_a_pull_request_exits_2(monkeypatch, tmp_path: Path, capsys) -> None:
    monkeypatch.setenv("GITHUB_REPOSITORY", "acme/fraud")
    monkeypatch.setenv("GITHUB_TOKEN", TOKEN)
    (tmp_path / "r.md").write_text("x")
    assert main(["comment", str(tmp_path / "r.md")]) == 2
    assert "GITHUB_EVENT_PATH is not set" in capsys.readouterr().err


def test_outputs_are_multiline_safe(tmp_path: Path) -> None:
    output = tmp_path / "out"
    github.write_outputs({"verdict": "fail", "report": "a\nb"}, {"GITHUB_OUTPUT": str(output)})
    lines = output.read_text().splitlines()
    assert lines[0].startswith("verdict<<mlgate_") and lines[1] == "fail"
    assert lines[3].startswith("report<<") and lines[4:6] == ["a", "b"]


def test_error_annotation_escapes_newlines() -> None:
    assert (
        github.error_annotation("bad\nthing", "mlgate: acc").line
        == "::error title=mlgate%3A acc::bad%0Athing"
    )


def test_warning_annotation_escapes_a_column_name_in_its_title() -> None:
    assert (
        github.warning_annotation("amount: K-S\n0.01", "mlgate: drift in a,b").line
        == "::warning title=mlgate%3A drift in a%2Cb::amount: K-S%0A0.01"
    )


def test_a_comment_someone_else_wrote_with_the_marker_is_not_ours(server: FakeGitHub) -> None:
    """Issue 17.7: anyone can paste the marker; only the token's own comments are updated."""
    marker = "<!-- m -->"
    server.comments[7] = [{"id": 1, "body": f"{marker} mine now", "user": {"login": "mallory"}}]
    gh = client(server)
    assert gh.upsert_comment(7, "report 1", marker)[0] == "created"
    server.comments[7].append({"id": 2, "body": f"{marker} again", "user": {"login": "mallory"}})
    assert gh.upsert_comment(7, "report 2", marker)[0] == "updated"
    bodies = {c["id"]: c["body"] for c in server.comments[7]}
    assert bodies[1] == f"{marker} mine now" and bodies[2] == f"{marker} again"
    ours = [c for c in server.comments[7] if c["user"]["login"] == "github-actions[bot]"]
    assert [c["body"] for c in ours] == [f"{marker}\nreport 2"]
    assert not any(
        r["method"] == "PATCH" and r["path"].endswith(("/1", "/2")) for r in server.requests
    )


def test_a_user_token_updates_its_own_newest_comment(server: FakeGitHub) -> None:
    marker = "<!-- m -->"
    server.logins[TOKEN] = "release-bot"
    server.comments[7] = [
        {"id": 1, "body": f"{marker} old", "user": {"login": "release-bot"}},
        {"id": 2, "body": f"{marker} newer", "user": {"login": "release-bot"}},
        {"id": 3, "body": f"{marker} bait", "user": {"login": "github-actions[bot]"}},
    ]
    assert client(server).upsert_comment(7, "report", marker)[0] == "updated"
    assert [c["body"] for c in server.comments[7]] == [
        f"{marker} old",
        f"{marker}\nreport",
        f"{marker} bait",
    ]


class _Redirecting(BaseHTTPRequestHandler):
    """Answers every request with a redirect to ``target`` + the same path."""

    target = ""
    seen: ClassVar[list[str | None]] = []

    def log_message(self, *args) -> None:
        pass

    def do_GET(self) -> None:
        _Redirecting.seen.append(self.headers.get("Authorization"))
        self.send_response(301)
        self.send_header("Location", self.target + self.path)
        self.send_header("Content-Length", "0")
        self.end_headers()


@pytest.fixture
def redirecting() -> Iterator[str]:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Redirecting)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()


def test_a_redirect_to_another_origin_never_gets_the_token(
    server: FakeGitHub, redirecting: str
) -> None:
    """Issue 17.6: the API answers with a redirect to another server (another port on loopback
    is another origin): that server sees the request without the token."""
    _Redirecting.target, _Redirecting.seen = server.url, []
    gh = github.GitHubClient(redirecting, "acme/fraud", TOKEN, sleep=lambda s: None)
    gh.request("GET", "/repos/acme/fraud/issues/7/comments")
    assert _Redirecting.seen == [f"Bearer {TOKEN}"]  # the API's own origin got it
    assert [r["authorization"] for r in server.requests] == [None]


def test_a_redirect_within_the_origin_keeps_the_token(server: FakeGitHub) -> None:
    """GitHub answers 301 for a renamed repository, on its own origin: followed with the token."""
    server.moved["/repos/acme/old-name/"] = "/repos/acme/fraud/"
    gh = github.GitHubClient(server.url, "acme/old-name", TOKEN, sleep=lambda s: None)
    gh.request("GET", "/repos/acme/old-name/issues/7/comments")
    assert [(r["path"], r["authorization"]) for r in server.requests] == [
        ("/repos/acme/old-name/issues/7/comments", f"Bearer {TOKEN}"),
        ("/repos/acme/fraud/issues/7/comments", f"Bearer {TOKEN}"),
    ]


def test_origins() -> None:
    assert rest.origin("https://api.github.com/a") == rest.origin("https://API.github.com:443/b")
    assert rest.origin("https://api.github.com/a") != rest.origin("http://api.github.com/a")
    assert rest.origin("http://127.0.0.1:1/a") != rest.origin("http://127.0.0.1:2/a")


# --- issue 24: auto-merge ---------------------------------------------------------------------


def _open_pull(server: FakeGitHub) -> int:
    return client(server).upsert_change("mlgate/retrain", "main", "Retrain", "body")[1]


def test_auto_merge_is_enabled_pinned_to_the_commit(server: FakeGitHub) -> None:
    number = _open_pull(server)
    assert client(server).enable_auto_merge(number, "abc123") is None
    assert server.pulls[0]["auto_merge"] == {"merge_method": "SQUASH", "expected_head": "abc123"}
    [call] = [r for r in server.requests if r["path"] == "/graphql"]
    assert "enablePullRequestAutoMerge" in call["body"]["query"]
    assert call["authorization"] == f"Bearer {TOKEN}"
    server.auto_merge_allowed = False
    said = client(server).enable_auto_merge(number, "abc123")
    assert said == "Pull request Auto merge is not allowed for this repository"


def test_graphql_lives_beside_the_rest_api_on_enterprise_servers() -> None:
    def at(api: str, graphql: str = "") -> str:
        return github.GitHubClient(api, "a/b", "t", graphql_url=graphql)._graphql()

    assert at("https://api.github.com") == "https://api.github.com/graphql"
    assert at("https://ghe.example/api/v3") == "https://ghe.example/api/graphql"
    assert at("https://x", "https://y/graphql") == "https://y/graphql"


def check(name: str = "Gate", app: str = "github-actions", conclusion: str | None = "success"):
    status = "completed" if conclusion else "queued"
    return {"name": name, "app": {"slug": app}, "status": status, "conclusion": conclusion}


@pytest.mark.parametrize(
    ("checks", "merged", "said"),
    [
        ([check()], True, "merged"),
        ([check(), check("tests", conclusion="failure")], False, "not merged: tests failed"),
        (
            [check("tests", conclusion=None)],
            False,
            "not merged: tests still running after 1 s",
        ),
        ([], False, "not merged: the gate's own check (Gate, by github-actions) has not passed"),
        # issue 31: another app's check named like the gate's never stands for it
        (
            [check(app="evil-app"), check("tests")],
            False,
            "not merged: the gate's own check (Gate, by github-actions) has not passed",
        ),
        # and a failure on the second page of check runs is seen
        (
            [check(), *(check(f"c{n}") for n in range(100)), check("late", conclusion="failure")],
            False,
            "not merged: late failed",
        ),
        ([check(conclusion="failure"), check(app="evil-app")], False, "not merged: Gate failed"),
    ],
)
def test_a_merge_waits_for_every_check_to_pass(
    server: FakeGitHub, checks: list[dict[str, object]], merged: bool, said: str
) -> None:
    number = _open_pull(server)
    server.checks = checks
    slept: list[float] = []
    done = github.GitHubClient(server.url, "acme/fraud", TOKEN, sleep=slept.append)
    outcome = done.merge_when_green(number, "abc123", wait_seconds=1)
    assert outcome[0] is merged and outcome[1].startswith(said)
    assert server.pulls[0].get("merged", False) is merged
    if merged:
        assert server.pulls[0]["merged_sha"] == "abc123" and not slept
    puts = [r for r in server.requests if r["method"] == "PUT"]
    assert len(puts) == (1 if merged else 0)


def test_a_comment_whose_author_is_not_an_object_is_nobody_s(server: FakeGitHub) -> None:
    server.comments[7] = [{"id": 1, "body": "<!-- m --> odd", "user": "github-actions[bot]"}]
    assert client(server).upsert_comment(7, "report", "<!-- m -->")[0] == "created"
    assert server.comments[7][0]["body"] == "<!-- m --> odd"
