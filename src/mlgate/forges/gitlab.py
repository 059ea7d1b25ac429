"""GitLab as a forge: merge request notes updated in place, merge requests opened and updated,
auto-merge pinned to a commit, and the CI variables a merge request pipeline sets.

The REST client (mlgate.forges.rest) speaks API v4 at CI_API_V4_URL, so a self-managed GitLab
works as gitlab.com does. It authenticates with GITLAB_TOKEN, a project or group access token
(or a personal one) with the ``api`` scope: the job token CI_JOB_TOKEN may not write notes
nor open merge requests, so it is never used.
"""

from __future__ import annotations

import os
import re
import time
import urllib.parse
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from mlgate.errors import MlgateError
from mlgate.escape import one_line
from mlgate.forges import green
from mlgate.forges.fitting import fit
from mlgate.forges.jobfiles import append
from mlgate.forges.rest import Api, HttpError

DEFAULT_API_URL = "https://gitlab.com/api/v4"
TOKEN_VARIABLE = "GITLAB_TOKEN"
OUTPUT_VARIABLE = "MLGATE_DOTENV"  # where a job's outputs go, as a dotenv report
NOTE_LIMIT = 1_000_000  # characters in a note's body (GitLab answers 400 above)
GATE_JOB = "gate"  # the job `mlgate init --ci gitlab` writes for the gate
PASSING = ("success", "skipped", "manual")  # a pipeline's statuses that do not block
RUNNING = ("created", "waiting_for_resource", "preparing", "pending", "running", "scheduled")
_PROJECT_PATH = re.compile(r"[A-Za-z0-9_.][A-Za-z0-9_.-]*(/[A-Za-z0-9_.][A-Za-z0-9_.-]*)+")
_MERGE_REFUSED = {
    405: "GitLab cannot merge it now (not mergeable, or no pipeline to wait for)",
    406: "the branch cannot be merged (a conflict?)",
    409: "its source branch moved past the proposed commit",
    422: "GitLab refused the merge",
}


def in_ci(env: Mapping[str, str] | None = None) -> bool:
    return (os.environ if env is None else env).get("GITLAB_CI") == "true"


def merge_request_iid(env: Mapping[str, str] | None = None) -> int:
    """The merge request's number (its iid, ``!N``), from a merge request pipeline's variables."""
    value = (os.environ if env is None else env).get("CI_MERGE_REQUEST_IID", "")
    if not value:
        raise MlgateError(
            "no merge request here: CI_MERGE_REQUEST_IID is not set (run this job in a merge "
            'request pipeline: `rules: - if: $CI_PIPELINE_SOURCE == "merge_request_event"`)'
        )
    if not value.isdigit() or not 0 < int(value) < 2**31:
        raise MlgateError(f"CI_MERGE_REQUEST_IID is not a merge request number: {one_line(value)}")
    return int(value)


def base_branch(env: Mapping[str, str]) -> str | None:
    """The branch a merge request pipeline's change is to be merged into."""
    return env.get("CI_MERGE_REQUEST_TARGET_BRANCH_NAME") or None


def run_url(env: Mapping[str, str]) -> str | None:
    """The pipeline running this job, when there is one."""
    url = env.get("CI_PIPELINE_URL", "")
    return url if url.startswith(("https://", "http://")) else None


def write_outputs(outputs: Mapping[str, str], env: Mapping[str, str] | None = None) -> None:
    """In a GitLab job whose MLGATE_DOTENV names a file (the job's ``artifacts: reports:
    dotenv``), append ``MLGATE_NAME=value`` lines to it: later jobs get them as variables, and
    a script reads them there. Each value is one line with its controls shown as escapes, so
    no value can end its line and set another variable."""
    env = os.environ if env is None else env
    path = env.get(OUTPUT_VARIABLE, "")
    if not (in_ci(env) and path):
        return
    lines = [
        f"MLGATE_{re.sub(r'[^A-Za-z0-9_]', '_', name).upper()}={one_line(value)}\n"
        for name, value in outputs.items()
    ]
    append(path, "".join(lines), OUTPUT_VARIABLE)


def parse_api_url(value: str) -> str:
    """An API v4 base address, or the error saying what is wrong with it."""
    parts = urllib.parse.urlsplit(value)
    if parts.scheme not in ("https", "http") or not parts.hostname or parts.query:
        raise MlgateError(f"CI_API_V4_URL is not an http(s) address: {one_line(value)[:200]}")
    return value.rstrip("/")


def parse_project(value: str) -> str:
    """The project as API paths name it: its numeric id, or its path URL-encoded
    (``group/sub/name`` -> ``group%2Fsub%2Fname``); anything else is an error."""
    if value.isdigit() and 0 < int(value) < 2**63:
        return value
    if _PROJECT_PATH.fullmatch(value) and ".." not in value:
        return urllib.parse.quote(value, safe="")
    raise MlgateError(
        f"CI_PROJECT_ID is neither a project id nor a project path: {one_line(value)[:200]}"
    )


@dataclass(frozen=True)
class GitLabClient:
    api_url: str
    project: str  # as parse_project gives it: safe to put in a path
    token: str = field(repr=False)
    sleep: Callable[[float], None] = time.sleep
    name = "GitLab"
    change = "merge request"
    sigil = "!"

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> GitLabClient:
        env = os.environ if env is None else env
        token = env.get(TOKEN_VARIABLE, "")
        if not token:
            raise MlgateError(
                f"cannot post to GitLab: {TOKEN_VARIABLE} is not set (a project access token "
                "with the api scope, as a masked CI/CD variable; the job token may not write "
                "notes nor open merge requests)"
            )
        project = env.get("CI_PROJECT_ID") or env.get("CI_PROJECT_PATH") or ""
        if not project:
            raise MlgateError("cannot post to GitLab: CI_PROJECT_ID is not set")
        server = env.get("CI_SERVER_URL", "").rstrip("/")
        api = env.get("CI_API_V4_URL") or (f"{server}/api/v4" if server else DEFAULT_API_URL)
        return cls(parse_api_url(api), parse_project(project), token)

    def refused_proposal(self, branch: str) -> str:
        return (
            f"GitLab refused to open the merge request (403); the branch {branch} is pushed. "
            f"Give the job a token that may ({TOKEN_VARIABLE}: a project access token with the "
            "api scope and the Developer role)"
        )

    def refused_comment(self) -> str:
        return (
            f"GitLab refused the note (403): {TOKEN_VARIABLE} may not write on merge requests "
            "(a project access token with the api scope and the Reporter role at least); the "
            "report is in the job log instead"
        )

    def run_url(self, env: Mapping[str, str]) -> str | None:
        return run_url(env)

    def upsert_comment(
        self, number: int, body: str, marker: str, full: str = "the full report is in the job log"
    ) -> tuple[str, str]:
        """Update our newest note carrying ``marker`` on merge request ``!number``, else add one.
        Returns (action, URL). Only a note by the token's own user is ours: anyone may paste
        the marker into a note of their own, which must neither be edited nor stop the report."""
        if marker not in body:
            body = f"{marker}\n{body}"
        body = fit(body, NOTE_LIMIT, full, "GitLab")
        notes = f"{self._mr(number)}/notes"
        existing = self._find_note(notes, marker, self.identity())
        if existing is None:
            note = self.request("POST", notes, {"body": body})
            action = "created"
        else:
            note = self.request("PUT", f"{notes}/{existing}", {"body": body})
            action = "updated"
        page = self.request("GET", self._mr(number))
        url = page.get("web_url") if isinstance(page, dict) else None
        note_id = note.get("id") if isinstance(note, dict) else None
        return action, f"{url}#note_{note_id}" if isinstance(url, str) and note_id else ""

    def upsert_change(self, branch: str, base: str, title: str, body: str) -> tuple[str, int, str]:
        """Update the open merge request from ``branch`` into ``base``, else open one.
        Returns (action, iid, URL)."""
        query = urllib.parse.urlencode(
            {"source_branch": branch, "target_branch": base, "state": "opened"}
        )
        existing = self.request("GET", f"{self._project()}/merge_requests?{query}")
        payload = {"title": title, "description": body}
        if isinstance(existing, list) and existing:
            iid = _iid(existing[0])
            changed = self.request("PUT", self._mr(iid), payload)
            return "updated", iid, _web_url(changed)
        opened = self.request(
            "POST",
            f"{self._project()}/merge_requests",
            {**payload, "source_branch": branch, "target_branch": base},
        )
        return "opened", _iid(opened), _web_url(opened)

    def enable_auto_merge(self, number: int, head_sha: str) -> str | None:
        """Set the merge request to merge when its pipeline succeeds, pinned to ``head_sha``:
        None when done, else why not. Only where the project requires a pipeline to succeed
        before merging: without that setting GitLab may merge before the gate's job ran."""
        project = self.request("GET", self._project())
        if not (isinstance(project, dict) and project.get("only_allow_merge_if_pipeline_succeeds")):
            return (
                "the project does not require pipelines to succeed before merging, so GitLab "
                "could merge before the gate ran"
            )
        try:
            answer = self._merge(number, head_sha, auto=True)
        except _Refused as refused:
            return str(refused)
        if isinstance(answer, dict) and (
            answer.get("merge_when_pipeline_succeeds") or answer.get("state") == "merged"
        ):
            return None
        return "GitLab did not set the merge request to merge when its pipeline succeeds"

    def merge_when_green(
        self, number: int, head_sha: str, wait_seconds: float, *, gate: str = GATE_JOB
    ) -> tuple[bool, str]:
        """Merge the merge request once every pipeline of ``head_sha`` has passed, one of them
        running the gate's own job (``gate``; an external commit status of that name never
        stands for it), pinned to that commit; wait at most ``wait_seconds``, looking every
        tenth of it (20 s at most). (merged, what happened)."""

        def merge() -> str | None:
            try:
                self._merge(number, head_sha, auto=False)
            except _Refused as refused:
                return str(refused)
            return None

        return green.merge_when_green(
            lambda: self._pipelines(head_sha, gate),
            merge,
            wait_seconds,
            self.sleep,
            "merged: every pipeline of its commit passed, the gate's job among them",
        )

    def _merge(self, number: int, head_sha: str, *, auto: bool) -> Any:
        payload: dict[str, Any] = {"sha": head_sha}
        if auto:  # auto_merge since GitLab 17.11; merge_when_pipeline_succeeds before it
            payload.update(auto_merge=True, merge_when_pipeline_succeeds=True)
        try:
            return self.request("PUT", f"{self._mr(number)}/merge", payload)
        except HttpError as exc:
            if exc.code not in _MERGE_REFUSED:
                raise
            raise _Refused(_MERGE_REFUSED[exc.code]) from None

    def _pipelines(self, sha: str, gate: str) -> tuple[str | None, list[str]]:
        """What is still running on the commit or has not run (None: nothing, and the gate's
        job passed in one of its own pipelines), and the pipelines that failed."""
        query = urllib.parse.urlencode({"sha": sha})
        pipelines = self._every_page(f"{self._project()}/pipelines?{query}")
        named = [(_pipeline_name(p), p.get("status")) for p in pipelines]
        failed = [name for name, status in named if status not in PASSING + RUNNING]
        running = [name for name, status in named if status in RUNNING]
        if running:
            return f"{one_line(', '.join(running))[:200]} still running", failed
        own = [p for p in pipelines if p.get("source") != "external" and "id" in p]
        for pipeline in own:
            jobs = self._every_page(f"{self._project()}/pipelines/{_id(pipeline)}/jobs")
            if any(j.get("name") == gate and j.get("status") == "success" for j in jobs):
                return None, failed
        return f"the gate's own job ({gate}) has not passed in a pipeline of its commit", failed

    def _every_page(self, path: str) -> list[dict[str, Any]]:
        return self._api().every_page(path)

    def identity(self) -> str:
        """The username the token acts as (a project access token's bot user, say)."""
        user = self.request("GET", "/user")
        username = user.get("username") if isinstance(user, dict) else None
        if not isinstance(username, str) or not username:
            raise MlgateError("GitLab API GET /user: no username in the answer")
        return username

    def _find_note(self, notes: str, marker: str, author: str) -> int | None:
        """The newest note by ``author`` carrying ``marker`` (asked oldest first)."""
        found = None
        for note in self._every_page(f"{notes}?sort=asc&order_by=created_at"):
            written_by = note.get("author")
            username = written_by.get("username") if isinstance(written_by, dict) else None
            if note.get("system") or username != author:
                continue
            if marker in str(note.get("body") or ""):
                found = _id(note)
        return found

    def _project(self) -> str:
        return f"/projects/{self.project}"

    def _mr(self, number: int) -> str:
        return f"{self._project()}/merge_requests/{int(number)}"

    def request(self, method: str, path: str, payload: Any = None) -> Any:
        """One REST call with retries on 5xx and rate limits; 403 raises Forbidden."""
        return self._api().call(method, path, payload)

    def _api(self) -> Api:
        return Api("GitLab", self.api_url, ("PRIVATE-TOKEN", self.token), {}, self.sleep)


class _Refused(Exception):
    """GitLab would not merge: why, in words."""


def _iid(merge_request: Any) -> int:
    iid = merge_request.get("iid") if isinstance(merge_request, dict) else None
    if not isinstance(iid, int) or isinstance(iid, bool):
        raise MlgateError("GitLab API: a merge request without an iid in the answer")
    return iid


def _id(item: dict[str, Any]) -> int:
    value = item.get("id")
    if not isinstance(value, int) or isinstance(value, bool):
        raise MlgateError("GitLab API: an item without an id in the answer")
    return value


def _web_url(answer: Any) -> str:
    url = answer.get("web_url") if isinstance(answer, dict) else None
    return url if isinstance(url, str) else ""


def _pipeline_name(pipeline: dict[str, Any]) -> str:
    source = one_line(str(pipeline.get("source", "?")))[:40]
    return f"pipeline {pipeline.get('id', '?')} ({source})"
