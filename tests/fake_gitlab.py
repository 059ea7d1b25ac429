"""A real HTTP server on 127.0.0.1 implementing the GitLab API v4 endpoints mlgate calls.

GitLab cannot be reached from tests, so this server stands in for it, as fake_github does for
GitHub. It keeps merge requests and their notes in memory, records every request, and can be
told to fail the next requests. A token maps to a username (``users``); any other token is
refused with 401, and a job token (``job_tokens``) may read but not write (403), as GitLab's
CI_JOB_TOKEN may not write notes. Auto-merge: ``PUT …/merge`` with ``auto_merge`` answers 405
without a running pipeline (as GitLab does); ``pipelines`` (with their ``jobs``) are those of
every commit, ``pipelines_after`` replaces them after that many reads.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from loopback import JsonHandler, serving

PROJECT = "team/model"  # the project's path; its id is 42


@dataclass
class FakeGitLab:
    url: str = ""
    users: dict[str, str] = field(default_factory=lambda: {"glpat-t0ken": "project_42_bot"})
    job_tokens: set[str] = field(default_factory=set)
    read_only: set[str] = field(default_factory=set)  # users whose writes answer 403
    notes: dict[int, list[dict[str, Any]]] = field(default_factory=dict)
    merge_requests: list[dict[str, Any]] = field(default_factory=list)
    requests: list[dict[str, Any]] = field(default_factory=list)
    fail_next: list[int] = field(default_factory=list)
    moved: dict[str, str] = field(default_factory=dict)  # path prefix -> 301 to this prefix
    pipelines_must_succeed: bool = True  # the project's only_allow_merge_if_pipeline_succeeds
    pipelines: list[dict[str, Any]] = field(default_factory=list)  # each with its "jobs"
    pipelines_after: tuple[int, list[dict[str, Any]]] | None = None
    pipeline_reads: int = 0
    next_id: int = 5000

    @property
    def api(self) -> str:
        return f"{self.url}/api/v4"

    def env(self, **extra: str) -> dict[str, str]:
        """The variables a merge request pipeline on this server has (a project token set)."""
        return {
            "GITLAB_CI": "true",
            "CI_API_V4_URL": self.api,
            "CI_PROJECT_ID": "42",
            "CI_PIPELINE_URL": f"{self.url}/{PROJECT}/-/pipelines/7",
            "GITLAB_TOKEN": "glpat-t0ken",
            **extra,
        }


def _handler(state: FakeGitLab) -> type[BaseHTTPRequestHandler]:
    class Handler(JsonHandler):
        def _handle(self, method: str) -> None:
            payload = self._payload()
            token = self.headers.get("PRIVATE-TOKEN")
            state.requests.append(
                {"method": method, "path": self.path, "body": payload, "token": token}
            )
            for old, new in state.moved.items():
                if self.path.startswith(old):
                    return self._answer(301, {}, {"Location": new + self.path[len(old) :]})
            if state.fail_next:
                status = state.fail_next.pop(0)
                headers = {"Retry-After": "0"} if status == 429 else {}
                return self._answer(status, {"message": "failure requested"}, headers)
            if token in state.job_tokens:
                if method != "GET":
                    return self._answer(403, {"message": "403 Forbidden"})
                user = None
            elif token in state.users:
                user = state.users[token]
                if method != "GET" and user in state.read_only:
                    return self._answer(403, {"message": "403 Forbidden"})
            else:
                return self._answer(401, {"message": "401 Unauthorized"})
            path = urlsplit(self.path).path
            query = {k: v[0] for k, v in parse_qs(urlsplit(self.path).query).items()}
            if not path.startswith("/api/v4/"):
                return self._answer(404, {"message": "404 Not Found"})
            parts = path.removeprefix("/api/v4/").split("/")
            if parts == ["user"]:
                if user is None:
                    return self._answer(401, {"message": "401 Unauthorized"})
                return self._answer(200, {"id": 9, "username": user})
            if parts[0] != "projects" or unquote(parts[1]) not in ("42", PROJECT):
                return self._answer(404, {"message": "404 Project Not Found"})
            rest = parts[2:]
            if not rest:
                return self._answer(
                    200,
                    {
                        "id": 42,
                        "path_with_namespace": PROJECT,
                        "only_allow_merge_if_pipeline_succeeds": state.pipelines_must_succeed,
                    },
                )
            if rest[0] == "merge_requests":
                return self._merge_requests(method, rest[1:], query, payload, user)
            if rest[0] == "pipelines":
                return self._pipelines(rest[1:], query)
            return self._answer(404, {"message": "404 Not Found"})

        def _page(self, items: list[Any], query: dict[str, str]) -> None:
            size = int(query.get("per_page", "20"))
            page = int(query.get("page", "1"))
            return self._answer(200, items[(page - 1) * size : page * size])

        def _merge_requests(
            self, method: str, rest: list[str], query: dict[str, str], payload: Any, user: Any
        ) -> None:
            if not rest:
                if method == "GET":
                    found = [
                        m
                        for m in state.merge_requests
                        if m["state"] == query.get("state", m["state"])
                        and m["source_branch"] == query.get("source_branch", m["source_branch"])
                        and m["target_branch"] == query.get("target_branch", m["target_branch"])
                    ]
                    return self._page(found, query)
                if any(
                    m["source_branch"] == payload["source_branch"] and m["state"] == "opened"
                    for m in state.merge_requests
                ):
                    return self._answer(409, {"message": ["Another open merge request exists"]})
                iid = len(state.merge_requests) + 1
                merge_request = {
                    "iid": iid,
                    "id": 900 + iid,
                    "state": "opened",
                    "title": payload["title"],
                    "description": payload.get("description", ""),
                    "source_branch": payload["source_branch"],
                    "target_branch": payload["target_branch"],
                    "web_url": f"{state.url}/{PROJECT}/-/merge_requests/{iid}",
                    "merge_when_pipeline_succeeds": False,
                    "sha": payload.get("sha", ""),
                }
                state.merge_requests.append(merge_request)
                return self._answer(201, merge_request)
            found = [m for m in state.merge_requests if str(m["iid"]) == rest[0]]
            if not found:
                return self._answer(404, {"message": "404 Not found"})
            merge_request = found[0]
            if rest[1:] == [] and method == "GET":
                return self._answer(200, merge_request)
            if rest[1:] == [] and method == "PUT":
                merge_request.update(
                    {k: payload[k] for k in ("title", "description") if k in payload}
                )
                return self._answer(200, merge_request)
            if rest[1:] == ["merge"] and method == "PUT":
                return self._merge(merge_request, payload)
            if rest[1:2] == ["notes"]:
                return self._notes(method, merge_request["iid"], rest[2:], query, payload, user)
            return self._answer(404, {"message": "404 Not Found"})

        def _merge(self, merge_request: dict[str, Any], payload: Any) -> None:
            if merge_request["state"] != "opened":
                return self._answer(405, {"message": "405 Method Not Allowed"})
            if merge_request.get("sha") and payload.get("sha") != merge_request["sha"]:
                return self._answer(409, {"message": "SHA does not match HEAD of source branch"})
            if payload.get("auto_merge") or payload.get("merge_when_pipeline_succeeds"):
                running = [p for p in state.pipelines if p["status"] in ("running", "pending")]
                if not running:
                    return self._answer(405, {"message": "405 Method Not Allowed"})
                merge_request["merge_when_pipeline_succeeds"] = True
                merge_request["auto_merge_sha"] = payload.get("sha")
                return self._answer(200, merge_request)
            merge_request.update(state="merged", merged_sha=payload.get("sha"))
            return self._answer(200, merge_request)

        def _notes(
            self,
            method: str,
            iid: int,
            rest: list[str],
            query: dict[str, str],
            payload: Any,
            user: Any,
        ) -> None:
            notes = state.notes.setdefault(iid, [])
            if not rest and method == "GET":
                ordered = notes if query.get("sort", "desc") == "asc" else notes[::-1]
                return self._page(ordered, query)
            if not rest and method == "POST":
                if len(payload.get("body", "")) > 1_000_000:
                    return self._answer(400, {"message": {"note": ["is too long"]}})
                state.next_id += 1
                note = {
                    "id": state.next_id,
                    "body": payload["body"],
                    "author": {"username": user},
                    "system": False,
                }
                notes.append(note)
                return self._answer(201, note)
            if len(rest) == 1 and method == "PUT":
                for note in notes:
                    if str(note["id"]) == rest[0]:
                        if note["author"]["username"] != user:
                            return self._answer(403, {"message": "403 Forbidden"})
                        note["body"] = payload["body"]
                        return self._answer(200, note)
            return self._answer(404, {"message": "404 Not Found"})

        def _pipelines(self, rest: list[str], query: dict[str, str]) -> None:
            if not rest:
                state.pipeline_reads += 1
                if state.pipelines_after and state.pipeline_reads > state.pipelines_after[0]:
                    state.pipelines = state.pipelines_after[1]
                shown = [
                    {k: v for k, v in p.items() if k != "jobs"}
                    for p in state.pipelines
                    if p.get("sha", query.get("sha")) == query.get("sha")
                ]
                return self._page(shown, query)
            found = [p for p in state.pipelines if str(p["id"]) == rest[0]]
            if found and rest[1:] == ["jobs"]:
                return self._page(found[0].get("jobs", []), query)
            return self._answer(404, {"message": "404 Not Found"})

    return Handler


@contextmanager
def fake_gitlab() -> Iterator[FakeGitLab]:
    state = FakeGitLab()
    with serving(_handler(state)) as url:
        state.url = url
        yield state
