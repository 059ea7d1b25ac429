"""``mlgate serve``: an environment's model over HTTP."""

from __future__ import annotations

import click

from mlgate import defaults
from mlgate.commands.output import echo, env_option
from mlgate.commands.project import project


def _finite(ctx: click.Context, param: click.Parameter, value: float) -> float:
    if value != value:  # NaN passes every range check
        raise click.BadParameter("must be a number, not nan")
    return value


@click.command("serve")
@env_option("Serve this environment's current model.")
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
    from mlgate.deploy import deployments
    from mlgate.serve import app

    env = project().environment(env_name)
    current = deployments.read_current(env)
    serving = (
        f"{current.artifact} {current.version}" if current else "nothing yet (waiting for a deploy)"
    )
    sock = app.listen(host, port)
    bound_host, bound_port = sock.getsockname()[:2]
    shown = f"[{bound_host}]" if ":" in bound_host else bound_host
    processes = f" with {worker_count} workers" if worker_count > 1 else ""
    echo(f"Serving {env.name} ({serving}) on http://{shown}:{bound_port}{processes}", err=True)
    ctx.exit(app.run(env, sock, max_body_mb, max_batch_rows, worker_count=worker_count))
