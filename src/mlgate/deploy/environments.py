"""Deployment environments: the policy's ``[tool.mlgate.environments]`` and ``local``, each with
its target (``deploy.targets``)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mlgate import defaults
from mlgate.deploy.targets import Target, open_target
from mlgate.errors import ConfigError
from mlgate.policy import Policy
from mlgate.registry import tags as registry

LOCAL = defaults.LOCAL_ENVIRONMENT


DEFAULT_TARGETS = ".mlgate/deployments"


@dataclass(frozen=True)
class Environment:
    name: str
    target: Target
    options: Mapping[str, Any] = field(default_factory=dict)  # as the policy gives them


def environment(root: Path, policy: Policy, name: str) -> Environment:
    """The policy's environment ``name``. ``local``, and any name while the policy declares no
    environments (as promotions allow), deploy to ``.mlgate/deployments/<name>``."""
    registry.check_name("environment", name)
    declared = policy.environments.get(name)
    if declared is None and name != LOCAL and policy.environments:
        known = ", ".join([LOCAL, *policy.environments])
        raise ConfigError(
            f"unknown environment '{name}': declare [tool.mlgate.environments.{name}] with a "
            f"target directory (environments: {known})"
        )
    target = str((declared or {}).get("target") or f"{DEFAULT_TARGETS}/{name}")
    options = declared or {}
    return Environment(name, open_target(target, root, environment=name, options=options), options)


def known_environments(root: Path, policy: Policy) -> list[Environment]:
    """``local``, the policy's environments, and any other that was deployed to by name."""
    names = [LOCAL, *policy.environments]
    if not policy.environments and (root / DEFAULT_TARGETS).is_dir():
        names += sorted(p.name for p in (root / DEFAULT_TARGETS).iterdir() if p.is_dir())
    return [environment(root, policy, name) for name in dict.fromkeys(names)]
