"""Runs a .gitlab-ci.yml job as a GitLab runner would, on this machine, for the tests.

Which jobs a pipeline has is decided as GitLab decides it: ``workflow: rules`` first, then each
job's ``rules`` (the first that matches; ``when: never`` drops the job), with the expressions
GitLab's rules use (``$VAR``, strings, ``/regex/``, ``==``, ``!=``, ``=~``, ``!~``, ``&&``,
``||``, parentheses). A job's ``script`` runs for real in one bash with ``set -eo pipefail``,
with GitLab's predefined variables and the file's and job's ``variables`` (expanded unless
``expand: false``); its ``after_script`` runs after it in a shell of its own, whose failure does
not fail the job. The checkout fetches the pipeline's commit, its branches and tags from the
bare origin at ``GIT_DEPTH``. ``before_script`` (the install) is skipped: the test environment
already has mlgate. ``extends`` merges the hidden job into the job, as GitLab does.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

_TOKEN = re.compile(
    r"\s*(\$[A-Za-z_]\w*|\"[^\"]*\"|'[^']*'|/(?:\\.|[^/\\])*/|==|!=|=~|!~|&&|\|\||\(|\)|null)"
)


@dataclass
class Job:
    name: str
    exit_code: int
    output: str
    after_output: str = ""
    artifacts: list[str] = field(default_factory=list)
    junit: str | None = None  # the JUnit report's content, when the job declares one

    @property
    def succeeded(self) -> bool:
        return self.exit_code == 0


def load(ci_file: Path) -> dict[str, Any]:
    return yaml.safe_load(ci_file.read_text())  # type: ignore[no-any-return]


def pipeline_jobs(ci_file: Path, variables: dict[str, str]) -> list[str]:
    """The jobs a pipeline with these predefined variables has, in the file's order."""
    document = load(ci_file)
    variables = {**_variables(document.get("variables", {}), variables), **variables}
    if not _rules_allow(document.get("workflow", {}).get("rules"), variables):
        return []
    reserved = {"workflow", "variables", "stages", "default", "include"}
    return [
        name
        for name, job in document.items()
        if name not in reserved and not name.startswith(".") and isinstance(job, dict)
        if _rules_allow(_job(document, name).get("rules"), variables)
    ]


def run_job(
    ci_file: Path,
    name: str,
    workspace: Path,
    origin: str,
    sha: str,
    variables: dict[str, str],
    git_config: dict[str, str] | None = None,
    dvc_cache: Path | None = None,
) -> Job:
    """Run job ``name`` of the pipeline whose predefined ``variables`` are given (CI_* and the
    project's CI/CD variables). ``git_config``: the runner machine's global git settings
    (``url.X.insteadOf`` for the address a job pushes to)."""
    document = load(ci_file)
    job = _job(document, name)
    assert name in pipeline_jobs(ci_file, variables), f"{name} is not in this pipeline"
    workspace.mkdir(parents=True)
    global_config = workspace.parent / f"{workspace.name}-gitconfig"
    global_config.write_text(
        "".join(
            f"[{_section(key)}]\n\t{key.rsplit('.', 1)[1]} = {value}\n"
            for key, value in (git_config or {}).items()
        )
    )
    env = {
        **os.environ,
        "GIT_CONFIG_GLOBAL": str(global_config),
        "GITLAB_CI": "true",
        "CI": "true",
        "CI_PROJECT_DIR": str(workspace),
        "CI_COMMIT_SHA": sha,
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
    }
    for leaked in ("GITHUB_ACTIONS", "GITHUB_TOKEN", "GITHUB_REPOSITORY", "MLGATE_FORGE"):
        env.pop(leaked, None)
    env.update(variables)
    env.update(_variables(document.get("variables", {}), env))
    env.update(_variables(job.get("variables", {}), env))
    _checkout(workspace, origin, sha, env)
    if dvc_cache is not None and dvc_cache.is_dir():  # the job's cache, as a later run has it
        shutil.copytree(dvc_cache, workspace / ".dvc" / "cache")
    script = "\n".join(_lines(job.get("script", [])))
    process = subprocess.run(
        ["bash", "-e", "-o", "pipefail", "-c", script],
        cwd=workspace,
        env=env,
        capture_output=True,
        text=True,
    )
    result = Job(name, process.returncode, process.stdout + process.stderr)
    if job.get("after_script"):
        after = subprocess.run(
            ["bash", "-c", "\n".join(_lines(job["after_script"]))],
            cwd=workspace,
            env={**env, "CI_JOB_STATUS": "success" if result.succeeded else "failed"},
            capture_output=True,
            text=True,
        )
        result.after_output = after.stdout + after.stderr
    artifacts = job.get("artifacts", {})
    result.artifacts = [p for p in artifacts.get("paths", []) if (workspace / p).exists()]
    junit = artifacts.get("reports", {}).get("junit")
    if junit and (workspace / junit).exists():
        result.junit = (workspace / junit).read_text()
    return result


def _section(key: str) -> str:
    """``url.X.insteadOf`` -> ``url "X"``."""
    head, _, _ = key.rpartition(".")
    kind, _, subsection = head.partition(".")
    return f'{kind} "{subsection}"' if subsection else kind


def _job(document: dict[str, Any], name: str) -> dict[str, Any]:
    job = dict(document[name])
    parent = job.pop("extends", None)
    if parent:
        return {**_job(document, parent), **job}
    return job


def _lines(script: Any) -> list[str]:
    """A script's lines, nested lists (YAML anchors of scripts) flattened as GitLab does."""
    if isinstance(script, str):
        return [script]
    return [line for item in script for line in _lines(item)]


def _checkout(workspace: Path, origin: str, sha: str, env: dict[str, str]) -> None:
    depth = int(env.get("GIT_DEPTH", "20"))
    refs = ["+refs/heads/*:refs/remotes/origin/*", "+refs/tags/*:refs/tags/*"]
    commands = [
        ["git", "init", "-q", "-b", "runner"],
        ["git", "remote", "add", "origin", origin],
        ["git", "fetch", "-q", *(["--depth", str(depth)] if depth else []), "origin", *refs, sha],
        ["git", "checkout", "-q", "-f", "--detach", sha],
    ]
    for command in commands:
        subprocess.run(command, cwd=workspace, check=True, capture_output=True, env=env)


def _variables(declared: dict[str, Any], env: dict[str, str]) -> dict[str, str]:
    out: dict[str, str] = {}
    for key, value in declared.items():
        if isinstance(value, dict):
            raw, expand = str(value.get("value", "")), value.get("expand", True)
        else:
            raw, expand = str(value), True
        out[key] = _expand(raw, {**env, **out}) if expand else raw
    return out


def _expand(value: str, env: dict[str, str]) -> str:
    return re.sub(r"\$\{(\w+)\}|\$(\w+)", lambda m: env.get(m.group(1) or m.group(2), ""), value)


def _rules_allow(rules: list[dict[str, Any]] | None, variables: dict[str, str]) -> bool:
    if rules is None:
        return True
    for rule in rules:
        if "if" not in rule or _condition(str(rule["if"]), variables):
            return rule.get("when", "on_success") != "never"
    return False


def _condition(expression: str, variables: dict[str, str]) -> bool:
    """A rule's ``if:``, evaluated as GitLab does (an unset variable is null; a bare variable
    is true when set and not empty)."""
    python: list[str] = []
    rest = expression.strip()
    pending: str | None = None  # "=~" or "!~" waiting for its regex
    while rest:
        token = _TOKEN.match(rest)
        if token is None:
            raise ValueError(f"the test runner cannot evaluate: {expression}")
        text, rest = token.group(1), rest[token.end() :]
        if text in ("=~", "!~"):
            pending = text
            continue
        if text.startswith("$"):
            value: str | None = variables.get(text[1:])
            python.append(repr(value))
        elif text.startswith(("'", '"')):
            python.append(repr(text[1:-1]))
        elif text.startswith("/"):
            assert pending, f"a regex without =~ in {expression}"
            operand = python.pop()
            negate = "not " if pending == "!~" else ""
            python.append(f"({negate}_match({operand}, {text[1:-1]!r}))")
            pending = None
        elif text == "null":
            python.append("None")
        else:
            python.append({"&&": " and ", "||": " or "}.get(text, f" {text} "))
    return bool(
        eval(  # the expression is literals only here
            "".join(python),
            {
                "__builtins__": {},
                "_match": lambda v, p: v is not None and re.search(p, v) is not None,
            },
        )
    )
