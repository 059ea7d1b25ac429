"""mlgate's benchmarks: run one by name and it prints its figures (medians) and, where a peer
tool does the same job, the ratio measured side by side in the same run.

    python bench/run.py pipeline [--rows 10000,100000,1000000] [--repeat 5]
    python bench/run.py gate [--history 0,10000,100000] [--repeat 5]
    python bench/run.py registry [--repeat 5]
    python bench/run.py hooks [--repeat 15]
    python bench/run.py significance [--prediction-rows 100000] [--repeat 5]
    python bench/run.py slices [--prediction-rows 100000] [--repeat 5]
    python bench/run.py serve [--connections 1,4] [--seconds 10] [--repeat 3] [--mlflow-venv DIR]
                              [--serve-model lightgbm]
    python bench/run.py serve-steps [--repeat 5]
    python bench/run.py monitor [--monitor-rows 1000000] [--repeat 3] [--evidently-venv DIR]
    python bench/run.py monitor-replicas [--monitor-rows 10000000] [--repeat 3]
    python bench/run.py pushed [--repeat 9]
    python bench/run.py replicas [--serve-rows 20000] [--repeat 5]
"""

from __future__ import annotations

import argparse
import contextlib
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from datetime import date
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from monitoring import bench_monitor  # noqa: E402
from objectstore import bench_monitor_labels, bench_monitor_replicas, bench_replicas  # noqa: E402
from serving import bench_serve, bench_serve_canary, bench_serve_steps  # noqa: E402

from helpers import commit_all, make_project  # noqa: E402  (the tests' project builder)


def machine() -> str:
    import os

    import psutil

    memory = psutil.virtual_memory().total / 2**30
    return f"{platform.machine()}, {os.cpu_count()} cores, {memory:.0f} GiB, Python {platform.python_version()}"


def run_measured(command: Sequence[str], cwd: Path) -> tuple[float, float]:
    """Run ``command``; return (wall seconds, peak MiB summed over its whole process tree)."""
    import psutil

    start = time.perf_counter()
    process = psutil.Popen(command, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    peak = 0
    while process.poll() is None:
        tree = [process, *process.children(recursive=True)]
        rss = 0
        for member in tree:
            with contextlib.suppress(psutil.Error):
                rss += member.memory_info().rss
        peak = max(peak, rss)
        time.sleep(0.05)
    wall = time.perf_counter() - start
    if process.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed:\n{process.stderr.read().decode()}")
    return wall, peak / 2**20


def alternating_medians(
    ours: Callable[[], object], theirs: Callable[[], object], repeat: int
) -> tuple[float, float]:
    """Medians of ``repeat`` timed runs of each, taken in turns so both see the same noise."""
    times: tuple[list[float], list[float]] = ([], [])
    for _ in range(repeat):
        for action, measured in ((ours, times[0]), (theirs, times[1])):
            start = time.perf_counter()
            action()
            measured.append(time.perf_counter() - start)
    return statistics.median(times[0]), statistics.median(times[1])


def median_time(action: Callable[[], object], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        action()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def bench_pipeline(args: argparse.Namespace) -> None:
    import yaml

    train = yaml.safe_load((ROOT / "params.yaml").read_text())["train"]
    dvc = [sys.executable, "-m", "dvc", "repro"]
    print(
        f"pipeline: full `dvc repro` of this repository's pipeline ({train['model']}, "
        f"{train['n_estimators']} trees), then a no-op `dvc repro`"
    )
    print(f"{'rows':>10} {'full repro s':>13} {'peak MiB':>9} {'no-op repro s (median)':>23}")
    for rows in args.rows:
        with tempfile.TemporaryDirectory() as tmp:
            project = make_project(Path(tmp) / "p", {"data": {"rows": rows}, "train": train})
            wall, peak = run_measured(dvc, project)
            commit_all(project, "trained")
            noop = median_time(
                lambda p=project: subprocess.run(dvc, cwd=p, check=True, capture_output=True),
                args.repeat,
            )
            print(f"{rows:>10} {wall:>13.1f} {peak:>9.0f} {noop:>23.2f}", flush=True)


def add_history(project: Path, commits: int) -> None:
    """Give ``project``'s main branch ``commits`` earlier commits (git fast-import: seconds)."""
    if not commits:
        return
    lines = []
    for n in range(commits):
        body = f"commit {n}\n"
        lines += [
            "commit refs/heads/main",
            f"committer Bench <bench@example.com> {1_600_000_000 + n} +0000",
            f"data {len(body)}",
            body,
            "M 644 inline history.txt",
            f"data {len(body)}",
            body,
        ]
    stream = "\n".join(lines) + "\n"
    subprocess.run(
        ["git", "fast-import", "--quiet"], cwd=project, input=stream.encode(), check=True
    )
    subprocess.run(["git", "reset", "-q"], cwd=project, check=True)
    subprocess.run(["git", "checkout", "-q", "HEAD", "--", "history.txt"], cwd=project, check=True)


def templated(dvc_yaml: str) -> str:
    """This repository's dvc.yaml written with DVC's templating (``vars``, ``${}``), as DVC
    resolves it to the same stages and paths."""
    text = dvc_yaml.replace("data/processed", "${dirs.data}/processed")
    text = text.replace("models/model.", "${dirs.models}/model.")
    return "vars:\n  - dirs: {data: data, models: models}\n" + text


def gate_project(root: Path, history: int, template: bool = False) -> Path:
    """This repository's pipeline trained on main after ``history`` commits, and a change
    branch; with ``template``, its dvc.yaml written with templating."""
    dvc = [sys.executable, "-m", "dvc"]
    project = make_project(root, {"data": {"rows": 20_000}}, commit=False)
    if template:
        (project / "dvc.yaml").write_text(templated((project / "dvc.yaml").read_text()))
    add_history(project, history)
    (project / "pyproject.toml").write_text((ROOT / "pyproject.toml").read_text())
    subprocess.run([*dvc, "repro"], cwd=project, check=True, capture_output=True)
    commit_all(project, "trained on main")
    subprocess.run(["git", "checkout", "-q", "-b", "change"], cwd=project, check=True)
    params = (project / "params.yaml").read_text().replace("n_estimators: 25", "n_estimators: 40")
    (project / "params.yaml").write_text(params)
    subprocess.run([*dvc, "repro"], cwd=project, check=True, capture_output=True)
    commit_all(project, "more trees")
    return project


def bench_gate(args: argparse.Namespace) -> None:
    """`mlgate check` against main vs `dvc metrics diff main` + `dvc params diff main`,
    on repositories whose main branch has more and more history."""
    dvc = [sys.executable, "-m", "dvc"]
    mlgate = [sys.executable, "-m", "mlgate", "check"]
    kind = " (dvc.yaml templated: vars, ${})" if args.templated else ""
    print(
        f"gate: median of {args.repeat} runs, this repository's pipeline{kind} on a change branch"
    )
    print(f"{'commits':>8} {'mlgate check s':>15} {'dvc metrics+params diff s':>26} {'ratio':>6}")
    # Both tools run as installed packages do, with their bytecode cached (pip compiles DVC's;
    # an editable mlgate writes its own on the warm-up run), whatever this shell says.
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    for history in args.history:
        with tempfile.TemporaryDirectory() as tmp:
            project = gate_project(Path(tmp) / "p", history, args.templated)

            def run(command: list[str], project: Path = project) -> None:
                subprocess.run(command, cwd=project, capture_output=True, env=env)

            def peer() -> None:
                run([*dvc, "metrics", "diff", "main"])
                run([*dvc, "params", "diff", "main"])

            run(mlgate)  # warm-up: bytecode, the page cache
            peer()
            ours, theirs = alternating_medians(lambda: run(mlgate), peer, args.repeat)
        commits = int(history) + 2
        print(f"{commits:>8} {ours:>15.3f} {theirs:>26.3f} {theirs / ours:>5.1f}x", flush=True)


def hooks_project(root: Path, template: bool = False) -> Path:
    """This repository's pipeline trained on main, pushed to a bare origin, with mlgate's hooks
    (with ``template``, its dvc.yaml written with templating)."""
    dvc = [sys.executable, "-m", "dvc"]
    project = make_project(root / "p", {"data": {"rows": 20_000}}, commit=False)
    if template:
        (project / "dvc.yaml").write_text(templated((project / "dvc.yaml").read_text()))
    (project / "pyproject.toml").write_text((ROOT / "pyproject.toml").read_text())
    subprocess.run([*dvc, "repro"], cwd=project, check=True, capture_output=True)
    commit_all(project, "trained on main")
    subprocess.run(
        ["git", "init", "-q", "--bare", "-b", "main", str(root / "origin.git")], check=True
    )
    for command in (
        ["remote", "add", "origin", str(root / "origin.git")],
        ["push", "-q", "origin", "main"],
        ["checkout", "-q", "-b", "change"],
    ):
        subprocess.run(["git", *command], cwd=project, check=True)
    subprocess.run(
        [sys.executable, "-m", "mlgate", "hooks", "install"],
        cwd=project,
        check=True,
        capture_output=True,
    )
    return project


def bench_hooks(args: argparse.Namespace) -> None:
    """The installed hooks as git runs them, against `dvc status` (the work DVC's own hook does)."""
    dvc = [sys.executable, "-m", "dvc"]
    print(
        f"hooks: median of {args.repeat} runs of the installed hook scripts, this repository's "
        f"pipeline (20,000 rows{', dvc.yaml templated' if args.templated else ''}) on a change "
        "branch"
    )
    with tempfile.TemporaryDirectory() as tmp:
        project = hooks_project(Path(tmp), args.templated)
        hook = project / ".git" / "hooks"

        def timed(command: list[str], expect: int, stdin: str = "") -> float:
            def once() -> None:
                result = subprocess.run(
                    command, cwd=project, input=stdin, capture_output=True, text=True
                )
                if result.returncode != expect:
                    raise SystemExit(f"{command} exited {result.returncode}:\n{result.stderr}")

            return median_time(once, args.repeat)

        params = (project / "params.yaml").read_text()
        (project / "params.yaml").write_text(params.replace("n_estimators: 25", "n_estimators: 40"))
        subprocess.run([*dvc, "repro"], cwd=project, check=True, capture_output=True)
        subprocess.run(["git", "add", "-A"], cwd=project, check=True)
        clean = timed([str(hook / "pre-commit")], 0)
        status = timed([*dvc, "status"], 0)
        (project / "params.yaml").write_text(params.replace("n_estimators: 25", "n_estimators: 60"))
        subprocess.run(["git", "add", "params.yaml"], cwd=project, check=True)
        blocked = timed([str(hook / "pre-commit")], 1)
        subprocess.run(
            ["git", "checkout", "-q", "HEAD", "--", "params.yaml"], cwd=project, check=True
        )
        subprocess.run(
            ["git", "commit", "-q", "--no-verify", "-m", "more trees"], cwd=project, check=True
        )
        head = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=project, capture_output=True, text=True, check=True
        ).stdout.strip()
        refs = f"refs/heads/change {head} refs/heads/change {'0' * 40}\n"
        push = timed([str(hook / "pre-push"), "origin", str(Path(tmp) / "origin.git")], 0, refs)
    print(f"{'hook':<34} {'median s':>9} {'dvc status s':>13} {'ratio':>6}")
    for name, seconds in (
        ("pre-commit, nothing stale", clean),
        ("pre-commit, blocks a stale commit", blocked),
        ("pre-push, gate passes", push),
    ):
        print(f"{name:<34} {seconds:>9.3f} {status:>13.3f} {status / seconds:>5.1f}x", flush=True)


def registry_repository(root: Path, artifacts: int, versions: int, unrelated: int) -> int:
    """A repository with ``artifacts`` x ``versions`` releases, each promoted once (alternating
    staging and production), plus ``unrelated`` other annotated tags; all made by fast-import.
    Returns the number of registry tags."""
    subprocess.run(["git", "init", "-q", "-b", "main", str(root)], check=True)
    lines, when, counters = [], 1_600_000_000, dict.fromkeys(range(artifacts), 0)
    who = "Bench <bench@example.com>"

    def data(text: str) -> list[str]:
        return [f"data {len(text.encode())}", text]

    commits = max(versions, 1)
    for n in range(commits):
        lines += [
            "commit refs/heads/main",
            f"mark :{n + 1}",
            f"committer {who} {when + n} +0000",
            *data(f"commit {n}\n"),
            "M 644 inline file.txt",
            *data(f"{n}\n"),
        ]
    registry_tags = 0
    for a in range(artifacts):
        for v in range(versions):
            when += 1
            stage = ("staging", "production")[v % 2]
            counters[a] += 1
            for name in (f"model-{a}@v0.{v}.0", f"model-{a}#{stage}#{counters[a]}"):
                lines += [
                    f"tag {name}",
                    f"from :{v + 1}",
                    f"tagger {who} {when} +0000",
                    *data(f"{name}\n"),
                ]
                registry_tags += 1
    for u in range(unrelated):
        lines += [
            f"tag build-{u}",
            f"from :{u % commits + 1}",
            f"tagger {who} {when} +0000",
            *data("build\n"),
        ]
    stream = "\n".join(lines) + "\n"
    subprocess.run(["git", "fast-import", "--quiet"], cwd=root, input=stream.encode(), check=True)
    return registry_tags


def bench_registry(args: argparse.Namespace) -> None:
    """`mlgate releases --json` vs `gto show --json` on the same repository."""
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "registry"
        count = registry_repository(root, artifacts=5, versions=100, unrelated=5000)
        mlgate = [sys.executable, "-m", "mlgate", "releases", "--json"]
        gto = [sys.executable, "-m", "gto.cli", "show", "--json"]
        ours_out = subprocess.run(
            mlgate, cwd=root, capture_output=True, text=True, check=True
        ).stdout
        theirs_out = subprocess.run(
            gto, cwd=root, capture_output=True, text=True, check=True
        ).stdout
        agree = _registry_views_agree(ours_out, theirs_out)
        ours = median_time(
            lambda: subprocess.run(mlgate, cwd=root, capture_output=True), args.repeat
        )
        theirs = median_time(
            lambda: subprocess.run(gto, cwd=root, capture_output=True), args.repeat
        )
    print(f"registry: median of {args.repeat} runs; {count} registry tags + 5000 unrelated tags")
    print(f"  mlgate releases --json   {ours:7.3f} s")
    print(f"  gto show --json          {theirs:7.3f} s")
    print(f"  ratio: mlgate is {theirs / ours:.1f}x faster; same versions and stages: {agree}")


def _registry_views_agree(ours_json: str, gto_json: str) -> bool:
    import json

    ours = {row["artifact"]: row for row in json.loads(ours_json)}
    theirs = json.loads(gto_json)
    return set(ours) == set(theirs) and all(
        ours[a]["latest"] == s["version"]
        and {k: v for k, v in ours[a]["stages"].items() if v}
        == {k: v for k, v in s["stage"].items() if v}
        for a, s in theirs.items()
    )


PREDICTIONS = "eval/predictions.csv"
SIGNIFICANCE_POLICY = """\
[tool.mlgate]
base = "main"
predictions = "eval/predictions.csv"

[tool.mlgate.rules]
accuracy = { direction = "higher", significance = 0.05 }
roc_auc = { direction = "higher", significance = 0.05 }
"""


def predictions_repository(
    root: Path, rows: int, extra: dict[str, list[str]] | None = None
) -> Path:
    """main: a model's predictions on ``rows`` test rows and its metrics; branch change: the
    same rows, the model wrong on 1% more of them; ``extra``: more columns, the same at both."""
    extra = extra or {}
    import numpy as np

    rng = np.random.default_rng(1)
    labels = (rng.random(rows) < 0.3).astype(int)
    scores = np.clip(rng.normal(np.where(labels == 1, 0.7, 0.3), 0.2), 0, 1)
    worse = np.where(rng.random(rows) < 0.01, 1 - scores, scores)
    subprocess.run(["git", "init", "-q", "-b", "main", str(root)], check=True)
    (root / "eval").mkdir()
    (root / "dvc.yaml").write_text("metrics:\n  - metrics.json\n")
    (root / "pyproject.toml").write_text(SIGNIFICANCE_POLICY)
    for branch, values in (("main", scores), ("change", worse)):
        if branch != "main":
            subprocess.run(["git", "checkout", "-q", "-b", branch], cwd=root, check=True)
        predicted = (values >= 0.5).astype(int)
        lines = [
            ",".join([f"{i},{y},{p},{s:.6f}", *(column[i] for column in extra.values())])
            for i, (y, p, s) in enumerate(zip(labels, predicted, values, strict=True))
        ]
        header = ",".join(["id,label,prediction,score", *extra])
        (root / PREDICTIONS).write_text(header + "\n" + "\n".join(lines) + "\n")
        accuracy = float(np.mean(predicted == labels))
        (root / "metrics.json").write_text(f'{{"accuracy": {accuracy}, "roc_auc": 0.9}}\n')
        commit_all(root, branch)
    return root


def bench_significance(args: argparse.Namespace) -> None:
    """Bootstrap significance of each metric (1,000 paired resamples), reading both revisions'
    predictions from git; then `mlgate check` with two significance rules, end to end. No peer
    tool tests significance in a gate: the reference is the loop one writes with
    scikit-learn (timed on 100 resamples, scaled to 1,000)."""
    import numpy as np
    from sklearn import metrics

    from mlgate.gate import compare, significance, stats
    from mlgate.git import revision

    rows = args.prediction_rows
    with tempfile.TemporaryDirectory() as tmp:
        project = predictions_repository(Path(tmp) / "p", rows)
        base, head = revision("main", project), revision("change", project)
        print(
            f"significance: {rows:,} paired predictions, 1,000 resamples, median of "
            f"{args.repeat} runs, including reading both revisions' files from git"
        )
        sets = [[m] for m in stats.METRICS] + [["accuracy", "roc_auc"], list(stats.METRICS)]
        print(f"{'metrics':<40} {'median s':>9}")
        for names in sets:
            levels = dict.fromkeys(names, 0.95)
            seconds = median_time(
                lambda levels=levels: significance.measure(
                    compare.predictions_file(base, PREDICTIONS),
                    compare.predictions_file(head, PREDICTIONS),
                    PREDICTIONS,
                    levels,
                ),
                args.repeat,
            )
            label = "all seven" if len(names) == len(stats.METRICS) else " + ".join(names)
            print(f"{label:<40} {seconds:>9.3f}", flush=True)
        check = [sys.executable, "-m", "mlgate", "check", "--base", "main"]
        end_to_end = median_time(
            lambda: subprocess.run(check, cwd=project, capture_output=True), args.repeat
        )
        print(f"{'mlgate check (accuracy + roc_auc), process':<40} {end_to_end:>9.3f}")
        read = median_time(
            lambda: (
                significance.read_predictions(
                    compare.predictions_file(base, PREDICTIONS), PREDICTIONS
                ),
                significance.read_predictions(
                    compare.predictions_file(head, PREDICTIONS), PREDICTIONS
                ),
            ),
            args.repeat,
        )
        print(f"{'  of which reading both files from git':<40} {read:>9.3f}")
        base_predictions = significance.read_predictions(  # the reference's input
            compare.predictions_file(base, PREDICTIONS), PREDICTIONS
        )
        labels = np.array(base_predictions.labels, dtype=int)
        scores = base_predictions.scores[:, 0]
        rng = np.random.default_rng(0)

        def naive(metric: Callable[[np.ndarray, np.ndarray], float]) -> None:
            for _ in range(100):
                rows_drawn = rng.integers(0, rows, rows)
                metric(labels[rows_drawn], scores[rows_drawn])

        for name, metric in (
            ("accuracy", lambda y, s: metrics.accuracy_score(y, s >= 0.5)),
            ("roc_auc", metrics.roc_auc_score),
        ):
            seconds = (
                median_time(lambda metric=metric: naive(metric), max(1, args.repeat // 2)) * 10
            )
            print(
                f"{'scikit-learn loop, one revision, ' + name:<40} {seconds:>9.3f} (x2 for a paired difference)"
            )


def bench_slices(args: argparse.Namespace) -> None:
    """The slice gate: `significance.measure` with [tool.mlgate.slices] (roc_auc and accuracy
    per slice of a 20-value column and a 4-bin numeric one, 1,000 paired resamples each) on
    ``--prediction-rows`` paired predictions read from git, without and with discovery (the 80
    pairs of their values); then `mlgate check` as a process. No peer compares a change with its
    base per slice with paired tests; the reference is the scikit-learn loop one writes (each
    slice's paired roc_auc, 100 resamples timed, scaled to 1,000)."""
    import numpy as np
    from sklearn import metrics

    from mlgate.gate import compare, significance
    from mlgate.policy import parse_policy

    rows = args.prediction_rows
    rng = np.random.default_rng(3)
    segment = rng.integers(0, 20, rows)
    amount = np.round(rng.exponential(50, rows), 2)
    extra = {"segment": [f"m{k:02d}" for k in segment], "amount": [f"{a:.2f}" for a in amount]}
    with tempfile.TemporaryDirectory() as tmp:
        project = predictions_repository(Path(tmp) / "p", rows, extra=extra)
        files = [
            compare.predictions_file(revision, PREDICTIONS)
            for revision in (git_revision("main", project), git_revision("change", project))
        ]
        print(
            f"slices: {rows:,} paired predictions, 20 segments x 4 amount bins, roc_auc and "
            f"accuracy per slice, 1,000 resamples, median of {args.repeat} runs, reading both "
            "files from git"
        )
        print(f"{'what':<52} {'median s':>9}")
        whole = median_time(
            lambda: significance.measure(*files, PREDICTIONS, {"roc_auc": 0.95, "accuracy": 0.95}),
            args.repeat,
        )
        print(f"{'the whole file only (no slices)':<52} {whole:>9.3f}", flush=True)
        for discover in (False, True):
            table = {
                "predictions": PREDICTIONS,
                "slices": {
                    "columns": ["segment", "amount"],
                    "discover": discover,
                    "rules": {
                        "roc_auc": {"direction": "higher", "significance": 0.05},
                        "accuracy": {"direction": "higher", "significance": 0.05},
                    },
                },
            }
            slicing = parse_policy(table, "bench", "bench").slices
            seconds = median_time(
                lambda slicing=slicing: significance.measure(
                    *files, PREDICTIONS, {"roc_auc": 0.95, "accuracy": 0.95}, slicing=slicing
                ),
                args.repeat,
            )
            label = "and 24 slices" + (" + 80 pairs (discover)" if discover else "")
            print(f"{'the whole file ' + label:<52} {seconds:>9.3f}", flush=True)
        subprocess.run(["git", "checkout", "-q", "main"], cwd=project, check=True)
        (project / "pyproject.toml").write_text(
            SIGNIFICANCE_POLICY
            + '\n[tool.mlgate.slices]\ncolumns = ["segment", "amount"]\n\n'
            + '[tool.mlgate.slices.rules]\nroc_auc = { direction = "higher", significance = 0.05 }\n'
        )
        commit_all(project, "slices")
        subprocess.run(["git", "checkout", "-q", "change"], cwd=project, check=True)
        subprocess.run(["git", "merge", "-q", "main", "-m", "policy"], cwd=project, check=True)
        check = [sys.executable, "-m", "mlgate", "check", "--base", "main"]
        result = subprocess.run(check, cwd=project, capture_output=True, text=True)
        assert "Slices" in result.stdout, result.stdout + result.stderr
        end_to_end = median_time(
            lambda: subprocess.run(check, cwd=project, capture_output=True), args.repeat
        )
        print(f"{'mlgate check with 24 roc_auc slices, process':<52} {end_to_end:>9.3f}")
        base = significance.read_predictions(files[0], PREDICTIONS)
        head = significance.read_predictions(files[1], PREDICTIONS)
        labels = np.array(base.labels, dtype=int)
        scores = base.scores[:, 0], head.scores[:, 0]
        groups = [np.flatnonzero(segment == k) for k in range(20)]

        def naive() -> None:
            for rows_in in groups:
                for _ in range(100):
                    drawn = rows_in[rng.integers(0, len(rows_in), len(rows_in))]
                    metrics.roc_auc_score(labels[drawn], scores[1][drawn])
                    metrics.roc_auc_score(labels[drawn], scores[0][drawn])

        seconds = median_time(naive, max(1, args.repeat // 2)) * 10
        print(f"{'scikit-learn loop: paired roc_auc, 20 segments only':<52} {seconds:>9.3f}")


def git_revision(name: str, project: Path) -> Any:
    from mlgate.git import revision

    return revision(name, project)


def bench_pushed(args: argparse.Namespace) -> None:
    """Is the data pushed? `mlgate check --head HEAD` (the whole gate, the push check with it)
    against `dvc data status --not-in-remote`, on this repository's pipeline whose change
    branch has not pushed its outputs, with a local remote and with an S3 remote (SeaweedFS on
    loopback); both tools must name the same paths."""
    import json

    from s3server import running

    dvc = [sys.executable, "-m", "dvc"]
    mlgate = [sys.executable, "-m", "mlgate", "check", "--head", "HEAD", "--format", "json"]
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    print(f"pushed: median of {args.repeat} runs, outputs of a change not pushed")
    print(f"{'remote':>8} {'mlgate check s':>15} {'dvc data status s':>18} {'ratio':>6}  missing")
    with running() as server, tempfile.TemporaryDirectory() as tmp:
        env.update(server.environment)
        for kind, url in (("local", str(Path(tmp) / "store")), ("s3", f"s3://{server.bucket}/b")):
            project = make_project(Path(tmp) / kind, {"data": {"rows": 20_000}}, commit=False)
            (project / "pyproject.toml").write_text((ROOT / "pyproject.toml").read_text())
            subprocess.run(
                [*dvc, "remote", "add", "-d", "storage", url],
                cwd=project,
                check=True,
                capture_output=True,
            )
            subprocess.run([*dvc, "repro"], cwd=project, check=True, capture_output=True, env=env)
            commit_all(project, "trained on main")
            subprocess.run([*dvc, "push", "-q"], cwd=project, check=True, env=env)
            subprocess.run(["git", "checkout", "-q", "-b", "change"], cwd=project, check=True)
            params = (project / "params.yaml").read_text()
            (project / "params.yaml").write_text(
                params.replace("n_estimators: 25", "n_estimators: 40")
            )
            subprocess.run([*dvc, "repro"], cwd=project, check=True, capture_output=True, env=env)
            commit_all(project, "more trees")

            def ours(project: Path = project) -> list[str]:
                out = subprocess.run(mlgate, cwd=project, capture_output=True, text=True, env=env)
                return sorted(json.loads(out.stdout)["unpushed"])

            def theirs(project: Path = project) -> list[str]:
                out = subprocess.run(
                    [*dvc, "data", "status", "--not-in-remote", "--json"],
                    cwd=project,
                    capture_output=True,
                    text=True,
                    env=env,
                )
                missing = json.loads(out.stdout or "{}").get("not_in_remote", [])
                return sorted(p.rstrip("/") for p in missing)

            named, expected = ours(), theirs()
            if named != expected:
                raise SystemExit(f"{kind}: mlgate names {named}, DVC {expected}")
            mine, peer = alternating_medians(ours, theirs, args.repeat)
            print(f"{kind:>8} {mine:>15.3f} {peer:>18.3f} {peer / mine:>5.1f}x  {', '.join(named)}")


BENCHMARKS = {
    "gate": bench_gate,
    "hooks": bench_hooks,
    "pipeline": bench_pipeline,
    "monitor": bench_monitor,
    "pushed": bench_pushed,
    "replicas": bench_replicas,
    "monitor-replicas": bench_monitor_replicas,
    "monitor-labels": bench_monitor_labels,
    "registry": bench_registry,
    "serve": bench_serve,
    "serve-steps": bench_serve_steps,
    "serve-canary": bench_serve_canary,
    "significance": bench_significance,
    "slices": bench_slices,
}


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("benchmark", choices=sorted(BENCHMARKS))
    parser.add_argument(
        "--rows",
        type=lambda s: [int(x) for x in s.split(",")],
        default=[10_000, 100_000, 1_000_000],
        help="pipeline sizes",
    )
    parser.add_argument(
        "--history",
        type=lambda s: [int(x) for x in s.split(",")],
        default=[0, 10_000, 100_000],
        help="gate: earlier commits on main",
    )
    parser.add_argument(
        "--prediction-rows",
        type=int,
        default=100_000,
        help="significance: paired predictions per revision",
    )
    parser.add_argument(
        "--connections",
        type=lambda s: [int(x) for x in s.split(",")],
        default=[1, 4],
        help="serve: wrk's open connections, one run each",
    )
    parser.add_argument("--seconds", type=int, default=10, help="serve: seconds of load per run")
    parser.add_argument("--serve-rows", type=int, default=20_000, help="serve: training rows")
    parser.add_argument(
        "--serve-model",
        choices=["lightgbm"],
        help="serve: train this model instead of params.yaml's (as many trees)",
    )
    parser.add_argument(
        "--mlflow-venv",
        default=str(ROOT / "bench" / ".peers" / "mlflow"),
        help="serve: MLflow's own virtual environment (made on first use)",
    )
    parser.add_argument("--monitor-rows", type=int, default=1_000_000, help="monitor: logged rows")
    parser.add_argument(
        "--evidently-venv",
        default=str(ROOT / "bench" / ".peers" / "evidently"),
        help="monitor: Evidently's own virtual environment (made on first use)",
    )
    parser.add_argument(
        "--templated", action="store_true", help="gate, hooks: the project's dvc.yaml is templated"
    )
    parser.add_argument("--repeat", type=int, default=5, help="runs per timed figure")
    args = parser.parse_args(argv)
    print(f"# {args.benchmark} on {date.today()}: {machine()}")
    BENCHMARKS[args.benchmark](args)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
