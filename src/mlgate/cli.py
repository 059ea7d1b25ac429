"""Thin Click commands: parse options, call a module, print, exit with its code.

Exit codes: 0 ok, 1 the gate or a check said no, 2 could not run (an MlgateError),
3 a bug in mlgate (run again with --traceback to see it), 130 interrupted.
"""

from __future__ import annotations

import contextlib
import gc
import os
import sys
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from mlgate import __version__, defaults, escape, git, github
from mlgate.artifacts.deployment import Deployment
from mlgate.errors import (
    EXIT_BUG,
    EXIT_COULD_NOT_RUN,
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_REJECTED,
    MlgateError,
    Refused,
)
from mlgate.gate import compare
from mlgate.render import check as render_check
from mlgate.render import describe as render_describe
from mlgate.render import hooks as render_hooks
from mlgate.render import monitor as render_monitor
from mlgate.render import registry as render_registry
from mlgate.render.table import to_json
from mlgate.snapshot import read_policy

if TYPE_CHECKING:
    from mlgate.deploy import environments
    from mlgate.monitor import monitor
    from mlgate.registry import tags as registry

FORMATS = click.Choice(["table", "md", "json"])
_PROGRESS_MIN_BYTES = 50 * 2**20  # smaller logs are read before a bar would be seen


def _format_option(text: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    return click.option(
        "--format", "fmt", type=FORMATS, default="table", show_default=True, help=text
    )


def _wait_option(text: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    return click.option(
        "--wait",
        type=click.FloatRange(min=0),
        default=defaults.DEPLOY_WAIT_SECONDS,
        show_default=True,
        help=text,
    )


def _labels_option(more: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    return click.option(
        "--labels",
        "labels_file",
        type=click.Path(dir_okay=False, path_type=Path),
        help="True labels that arrived later: CSV or Parquet with request_id and label" + more,
    )


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, "--version", "-V", prog_name="mlgate")
@click.option(
    "--traceback",
    "show_traceback",
    is_flag=True,
    help="Show the full traceback of an unexpected error.",
)
def cli(show_traceback: bool) -> None:  # main() acts on --traceback: see there
    """mlgate: versioned, gated, released ML models for DVC projects."""


@cli.command("diff")
@click.argument("base", required=False)
@click.argument("head", required=False, default=git.WORKSPACE)
@click.option("--all", "all_keys", is_flag=True, help="Show unchanged keys too.")
@_format_option("Output: a table, Markdown, or JSON shaped like `dvc exp diff --json`.")
def diff_command(base: str | None, head: str, all_keys: bool, fmt: str) -> None:
    """Metrics and params of two revisions side by side.

    BASE defaults to the merge-base of HEAD and the main branch; HEAD to the workspace.
    """
    comparison = compare.compare(git.repo_root(), base, head, merge_base=base is None, partial=True)
    if fmt == "json":
        _echo(render_check.diff_json(comparison, all_keys=all_keys), nl=False)
        for note in comparison.notes:  # DVC's JSON shape has no place for them
            _echo(f"mlgate: note: {escape.one_line(note)}", err=True)
    else:
        _echo(render_check.diff_text(comparison, all_keys=all_keys, markdown=fmt == "md"), nl=False)


@cli.command("check")
@click.option("--base", help="Compare with the merge-base of this ref (default: the main branch).")
@click.option("--head", default=git.WORKSPACE, show_default=True, help="The revision under review.")
@click.option(
    "--policy-from",
    type=click.Choice(compare.POLICY_FROM),
    default="base",
    show_default=True,
    help="Read [tool.mlgate] from the base (as CI must) or from the change itself.",
)
@_format_option("Output: a table, Markdown, or the documented JSON document.")
@click.option(
    "--report",
    "report_path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Also write the Markdown report to this file.",
)
@click.option(
    "--comment", is_flag=True, help="Post the report as the pull request's sticky comment."
)
@click.pass_context
def check_command(
    ctx: click.Context,
    base: str | None,
    head: str,
    policy_from: str,
    fmt: str,
    report_path: Path | None,
    comment: bool,
) -> None:
    """Gate the change: compare its metrics with the base under the policy.

    Exit 0 when every rule passes, 1 when one fails, 2 when the comparison cannot be made.
    """
    # Whether the DVC remote holds the data is checked where it matters: in CI, and for a
    # committed head (the pre-push hook checks it too); not for work in progress.
    pushed = github.in_actions() or head != git.WORKSPACE
    # The check's objects live until it ends: the cyclic garbage collector's passes over what
    # NumPy's import creates free nothing and cost 5% of the gate's time.
    reported = fmt != "table" or bool(report_path) or comment or github.in_actions()
    with _collector_paused():
        result = compare.check(
            git.repo_root(), base, head, policy_from, data_pushed=pushed, charts=reported
        )
    if reported:  # a report that shows charts: the pipeline's own plots when no predictions
        result = compare.with_plotted_charts(result)
    markdown = render_check.check_markdown(result)
    _print_report(
        fmt,
        lambda: render_check.check_json(result),
        markdown,
        lambda colour: render_check.check_text(result, colour=colour),
    )
    if report_path:
        _write_report(report_path, markdown)
    if github.in_actions():
        _publish_to_actions(result, markdown, report_path)
    if comment:
        _post_comment(markdown, report_path)
    ctx.exit(EXIT_OK if result.gate.passed else EXIT_REJECTED)


@contextlib.contextmanager
def _collector_paused() -> Iterator[None]:
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


@cli.command("comment")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
def comment_command(file: Path) -> None:
    """Post FILE as the pull request's sticky comment, updating it in place on later runs."""
    try:
        text = file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise MlgateError(f"cannot read {file}: {exc}") from None
    _post_comment(text, file)


@cli.command("release")
@click.argument("name", required=False)
@click.option(
    "--bump",
    type=click.Choice(defaults.BUMPS),
    default="auto",
    show_default=True,
    help="Which part to raise; auto: major if the input signature changed, "
    "minor if a gated metric improved, else patch.",
)
@click.option("--version", "version", help="Release exactly this version (vX.Y.Z).")
@click.option("--message", "-m", help="A note for the annotation, above the release record.")
@click.option("--force", is_flag=True, help="Release despite a failing gate (recorded in the tag).")
@click.option(
    "--push",
    is_flag=True,
    help="Push the tag to the remote; retry if another job took the version.",
)
@click.option("--remote", default="origin", show_default=True, help="The remote --push pushes to.")
@click.option(
    "--if-changed",
    is_flag=True,
    help="Release only if the model file differs from the latest release's (CI on main).",
)
def release_command(
    name: str | None,
    bump: str,
    version: str | None,
    message: str | None,
    force: bool,
    push: bool,
    remote: str,
    if_changed: bool,
) -> None:
    """Tag HEAD as a new version NAME@vX.Y.Z, with a release record in the annotation.

    NAME defaults to the model artifact declared in dvc.yaml.
    """
    from mlgate.artifacts import release as release_record
    from mlgate.registry import release as release_

    root = git.repo_root()
    artifact = name or release_.declared_artifact(root)
    if artifact is None and if_changed:
        _echo(f"Nothing to release: no model artifact ({release_.NO_ARTIFACT_HINT}).")
        return
    artifact = artifact or release_.default_artifact(root)  # raises, saying what to declare
    same_as = release_.unchanged_since(root, artifact) if if_changed else None
    if same_as:
        _echo(f"Nothing to release: the model is the one released as {same_as}.")
        return
    outcome = release_.release(
        root, artifact, bump, version, force=force, message=message, push=push, remote=remote
    )
    made = outcome.release
    _say_taken(outcome.taken)
    _echo(f"Created tag {made.tag} on {made.commit[:8]} ({made.reason}){_pushed(push, remote)}.")
    _echo(made.message.split(release_record.BEGIN)[0].rstrip())
    policy = read_policy(git.revision(made.commit, root))
    if policy.retrain.auto_promote:  # [tool.mlgate.retrain] auto_promote = "staging"
        _promote(root, made.tag, policy.retrain.auto_promote, policy, push=push, remote=remote)


@cli.command("retrain")
@click.argument("name", required=False)
@click.option(
    "--refresh",
    multiple=True,
    metavar="STAGE",
    help="A stage that fetches fresh data, rerun even when unchanged (repeatable; "
    "default: the policy's retrain.refresh).",
)
@click.option("--base", help="Judge against the merge-base of this ref (default: the main branch).")
@click.option(
    "--report",
    "report_path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Also write the gate's Markdown report to this file.",
)
@click.option(
    "--propose",
    is_flag=True,
    help="Commit a changed model on a branch, push it and open or update its pull request.",
)
@click.option("--branch", help="The proposal's branch (default: the policy's retrain.branch).")
@click.option(
    "--remote", default="origin", show_default=True, help="The remote --propose pushes to."
)
@click.option(
    "--merge-wait",
    type=click.FloatRange(min=0, max=6 * 3600),
    default=1800,
    show_default=True,
    help="With auto_merge where GitHub's auto-merge is not allowed: seconds to wait for the "
    "pull request's checks before merging it.",
)
@click.pass_context
def retrain_command(
    ctx: click.Context,
    name: str | None,
    refresh: tuple[str, ...],
    base: str | None,
    report_path: Path | None,
    propose: bool,
    branch: str | None,
    remote: str,
    merge_wait: float,
) -> None:
    """Retrain on fresh data and gate the new model against the main branch.

    NAME defaults to the model artifact declared in dvc.yaml. Exit 0 when the model is unchanged
    or passes the gate, 1 when it fails (a proposal is still made, for people to see).
    """
    from mlgate import retrain
    from mlgate.registry import release as release_

    root = git.repo_root()
    policy = read_policy(git.revision("HEAD", root))
    artifact = name or release_.declared_artifact(root)
    if artifact is None:
        _echo(f"Nothing to retrain: no model artifact ({release_.NO_ARTIFACT_HINT}).")
        return
    client = github.GitHubClient.from_env() if propose else None  # before hours of training
    retrain.reproduce(root, refresh or policy.retrain.refresh)
    retrained = retrain.judge(root, artifact, base)
    if retrained.check is None:
        _echo(
            f"The model is unchanged ({retrained.model_path} md5 {retrained.new_md5}): "
            "nothing to propose."
        )
        return
    markdown = render_check.check_markdown(retrained.check)
    _echo(render_check.check_text(retrained.check, colour=sys.stdout.isatty()), nl=False)
    if report_path:
        _write_report(report_path, markdown)
    if github.in_actions():
        _publish_to_actions(retrained.check, markdown, report_path)
    if client is not None:
        proposal = retrain.propose(
            root, retrained, markdown, client, branch or policy.retrain.branch, base, remote
        )
        data = " and its data to the DVC remote" if proposal.data_pushed else ""
        _echo(
            f"\nPushed {proposal.branch} ({proposal.commit[:8]}){data}; {proposal.action} "
            f"pull request #{proposal.number} {proposal.url}".rstrip()
        )
        merging, said = retrain.auto_merge(
            root,
            proposal,
            passed=retrained.check.gate.passed,
            client=client,
            wait_seconds=merge_wait,
        )
        if said:
            _echo(said)
        if merging is False and retrained.check.gate.passed:  # checks failed, or still running
            ctx.exit(EXIT_REJECTED)
    ctx.exit(EXIT_OK if retrained.check.gate.passed else EXIT_REJECTED)


@cli.command("promote")
@click.argument("release")
@click.argument("environment")
@click.option("--push", is_flag=True, help="Push the tag; retry if another job took the counter.")
@click.option("--remote", default="origin", show_default=True, help="The remote --push pushes to.")
def promote_command(release: str, environment: str, push: bool, remote: str) -> None:
    """Assign RELEASE (NAME@vX.Y.Z) to ENVIRONMENT with the tag NAME#ENVIRONMENT#N."""

    root = git.repo_root()
    policy = read_policy(git.revision(git.WORKSPACE, root))
    _promote(root, release, environment, policy, push=push, remote=remote)


def _promote(
    root: Path, release: str, environment: str, policy: Any, *, push: bool, remote: str
) -> None:
    """Plan and publish the promotion tag (planned again after a push race), and say so."""
    from mlgate.registry import lifecycle
    from mlgate.registry import tags as registry

    first = lifecycle.plan_promotion(root, release, environment, policy)
    if first is None:
        _echo(f"{release} is already the version in {environment}: nothing to do.")
        return
    plans = iter([first])  # a retry after a push race plans again from the fetched tags

    def plan() -> lifecycle.PlannedTag:
        planned = next(plans, None) or lifecycle.plan_promotion(root, release, environment, policy)
        if planned is None:
            raise Refused(f"{release} was put in {environment} by someone else meanwhile")
        return planned

    planned, taken = registry.publish(root, plan, push=push, remote=remote)
    _say_taken(taken)
    _echo(f"Created tag {planned.tag}{_pushed(push, remote)}: {release} is in {environment}.")


cli.add_command(promote_command, "assign")


@cli.command("deprecate")
@click.argument("release")
@click.option("--push", is_flag=True, help="Push the tag to the remote.")
@click.option("--remote", default="origin", show_default=True, help="The remote --push pushes to.")
def deprecate_command(release: str, push: bool, remote: str) -> None:
    """Withdraw RELEASE (NAME@vX.Y.Z) with GTO's deprecation tag NAME@vX.Y.Z!#N."""
    from mlgate.registry import lifecycle
    from mlgate.registry import tags as registry

    root = git.repo_root()
    planned, _ = registry.publish(
        root, lambda: lifecycle.plan_deprecation(root, release), push=push, remote=remote
    )
    _echo(f"Created tag {planned.tag}{_pushed(push, remote)}: {release} is deprecated.")


@cli.command("releases")
@click.argument("name", required=False)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def releases_command(name: str | None, as_json: bool) -> None:
    """Every artifact's latest version and environments; with NAME, all of its versions."""
    from mlgate.registry import lifecycle
    from mlgate.registry import tags as registry

    reg = registry.read_registry(git.repo_root())
    _warn_ignored(reg)
    rows = lifecycle.versions(reg, name) if name else lifecycle.summary(reg)
    if as_json:
        _echo(to_json(rows), nl=False)
    else:
        _echo(
            render_registry.versions_text(rows) if name else render_registry.releases_text(rows),
            nl=False,
        )


@cli.command("history")
@click.argument("name")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def history_command(name: str, as_json: bool) -> None:
    """Every registration, promotion and deprecation of NAME, oldest first."""
    from mlgate.registry import lifecycle
    from mlgate.registry import tags as registry

    reg = registry.read_registry(git.repo_root())
    _warn_ignored(reg)
    rows = lifecycle.history(reg, name)
    _echo(to_json(rows) if as_json else render_registry.history_text(rows), nl=False)


@cli.command("check-ref")
@click.argument("ref")
def check_ref_command(ref: str) -> None:
    """Say what a pushed registry tag means, as JSON (and as step outputs in GitHub Actions)."""
    from mlgate.registry import lifecycle

    meaning = lifecycle.check_ref(git.repo_root(), ref)
    _echo(to_json(meaning), nl=False)
    if github.in_actions():
        github.write_outputs({k: v or "" for k, v in meaning.items()})


@cli.command("deploy")
@click.option(
    "--model",
    "model_ref",
    required=True,
    help="NAME@vX.Y.Z, a promotion tag NAME#ENV#N, NAME#ENV (the version there now), "
    "or a model file that dvc.lock records.",
)
@click.option(
    "--env",
    "env_name",
    default=defaults.LOCAL_ENVIRONMENT,
    show_default=True,
    help="An environment from [tool.mlgate.environments], or local.",
)
@click.option(
    "--monitoring",
    type=click.Choice(["enable", "disable"]),
    default="disable",
    show_default=True,
    help="Log each request's inputs and predictions for `mlgate monitor`.",
)
@_wait_option("Seconds to wait for another deploy to the same environment.")
@click.option(
    "--runtime",
    type=click.Choice(["auto", "onnx", "pickle"]),
    default="auto",
    show_default=True,
    help="auto: compile the model to ONNX and serve that when it agrees with the pickle (else "
    "the pickle, saying why); onnx: refuse a model that does not compile; pickle: do not try.",
)
@click.option(
    "--canary",
    "canary",
    type=click.FloatRange(min=0, max=100, min_open=True, max_open=True),
    help="Install it beside the version serving, answering this percentage of requests "
    "(chosen by a hash of the request id); `mlgate canary` judges it.",
)
@click.option(
    "--shadow",
    is_flag=True,
    help="Install it beside the version serving, run on a copy of the requests (all, or "
    "--canary's share) without answering with it.",
)
def deploy_command(
    model_ref: str,
    env_name: str,
    monitoring: str,
    wait: float,
    runtime: str,
    canary: float | None,
    shadow: bool,
) -> None:
    """Verify, smoke-test and switch ENV to a model version, atomically and logged."""
    from mlgate.deploy import deployments, environments, resolve

    _echo(
        f"Deployment started for model '{model_ref}' in '{env_name}' environment with "
        f"monitoring {monitoring}d."
    )
    root = git.repo_root()
    policy = read_policy(git.revision(git.WORKSPACE, root))
    env = environments.environment(root, policy, env_name)
    model = resolve.resolve(root, model_ref, Path.cwd())
    predictions, why = None, None
    if monitoring == "enable" and policy.predictions is not None:
        predictions, why = _evaluation_predictions(root, policy.predictions, model.commit)
    before = deployments.read_current(env)
    done = deployments.deploy(
        root,
        model,
        env,
        monitoring=monitoring == "enable",
        wait=wait,
        predictions=predictions,
        runtime=runtime,
        canary=canary,
        shadow=shadow,
    )
    _echo(_deployed(done, env))
    _say_canary_replaced(before)
    if why:
        _echo(f"note: no prediction drift for this version: {why}")


def _evaluation_predictions(
    root: Path, path: str, commit: str | None
) -> tuple[dict[str, Any] | None, str | None]:
    """The profile of the model's evaluation-time predictions (the policy's predictions file
    at the model's commit, or in the workspace), or why there is none."""
    from mlgate.errors import DataError
    from mlgate.monitor import monitor
    from mlgate.snapshot import read_recorded

    revision = git.revision(commit or git.WORKSPACE, root)
    try:
        content = read_recorded(revision, path)
    except DataError as exc:
        return None, str(exc)
    if content is None:
        return None, f"{path} is not at {revision.label}"
    try:
        return monitor.predictions_profile(content, f"{path} at {revision.label}"), None
    except MlgateError as exc:
        return None, str(exc)


@cli.command("describe")
@click.argument("model_file", type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--data",
    "data_file",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="Rows the model takes: CSV, TSV, Parquet, or a matrix saved with NumPy, "
    "pickle or joblib (its training or test split).",
)
@click.option(
    "--target",
    help="The label's column in the data (a position in a matrix), "
    "left out of the model's columns.",
)
@click.option(
    "--drop", multiple=True, help="Another column that is not an input (an id); repeatable."
)
def describe_command(
    model_file: Path, data_file: Path, target: str | None, drop: tuple[str, ...]
) -> None:
    """Write the card and reference profile of a model mlgate did not train, beside it."""
    from mlgate import describe

    done = describe.describe(model_file, data_file, target=target, drop=drop, root=git.repo_root())
    _echo(render_describe.described_text(done, data_file), nl=False)


@cli.command("rollback")
@click.option(
    "--env",
    "env_name",
    default=defaults.LOCAL_ENVIRONMENT,
    show_default=True,
    help="The environment to roll back.",
)
@click.option("--to", "version", help="This version (default: the one before the current).")
@_wait_option("Seconds to wait for another deploy to the same environment.")
def rollback_command(env_name: str, version: str | None, wait: float) -> None:
    """Switch ENV back to the previous (or given) successfully deployed version."""
    from mlgate.deploy import deployments, environments

    root = git.repo_root()
    env = environments.environment(root, read_policy(git.revision(git.WORKSPACE, root)), env_name)
    before = deployments.read_current(env)
    done = deployments.rollback(root, env, version, wait)
    _echo(_deployed(done, env, "Rolled back"))
    _say_canary_replaced(before)


@cli.command("deployments")
@click.option("--env", "env_name", help="Only this environment (default: every one).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def deployments_command(env_name: str | None, as_json: bool) -> None:
    """Every deploy and rollback, oldest first, from each environment's log."""
    from mlgate.deploy import deployments, environments

    root = git.repo_root()
    policy = read_policy(git.revision(git.WORKSPACE, root))
    chosen = (
        [environments.environment(root, policy, env_name)]
        if env_name
        else environments.known_environments(root, policy)
    )
    rows = [d for env in chosen for d in deployments.read_log(env, on_skipped=_warn)]
    rows.sort(key=lambda d: d.time)
    if as_json:
        _echo(to_json([d.to_dict() for d in rows]), nl=False)
    elif rows:
        _echo(render_registry.deployments_text(rows), nl=False)
    else:
        _echo(f"No deployments{f' to {env_name}' if env_name else ''} yet.")


@cli.command("monitor")
@click.option(
    "--env",
    "env_name",
    help="Compare this environment's monitoring log (its current "
    "version's requests) with that version's training data.",
)
@click.option("--since", help="Only requests logged in this last span: 30m, 24h, 7d, 2w.")
@click.option(
    "--file",
    "batch",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Compare this CSV or Parquet file instead of the log (with --env: against "
    "the deployed version; without: against the workspace's model).",
)
@_format_option("Output: a table with text histograms, Markdown, or JSON.")
@click.option(
    "--report",
    "report_path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Also write the Markdown report to this file, with a histogram image per "
    "column in the folder beside it.",
)
@_labels_option(
    "; joined to the logged predictions for live metrics per version and window (needs --env)."
)
@click.option(
    "--window",
    type=click.Choice(["day", "hour"]),
    default="day",
    show_default=True,
    help="With --labels: the span of each window of live metrics.",
)
@click.pass_context
def monitor_command(
    ctx: click.Context,
    env_name: str | None,
    since: str | None,
    batch: Path | None,
    fmt: str,
    report_path: Path | None,
    labels_file: Path | None,
    window: str,
) -> None:
    """Has the data drifted from the training data, and (with --labels) is the model still
    right? Exit 0 no drift and no performance problem (or not enough data to say), 1 either,
    2 when it cannot be computed."""
    from mlgate.deploy import environments
    from mlgate.monitor import canaries, monitor
    from mlgate.render import live as render_live

    root = git.repo_root()
    if env_name is None and batch is None:
        raise click.UsageError("give --env ENV (its monitoring log), --file FILE, or both")
    if since is not None and batch is not None:
        raise click.UsageError("--since applies to the monitoring log, not to --file")
    if labels_file is not None and env_name is None:
        raise click.UsageError("--labels joins an environment's logged predictions: give --env")
    policy = read_policy(git.revision(git.WORKSPACE, root))
    window_span = monitor.parse_since(since) if since else None
    if env_name is None:
        reference = monitor.workspace_reference(root)
    else:
        env = environments.environment(root, policy, env_name)
        try:
            deployment, reference = monitor.deployed_reference(env)
        except monitor.NoReference as exc:
            if labels_file is None or batch is not None:
                raise
            # live metrics need no profile: report them, and why there is no data drift
            only = canaries.performance(env, policy, labels_file, window, window_span)
            _print_report(
                fmt,
                lambda: to_json({"drift": None, "performance": render_live.performance_json(only)}),
                render_live.performance_text(only, markdown=True),
                lambda colour: render_live.performance_text(only),
            )
            _warn(f"no data drift: {exc}")
            ctx.exit(EXIT_REJECTED if any(p.problems for p in only) else EXIT_OK)
    if batch is not None:
        frame, subject = monitor.batch_data(batch, reference), str(batch)
    else:
        with _progress_bar("reading the monitoring log") as progress:
            frame, subject = monitor.logged_data(env, deployment, reference, window_span, progress)
    result = monitor.judge(frame, reference, subject, policy.monitor)
    performance: list[Any] | None = None
    if labels_file is not None:
        performance = canaries.performance(env, policy, labels_file, window, window_span)
    images = None
    if report_path:  # one SVG per column in <report>-images/, linked from the report
        folder = f"{report_path.stem}-images"
        images = {}
        for column, link, svg in render_monitor.histograms(result, folder):
            _write_report(report_path.parent / link, svg)
            images[column] = link
    live_md = (
        "" if performance is None else render_live.performance_text(performance, markdown=True)
    )
    live_text = "" if performance is None else render_live.performance_text(performance)
    live_json = None if performance is None else render_live.performance_json(performance)
    markdown = render_monitor.monitor_markdown(result, images) + live_md
    _print_report(
        fmt,
        lambda: render_monitor.monitor_json(result, live_json),
        render_monitor.monitor_markdown(result) + live_md,
        lambda colour: render_monitor.monitor_text(result, colour=colour) + live_text,
    )
    if report_path:
        _write_report(report_path, markdown)
    if github.in_actions():
        _publish_drift_to_actions(result, markdown, report_path)
    problems = performance is not None and any(p.problems for p in performance)
    ctx.exit(EXIT_REJECTED if result.verdict == monitor.DRIFT or problems else EXIT_OK)


@cli.command("canary")
@click.option(
    "--env",
    "env_name",
    required=True,
    help="The environment whose canary (or shadow) is judged.",
)
@_labels_option(".")
@click.option(
    "--metrics",
    "metrics_urls",
    multiple=True,
    help="A server's /metrics URL, for errors and latency; repeat for each replica.",
)
@click.option(
    "--apply",
    "apply",
    is_flag=True,
    help="Carry the verdict out: promote makes the canary current, roll back removes it.",
)
@_format_option("Output: a table, Markdown, or JSON.")
@_wait_option("With --apply: seconds to wait for another deploy to the same environment.")
@click.pass_context
def canary_command(
    ctx: click.Context,
    env_name: str,
    labels_file: Path | None,
    metrics_urls: tuple[str, ...],
    apply: bool,
    fmt: str,
    wait: float,
) -> None:
    """Judge ENV's canary against its stable version on live traffic: promote (exit 0), roll
    back (exit 1) or wait for more data (exit 2)."""
    from mlgate.deploy import deployments, environments
    from mlgate.monitor import canaries, canary, served
    from mlgate.render import live as render_live

    served.check_urls(metrics_urls)
    root = git.repo_root()
    policy = read_policy(git.revision(git.WORKSPACE, root))
    env = environments.environment(root, policy, env_name)
    verdict = canaries.judge(env, policy, labels_file, metrics_urls)
    if verdict is None:  # nothing to judge, which is no failure
        _echo(f"Nothing to judge: {env_name} has no canary (deploy one with --canary or --shadow).")
        if github.in_actions():
            github.write_outputs({"decision": "none"})
        return
    _print_report(
        fmt,
        lambda: render_live.canary_json(verdict),
        render_live.canary_markdown(verdict),
        lambda colour: render_live.canary_text(verdict, colour=colour),
    )
    note = escape.one_line(f"mlgate canary: {render_live.verdict_line(verdict)}")[:500]
    if apply and verdict.decision == canary.PROMOTE:
        done = deployments.end_canary(
            env, promote=True, wait=wait, note=note, expected=verdict.canary
        )
        _echo(
            f"Promoted {done.version} in {env_name}: it answers every request; was {done.previous}.",
            err=fmt != "table",
        )
    elif apply and verdict.decision == canary.ROLL_BACK:
        done = deployments.end_canary(
            env, promote=False, wait=wait, note=note, expected=verdict.canary
        )
        _echo(
            f"Rolled back the canary {done.version} in {env_name}: {verdict.stable} answers every "
            "request.",
            err=fmt != "table",
        )
    if github.in_actions():
        github.write_outputs({"decision": verdict.decision.replace(" ", "-")})
    ctx.exit(
        {canary.PROMOTE: EXIT_OK, canary.ROLL_BACK: EXIT_REJECTED}.get(
            verdict.decision, EXIT_COULD_NOT_RUN
        )
    )


def _finite(ctx: click.Context, param: click.Parameter, value: float) -> float:
    if value != value:  # NaN passes every range check
        raise click.BadParameter("must be a number, not nan")
    return value


@cli.command("serve")
@click.option(
    "--env",
    "env_name",
    default=defaults.LOCAL_ENVIRONMENT,
    show_default=True,
    help="Serve this environment's current model.",
)
@click.option(
    "--host",
    default=defaults.SERVE_HOST,
    show_default=True,
    help="The address to listen on (0.0.0.0 exposes it to the network).",
)
@click.option(
    "--port",
    type=click.IntRange(0, 65535),
    default=defaults.SERVE_PORT,
    show_default=True,
    help="The TCP port to listen on.",
)
@click.option(
    "--max-body-mb",
    type=click.FloatRange(min=0, min_open=True, max=defaults.MAX_BODY_MB_LIMIT),
    default=defaults.MAX_BODY_MB,
    show_default=True,
    callback=_finite,
    help="Larger request bodies get HTTP 413.",
)
@click.option(
    "--max-batch-rows",
    type=click.IntRange(min=1),
    default=defaults.MAX_BATCH_ROWS,
    show_default=True,
    help="Requests waiting for the model are predicted together, "
    "up to this many rows per call (1: never merged).",
)
@click.option(
    "--workers",
    "worker_count",
    type=click.IntRange(1, 64),
    default=1,
    show_default=True,
    help="Server processes on the port, each with its own model and watcher (one per core).",
)
@click.pass_context
def serve_command(
    ctx: click.Context,
    env_name: str,
    host: str,
    port: int,
    max_body_mb: float,
    max_batch_rows: int,
    worker_count: int,
) -> None:
    """Serve ENV's model over HTTP (MLflow's scoring protocol, Prometheus metrics)."""
    from mlgate.deploy import deployments, environments
    from mlgate.serve import app as serve

    root = git.repo_root()
    env = environments.environment(root, read_policy(git.revision(git.WORKSPACE, root)), env_name)
    current = deployments.read_current(env)
    serving = (
        f"{current.artifact} {current.version}" if current else "nothing yet (waiting for a deploy)"
    )
    sock = serve.listen(host, port)
    bound_host, bound_port = sock.getsockname()[:2]
    shown = f"[{bound_host}]" if ":" in bound_host else bound_host
    processes = f" with {worker_count} workers" if worker_count > 1 else ""
    _echo(f"Serving {env.name} ({serving}) on http://{shown}:{bound_port}{processes}", err=True)
    ctx.exit(serve.run(env, sock, max_body_mb, max_batch_rows, worker_count=worker_count))


@cli.command("init")
@click.option(
    "--python",
    "python_version",
    default=defaults.WORKFLOW_PYTHON,
    show_default=True,
    help="The Python version the workflows set up.",
)
@click.option(
    "--install",
    metavar="COMMAND",
    help="The workflows' install step. Default: mlgate, the project's requirements.txt "
    "files, its own package with its extras, DVC's plugins for its remotes.",
)
@click.option(
    "--main",
    "main_branch",
    default=defaults.MAIN_BRANCH,
    show_default=True,
    help="The branch releases are made from.",
)
@click.option("--force", is_flag=True, help="Overwrite files that differ from the templates.")
def init_command(python_version: str, install: str | None, main_branch: str, force: bool) -> None:
    """Write GitHub Actions workflows, pre-commit hooks and a starter policy; dvc init if needed."""
    from mlgate import scaffold

    root = git.repo_root()
    settings = scaffold.Settings(
        python_version,
        install or scaffold.install_step(root),
        main_branch,
        scaffold.storage_env(root),
    )
    for written in scaffold.init(root, settings, force=force):
        note = f" ({written.note})" if written.note else ""
        _echo(f"{written.action:<9} {written.path}{note}")


@cli.group("hooks")
def hooks_group() -> None:
    """Git hooks: a stale pipeline stops a commit, a regression a push; checkout, merge, rebase sync data."""


HOOK_OPTION = click.option(
    "--hook",
    "hook_names",
    type=click.Choice(defaults.HOOKS),
    multiple=True,
    help="Only this hook (repeatable); default: all of them.",
)


@hooks_group.command("install")
@HOOK_OPTION
def hooks_install_command(hook_names: tuple[str, ...]) -> None:
    """Install the hooks, keeping any existing hook to run first."""
    from mlgate.hooks import scripts

    states = scripts.install(git.repo_root(), hook_names or defaults.HOOKS)
    _echo(render_hooks.hooks_text(states), nl=False)


@hooks_group.command("uninstall")
@HOOK_OPTION
def hooks_uninstall_command(hook_names: tuple[str, ...]) -> None:
    """Remove mlgate's hooks and put back the hooks they chained."""
    from mlgate.hooks import scripts

    states = scripts.uninstall(git.repo_root(), hook_names or defaults.HOOKS)
    _echo(render_hooks.hooks_text(states), nl=False)


@hooks_group.command("status")
def hooks_status_command() -> None:
    """Which hooks are installed, where, and with which Python."""
    from mlgate.hooks import scripts

    _echo(render_hooks.hooks_text(scripts.status(git.repo_root())), nl=False)


@hooks_group.command("run", context_settings={"ignore_unknown_options": True})
@click.argument("hook", type=click.Choice(defaults.HOOKS))
@click.argument("args", nargs=-1, type=click.UNPROCESSED)
@click.pass_context
def hooks_run_command(ctx: click.Context, hook: str, args: tuple[str, ...]) -> None:
    """Run HOOK now with git's ARGS (what the pre-commit framework calls)."""
    from mlgate.hooks import runner, scripts

    stdin = sys.stdin.read() if hook in scripts.READS_STDIN and not sys.stdin.isatty() else ""
    result = runner.run(hook, args, stdin, os.environ)
    for line in result.lines:
        _echo(escape.one_line(line), err=True)
    ctx.exit(result.exit_code)


def _deployed(done: Deployment, env: environments.Environment, verb: str = "Deployed") -> str:
    commit = f", commit {done.commit[:8]}" if done.commit else ", from the workspace"
    smoke = (
        f"smoke test: {done.smoke_rows} rows predicted"
        if done.smoke_rows
        else "smoke test: the model loads; its card has no input example"
    )
    previous = f"; was {done.previous}" if done.previous else ""
    if done.percent is not None:
        verb = (
            "Shadow deployed" if done.shadow else f"Canary deployed ({done.percent:g}% of requests)"
        )
        previous = f" beside {done.previous}" + (
            f", which answers; it gets a copy of {done.percent:g}% of the requests"
            if done.shadow
            else ""
        )
    note = f" ({done.runtime_note})" if done.runtime_note else ""
    return (
        f"{verb} {done.artifact} {done.version} (md5 {done.md5[:8]}{commit}) to {env.name} "
        f"at {env.target.location}{previous}; {smoke}.\nRuntime: {done.runtime}{note}."
    )


def _say_canary_replaced(before: Any) -> None:
    """A deploy or rollback replaced the canary beside the version it replaced: say so."""
    side = before.canary if before is not None else None
    if side is not None:
        role = "shadow" if side.shadow else "canary"
        _echo(f"The {role} {side.version} is no longer served (logged as remove-canary).")


def _say_taken(taken: Sequence[str]) -> None:
    for tag in taken:
        _echo(f"mlgate: {tag} was pushed by someone else first; planned again")


def _pushed(push: bool, remote: str) -> str:
    return f" and pushed it to {remote}" if push else ""


def _warn(message: str) -> None:
    _echo(f"mlgate: warning: {escape.one_line(message)}", err=True)


def _warn_ignored(reg: registry.Registry) -> None:
    for tag in reg.ignored:
        _echo(
            f"mlgate: warning: ignoring lightweight tag {tag} (registry tags are annotated)",
            err=True,
        )


def _print_report(
    fmt: str, as_json: Callable[[], str], markdown: str, as_text: Callable[[bool], str]
) -> None:
    if fmt == "json":
        _echo(as_json(), nl=False)
    elif fmt == "md":
        _echo(markdown, nl=False)
    else:
        _echo(as_text(sys.stdout.isatty()), nl=False)


def _write_report(path: Path, markdown: str) -> None:
    from mlgate.files import write_text

    try:
        write_text(path, markdown)
    except OSError as exc:
        raise MlgateError(f"cannot write the report to {path}: {exc.strerror or exc}") from None


def _full_report(report_path: Path | None) -> str:
    """Where a reader finds what a size limit cut."""
    return (
        f"the full report is in {escape.markdown(str(report_path))}"
        if report_path
        else "run `mlgate check --format md` for the full report"
    )


def _publish_to_actions(result: compare.Check, markdown: str, report_path: Path | None) -> None:
    github.append_step_summary(markdown, full=_full_report(report_path))
    github.write_outputs(
        {
            "verdict": "pass" if result.gate.passed else "fail",
            "failed": ",".join(dict.fromkeys(o.metric or o.rule.key for o in result.gate.failures)),
            "report": str(report_path or ""),
        }
    )
    for outcome in result.gate.failures:
        name = outcome.metric or outcome.rule.key
        # On stderr (the runner reads workflow commands on both): stdout stays the report,
        # so `--format json > report.json` holds JSON only.
        _echo(github.error_annotation(f"{name}: {outcome.reason}", f"mlgate: {name}"))
    if result.gate.unpushed:
        paths = ", ".join(result.gate.unpushed)
        message = f"not in the DVC remote {result.gate.remote} (run `dvc push`): {paths}"
        _echo(github.error_annotation(message, "mlgate: data not pushed"))


def _publish_drift_to_actions(
    result: monitor.Report, markdown: str, report_path: Path | None
) -> None:
    from mlgate.monitor import monitor

    github.append_step_summary(markdown, full=_full_report(report_path))
    github.write_outputs(monitor.outputs(result, report_path))
    for column in result.columns:
        if column.drifted:
            message = (
                f"{column.name}: {column.test} {column.score:.4g} (threshold {column.threshold:g})"
            )
            if result.verdict == monitor.DRIFT:
                _echo(github.error_annotation(message, f"mlgate: drift in {column.name}"))
            else:
                _echo(github.warning_annotation(message, f"mlgate: drift in {column.name}"))


@contextlib.contextmanager
def _progress_bar(label: str) -> Iterator[Callable[[int, int], None] | None]:
    """A progress bar on stderr for long reads, only when stderr is a terminal."""
    if not sys.stderr.isatty():
        yield None
        return
    bar: Any = None

    def advance(done: int, total: int) -> None:
        nonlocal bar
        if bar is None and total >= _PROGRESS_MIN_BYTES:
            bar = click.progressbar(length=total, label=label, file=sys.stderr).__enter__()
        if bar is not None:
            bar.update(done - bar.pos)

    try:
        yield advance
    finally:
        if bar is not None:
            bar.__exit__(None, None, None)


def _post_comment(markdown: str, report_path: Path | None) -> None:
    client = github.GitHubClient.from_env()
    number = github.pull_request_number()
    full = (
        "the full report is in the job summary"
        if github.in_actions()
        else _full_report(report_path)
    )
    try:
        action, url = client.upsert_comment(number, markdown, render_check.COMMENT_MARKER, full)
    except github.Forbidden:
        warning = (
            "GitHub refused the comment (403): the token is read-only, as for a pull "
            "request from a fork; the report is in the job summary instead"
        )
        _echo(
            github.warning_annotation(warning)
            if github.in_actions()
            else f"mlgate: warning: {warning}"
        )
        return
    _echo(f"mlgate: {action} the pull request comment {url}".rstrip(), err=True)


def _echo(text: str | github.WorkflowCommand, *, err: bool = False, nl: bool = True) -> None:
    """The one way the CLI prints: text made terminal-safe as a whole (escape.terminal_block),
    so a renderer that forgot to escape a value still cannot start a workflow command or move
    the cursor; only a github.WorkflowCommand, built with its values escaped, goes out as is."""
    if isinstance(text, github.WorkflowCommand):
        click.echo(text.line, err=True, nl=nl)
    else:
        click.echo(escape.terminal_block(text), err=err, nl=nl)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI and return its exit code; the one place errors become messages."""
    args = list(sys.argv[1:] if argv is None else argv)
    try:
        # Outside standalone mode Click returns the code a command passed to ctx.exit().
        code = cli.main(args=args, prog_name="mlgate", standalone_mode=False)
    except click.exceptions.Exit as exc:
        return exc.exit_code
    except click.ClickException as exc:
        exc.show()
        return EXIT_COULD_NOT_RUN
    except click.exceptions.Abort:
        _echo("mlgate: interrupted", err=True)
        return EXIT_INTERRUPTED
    except MlgateError as exc:  # its message may quote a file's text: kept to one line
        _echo(f"mlgate: error: {escape.one_line(str(exc))}", err=True)
        return EXIT_COULD_NOT_RUN
    except KeyboardInterrupt:
        _echo("mlgate: interrupted", err=True)
        return EXIT_INTERRUPTED
    except Exception as exc:
        # An unexpected error escapes Click before any option is acted on: --traceback is read
        # from the command line itself, wherever it was given.
        if "--traceback" in args:
            import traceback

            traceback.print_exc()
        _echo(
            f"mlgate: an unexpected error has occurred: {type(exc).__name__}: "
            f"{escape.one_line(str(exc))} "
            "(run again with --traceback for details, and please report it)",
            err=True,
        )
        return EXIT_BUG
    return code if isinstance(code, int) else EXIT_OK
