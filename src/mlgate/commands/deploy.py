"""``mlgate deploy``, ``rollback``, ``deployments`` and ``describe``."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, cast

import click

from mlgate import git
from mlgate.commands.output import echo, env_option, progress, quiet_option, wait_option, warn
from mlgate.commands.project import project
from mlgate.render.describe import described_text
from mlgate.render.registry import canary_replaced_text, deployed_text, deployments_text
from mlgate.render.table import to_json

if TYPE_CHECKING:
    from mlgate.artifacts.deployment import RuntimeChoice


@click.command("deploy")
@click.option(
    "--model",
    "model_ref",
    required=True,
    help="NAME@vX.Y.Z, a promotion tag NAME#ENV#N, NAME#ENV (the version there now), "
    "or a model file that dvc.lock records.",
)
@env_option("An environment from [tool.mlgate.environments], or local.")
@click.option(
    "--monitoring",
    type=click.Choice(["enable", "disable"]),
    default="disable",
    show_default=True,
    help="Log each request's inputs and predictions for `mlgate monitor`.",
)
@wait_option("Seconds to wait for another deploy to the same environment.")
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
@quiet_option()
def deploy_command(
    model_ref: str,
    env_name: str,
    monitoring: str,
    wait: float,
    runtime: str,
    canary: float | None,
    shadow: bool,
    quiet: bool,
) -> None:
    """Verify, smoke-test and switch ENV to a model version, atomically and logged."""
    from mlgate.deploy import deployments, resolve
    from mlgate.monitor import drift_report

    echo(
        f"Deployment started for model '{model_ref}' in '{env_name}' environment with "
        f"monitoring {monitoring}d."
    )
    here = project()
    env = here.environment(env_name)
    model = resolve.resolve(here.root, model_ref, Path.cwd())
    logged = monitoring == "enable"
    predictions, why = None, None
    if logged and here.policy.predictions is not None:
        predictions, why = drift_report.evaluation_predictions(
            here.root, here.policy.predictions, model.commit
        )
    before = deployments.read_current(env)
    with progress("mlgate deploy", quiet=quiet) as shown:
        done = deployments.deploy(
            here.root,
            model,
            env,
            monitoring=logged,
            wait=wait,
            predictions=predictions,
            runtime=cast("RuntimeChoice", runtime),
            canary=canary,
            shadow=shadow,
            progress=shown,
        )
    echo(deployed_text(done, env.name, env.target.location))
    replaced = canary_replaced_text(before)
    if replaced:
        echo(replaced)
    if why:
        echo(f"note: no prediction drift for this version: {why}")


@click.command("rollback")
@env_option("The environment to roll back.")
@click.option("--to", "version", help="This version (default: the one before the current).")
@wait_option("Seconds to wait for another deploy to the same environment.")
def rollback_command(env_name: str, version: str | None, wait: float) -> None:
    """Switch ENV back to the previous (or given) successfully deployed version."""
    from mlgate.deploy import deployments

    here = project()
    env = here.environment(env_name)
    before = deployments.read_current(env)
    done = deployments.rollback(here.root, env, version, wait)
    echo(deployed_text(done, env.name, env.target.location, "Rolled back"))
    replaced = canary_replaced_text(before)
    if replaced:
        echo(replaced)


@click.command("deployments")
@click.option("--env", "env_name", help="Only this environment (default: every one).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def deployments_command(env_name: str | None, as_json: bool) -> None:
    """Every deploy and rollback, oldest first, from each environment's log."""
    from mlgate.deploy import deployments

    chosen = project().environments(env_name)
    rows = [d for env in chosen for d in deployments.read_log(env, on_skipped=warn)]
    rows.sort(key=lambda d: d.time)
    if as_json:
        echo(to_json([d.to_dict() for d in rows]), nl=False)
    elif rows:
        echo(deployments_text(rows), nl=False)
    else:
        echo(f"No deployments{f' to {env_name}' if env_name else ''} yet.")


@click.command("describe")
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
    echo(described_text(done, data_file), nl=False)
