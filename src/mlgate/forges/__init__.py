"""Code hosts ("forges") as the gate, release and retraining need them: one Protocol, and a
registry of the hosts mlgate speaks to (GitHub, GitLab).

A forge's client upserts one sticky comment (its own marker, its own author only, fitted to
the host's size limit), opens or updates a change request (a pull request, a merge request),
and merges one when green, pinned to a commit and only once the gate's own job passed. Beside
the client, each host says whether this process runs in its CI, which change the job is for,
and which branch that change is to be merged into.

Which host: ``MLGATE_FORGE`` (``github`` or ``gitlab``) when set; else the CI that runs this
(``GITHUB_ACTIONS``, ``GITLAB_CI``); else the one whose token is set (``GITLAB_TOKEN`` without
``GITHUB_TOKEN`` is GitLab); else GitHub. Adding a host is one module and one entry below.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Protocol

from mlgate.errors import ConfigError
from mlgate.forges import github, gitlab
from mlgate.forges.rest import Forbidden, HttpError

__all__ = [
    "FORGES",
    "Forbidden",
    "Forge",
    "Host",
    "HttpError",
    "base_branch",
    "client",
    "detect",
    "in_ci",
    "post_sticky_comment",
    "write_outputs",
]

CHOICE_VARIABLE = "MLGATE_FORGE"


class Forge(Protocol):
    """A code host's client: what the gate, release and retraining ask of it."""

    @property
    def name(self) -> str: ...  # "GitHub", as messages say it

    @property
    def change(self) -> str: ...  # "pull request", "merge request"

    @property
    def sigil(self) -> str: ...  # what a change's number is written after: "#", "!"

    def upsert_comment(self, number: int, body: str, marker: str, full: str) -> tuple[str, str]:
        """Update our own newest comment carrying ``marker`` on change ``number``, else add
        one; (action, URL). ``full``: where the whole report is when the host's limit cuts."""
        ...

    def upsert_change(self, branch: str, base: str, title: str, body: str) -> tuple[str, int, str]:
        """Update the open change request from ``branch`` into ``base``, else open one;
        (action, number, URL)."""
        ...

    def enable_auto_merge(self, number: int, head_sha: str) -> str | None:
        """The host's own merge-when-green, pinned to ``head_sha``: None when on, else why not."""
        ...

    def merge_when_green(self, number: int, head_sha: str, wait_seconds: float) -> tuple[bool, str]:
        """Merge once every check of ``head_sha`` passed, the gate's own among them."""
        ...

    def refused_proposal(self, branch: str) -> str:
        """What to say when the host refused (403) to open the change request."""
        ...

    def refused_comment(self) -> str:
        """What to say when the host refused (403) the comment."""
        ...

    def run_url(self, env: Mapping[str, str]) -> str | None:
        """The CI run this job belongs to, when there is one."""
        ...


@dataclass(frozen=True)
class Host:
    """One forge in the registry: its client and what its CI environment tells."""

    key: str  # as MLGATE_FORGE names it
    token_variable: str
    client: Callable[[Mapping[str, str]], Forge]
    in_ci: Callable[[Mapping[str, str]], bool]
    change_number: Callable[[Mapping[str, str]], int]
    base_branch: Callable[[Mapping[str, str]], str | None]


FORGES: dict[str, Host] = {
    "github": Host(
        "github",
        "GITHUB_TOKEN",
        github.GitHubClient.from_env,
        github.in_actions,
        github.pull_request_number,
        github.base_branch,
    ),
    "gitlab": Host(
        "gitlab",
        gitlab.TOKEN_VARIABLE,
        gitlab.GitLabClient.from_env,
        gitlab.in_ci,
        gitlab.merge_request_iid,
        gitlab.base_branch,
    ),
}


def detect(env: Mapping[str, str] | None = None) -> Host:
    """The forge this process works with (the order is in the module's docstring)."""
    env = os.environ if env is None else env
    chosen = env.get(CHOICE_VARIABLE, "")
    if chosen:
        if chosen not in FORGES:
            raise ConfigError(
                f"{CHOICE_VARIABLE} must be one of {', '.join(FORGES)}, not {chosen[:40]!r}"
            )
        return FORGES[chosen]
    running = [host for host in FORGES.values() if host.in_ci(env)]
    if running:
        return running[0]
    tokens = [host for host in FORGES.values() if env.get(host.token_variable)]
    return tokens[0] if len(tokens) == 1 else FORGES["github"]


def client(env: Mapping[str, str] | None = None) -> Forge:
    """The detected forge's client, from the environment (a missing token is an error now,
    before any work)."""
    env = os.environ if env is None else env
    return detect(env).client(env)


def in_ci(env: Mapping[str, str] | None = None) -> bool:
    """Whether a forge's CI runs this process."""
    env = os.environ if env is None else env
    return any(host.in_ci(env) for host in FORGES.values())


def write_outputs(outputs: Mapping[str, str], env: Mapping[str, str] | None = None) -> None:
    """A command's outputs to the CI job running it: a GitHub Actions step's outputs, or a
    GitLab job's dotenv report (MLGATE_DOTENV); nothing elsewhere."""
    env = os.environ if env is None else env
    if github.in_actions(env):
        github.write_outputs(outputs, env)
    gitlab.write_outputs(outputs, env)


def base_branch(env: Mapping[str, str]) -> str | None:
    """The branch the CI job's change is to be merged into, as its forge says."""
    for host in FORGES.values():
        if host.in_ci(env) or host.key == "github":
            found = host.base_branch(env)
            if found:
                return found
    return None


def post_sticky_comment(
    markdown: str, *, marker: str, full: str, env: Mapping[str, str] | None = None
) -> str | github.WorkflowCommand:
    """Post ``markdown`` as the change's comment that begins with ``marker``, or update it in
    place; what to say of it: the comment's address, or, when the host refused (a read-only
    token, as for a pull request from a fork), a warning. ``full``: where the full report is
    when the comment must be cut."""
    env = os.environ if env is None else env
    host = detect(env)
    forge = host.client(env)
    number = host.change_number(env)
    where = "the full report is in the job summary" if github.in_actions(env) else full
    try:
        action, url = forge.upsert_comment(number, markdown, marker, where)
    except Forbidden:
        warning = forge.refused_comment()
        if github.in_actions(env):
            return github.warning_annotation(warning)
        return f"mlgate: warning: {warning}"
    return f"mlgate: {action} the {forge.change} comment {url}".rstrip()
