"""``mlgate monitor`` (drift and live performance) and ``mlgate canary``."""

from __future__ import annotations

from pathlib import Path
from typing import cast

import click

from mlgate import escape, forges
from mlgate.commands.output import (
    echo,
    format_option,
    labels_option,
    print_report,
    progress,
    publish,
    quiet_option,
    report_option,
    wait_option,
    warn,
    write_report,
)
from mlgate.commands.project import project
from mlgate.errors import EXIT_COULD_NOT_RUN, EXIT_OK, EXIT_REJECTED
from mlgate.render.live import (
    canary_json,
    canary_markdown,
    canary_text,
    carried_out_text,
    performance_json,
    performance_text,
    verdict_line,
)
from mlgate.render.monitor import histograms, monitor_json, monitor_markdown, monitor_text
from mlgate.render.table import to_json


@click.command("monitor")
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
@format_option("Output: a table with text histograms, Markdown, or JSON.")
@report_option(
    "Also write the Markdown report to this file, with a histogram image per "
    "column in the folder beside it."
)
@labels_option(
    "; joined to the logged predictions for live metrics per version and window (needs --env)."
)
@click.option(
    "--window",
    type=click.Choice(["day", "hour"]),
    default="day",
    show_default=True,
    help="With --labels: the span of each window of live metrics.",
)
@quiet_option()
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
    quiet: bool,
) -> None:
    """Has the data drifted from the training data, and (with --labels) is the model still
    right? Exit 0 no drift and no performance problem (or not enough data to say), 1 either,
    2 when it cannot be computed."""
    from mlgate.monitor import actions, watch

    if env_name is None and batch is None:
        raise click.UsageError("give --env ENV (its monitoring log), --file FILE, or both")
    if since is not None and batch is not None:
        raise click.UsageError("--since applies to the monitoring log, not to --file")
    if labels_file is not None and env_name is None:
        raise click.UsageError("--labels joins an environment's logged predictions: give --env")
    here = project()
    with progress("mlgate monitor", quiet=quiet) as shown:
        watched = watch.watch(
            here.root,
            here.policy,
            env_name=env_name,
            since=since,
            batch=batch,
            labels_file=labels_file,
            window=cast(watch.Window, window),
            progress=shown,
        )
    performance, result = watched.performance, watched.drift
    if result is None:  # no reference profile: the live metrics alone
        only = performance or []
        print_report(
            fmt,
            lambda: to_json({"drift": None, "performance": performance_json(only)}),
            performance_text(only, markdown=True),
            lambda colour: performance_text(only),
        )
        warn(f"no data drift: {watched.no_drift}")
        ctx.exit(EXIT_REJECTED if watched.problems else EXIT_OK)
    images = None
    if report_path:  # one SVG per column in <report>-images/, linked from the report
        images = {}
        for column, link, svg in histograms(result, f"{report_path.stem}-images"):
            write_report(report_path.parent / link, svg)
            images[column] = link
    live_md = "" if performance is None else performance_text(performance, markdown=True)
    live_text = "" if performance is None else performance_text(performance)
    live_json = None if performance is None else performance_json(performance)
    markdown = monitor_markdown(result, images) + live_md
    print_report(
        fmt,
        lambda: monitor_json(result, live_json),
        monitor_markdown(result) + live_md,
        lambda colour: monitor_text(result, colour=colour) + live_text,
    )
    publish(
        markdown,
        report_path,
        lambda full: actions.publish(result, markdown, full=full, report_path=report_path),
    )
    ctx.exit(EXIT_REJECTED if watched.problems else EXIT_OK)


@click.command("canary")
@click.option(
    "--env",
    "env_name",
    required=True,
    help="The environment whose canary (or shadow) is judged.",
)
@labels_option(".")
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
@format_option("Output: a table, Markdown, or JSON.")
@wait_option("With --apply: seconds to wait for another deploy to the same environment.")
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
    from mlgate.monitor import canary, canary_verdict, scrape

    scrape.check_urls(metrics_urls)
    here = project()
    env = here.environment(env_name)
    verdict = canary.judge_canary(env, here.policy, labels_file, metrics_urls)
    if verdict is None:  # nothing to judge, which is no failure
        echo(f"Nothing to judge: {env_name} has no canary (deploy one with --canary or --shadow).")
        forges.write_outputs({"decision": "none"})
        return
    print_report(
        fmt,
        lambda: canary_json(verdict),
        canary_markdown(verdict),
        lambda colour: canary_text(verdict, colour=colour),
    )
    if apply:
        note = escape.one_line(f"mlgate canary: {verdict_line(verdict)}")[:500]
        done = canary.carry_out(env, verdict, note=note, wait=wait)
        if done is not None:
            echo(carried_out_text(done, verdict, env_name), err=fmt != "table")
    forges.write_outputs({"decision": verdict.decision.replace(" ", "-")})
    codes = {canary_verdict.PROMOTE: EXIT_OK, canary_verdict.ROLL_BACK: EXIT_REJECTED}
    ctx.exit(codes.get(verdict.decision, EXIT_COULD_NOT_RUN))
