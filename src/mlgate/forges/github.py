"""GitHub Actions without glue: job summary, step outputs, annotations, and the sticky comment.

The REST client (mlgate.forges.rest) uses the standard library only. It honours GITHUB_API_URL
(GitHub Enterprise), retries 5xx and rate limits with backoff, and never prints the token.
"""

from __future__ import annotations

import json
import os
import time
import urllib.parse
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from mlgate.errors import MlgateError
from mlgate.escape import one_line
from mlgate.forges import green
from mlgate.forges.fitting import fit
from mlgate.forges.jobfiles import append
from mlgate.forges.rest import Api, Forbidden

DEFAULT_API_URL = "https://api.github.com"
ACTIONS_BOT = "github-actions[bot]"  # who comments with the Actions token (GET /user is 403)
COMMENT_LIMIT = 65_536  # characters in an issue or pull request comment (HTTP 422 above)
SUMMARY_LIMIT = 1_048_576  # bytes of one step's job summary (GitHub drops a larger one)
MERGE_METHOD = "SQUASH"
PASSING = ("success", "neutral", "skipped")  # a check run's conclusions that do not block
ENABLE_AUTO_MERGE = """
mutation($pullRequestId: ID!, $mergeMethod: PullRequestMergeMethod!, $expectedHeadOid: GitObjectID) {
  enablePullRequestAutoMerge(input: {pullRequestId: $pullRequestId, mergeMethod: $mergeMethod,
                                     expectedHeadOid: $expectedHeadOid}) {
    pullRequest { number autoMergeRequest { enabledAt } }
  }
}
"""


def in_actions(env: Mapping[str, str] | None = None) -> bool:
    return (os.environ if env is None else env).get("GITHUB_ACTIONS") == "true"


def append_step_summary(
    markdown: str,
    env: Mapping[str, str] | None = None,
    full: str = "run `mlgate check --format md` for the full report",
) -> None:
    """Append to the job summary, cut to fit GitHub's limit (``full``: where the rest is)."""
    path = (os.environ if env is None else env).get("GITHUB_STEP_SUMMARY")
    if path:
        append(path, fit(markdown, SUMMARY_LIMIT, full, "GitHub") + "\n", "GITHUB_STEP_SUMMARY")


def write_outputs(outputs: Mapping[str, str], env: Mapping[str, str] | None = None) -> None:
    """Append ``name<<delimiter`` blocks to GITHUB_OUTPUT, so values may span lines."""
    path = (os.environ if env is None else env).get("GITHUB_OUTPUT")
    if not path:
        return
    import uuid

    blocks = []
    for name, value in outputs.items():
        delimiter = f"mlgate_{uuid.uuid4().hex}"  # a value cannot end the block early
        blocks.append(f"{name}<<{delimiter}\n{value}\n{delimiter}\n")
    append(path, "".join(blocks), "GITHUB_OUTPUT")


@dataclass(frozen=True)
class WorkflowCommand:
    """A line the Actions runner acts on, built only here with its values escaped: the one kind
    of output the CLI prints without making it terminal-safe (a ``str`` never passes as one)."""

    line: str


@dataclass(frozen=True)
class GateCheck:
    """The gate's own check run on a commit: its name and the GitHub App that ran it."""

    name: str
    app: str  # the app's slug: "github-actions" for a workflow's job


GATE_CHECK = GateCheck("Gate", "github-actions")  # pr.yml's job `gate`, named "Gate"


def _app_slug(run: dict[str, Any]) -> str | None:
    app = run.get("app")
    return app.get("slug") if isinstance(app, dict) else None


def error_annotation(message: str, title: str = "mlgate") -> WorkflowCommand:
    """A workflow command that shows ``message`` as an error on the run's page."""
    return _annotation("error", message, title)


def warning_annotation(message: str, title: str = "mlgate") -> WorkflowCommand:
    """A workflow command that shows ``message`` as a warning on the run's page."""
    return _annotation("warning", message, title)


def _annotation(level: str, message: str, title: str) -> WorkflowCommand:
    def escape(text: str) -> str:
        lines = text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")
        return one_line(lines)  # the other control characters, shown as escapes

    shown_title = escape(title).replace(",", "%2C").replace(":", "%3A")
    return WorkflowCommand(f"::{level} title={shown_title}::{escape(message)}")


def base_branch(env: Mapping[str, str]) -> str | None:
    """The branch a pull_request workflow's change is to be merged into."""
    return env.get("GITHUB_BASE_REF") or None


def run_url(env: Mapping[str, str]) -> str | None:
    """The workflow run this job belongs to, when there is one."""
    if env.get("GITHUB_RUN_ID") and env.get("GITHUB_SERVER_URL"):
        return (
            f"{env['GITHUB_SERVER_URL']}/{env.get('GITHUB_REPOSITORY', '')}"
            f"/actions/runs/{env['GITHUB_RUN_ID']}"
        )
    return None


def pull_request_number(env: Mapping[str, str] | None = None) -> int:
    """The pull request's number, from the event payload GitHub writes at GITHUB_EVENT_PATH."""
    env = os.environ if env is None else env
    path = env.get("GITHUB_EVENT_PATH")
    if not path:
        raise MlgateError(
            "no pull request here: GITHUB_EVENT_PATH is not set (run this in a pull_request workflow)"
        )
    try:
        with open(path, encoding="utf-8") as f:
            event = json.load(f)
    except (OSError, json.JSONDecodeError) as exc:
        raise MlgateError(f"cannot read the GitHub event payload {path}: {exc}") from None
    number = (event.get("pull_request") or {}).get("number") or event.get("number")
    if not isinstance(number, int):
        raise MlgateError(
            "the GitHub event is not a pull request (no pull_request.number in its payload)"
        )
    return number


@dataclass(frozen=True)
class GitHubClient:
    api_url: str
    repository: str  # "owner/name"
    token: str
    sleep: Callable[[float], None] = time.sleep
    graphql_url: str = ""  # "": derived from api_url (…/api/v3 -> …/api/graphql)
    name = "GitHub"
    change = "pull request"
    sigil = "#"

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> GitHubClient:
        env = os.environ if env is None else env
        missing = [n for n in ("GITHUB_REPOSITORY", "GITHUB_TOKEN") if not env.get(n)]
        if missing:
            raise MlgateError(
                f"cannot post to GitHub: {' and '.join(missing)} not set (pass `env: GITHUB_TOKEN: ${{{{ github.token }}}}`)"
            )
        return cls(
            env.get("GITHUB_API_URL") or DEFAULT_API_URL,
            env["GITHUB_REPOSITORY"],
            env["GITHUB_TOKEN"],
            graphql_url=env.get("GITHUB_GRAPHQL_URL", ""),
        )

    def __repr__(self) -> str:  # the token never appears in logs or tracebacks
        return f"GitHubClient(api_url={self.api_url!r}, repository={self.repository!r})"

    def refused_proposal(self, branch: str) -> str:
        return (
            f"GitHub refused to open the pull request (403); the branch {branch} is pushed. "
            "Give the job a token that may (secret MLGATE_RELEASE_TOKEN), or allow GitHub "
            "Actions to create pull requests in the repository's Actions settings"
        )

    def refused_comment(self) -> str:
        return (
            "GitHub refused the comment (403): the token is read-only, as for a pull "
            "request from a fork; the report is in the job summary instead"
        )

    def run_url(self, env: Mapping[str, str]) -> str | None:
        return run_url(env)

    def upsert_comment(
        self,
        number: int,
        body: str,
        marker: str,
        full: str = "the full report is in the job summary",
    ) -> tuple[str, str]:
        """Update our newest comment carrying ``marker``, else create one. Returns (action, URL).

        Only a comment written by the token's own identity is ours: anyone can paste the marker
        into a comment of their own, which must neither be edited nor stop the report."""
        if marker not in body:
            body = f"{marker}\n{body}"
        body = fit(body, COMMENT_LIMIT, full, "GitHub")
        existing = self._find_comment(number, marker, self.identity())
        if existing is None:
            created = self.request(
                "POST", f"/repos/{self.repository}/issues/{number}/comments", {"body": body}
            )
            return "created", str(created.get("html_url", ""))
        updated = self.request(
            "PATCH", f"/repos/{self.repository}/issues/comments/{existing}", {"body": body}
        )
        return "updated", str(updated.get("html_url", ""))

    def upsert_change(self, branch: str, base: str, title: str, body: str) -> tuple[str, int, str]:
        """Update the open pull request from ``branch`` into ``base``, else open one.
        Returns (action, number, URL)."""
        owner = self.repository.split("/")[0]
        query = urllib.parse.urlencode({"head": f"{owner}:{branch}", "base": base, "state": "open"})
        existing = self.request("GET", f"/repos/{self.repository}/pulls?{query}")
        payload = {"title": title, "body": body}
        if existing:
            number = int(existing[0]["number"])
            pull = self.request("PATCH", f"/repos/{self.repository}/pulls/{number}", payload)
            return "updated", number, str(pull.get("html_url", ""))
        pull = self.request(
            "POST", f"/repos/{self.repository}/pulls", {**payload, "head": branch, "base": base}
        )
        return "opened", int(pull["number"]), str(pull.get("html_url", ""))

    def enable_auto_merge(self, number: int, head_sha: str) -> str | None:
        """Turn on GitHub's auto-merge for the pull request (it merges once the branch's
        required checks pass), pinned to ``head_sha``: None when done, else why GitHub would
        not (auto-merge not allowed in the repository, or nothing left to wait for)."""
        pull = self.request("GET", f"/repos/{self.repository}/pulls/{number}")
        node_id = pull.get("node_id") if isinstance(pull, dict) else None
        if not isinstance(node_id, str):
            raise MlgateError(f"GitHub API GET pull request #{number}: no node_id in the answer")
        variables = {
            "pullRequestId": node_id,
            "mergeMethod": MERGE_METHOD,
            "expectedHeadOid": head_sha,
        }
        answer = self.graphql(ENABLE_AUTO_MERGE, variables)
        errors = answer.get("errors") if isinstance(answer, dict) else None
        if errors:
            said = [one_line(str(e.get("message", e)))[:200] for e in errors if isinstance(e, dict)]
            return "; ".join(said) or "GitHub answered with errors"
        return None

    def merge_when_green(
        self, number: int, head_sha: str, wait_seconds: float, *, gate: GateCheck = GATE_CHECK
    ) -> tuple[bool, str]:
        """Merge the pull request once every check on ``head_sha`` has passed, the gate's own
        among them (``gate``: its check run's name and the app that ran it, so another app's
        check of that name never stands for it), pinned to that commit; wait at most
        ``wait_seconds``, looking every tenth of it (20 s at most). (merged, what happened)."""

        def merge() -> None:
            self.request(
                "PUT",
                f"/repos/{self.repository}/pulls/{number}/merge",
                {"sha": head_sha, "merge_method": MERGE_METHOD.lower()},
            )

        return green.merge_when_green(
            lambda: self._checks(head_sha, gate),
            merge,
            wait_seconds,
            self.sleep,
            "merged: every check on its commit passed, the gate's own among them",
        )

    def _checks(self, sha: str, gate: GateCheck) -> tuple[str | None, list[str]]:
        """What is still running on the commit or has not run (None: nothing, and the gate's
        own check passed), and the names of the checks that failed. Every page is read."""
        base = f"/repos/{self.repository}/commits/{sha}"
        runs = self._every_page(f"{base}/check-runs", "check_runs")
        statuses = self._every_page(f"{base}/status", "statuses")
        checks = [(str(r.get("name", "?")), r.get("status"), r.get("conclusion")) for r in runs]
        checks += [
            (
                str(s.get("context", "?")),
                "completed" if s.get("state") != "pending" else "queued",
                s.get("state"),
            )
            for s in statuses
        ]
        failed = [
            one_line(name)[:100]
            for name, state, conclusion in checks
            if state == "completed" and conclusion not in PASSING
        ]
        running = [name for name, state, _ in checks if state != "completed"]
        own = [r for r in runs if r.get("name") == gate.name and _app_slug(r) == gate.app]
        if running:
            return f"{one_line(', '.join(running))[:200]} still running", failed
        if not any(
            r.get("status") == "completed" and r.get("conclusion") == "success" for r in own
        ):
            return (
                f"the gate's own check ({gate.name}, by {gate.app}) has not passed on its commit",
                failed,
            )
        return None, failed

    def _every_page(self, path: str, key: str) -> list[dict[str, Any]]:
        return self._api().every_page(path, key)

    def graphql(self, query: str, variables: dict[str, Any]) -> Any:
        """One GraphQL call (at ``graphql_url``); errors come back in the answer."""
        return self.request(
            "POST", "", {"query": query, "variables": variables}, url=self._graphql()
        )

    def _graphql(self) -> str:
        if self.graphql_url:
            return self.graphql_url
        base = self.api_url.rstrip("/")
        if base.endswith("/api/v3"):  # GitHub Enterprise Server
            return base[: -len("/v3")] + "/graphql"
        return base + "/graphql"

    def identity(self) -> str:
        """The login the token acts as: GET /user for a personal or app user token; the Actions
        token may not call it (403) and comments as github-actions[bot]."""
        try:
            user = self.request("GET", "/user")
        except Forbidden:
            return ACTIONS_BOT
        login = user.get("login") if isinstance(user, dict) else None
        return login if isinstance(login, str) and login else ACTIONS_BOT

    def _find_comment(self, number: int, marker: str, author: str) -> int | None:
        """The newest comment by ``author`` that carries ``marker`` (comments come oldest first)."""
        found = None
        path = f"/repos/{self.repository}/issues/{number}/comments"
        for comment in self._api().every_page(path):
            user = comment.get("user")
            login = user.get("login") if isinstance(user, dict) else None
            if login == author and marker in str(comment.get("body") or ""):
                found = int(comment["id"])
        return found

    def request(self, method: str, path: str, payload: Any = None, *, url: str = "") -> Any:
        """One REST call (to ``url`` when given) with retries on 5xx and rate limits; 403
        raises Forbidden."""
        return self._api().call(method, path, payload, url=url)

    def _api(self) -> Api:
        return Api(
            "GitHub",
            self.api_url,
            ("Authorization", f"Bearer {self.token}"),
            {"Accept": "application/vnd.github+json", "X-GitHub-Api-Version": "2022-11-28"},
            self.sleep,
        )
