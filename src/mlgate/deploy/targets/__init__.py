"""Where deployments live: a ``Target`` per kind of storage, chosen by the target's scheme.

The deploy logic (``deploy.deployments``) speaks only the protocol in ``base``; a target says
how its operations are made safe on its storage (a directory: flock, rename, fsync and an
append-only file). A new kind of storage is a class with those operations, registered here
under its URL scheme.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from mlgate.deploy.targets.base import SegmentStore, Target
from mlgate.deploy.targets.local import LocalTarget
from mlgate.deploy.targets.s3 import S3Target, open_s3
from mlgate.errors import ConfigError
from mlgate.policy import EnvironmentOptions

# (the policy's target text, the repository root, the environment's options)
Opener = Callable[[str, Path, EnvironmentOptions], Target]

SCHEMES: dict[str, Opener] = {}


def register(scheme: str, opener: Opener) -> None:
    """Targets written ``<scheme>://...`` open with ``opener``; ``""`` is a plain path."""
    SCHEMES[scheme] = opener


def open_target(
    text: str, root: Path, *, environment: str, options: EnvironmentOptions | None = None
) -> Target:
    """The target the policy's text names: ``<scheme>://...`` or a path (relative to the
    repository)."""
    scheme = text.split("://", 1)[0].lower() if "://" in text else ""
    opener = SCHEMES.get(scheme)
    if opener is None:
        supported = ", ".join(f"{s}://" for s in SCHEMES if s) or "none yet"
        raise ConfigError(
            f"environment '{environment}': target {text} is a URL mlgate cannot deploy to "
            f"(URL targets: {supported}); use a local or mounted directory"
        )
    return opener(text, root, options or EnvironmentOptions())


register("", lambda text, root, options: LocalTarget((root / text).resolve()))
register("s3", open_s3)

__all__ = [
    "SCHEMES",
    "LocalTarget",
    "S3Target",
    "SegmentStore",
    "Target",
    "open_target",
    "register",
]
