from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Tests marked ``long`` (20 s or more) run first: started last, one of them would keep a
    worker busy while the other has nothing left to do."""
    items.sort(key=lambda item: item.get_closest_marker("long") is None)


@pytest.fixture(autouse=True, scope="session")
def _isolated_environment(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Real git and DVC, but never the developer's own configuration, and the test venv first.

    Session-scoped, so fixtures of any scope see it.
    """
    with pytest.MonkeyPatch.context() as monkeypatch:
        _isolate(monkeypatch, tmp_path_factory.mktemp("home"))
        # DVC sets up its logging when first imported, on the sys.stdout and sys.stderr of the
        # moment: imported first under a test's capsys, its handlers would write to streams
        # closed when that test ends, and any later in-process DVC call in the worker fail.
        import dvc  # noqa: F401

        yield


def _isolate(monkeypatch: pytest.MonkeyPatch, home: Path) -> None:
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", str(home / ".gitconfig"))
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    for role in ("AUTHOR", "COMMITTER"):
        monkeypatch.setenv(f"GIT_{role}_NAME", "mlgate tests")
        monkeypatch.setenv(f"GIT_{role}_EMAIL", "tests@mlgate.invalid")
    monkeypatch.setenv("DVC_NO_ANALYTICS", "1")
    monkeypatch.setenv("PATH", os.path.dirname(sys.executable) + os.pathsep + os.environ["PATH"])
    for name in [n for n in os.environ if n.startswith("GITHUB_")]:
        monkeypatch.delenv(name)
    monkeypatch.delenv("MLGATE_SKIP", raising=False)


@pytest.fixture(scope="session")
def _reproduced_once(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from helpers import dvc, make_project

    project = make_project(tmp_path_factory.mktemp("reproduced") / "project")
    first = dvc(project, "repro")
    # what a fresh `dvc repro` printed, kept outside the project for tests that check it
    (project.parent / FIRST_REPRO).write_text(first.stdout)
    return project


FIRST_REPRO = "first-repro.txt"


@pytest.fixture
def first_repro(_reproduced_once: Path) -> str:
    """What the first `dvc repro` of ``reproduced_project`` printed (on stdout)."""
    return (_reproduced_once.parent / FIRST_REPRO).read_text()


@pytest.fixture
def reproduced_project(_reproduced_once: Path, tmp_path: Path) -> Path:
    """``project`` after `dvc repro` (not committed): reproduced once per test process, each
    test gets its own copy (git repository and DVC cache included)."""
    import shutil

    return Path(shutil.copytree(_reproduced_once, tmp_path / "project", symlinks=True))


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A fresh git repository holding this repository's DVC pipeline on small synthetic data."""
    from helpers import make_project

    return make_project(tmp_path / "project")


@pytest.fixture(scope="session")
def s3_server() -> Iterator[object]:
    """A real S3-compatible server (SeaweedFS) on 127.0.0.1, one per test process."""
    from s3server import running

    with running() as server:
        yield server


@pytest.fixture
def s3(
    s3_server: object, monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest
) -> object:
    """The server's credentials and endpoint in the environment, as a user sets them, and a
    prefix of the bucket for this test alone."""
    import re

    from s3server import S3Server

    assert isinstance(s3_server, S3Server)
    for name, value in s3_server.environment.items():
        monkeypatch.setenv(name, value)
    prefix = re.sub(r"[^A-Za-z0-9_-]+", "-", request.node.name)[:80]
    return f"s3://{s3_server.bucket}/{prefix}-{os.getpid()}-{id(request)}"
