"""The gate's charts: curves computed as scikit-learn computes them, drawn as Mermaid diagrams
that Mermaid's own parser accepts, nothing from a pull request inside a diagram."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import yaml
from sklearn.metrics import confusion_matrix, precision_recall_curve, roc_curve

import mermaid_parser
from helpers import commit_all, init_dvc_repo
from mlgate.gate import curves, plotted, stats
from mlgate.gate.stats import Scored
from mlgate.git import WORKSPACE, revision
from mlgate.render import charts


def scored(labels: np.ndarray, positive: np.ndarray) -> Scored:
    probabilities = np.column_stack([1 - positive, positive])
    return Scored(labels, (positive >= 0.5).astype(np.intp), probabilities)


def binary(seed: int, rows: int = 3000, noise: float = 1.0) -> Scored:
    rng = np.random.default_rng(seed)
    labels = (rng.random(rows) < 0.2).astype(np.intp)
    positive = 1 / (1 + np.exp(-(labels * 2 - 1) * 2 + rng.normal(0, noise, rows) * 2))
    return scored(labels, np.round(positive, 3))


def test_curves_are_scikit_learns_read_on_the_grid() -> None:
    base = binary(1)
    drawn = curves.charts(["0", "1"], base, binary(2))
    roc, pr, calibration = drawn.curves
    truth, score = base.labels == 1, base.probabilities[:, 1]
    fpr, tpr, _ = roc_curve(truth, score, drop_intermediate=False)
    for x, y in zip(roc.x, roc.base, strict=True):
        assert y == pytest.approx(tpr[fpr <= x + 1e-12].max(), abs=1e-4)
    precision, recall, _ = precision_recall_curve(truth, score)
    for x, y in zip(pr.x, pr.base, strict=True):
        assert y == pytest.approx(precision[recall >= x - 1e-12].max(), abs=1e-4)
    bins = np.minimum((score * 10).astype(int), 9)
    for k, y in enumerate(calibration.base):
        assert y == pytest.approx(truth[bins == k].mean(), abs=1e-4)
    expected = confusion_matrix(base.labels, base.predictions, labels=[0, 1])
    assert np.array_equal(np.array(drawn.base_confusion), expected)
    tp = expected[1, 1]
    assert drawn.per_class[1].base_recall == pytest.approx(tp / expected[1].sum(), abs=1e-4)
    assert drawn.per_class[1].base_precision == pytest.approx(tp / expected[:, 1].sum(), abs=1e-4)


def test_every_chart_parses_with_mermaid_and_a_broken_one_does_not() -> None:
    one_class = scored(np.zeros(50, dtype=np.intp), np.full(50, 0.1))  # no positive row
    rng = np.random.default_rng(3)
    labels = rng.integers(0, 3, 300)
    three = Scored(labels, rng.integers(0, 3, 300), rng.dirichlet([1, 1, 1], 300))
    reports = [
        charts.charts_markdown(curves.charts(["0", "1"], binary(1), binary(2, noise=3)), "a", "b"),
        charts.charts_markdown(curves.charts(["no", "yes"], one_class, binary(4, 50)), "a", "b"),
        charts.charts_markdown(curves.charts(["a", "b", "c"], three, three), "a", "b"),
    ]
    diagrams = [d for report in reports for d in mermaid_parser.blocks("\n".join(report))]
    assert len(diagrams) == 6  # three per two-class report, none for three classes
    broken = diagrams[0].replace("line [", "line [oops, ", 1)
    results = mermaid_parser.errors([*diagrams, broken])
    assert results[:-1] == [None] * len(diagrams)
    assert results[-1] is not None and "Parse error" in results[-1]
    assert all(len(d) < charts.MAX_DIAGRAM for d in diagrams)


def test_names_from_the_pull_request_stay_outside_diagrams_and_are_escaped() -> None:
    hostile = ['x"]\n  line [9]', "<!-- hide -->|@team"]
    drawn = curves.charts(hostile, binary(1), binary(2))
    text = "\n".join(charts.charts_markdown(drawn, "main`<script>", "head\n::stop::"))
    for diagram in mermaid_parser.blocks(text):
        assert 'x"]' not in diagram and "hide" not in diagram and "script" not in diagram
    assert "<!--" not in text and "\n::stop" not in text and "@team" not in text
    assert "\\<\\!-- hide --\\>\\|@\u2060team" in text


def test_a_reading_says_where_head_lies_against_base() -> None:
    curve = curves.Curve("roc", (0.0, 0.1, 0.2), (0.0, 0.6, 0.9), (0.0, 0.5, 0.9))
    assert charts.reading(curve) == (
        "Head's ROC curve lies below base's at false positive rate 0.1."
    )
    same = curves.Curve("precision_recall", (0.0, 0.5), (1.0, 0.5), (1.0, 0.5))
    assert "matches base's at every recall" in charts.reading(same)
    empty = curves.Curve("calibration", (0.05, 0.15), (0.1, None), (0.04, 0.2))
    assert charts.reading(empty) == (
        "Head is closer to the diagonal than base in 1 of 1 bins, further in 0. "
        "Bins without rows at one revision (drawn flat): 0.15."
    )


def test_a_plotted_curve_reads_on_the_grid_as_the_predictions_do() -> None:
    base = binary(5)
    truth, score = base.labels == 1, base.probabilities[:, 1]
    fpr, tpr, _ = roc_curve(truth, score, drop_intermediate=False)
    precision, recall, _ = precision_recall_curve(truth, score)
    roc, pr, _ = curves.charts(["0", "1"], base, base).curves
    assert curves.from_points("roc", fpr, tpr) == roc.base
    assert curves.from_points("precision_recall", recall, precision) == pr.base


def test_the_projects_own_plots_are_drawn_and_a_broken_one_is_a_note(tmp_path: Path) -> None:
    """dvc.yaml's plots of fpr/tpr (a top-level plot naming its files in y, as DVC's
    get-started project does) and recall/precision (a stage's plot output), at two revisions;
    a calibration plot that does not parse is left out with a note."""
    repo = init_dvc_repo(tmp_path / "repo")
    pipeline = {
        "stages": {
            "evaluate": {
                "cmd": "true",
                "plots": [{"plots/prc.json": {"x": "recall", "y": "precision"}}],
            }
        },
        "plots": [
            {"ROC": {"x": "fpr", "y": {"plots/roc.json": "tpr"}}},
            {"plots/calibration.csv": {"x": "prob_pred", "y": "prob_true"}},
        ],
    }
    (repo / "dvc.yaml").write_text(yaml.safe_dump(pipeline))

    def plots(model: Scored, calibration: str) -> None:
        truth, score = model.labels == 1, model.probabilities[:, 1]
        fpr, tpr, _ = roc_curve(truth, score)
        precision, recall, _ = precision_recall_curve(truth, score)
        (repo / "plots").mkdir(exist_ok=True)
        roc = [{"fpr": f, "tpr": t} for f, t in zip(fpr.tolist(), tpr.tolist(), strict=True)]
        (repo / "plots/roc.json").write_text(json.dumps({"roc": roc}))
        points = zip(recall.tolist(), precision.tolist(), strict=True)
        (repo / "plots/prc.json").write_text(
            json.dumps([{"recall": r, "precision": p} for r, p in points])
        )
        (repo / "plots/calibration.csv").write_text(calibration)

    plots(binary(1), "prob_pred,prob_true\n0.1,0.05\n0.9,0.8\n")
    commit_all(repo, "base")
    plots(binary(2, noise=3), "prob_pred,prob_true\n0.1,not a number\n")
    drawn, notes = plotted.charts(revision("main", repo), revision(WORKSPACE, repo))
    assert drawn is not None and [c.name for c in drawn.curves] == ["roc", "precision_recall"]
    assert drawn.source == "plots/prc.json, plots/roc.json"
    assert notes == [
        "chart left out: plots/calibration.csv at workspace is not a plot of prob_pred and "
        "prob_true (a list of points with both as numbers)"
    ]  # what the file holds is never quoted
    roc = drawn.curves[0]
    assert all(h is not None and b is not None for b, h in zip(roc.base, roc.head, strict=True))
    head = [v for v in roc.head if v is not None]
    base = [v for v in roc.base if v is not None]
    assert sum(head) < sum(base)  # the noisier model's curve is lower
    text = "\n".join(charts.charts_markdown(drawn, "main", "workspace"))
    assert mermaid_parser.errors(mermaid_parser.blocks(text)) == [None, None]


def test_a_regressors_charts_bin_rows_by_actual_value_and_parse() -> None:
    rng = np.random.default_rng(11)
    labels = rng.normal(50, 10, 1000)
    base = stats.Valued(labels, labels + rng.normal(0, 1, 1000))
    head = stats.Valued(labels, labels + rng.normal(0, 2, 1000))
    drawn = curves.value_charts(base, head)
    predicted, errors = drawn.curves
    edges = np.quantile(labels, np.linspace(0, 1, 11)[1:-1])
    bins = np.searchsorted(edges, labels, side="right")
    for k in range(10):
        assert predicted.x[k] == pytest.approx(labels[bins == k].mean(), abs=1e-4)
        assert errors.head[k] == pytest.approx(
            np.abs(head.predictions - labels)[bins == k].mean(), abs=1e-4
        )
    assert errors.y_range[0] < 0 < min(v for v in errors.base if v is not None)
    assert "higher in 10." in charts.reading(errors)  # twice the noise: worse everywhere
    text = "\n".join(charts.charts_markdown(drawn, "main", "head"))
    assert "Confusion" not in text  # no classes: curves only
    diagrams = mermaid_parser.blocks(text)
    assert [d.count("line [") for d in diagrams] == [2, 2]
    assert mermaid_parser.errors(diagrams) == [None, None]


def test_a_plotted_predicted_against_actual_curve_is_drawn(tmp_path: Path) -> None:
    repo = init_dvc_repo(tmp_path / "repo")
    plot = {"plots": [{"eval/pa.json": {"x": "actual", "y": "predicted"}}]}
    (repo / "dvc.yaml").write_text(yaml.safe_dump(plot))
    (repo / "eval").mkdir()
    rng = np.random.default_rng(2)
    actual = np.sort(rng.normal(100, 20, 200))

    def write(noise: float) -> None:
        points = [
            {"actual": a, "predicted": a + n}
            for a, n in zip(actual, rng.normal(0, noise, 200), strict=True)
        ]
        (repo / "eval/pa.json").write_text(json.dumps({"predicted_actual": points}))

    write(1.0)
    commit_all(repo, "base")
    write(15.0)
    drawn, notes = plotted.charts(revision("main", repo), revision(WORKSPACE, repo))
    assert notes == [] and drawn is not None
    [curve] = drawn.curves
    assert curve.name == "predicted_actual" and len(curve.x) == 10
    low, high = curve.y_range
    assert all(low <= v <= high for v in (*curve.base, *curve.head) if v is not None)
    text = "\n".join(charts.charts_markdown(drawn, "main", "workspace"))
    assert mermaid_parser.errors(mermaid_parser.blocks(text)) == [None]


def test_a_confusion_template_plot_is_a_confusion_matrix_in_a_templated_dvc_yaml(
    tmp_path: Path,
) -> None:
    """Issue 32.5: dvclive's confusion matrix (rows of actual and predicted labels, DVC's
    `confusion` template) was drawn as a regressor's predicted-against-actual chart. It is
    the confusion matrix, as scikit-learn counts it, beside the ROC curve of the same
    templated dvc.yaml."""
    repo = init_dvc_repo(tmp_path / "repo")
    pipeline = {
        "vars": [{"plots_dir": "eval/plots/sklearn"}],
        "plots": [
            {"${plots_dir}/cm.json": {"template": "confusion", "x": "actual", "y": "predicted"}},
            {"${plots_dir}/roc.json": {"template": "simple", "x": "fpr", "y": "tpr"}},
        ],
    }
    (repo / "dvc.yaml").write_text(yaml.safe_dump(pipeline))
    folder = repo / "eval/plots/sklearn"
    folder.mkdir(parents=True)

    def write(model: Scored) -> None:
        rows = [  # as dvclive's log_sklearn_plot("confusion_matrix") writes them: strings
            {"actual": str(a), "predicted": str(p)}
            for a, p in zip(model.labels.tolist(), model.predictions.tolist(), strict=True)
        ]
        (folder / "cm.json").write_text(json.dumps(rows))
        fpr, tpr, _ = roc_curve(model.labels == 1, model.probabilities[:, 1])
        points = [{"fpr": f, "tpr": t} for f, t in zip(fpr.tolist(), tpr.tolist(), strict=True)]
        (folder / "roc.json").write_text(json.dumps({"roc": points}))

    base, head = binary(1), binary(2, noise=3)
    write(base)
    commit_all(repo, "base")
    write(head)
    drawn, notes = plotted.charts(revision("main", repo), revision(WORKSPACE, repo))
    assert notes == [] and drawn is not None
    assert [c.name for c in drawn.curves] == ["roc"]  # no predicted-against-actual chart
    assert drawn.classes == ("0", "1")
    assert drawn.base_confusion == tuple(
        map(tuple, confusion_matrix(base.labels, base.predictions).tolist())
    )
    assert drawn.head_confusion == tuple(
        map(tuple, confusion_matrix(head.labels, head.predictions).tolist())
    )
    assert drawn.rows == (len(base.labels), len(head.labels))
    text = "\n".join(charts.charts_markdown(drawn, "main", "workspace"))
    assert "Confusion" in text
    assert mermaid_parser.errors(mermaid_parser.blocks(text)) == [None]
