"""A real HTTP server on 127.0.0.1 implementing the GitHub endpoints mlgate calls.

GitHub's API cannot be reached from tests, so this server stands in for it: it keeps issue
comments and pull requests in memory, records every request, and can be told to fail the next
requests. Auto-merge: GraphQL's ``enablePullRequestAutoMerge`` (answered with GitHub's error
when ``auto_merge_allowed`` is off), a commit's check runs and statuses (``checks``, the same
for every commit; ``checks_after`` replaces them after that many reads), and the REST merge.
"""

from __future__ import annotations

import urllib.parse
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qs, urlsplit

from loopback import JsonHandler, serving


@dataclass
class FakeGitHub:
    url: str = ""
    comments: dict[int, list[dict[str, Any]]] = field(default_factory=dict)
    requests: list[dict[str, Any]] = field(default_factory=list)
    fail_next: list[int] = field(default_factory=list)  # status codes to answer, in order
    pulls: list[dict[str, Any]] = field(default_factory=list)
    next_id: int = 1000
    # token -> login for user tokens; any other token acts as the Actions token does: GET /user
    # answers 403 and its comments are github-actions[bot]'s
    logins: dict[str, str] = field(default_factory=dict)
    moved: dict[str, str] = field(default_factory=dict)  # path prefix -> 301 to this prefix
    auto_merge_allowed: bool = True
    checks: list[dict[str, Any]] = field(default_factory=list)  # check runs on any commit
    checks_after: tuple[int, list[dict[str, Any]]] | None = None  # (reads, then these)
    check_reads: int = 0

    def author(self, authorization: str | None) -> str:
        token = (authorization or "").removeprefix("Bearer ")
        return self.logins.get(token, "github-actions[bot]")


def _handler(state: FakeGitHub) -> type[BaseHTTPRequestHandler]:
    class Handler(JsonHandler):
        def _handle(self, method: str) -> None:
            payload = self._payload()
            state.requests.append(
                {
                    "method": method,
                    "path": self.path,
                    "body": payload,
                    "authorization": self.headers.get("Authorization"),
                }
            )
            for old, new in state.moved.items():
                if self.path.startswith(old):
                    return self._answer(301, {}, {"Location": new + self.path[len(old) :]})
            if state.fail_next:
                status = state.fail_next.pop(0)
                headers = (
                    {"x-ratelimit-remaining": "0", "retry-after": "0"} if status == 429 else {}
                )
                return self._answer(status, {"message": "failure requested"}, headers)
            parts = self.path.split("?")[0].strip("/").split("/")
            if parts == ["graphql"]:
                return self._graphql(payload)
            if parts[3:4] == ["commits"] and parts[5:6] == ["check-runs"]:
                state.check_reads += 1
                if state.checks_after and state.check_reads > state.checks_after[0]:
                    state.checks = state.checks_after[1]
                query = urllib.parse.parse_qs(self.path.partition("?")[2])
                size = int(query.get("per_page", ["30"])[0])
                page = int(query.get("page", ["1"])[0])
                shown = state.checks[(page - 1) * size : page * size]
                return self._answer(200, {"total_count": len(state.checks), "check_runs": shown})
            if parts[3:4] == ["commits"] and parts[5:6] == ["status"]:
                return self._answer(200, {"state": "pending", "statuses": [], "total_count": 0})
            if parts == ["user"]:
                token = (self.headers.get("Authorization") or "").removeprefix("Bearer ")
                if token not in state.logins:
                    return self._answer(403, {"message": "Resource not accessible by integration"})
                return self._answer(200, {"login": state.logins[token]})
            # repos/OWNER/NAME/issues/N/comments | repos/OWNER/NAME/issues/comments/ID
            if parts[3:4] == ["issues"] and parts[5:6] == ["comments"]:
                number = int(parts[4])
                if method == "GET":
                    return self._answer(200, state.comments.get(number, []))
                state.next_id += 1
                comment = {
                    "id": state.next_id,
                    "body": payload["body"],
                    "user": {"login": state.author(self.headers.get("Authorization"))},
                    "html_url": f"{state.url}/comment/{state.next_id}",
                }
                state.comments.setdefault(number, []).append(comment)
                return self._answer(201, comment)
            if parts[3:4] == ["pulls"]:
                return self._pulls(method, parts[4:], payload)
            if parts[3:5] == ["issues", "comments"] and method == "PATCH":
                for comments in state.comments.values():
                    for comment in comments:
                        if comment["id"] == int(parts[5]):
                            author = state.author(self.headers.get("Authorization"))
                            if (comment.get("user") or {}).get("login") != author:
                                return self._answer(403, {"message": "Must have admin rights"})
                            comment["body"] = payload["body"]
                            return self._answer(200, comment)
            return self._answer(404, {"message": "Not Found"})

        def _graphql(self, payload: Any) -> None:
            if "enablePullRequestAutoMerge" not in payload.get("query", ""):
                return self._answer(200, {"errors": [{"message": "unknown query"}]})
            if not state.auto_merge_allowed:
                message = "Pull request Auto merge is not allowed for this repository"
                return self._answer(
                    200, {"errors": [{"type": "UNPROCESSABLE", "message": message}]}
                )
            variables = payload["variables"]
            pull = next(p for p in state.pulls if p["node_id"] == variables["pullRequestId"])
            pull["auto_merge"] = {
                "merge_method": variables["mergeMethod"],
                "expected_head": variables.get("expectedHeadOid"),
            }
            enabled = {"number": pull["number"], "autoMergeRequest": {"enabledAt": "now"}}
            return self._answer(
                200, {"data": {"enablePullRequestAutoMerge": {"pullRequest": enabled}}}
            )

        def _pulls(self, method: str, rest: list[str], payload: Any) -> None:
            """repos/OWNER/NAME/pulls[?head=OWNER:BRANCH&base=B&state=open] | pulls/N |
            pulls/N/merge"""
            owner = self.path.split("/")[2]
            if method == "GET" and rest and rest[0].isdigit():
                return self._answer(
                    200, next(p for p in state.pulls if p["number"] == int(rest[0]))
                )
            if method == "PUT" and rest[1:2] == ["merge"]:
                pull = next(p for p in state.pulls if p["number"] == int(rest[0]))
                if pull["state"] != "open":
                    return self._answer(405, {"message": "Pull Request is not mergeable"})
                pull.update(state="closed", merged=True, merged_sha=payload.get("sha"))
                return self._answer(200, {"merged": True, "message": "Pull Request merged"})
            if method == "GET":
                query = parse_qs(urlsplit(self.path).query)
                found = [
                    p
                    for p in state.pulls
                    if p["state"] == query.get("state", ["open"])[0]
                    and f"{owner}:{p['head']}" in query.get("head", [f"{owner}:{p['head']}"])
                    and p["base"] in query.get("base", [p["base"]])
                ]
                return self._answer(200, found)
            if method == "POST" and not rest:
                if any(p["head"] == payload["head"] and p["state"] == "open" for p in state.pulls):
                    return self._answer(422, {"message": "A pull request already exists"})
                number = len(state.pulls) + 1
                pull = {
                    "number": number,
                    "state": "open",
                    "title": payload["title"],
                    "body": payload["body"],
                    "head": payload["head"],
                    "base": payload["base"],
                    "html_url": f"{state.url}/pull/{number}",
                    "node_id": f"PR_node{number}",
                }
                state.pulls.append(pull)
                return self._answer(201, pull)
            if method == "PATCH" and rest and rest[0].isdigit():
                pull = next(p for p in state.pulls if p["number"] == int(rest[0]))
                pull.update({k: payload[k] for k in ("title", "body") if k in payload})
                return self._answer(200, pull)
            return self._answer(404, {"message": "Not Found"})

    return Handler


@contextmanager
def fake_github() -> Iterator[FakeGitHub]:
    state = FakeGitHub()
    with serving(_handler(state)) as url:
        state.url = url
        yield state


@contextmanager
def github_for_a_job(monkeypatch: Any) -> Iterator[FakeGitHub]:
    """The server above, and the environment a job outside Actions calls it with (a token, the
    repository, the API's address), as `retrain --propose` and `exp --propose` read it."""
    with fake_github() as state:
        monkeypatch.setenv("GITHUB_API_URL", state.url)
        monkeypatch.setenv("GITHUB_REPOSITORY", "team/model")
        monkeypatch.setenv("GITHUB_TOKEN", "t0ken")
        monkeypatch.delenv("GITHUB_ACTIONS", raising=False)
        yield state
