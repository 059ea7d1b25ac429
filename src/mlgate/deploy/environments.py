"""Deployment environments: the policy's ``[tool.mlgate.environments]`` and ``local``, each with
its target (``deploy.targets``)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from mlgate import defaults
from mlgate.deploy.targets import Target, open_target
from mlgate.errors import ConfigError
from mlgate.policy import EnvironmentOptions, Policy
from mlgate.registry import tags

LOCAL = defaults.LOCAL_ENVIRONMENT


DEFAULT_TARGETS = ".mlgate/deployments"


@dataclass(frozen=True)
class Environment:
    name: str
    target: Target
    options: EnvironmentOptions = field(default_factory=EnvironmentOptions)


def environment(root: Path, policy: Policy, name: str) -> Environment:
    """The policy's environment ``name``. ``local``, and any name while the policy declares no
    environments (as promotions allow), deploy to ``.mlgate/deployments/<name>``."""
    tags.check_name("environment", name)
    declared = policy.environments.get(name)
    if declared is None and name != LOCAL and policy.environments:
        known = ", ".join([LOCAL, *policy.environments])
        raise ConfigError(
            f"unknown environment '{name}': declare [tool.mlgate.environments.{name}] with a "
            f"target directory (environments: {known})"
        )
    options = declared or EnvironmentOptions()
    target = options.target or f"{DEFAULT_TARGETS}/{name}"
    return Environment(name, open_target(target, root, environment=name, options=options), options)


def known_environments(root: Path, policy: Policy) -> list[Environment]:
    """``local``, the policy's environments, and any other that was deployed to by name."""
    names = [LOCAL, *policy.environments]
    if not policy.environments and (root / DEFAULT_TARGETS).is_dir():
        names += sorted(p.name for p in (root / DEFAULT_TARGETS).iterdir() if p.is_dir())
    return [environment(root, policy, name) for name in dict.fromkeys(names)]
