"""Runs a workflow job's steps as GitHub Actions would, on this machine, for the tests.

The `run:` steps run for real in bash with GitHub's environment variables, an event payload
file, GITHUB_OUTPUT and GITHUB_STEP_SUMMARY. The official actions are emulated: checkout clones
the bare origin at the depth the workflow asks for (the pull request's head commit, where
GitHub would check out a merge commit); setup-python and the install step are skipped (the test
environment already has Python and mlgate); cache restores `.dvc/cache` from the given
directory; upload-artifact records which of its paths exist. Expressions are evaluated from a
table of the few contexts the workflows use.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

_EXPRESSION = re.compile(r"\$\{\{\s*(.*?)\s*\}\}")


@dataclass
class Step:
    name: str
    exit_code: int | None  # None: skipped
    output: str = ""


@dataclass
class Job:
    steps: list[Step] = field(default_factory=list)
    outputs: dict[str, str] = field(default_factory=dict)  # by step id: name -> value
    summary: str = ""
    uploaded: list[str] = field(default_factory=list)
    outcomes: dict[str, str] = field(default_factory=dict)  # by step id: success, failure, skipped

    @property
    def succeeded(self) -> bool:
        return all(step.exit_code in (0, None) for step in self.steps)

    def step(self, name: str) -> Step:
        return next(step for step in self.steps if step.name == name)


def run_job(
    workflow: Path,
    job_name: str,
    workspace: Path,
    origin: str,
    sha: str,
    context: dict[str, str],
    dvc_cache: Path | None = None,
) -> Job:
    """``context``: expression values such as ``github.ref`` or ``secrets.X``; the GITHUB_*
    variables are derived from it."""
    definition = yaml.safe_load(workflow.read_text())["jobs"][job_name]
    workspace.mkdir(parents=True)
    runner = workspace.parent / f"{workspace.name}-runner"
    runner.mkdir()
    event = runner / "event.json"
    event.write_text(context.get("event", "{}"))
    summary = runner / "summary.md"
    summary.touch()
    github = {
        f"GITHUB_{k.split('.', 1)[1].upper()}": v
        for k, v in context.items()
        if k.startswith("github.")
    }
    env = {
        **os.environ,
        **github,
        "GITHUB_ACTIONS": "true",
        "CI": "true",
        "GITHUB_EVENT_PATH": str(event),
        "GITHUB_STEP_SUMMARY": str(summary),
        "GITHUB_WORKSPACE": str(workspace),
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
    }
    env.pop("GITHUB_TOKEN", None)
    job = Job()
    failed = False
    for index, step in enumerate(definition["steps"]):
        name = step.get("name") or step.get("uses") or f"step {index}"
        condition = str(step.get("if", ""))
        skipped = (failed and "always()" not in condition) or (
            condition and not _condition(condition, context, job)
        )
        if skipped:
            job.steps.append(Step(name, None))
            job.outcomes[step.get("id", name)] = "skipped"
            continue
        if "uses" in step:
            result = _action(step, workspace, origin, sha, dvc_cache, job)
        elif name == "Install":
            result = Step(name, None)
        else:
            outputs = runner / f"output-{index}"
            outputs.touch()
            step_env = {k: _expand(str(v), context) for k, v in step.get("env", {}).items()}
            process = subprocess.run(
                ["bash", "-e", "-o", "pipefail", "-c", step["run"]],
                cwd=workspace,
                env={**env, **step_env, "GITHUB_OUTPUT": str(outputs)},
                capture_output=True,
                text=True,
            )
            result = Step(name, process.returncode, process.stdout + process.stderr)
            if "id" in step:
                job.outputs.update({f"{step['id']}.{k}": v for k, v in _outputs(outputs).items()})
        result.name = name
        job.steps.append(result)
        job.outcomes[step.get("id", name)] = (
            "success" if result.exit_code in (0, None) else "failure"
        )
        failed = failed or result.exit_code not in (0, None)
    job.summary = summary.read_text()
    return job


def _action(
    step: dict[str, Any], workspace: Path, origin: str, sha: str, dvc_cache: Path | None, job: Job
) -> Step:
    action = step["uses"].split("@")[0]
    options = step.get("with", {})
    if action == "actions/checkout":
        depth = int(options.get("fetch-depth", 1))
        commands = [
            ["git", "init", "-q", "-b", "runner"],
            ["git", "remote", "add", "origin", origin],
            [
                "git",
                "fetch",
                "-q",
                "--tags",
                *(["--depth", str(depth)] if depth else []),
                "origin",
                "+refs/heads/*:refs/remotes/origin/*",
                sha,
            ],
            ["git", "checkout", "-q", "--detach", sha],
        ]
        for command in commands:
            subprocess.run(command, cwd=workspace, check=True, capture_output=True)
        return Step(action, 0)
    if action == "actions/cache" and options.get("path") == ".dvc/cache":
        if dvc_cache is not None and dvc_cache.is_dir():  # else a cache miss, as on a first run
            shutil.copytree(dvc_cache, workspace / ".dvc" / "cache")
        return Step(action, 0)
    if action == "actions/upload-artifact":
        paths = [p for p in str(options.get("path", "")).split() if p]
        job.uploaded = [p for p in paths if (workspace / p).exists()]
        return Step(action, 0)
    return Step(action, None)  # setup-python, a cache with nothing to restore


def _expand(value: str, context: dict[str, str]) -> str:
    """``${{ a || b }}``: the first of the named values that is set and not empty."""

    def evaluate(match: re.Match[str]) -> str:
        for name in match.group(1).split("||"):
            if context.get(name.strip()):
                return context[name.strip()]
        return ""

    return _EXPRESSION.sub(evaluate, value)


_TOKEN = re.compile(r"\s*(always\(\)|'[^']*'|==|!=|\|\||&&|!|\(|\)|[A-Za-z_][\w.-]*)")


def _condition(expression: str, context: dict[str, str], job: Job) -> bool:
    """A step's ``if:``: names from ``context`` (vars.X, inputs.X, github.X), steps.ID.outcome,
    steps.ID.outputs.NAME, 'strings', ==, !=, ||, &&, ! and always()."""
    python, rest = [], expression.strip()
    while rest:
        token = _TOKEN.match(rest)
        if token is None:
            raise ValueError(f"the test runner cannot evaluate: {expression}")
        text, rest = token.group(1), rest[token.end() :]
        if text == "always()":
            python.append("True")
        elif text.startswith("'") or text in ("==", "!=", "(", ")"):
            python.append(text)
        elif text in ("||", "&&", "!"):
            python.append({"||": " or ", "&&": " and ", "!": " not "}[text])
        else:
            python.append(repr(_value(text, context, job)))
    return bool(eval("".join(python), {"__builtins__": {}}))  # the expression is literals only here


def _value(name: str, context: dict[str, str], job: Job) -> str:
    parts = name.split(".")
    if parts[0] == "steps" and len(parts) == 3 and parts[2] == "outcome":
        return job.outcomes.get(parts[1], "")
    if parts[0] == "steps" and len(parts) == 4 and parts[2] == "outputs":
        return job.outputs.get(f"{parts[1]}.{parts[3]}", "")
    return context.get(name, "")


def _outputs(path: Path) -> dict[str, str]:
    """GITHUB_OUTPUT's ``name=value`` lines and ``name<<DELIMITER`` blocks."""
    values: dict[str, str] = {}
    lines = iter(path.read_text().splitlines())
    for line in lines:
        if "<<" in line:
            name, delimiter = line.split("<<", 1)
            block = []
            for inner in lines:
                if inner == delimiter:
                    break
                block.append(inner)
            values[name] = "\n".join(block)
        elif "=" in line:
            name, value = line.split("=", 1)
            values[name] = value
    return values


def pull_request_event(number: int, base: str, head_sha: str) -> str:
    return json.dumps(
        {
            "number": number,
            "pull_request": {"number": number, "base": {"ref": base}, "head": {"sha": head_sha}},
        }
    )
