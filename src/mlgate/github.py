"""GitHub Actions without glue: job summary, step outputs, annotations, and the sticky comment.

The REST client uses the standard library only. It honours GITHUB_API_URL (GitHub Enterprise),
retries 5xx and rate limits with backoff, and never prints the token.
"""

from __future__ import annotations

import json
import os
import time
import urllib.parse
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from mlgate.errors import MlgateError

if TYPE_CHECKING:
    import urllib.error

DEFAULT_API_URL = "https://api.github.com"
RETRIES = 4


class Forbidden(MlgateError):
    """GitHub answered 403: the token may not do this (a fork's pull request gets a read-only
    token; GITHUB_TOKEN opens pull requests only where the repository allows it)."""


def in_actions(env: Mapping[str, str] | None = None) -> bool:
    return (os.environ if env is None else env).get("GITHUB_ACTIONS") == "true"


def append_step_summary(markdown: str, env: Mapping[str, str] | None = None) -> None:
    path = (os.environ if env is None else env).get("GITHUB_STEP_SUMMARY")
    if path:
        with open(path, "a", encoding="utf-8") as f:
            f.write(markdown + "\n")


def write_outputs(outputs: Mapping[str, str], env: Mapping[str, str] | None = None) -> None:
    """Append ``name<<delimiter`` blocks to GITHUB_OUTPUT, so values may span lines."""
    path = (os.environ if env is None else env).get("GITHUB_OUTPUT")
    if not path:
        return
    with open(path, "a", encoding="utf-8") as f:
        for name, value in outputs.items():
            delimiter = f"mlgate_{uuid.uuid4().hex}"
            f.write(f"{name}<<{delimiter}\n{value}\n{delimiter}\n")


def error_annotation(message: str, title: str = "mlgate") -> str:
    """A workflow command that shows ``message`` as an error on the run's page."""
    return _annotation("error", message, title)


def warning_annotation(message: str, title: str = "mlgate") -> str:
    """A workflow command that shows ``message`` as a warning on the run's page."""
    return _annotation("warning", message, title)


def _annotation(level: str, message: str, title: str) -> str:
    def escape(text: str) -> str:
        return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")

    return f"::{level} title={escape(title).replace(',', '%2C').replace(':', '%3A')}::{escape(message)}"


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
        )

    def __repr__(self) -> str:  # the token never appears in logs or tracebacks
        return f"GitHubClient(api_url={self.api_url!r}, repository={self.repository!r})"

    def upsert_comment(self, number: int, body: str, marker: str) -> tuple[str, str]:
        """Update the comment carrying ``marker``, else create one. Returns (action, URL)."""
        if marker not in body:
            body = f"{marker}\n{body}"
        existing = self._find_comment(number, marker)
        if existing is None:
            created = self.request(
                "POST", f"/repos/{self.repository}/issues/{number}/comments", {"body": body}
            )
            return "created", str(created.get("html_url", ""))
        updated = self.request(
            "PATCH", f"/repos/{self.repository}/issues/comments/{existing}", {"body": body}
        )
        return "updated", str(updated.get("html_url", ""))

    def upsert_pull_request(
        self, branch: str, base: str, title: str, body: str
    ) -> tuple[str, int, str]:
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

    def _find_comment(self, number: int, marker: str) -> int | None:
        page = 1
        while True:
            comments = self.request(
                "GET", f"/repos/{self.repository}/issues/{number}/comments?per_page=100&page={page}"
            )
            for comment in comments:
                if marker in (comment.get("body") or ""):
                    return int(comment["id"])
            if len(comments) < 100:
                return None
            page += 1

    def request(self, method: str, path: str, payload: Any = None) -> Any:
        """One REST call with retries on 5xx and rate limits; 403 raises Forbidden."""
        import urllib.error  # only when posting: the gate's start-up stays short
        import urllib.request

        data = None if payload is None else json.dumps(payload).encode()
        for attempt in range(RETRIES + 1):
            request = urllib.request.Request(
                self.api_url.rstrip("/") + path, data=data, method=method
            )
            request.add_header("Authorization", f"Bearer {self.token}")
            request.add_header("Accept", "application/vnd.github+json")
            request.add_header("X-GitHub-Api-Version", "2022-11-28")
            request.add_header("User-Agent", "mlgate")
            if data is not None:
                request.add_header("Content-Type", "application/json")
            try:
                with urllib.request.urlopen(request, timeout=30) as response:
                    body = response.read()
                    return json.loads(body) if body else {}
            except urllib.error.HTTPError as exc:
                wait = _retry_after(exc, attempt)
                if wait is None or attempt == RETRIES:
                    raise self._error(method, path, exc) from None
                self.sleep(wait)
            except (urllib.error.URLError, TimeoutError, OSError) as exc:
                if attempt == RETRIES:
                    raise MlgateError(
                        f"cannot reach the GitHub API at {self.api_url}: {exc}"
                    ) from None
                self.sleep(2.0**attempt)
        raise AssertionError("unreachable")

    def _error(self, method: str, path: str, exc: urllib.error.HTTPError) -> MlgateError:
        if exc.code == 403:
            return Forbidden(
                f"GitHub API {method} {path.split('?')[0]} refused (HTTP 403): the token may not "
                "do this"
            )
        return MlgateError(
            f"GitHub API {method} {path.split('?')[0]} failed: HTTP {exc.code} {exc.reason}"
        )


def _retry_after(exc: urllib.error.HTTPError, attempt: int) -> float | None:
    """Seconds to wait before retrying, or None when retrying cannot help."""
    headers = exc.headers
    rate_limited = exc.code == 429 or (
        exc.code == 403 and headers.get("x-ratelimit-remaining") == "0"
    )
    if not rate_limited and exc.code < 500:
        return None
    if headers.get("retry-after", "").isdigit():
        return min(float(headers["retry-after"]), 60.0)
    if rate_limited and headers.get("x-ratelimit-reset", "").isdigit():
        return min(max(float(headers["x-ratelimit-reset"]) - time.time(), 1.0), 60.0)
    return min(2.0**attempt, 30.0)
