"""The slice gate on data built to known answers: predictions files with a slice column, where
head is worse in one slice only, or nowhere (noise across many slices), measured by
significance.measure as the gate reads them, and the policy's [tool.mlgate.slices] parsed."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any
from xml.etree import ElementTree

import numpy as np
import pytest
import yaml
from sklearn import metrics

import mermaid_parser
from helpers import commit_all, git, mlgate_in
from mlgate.errors import ConfigError, DataError
from mlgate.gate import significance, slices, slicing, stats
from mlgate.gate.significance import PredictionsFile
from mlgate.policy import Slicing, parse_policy
from sinks import assert_markdown_tables_hold, assert_no_workflow_command_but_ours

PATH = "eval/predictions.csv"
ROC_AUC_RULE: dict[str, object] = {"roc_auc": {"direction": "higher", "significance": 0.05}}
BASE_SLICES: dict[str, object] = {"columns": ["segment"], "rules": ROC_AUC_RULE}


def policy_of(**slices: object) -> Slicing:
    table = {"predictions": PATH, "slices": {**BASE_SLICES, **slices}}
    parsed = parse_policy(table, "pyproject.toml", "pyproject.toml").slices
    assert parsed is not None
    return parsed


def scores_for(labels: np.ndarray, signal: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A model's scores: ``signal`` per row (0: no skill) plus noise of its own."""
    logit = signal * (2 * labels - 1) + rng.normal(0, 1, len(labels))
    return 1 / (1 + np.exp(-logit))


def files(
    segments: int,
    rows: int | list[int],
    *,
    seed: int = 0,
    worse: dict[int, float] | None = None,
    extra: dict[str, list[str]] | None = None,
) -> tuple[PredictionsFile, PredictionsFile, dict[str, np.ndarray]]:
    """Base and head predictions of the same rows, ``rows`` in each of ``segments`` slices
    (or each its own count); both models equally good (signal 1.5) but where ``worse`` gives
    head a weaker signal."""
    rng = np.random.default_rng(seed)
    segment = np.repeat(np.arange(segments), rows)
    labels = (rng.random(len(segment)) < 0.4).astype(int)
    signal = np.full(len(segment), 1.5)
    base = scores_for(labels, signal, rng)
    for index, weaker in (worse or {}).items():
        signal[segment == index] = weaker
    head = scores_for(labels, signal, rng)
    data = {"segment": segment, "labels": labels, "base": base, "head": head}

    def content(scores: np.ndarray) -> bytes:
        header = ["id", "label", "prediction", "score", "segment", *(extra or {})]
        lines = [",".join(header)]
        for k in range(len(segment)):
            cells = [str(k), str(labels[k]), str(int(scores[k] >= 0.5)), f"{scores[k]:.6f}"]
            cells.append(f"g{segment[k]}")
            cells += [values[k] for values in (extra or {}).values()]
            lines.append(",".join(cells))
        return ("\n".join(lines) + "\n").encode()

    return (
        PredictionsFile("main (1a2b3c4d)", content(base)),
        PredictionsFile("workspace", content(head)),
        data,
    )


def measured(
    base: PredictionsFile, head: PredictionsFile, policy: Slicing, resamples: int = 1000
) -> slicing.SliceReport:
    result = significance.measure(base, head, PATH, {}, resamples, 7, slicing=policy)
    assert result.slices is not None
    return result.slices


def test_a_regression_confined_to_one_slice_fails_that_slice_alone() -> None:
    """Head loses its skill in g3 only, which moves the whole file's AUC by about 0.02: the
    slice fails, the other nine pass."""
    base, head, _ = files(10, 500, worse={3: 0.3})
    report = measured(base, head, policy_of())
    [failed] = report.failures
    assert failed.slice.name == "segment = g3" and failed.rule.key == "roc_auc"
    assert failed.adjusted_p is not None and failed.adjusted_p < 0.05
    assert failed.tested is not None and failed.tested.difference < -0.1
    assert {o.status for o in report.outcomes if o is not failed} == {"pass"}
    assert not report.passed
    whole = significance.measure(base, head, PATH, {"roc_auc": 0.95}, 1000, 7)
    assert abs(whole.differences["roc_auc"].difference) < 0.06  # small on the whole file


def test_each_slice_s_figures_are_scikit_learn_s_on_its_rows() -> None:
    base, head, data = files(6, 300, seed=3, worse={1: 0.5})
    table = {**ROC_AUC_RULE, "accuracy": {"direction": "higher", "significance": 0.05}}
    report = measured(base, head, policy_of(rules=table))
    assert len(report.outcomes) == 12
    for outcome in report.outcomes:
        rows = data["segment"] == int(outcome.slice.values[0][1:])
        truth = data["labels"][rows]
        assert outcome.tested is not None and outcome.rows == int(rows.sum())
        for side, value in (("base", outcome.tested.base), ("head", outcome.tested.head)):
            scores = np.round(data[side][rows], 6)  # as the file writes them
            expected = (
                metrics.roc_auc_score(truth, scores)
                if outcome.rule.key == "roc_auc"
                else metrics.accuracy_score(truth, scores >= 0.5)
            )
            assert value == pytest.approx(expected, abs=1e-9), (outcome.slice.name, side)


def test_noise_across_50_slices_passes_at_the_declared_false_alarm_rate() -> None:
    """Two equally good models on 50 slices of 200 rows, over 60 seeds: with either
    correction a run has a false alarm in about 5% of the seeds at most (Holm bounds that
    chance; Benjamini-Hochberg does too when no slice is worse); uncorrected, most runs would."""
    runs, segments, rows = 60, 50, 200
    alarmed = {"holm": 0, "bh": 0, "none": 0}
    policy = policy_of(min_rows=100)
    for seed in range(runs):
        rng = np.random.default_rng(100 + seed)
        labels = (rng.random(segments * rows) < 0.4).astype(int)
        base, head = (scores_for(labels, np.full(len(labels), 1.5), rng) for _ in range(2))
        column = {"segment": [f"g{k // rows}" for k in range(segments * rows)]}
        report = slices.measure(
            policy, column, column,
            stats.scored(labels, (base >= 0.5).astype(int), base),
            stats.scored(labels, (head >= 0.5).astype(int), head),
            paired=True, ids=[str(k) for k in range(len(labels))], where=("base", "head"),
            resamples=200, seed=7,
        )  # fmt: skip
        tests = [o.tested for o in report.outcomes if o.tested is not None]
        assert len(tests) == segments
        worse = [t.difference < 0 for t in tests]
        for correction in ("holm", "bh"):
            adjusted = slicing.adjust([t.p_value for t in tests], correction)  # type: ignore[arg-type]
            alarmed[correction] += any(p < 0.05 and w for p, w in zip(adjusted, worse, strict=True))
        alarmed["none"] += any(t.p_value < 0.05 and w for t, w in zip(tests, worse, strict=True))
        assert bool(report.failures) == any(  # the report's own verdict is Holm's
            p < 0.05 and w
            for p, w in zip(slicing.adjust([t.p_value for t in tests], "holm"), worse, strict=True)
        )
    # P(Binomial(60, 0.05) > 8) < 1%: a correction that let noise through would show it
    assert alarmed["holm"] <= 8 and alarmed["bh"] <= 8, alarmed
    assert alarmed["none"] >= runs / 3, alarmed  # why the correction is needed


def test_a_slice_too_small_is_listed_not_judged_nor_counted_in_the_correction() -> None:
    base, head, _ = files(3, [400, 400, 60], seed=5, worse={2: -1.0})
    report = measured(base, head, policy_of(min_rows=100))
    by_slice = {o.slice.name: o for o in report.outcomes}
    small = by_slice["segment = g2"]  # much worse, but 60 rows: said, not judged
    assert (small.status, small.adjusted_p, small.tested) == ("small", None, None)
    assert small.reason == "60 rows, fewer than min_rows 100"
    assert report.passed
    assert len(report.judged()) == 2


def test_no_slice_large_enough_to_judge_is_cannot_judge() -> None:
    base, head, _ = files(4, 150, seed=5)
    with pytest.raises(DataError, match=r"no slice of segment can judge roc_auc \(each needs 151"):
        measured(base, head, policy_of(min_rows=151))


def test_a_slice_with_one_class_is_said_and_not_counted_in_the_correction() -> None:
    base, head, _ = files(3, 300, seed=2)
    text = base.content.decode()  # type: ignore[union-attr]
    lines = text.splitlines()
    rewritten = [lines[0]]
    for line in lines[1:]:  # every row of g0 is a negative, at both revisions
        cells = line.split(",")
        if cells[4] == "g0":
            cells[1] = "0"
        rewritten.append(",".join(cells))
    head_lines = head.content.decode().splitlines()  # type: ignore[union-attr]
    head_rewritten = [head_lines[0]]
    for line, base_line in zip(head_lines[1:], rewritten[1:], strict=True):
        cells = line.split(",")
        cells[1] = base_line.split(",")[1]
        head_rewritten.append(",".join(cells))
    report = measured(
        PredictionsFile(base.label, ("\n".join(rewritten) + "\n").encode()),
        PredictionsFile(head.label, ("\n".join(head_rewritten) + "\n").encode()),
        policy_of(),
    )
    by_slice = {o.slice.name: o for o in report.outcomes}
    assert by_slice["segment = g0"].status == "unjudged"
    assert "is nan" in by_slice["segment = g0"].reason
    assert by_slice["segment = g0"].adjusted_p is None
    assert {by_slice[f"segment = g{k}"].status for k in (1, 2)} == {"pass"}


def test_a_numeric_column_is_cut_at_the_base_s_quantiles_or_at_declared_edges() -> None:
    rng = np.random.default_rng(1)
    amounts = [f"{v:.2f}" for v in rng.exponential(50, 2_000)]
    base, head, _ = files(1, 2_000, seed=1, extra={"amount": amounts})
    report = measured(base, head, policy_of(columns=["amount"], bins=4, min_rows=100))
    names = [o.slice.values[0] for o in report.outcomes]
    assert len(names) == 4 and names[0].startswith("< ") and names[-1].startswith(">= ")
    assert all(450 <= o.rows <= 550 for o in report.outcomes)  # quartiles: a quarter each
    declared = measured(base, head, policy_of(columns=["amount"], edges={"amount": [10, 100]}))
    assert sorted(o.slice.values[0] for o in declared.outcomes) == sorted(
        ["< 10", "10 to < 100", ">= 100"]
    )


def test_discovery_finds_a_pair_of_values_worse_and_only_warns() -> None:
    """Head is worse where segment = g1 and band = b (a quarter of g1): each column's slices
    are within noise or fail on their own, the pair is flagged as a warning."""
    count = 4 * 600
    band = ["b" if (k % 600) >= 450 else "a" for k in range(count)]
    rng = np.random.default_rng(9)
    segment = np.repeat(np.arange(4), 600)
    labels = (rng.random(count) < 0.4).astype(int)
    base = scores_for(labels, np.full(count, 1.5), rng)
    signal = np.where((segment == 1) & (np.array(band) == "b"), -0.5, 1.5)
    head = scores_for(labels, signal, rng)

    def content(scores: np.ndarray) -> bytes:
        lines = ["id,label,prediction,score,segment,band"] + [
            f"{k},{labels[k]},{int(scores[k] >= 0.5)},{scores[k]:.6f},g{segment[k]},{band[k]}"
            for k in range(count)
        ]
        return ("\n".join(lines) + "\n").encode()

    policy = policy_of(columns=["segment", "band"], discover=True, min_rows=100)
    report = measured(
        PredictionsFile("main", content(base)), PredictionsFile("ws", content(head)), policy
    )
    warned = [o.slice.name for o in report.warnings]
    assert "segment = g1 & band = b" in warned
    assert all(not o.declared for o in report.warnings)
    found = [o for o in report.outcomes if not o.declared]
    assert len(found) == 8  # 4 segments x 2 bands


def test_a_paired_row_in_another_slice_at_head_is_a_data_error() -> None:
    base, head, _ = files(2, 200, seed=4)
    text = head.content.decode().replace(",g0\n", ",g1\n", 1)  # type: ignore[union-attr]
    with pytest.raises(DataError, match="row '0' is in the slice segment = 'g0' at base and 'g1'"):
        measured(base, PredictionsFile(head.label, text.encode()), policy_of())


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"columns": ["country"]}, "lacks the slice column 'country'"),
        ({"columns": ["id"]}, None),  # refused by the policy, below
    ],
)
def test_a_slice_column_the_file_lacks_names_the_file(change: dict, message: str | None) -> None:
    base, head, _ = files(2, 200)
    if message is None:
        with pytest.raises(ConfigError, match="id is a column the gate reads"):
            policy_of(**change)
        return
    with pytest.raises(DataError, match=f"eval/predictions.csv at main .*{message}"):
        measured(base, head, policy_of(**change))


def test_an_id_like_column_is_too_many_slices() -> None:
    ids = [f"customer-{k}" for k in range(400)]
    base, head, _ = files(1, 400, extra={"customer": ids})
    with pytest.raises(DataError, match="'customer' has 400 values, more than the 100"):
        measured(base, head, policy_of(columns=["customer"]))


@pytest.mark.parametrize(
    ("slices", "message"),
    [
        ({"columns": []}, "columns must list columns"),
        ({"columns": "segment"}, "columns must list columns"),
        ({"columns": ["a", "a"]}, "names a column twice"),
        ({"columns": ["score_fraud"]}, "score_fraud is a column the gate reads"),
        ({"rules": {}}, r"add \[tool.mlgate.slices.rules\]"),
        ({"rules": {"roc_auc": {"direction": "higher"}}}, "give direction and significance"),
        ({"rules": {"roc_auc": {"direction": "higher", "significance": 0.05, "min": 0.8}}},
         "unknown key min"),
        ({"rules": {"latency": {"direction": "lower", "significance": 0.05}}},
         "names a metric computed from predictions"),
        ({"rules": {"roc_auc": {"direction": "up", "significance": 0.05}}}, "direction must be"),
        ({"rules": {"roc_auc": {"direction": "higher", "significance": 2}}}, "between 0 and 1"),
        ({"correction": "bonferroni"}, "correction must be 'holm'"),
        ({"min_rows": 0}, "min_rows must be a whole number from 10"),
        ({"bins": 1}, "bins must be a whole number from 2"),
        ({"edges": {"other": [1]}}, "edges names other, which is not in columns"),
        ({"edges": {"segment": [3, 2]}}, "must be increasing numbers"),
        ({"edges": {"segment": [float("nan")]}}, "must be increasing numbers"),
        ({"discover": "yes"}, "discover must be true or false"),
        ({"unknown": 1}, "unknown key unknown"),
    ],
)  # fmt: skip
def test_a_slice_policy_that_cannot_be_applied_is_refused_with_its_reason(
    slices: dict, message: str
) -> None:
    with pytest.raises(ConfigError, match=message):
        policy_of(**slices)


def test_slices_without_a_predictions_file_are_refused() -> None:
    with pytest.raises(ConfigError, match=r"slices the per-example predictions: add predictions"):
        parse_policy({"slices": BASE_SLICES}, "pyproject.toml", "pyproject.toml")


def test_an_alias_names_its_metric() -> None:
    policy = policy_of(rules={"auc": {"direction": "higher", "significance": 0.05}})
    assert [rule.key for rule in policy.rules] == ["roc_auc"]


@pytest.mark.parametrize(
    ("correction", "p_values", "expected"),
    [
        ("holm", [0.01, 0.04, 0.03, 0.005], [0.03, 0.06, 0.06, 0.02]),
        ("bh", [0.01, 0.04, 0.03, 0.005], [0.02, 0.04, 0.04, 0.02]),
        ("holm", [0.5], [0.5]),
        ("bh", [0.9, 0.8], [0.9, 0.9]),
    ],
)
def test_the_corrections_are_holm_s_and_benjamini_hochberg_s(
    correction: str, p_values: list[float], expected: list[float]
) -> None:
    assert slicing.adjust(p_values, correction) == pytest.approx(expected)  # type: ignore[arg-type]


# --- the gate, end to end: real git revisions, the real CLI -----------------------------------

HOSTILE = "<!--::error::x|[a](http://e.test)@octocat`*"
SLICE_POLICY = """\
[tool.mlgate]
base = "main"
predictions = "eval/predictions.csv"

[tool.mlgate.rules]
roc_auc = { direction = "higher" , tolerance = 0.05 }

[tool.mlgate.slices]
columns = ["segment"]

[tool.mlgate.slices.rules]
roc_auc = { direction = "higher", significance = 0.05, min_effect = 0.05 }
"""


def slice_repo(path: Path, head: bytes, renamed: bytes = b",g4\n") -> Path:
    """Predictions and metrics committed on main as a pipeline's outputs, and ``head``'s
    predictions in the workspace of a branch; slice g4 renamed ``renamed`` at both."""
    base_file, _, _ = files(6, 400, seed=11)
    path.mkdir()
    git(path, "init", "-q", "-b", "main")
    stage = {"cmd": "true", "metrics": [{"metrics.json": {"cache": False}}]}
    stage["outs"] = [{PATH: {"cache": False}}]
    (path / "dvc.yaml").write_text(yaml.safe_dump({"stages": {"evaluate": stage}}))
    (path / "pyproject.toml").write_text(SLICE_POLICY)
    (path / "eval").mkdir()
    (path / PATH).write_bytes((base_file.content or b"").replace(b",g4\n", renamed))
    (path / "metrics.json").write_text('{"roc_auc": 0.85}')
    commit_all(path, "a model on main")
    git(path, "checkout", "-q", "-b", "change")
    (path / PATH).write_bytes(head.replace(b",g4\n", renamed))
    (path / "metrics.json").write_text('{"roc_auc": 0.84}')
    return path


def test_a_slice_regression_fails_the_check_in_every_report_and_hostile_names_stay_text(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """The change is worse in one slice only, whose name the change wrote to attack each sink:
    the terminal, the Markdown report, Mermaid, JSON and JUnit all fail it and show it as text."""
    _, head, _ = files(6, 400, seed=11, worse={4: -0.5})
    repo = slice_repo(tmp_path / "p", head.content or b"", f",{HOSTILE}\n".encode())
    report, junit = tmp_path / "report.md", tmp_path / "junit.xml"
    code = mlgate_in(repo, monkeypatch, "check", "--report", str(report), "--junit", str(junit))
    out = capsys.readouterr().out
    assert code == 1, out
    first = out.splitlines()[0]
    assert first.startswith("FAIL: 1 slice significantly worse (roc_auc on segment = ")
    assert_no_workflow_command_but_ours(out)
    markdown = report.read_text()
    assert_markdown_tables_hold(markdown)
    assert "### Slices" in markdown and "found by discovery" not in markdown
    [chart] = [d for d in mermaid_parser.blocks(markdown) if "Worst slices" in d]
    assert mermaid_parser.errors([chart]) == [None]
    assert HOSTILE not in chart and "segment" not in chart
    suite = ElementTree.parse(junit).getroot().find("testsuite")
    assert suite is not None and suite.get("failures") == "1" and suite.get("tests") == "7"
    assert mlgate_in(repo, monkeypatch, "check", "--format", "json") == 1
    document = json.loads(capsys.readouterr().out)
    [failed] = [o for o in document["slices"]["outcomes"] if o["status"] == "fail"]
    assert failed["values"] == [HOSTILE] and failed["test"]["difference"] < 0  # kept exactly
    assert document["verdict"] == "fail" and document["rules"][0]["status"] == "pass"


@pytest.mark.parametrize(
    ("head", "message"),
    [
        (lambda text: text.replace(",segment\n", ",sector\n", 1), "lacks the slice column 'segment'"),
        (lambda text: text.replace(",g0\n", ",g1\n", 1), "is in the slice segment = 'g0' at base"),
    ],
)  # fmt: skip
def test_predictions_the_slices_cannot_be_read_from_exit_2_in_one_line(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    head: Any,
    message: str,
) -> None:
    _, same, _ = files(6, 400, seed=11)
    repo = slice_repo(tmp_path / "p", head((same.content or b"").decode()).encode())
    assert mlgate_in(repo, monkeypatch, "check") == 2
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1, err
