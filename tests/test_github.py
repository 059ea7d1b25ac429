"""The GitHub integration against a real HTTP server on loopback (see fake_github.py)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from fake_github import FakeGitHub, fake_github
from mlgate import github
from mlgate.cli import main
from mlgate.errors import MlgateError

TOKEN = "ghs_secret_token_value"


@pytest.fixture
def server() -> FakeGitHub:
    with fake_github() as state:
        yield state


@pytest.fixture
def actions_env(server: FakeGitHub, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    event = tmp_path / "event.json"
    event.write_text(json.dumps({"number": 7, "pull_request": {"number": 7}}))
    for name, value in {
        "GITHUB_ACTIONS": "true", "GITHUB_API_URL": server.url, "GITHUB_REPOSITORY": "acme/fraud",
        "GITHUB_TOKEN": TOKEN, "GITHUB_EVENT_PATH": str(event),
        "GITHUB_OUTPUT": str(tmp_path / "output"), "GITHUB_STEP_SUMMARY": str(tmp_path / "summary"),
    }.items():  # fmt: skip
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
    assert [r["method"] for r in server.requests] == ["GET", "GET", "GET", "POST"]


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
    server.fail_next = [403]
    report = tmp_path / "report.md"
    report.write_text("# report\n")
    assert main(["comment", str(report)]) == 0
    out = capsys.readouterr()
    assert "::warning title=mlgate::" in out.out and "job summary" in out.out
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
        github.error_annotation("bad\nthing", "mlgate: acc")
        == "::error title=mlgate%3A acc::bad%0Athing"
    )


def test_warning_annotation_escapes_a_column_name_in_its_title() -> None:
    assert (
        github.warning_annotation("amount: K-S\n0.01", "mlgate: drift in a,b")
        == "::warning title=mlgate%3A drift in a%2Cb::amount: K-S%0A0.01"
    )
