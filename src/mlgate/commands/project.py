"""The project a command runs in: its repository's root, the policy of its workspace (or of a
commit), and the environments that policy names. Each is looked up once, when first asked."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from mlgate import git
from mlgate.snapshot import read_policy

if TYPE_CHECKING:
    from mlgate.deploy.environments import Environment
    from mlgate.policy import Policy


@dataclass(frozen=True)
class Project:
    root: Path

    @functools.cached_property
    def policy(self) -> Policy:
        """The workspace's [tool.mlgate]."""
        return read_policy(git.revision(git.WORKSPACE, self.root))

    def policy_at(self, commit: str) -> Policy:
        return read_policy(git.revision(commit, self.root))

    def environment(self, name: str) -> Environment:
        from mlgate.deploy import environments

        return environments.environment(self.root, self.policy, name)

    def environments(self, name: str | None = None) -> list[Environment]:
        """The one named, or every environment the policy knows (and local)."""
        from mlgate.deploy import environments

        if name:
            return [self.environment(name)]
        return environments.known_environments(self.root, self.policy)


def project() -> Project:
    """The project of the current directory (an error outside a git repository)."""
    return Project(git.repo_root())
