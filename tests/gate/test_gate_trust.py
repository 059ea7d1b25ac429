"""Issue 17: the gate never passes what it cannot read or what a pull request forged.

Real git repositories and real `dvc repro` in temporary directories; each test fails on the
gate as it was before the fix.
"""

from __future__ import annotations

import json
import math
import time
from pathlib import Path

import pytest
import yaml

from helpers import (
    LIVE_PIPELINE,
    LIVE_POLICY,
    LIVE_TRAIN,
    commit_all,
    drop_cached,
    dvc,
    git,
    init_dvc_repo,
    make_live_project,
    make_predict_project,
    make_score_project,
    mlgate_in,
    push_to_new_origin,
    retrain,
    run,
)
from mlgate.dvcfiles import check_bounded, parse_data_file
from mlgate.errors import DataError
from sinks import assert_markdown_tables_hold, assert_no_workflow_command_but_ours

pytestmark = pytest.mark.slow


def score_branch(tmp_path: Path) -> Path:
    repo = make_score_project(tmp_path / "p")
    git(repo, "checkout", "-q", "-b", "change")
    return repo


def check_json(
    repo: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], *args: str
) -> tuple[int, dict]:
    code = mlgate_in(repo, monkeypatch, "check", "--format", "json", *args)
    return code, json.loads(capsys.readouterr().out)


# --- 1. non-finite values ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "shown", "reason"),
    [
        ("Infinity", "Infinity", "head value is not finite (Infinity)"),
        ("-Infinity", "-Infinity", "head value is not finite (-Infinity)"),
        ("NaN", "NaN", "head value is NaN"),
        ("1e400", "Infinity", "head value is not finite (Infinity)"),
        ("1" + "0" * 400, None, "head value is not finite (an integer of 401 digits)"),
    ],
)
def test_a_non_finite_metric_at_head_fails(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    text: str,
    shown: str | None,
    reason: str,
) -> None:
    repo = score_branch(tmp_path)
    (repo / "metrics.json").write_text(f'{{"accuracy": {text}, "rows": 2}}')
    code, document = check_json(repo, monkeypatch, capsys)
    [rule] = document["rules"]
    assert code == 1 and document["verdict"] == "fail"
    assert rule["status"] == "fail" and rule["reason"] == reason
    if shown is not None:
        assert rule["head"] == shown  # not null, which would read as "missing"
    assert mlgate_in(repo, monkeypatch, "check") == 1
    assert "FAIL" in capsys.readouterr().out


def test_a_non_finite_metric_at_base_fails_too(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    repo = make_score_project(tmp_path / "p")
    (repo / "metrics.json").write_text('{"accuracy": -Infinity, "rows": 2}')
    commit_all(repo, "a broken metric on main")
    git(repo, "checkout", "-q", "-b", "change")
    (repo / "metrics.json").write_text('{"accuracy": 0.1, "rows": 2}')
    code, document = check_json(repo, monkeypatch, capsys)
    assert code == 1
    assert document["rules"][0]["reason"] == "base value is not finite (-Infinity): cannot compare"


# --- 2. a base that has the file but cannot be read ---------------------------------------


def test_metrics_in_a_cached_directory_are_compared_through_dvc(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    repo = make_live_project(tmp_path / "p", quality=0.9)
    git(repo, "checkout", "-q", "-b", "change")
    retrain_live(repo, 0.7)
    code, document = check_json(repo, monkeypatch, capsys)
    [rule] = document["rules"]
    assert code == 1 and rule["base"] == 0.9 and rule["head"] == 0.7
    assert "regression of 0.2" in rule["reason"]


def test_metrics_in_a_cached_directory_are_read_from_the_cache_without_dvc(
    tmp_path: Path,
) -> None:
    """Issue 18: the fast path reads eval/metrics.json at main through eval's .dir manifest in
    the local cache; DVC (a second to import) is not loaded."""
    import subprocess
    import sys

    repo = make_live_project(tmp_path / "p", quality=0.9)
    git(repo, "checkout", "-q", "-b", "change")
    retrain_live(repo, 0.7)
    code = (
        "import json, sys; from mlgate.commands.main import main; code = main(['check', '--format', "
        "'json']); print(code, 'dvc' in sys.modules)"
    )
    result = subprocess.run([sys.executable, "-c", code], cwd=repo, capture_output=True, text=True)
    *document, last = result.stdout.strip().splitlines()
    assert last == "1 False", result.stdout + result.stderr
    [rule] = json.loads("\n".join(document))["rules"]
    assert (rule["base"], rule["head"]) == (0.9, 0.7)


def retrain_live(repo: Path, quality: float) -> None:
    (repo / "params.yaml").write_text(yaml.safe_dump({"train": {"quality": quality}}))
    dvc(repo, "repro", "-q")


def test_an_unreadable_base_stops_the_gate_with_the_fix(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """The base's eval/ is recorded in dvc.lock but gone from the cache, with no remote: a
    regression must not pass as "no value at base"."""
    repo = make_live_project(tmp_path / "p", quality=0.9)
    git(repo, "checkout", "-q", "-b", "change")
    retrain_live(repo, 0.6)  # a regression, above the 0.5 bound
    drop_cached(repo, "main")
    assert mlgate_in(repo, monkeypatch, "check") == 2
    err = capsys.readouterr().err
    [line] = err.strip().splitlines()
    assert "eval/metrics.json at main" in line and "dvc.lock records eval" in line
    assert "dvc fetch" in line and "remote" in line and "Traceback" not in err


def test_an_unreadable_base_blocks_release_retrain_and_the_push(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    repo = make_live_project(tmp_path / "p", quality=0.9)
    assert mlgate_in(repo, monkeypatch, "release", "--version", "v1.0.0") == 0
    retrain_live(repo, 0.6)
    commit_all(repo, "a worse model on main")
    drop_cached(repo, "scorer@v1.0.0")
    capsys.readouterr()
    assert mlgate_in(repo, monkeypatch, "release") == 2  # it recorded "Gate: PASS" against null
    assert "eval/metrics.json at scorer@v1.0.0" in capsys.readouterr().err
    assert git(repo, "tag", "--list", "scorer@v1.0.1") == ""
    # The pre-push hook against a remote main whose metrics cannot be read.
    origin = push_to_new_origin(repo, tmp_path / "origin.git")
    assert origin.exists()
    git(repo, "checkout", "-q", "-b", "change", "HEAD~1")
    retrain_live(repo, 0.55)
    commit_all(repo, "worse again")
    drop_cached(repo, "main")
    assert mlgate_in(repo, monkeypatch, "hooks", "install", "--hook", "pre-push") == 0
    pushed = run(repo, "git", "push", "-q", "origin", "change", check=False)
    assert pushed.returncode != 0 and "eval/metrics.json at" in pushed.stderr
    assert "cannot be read" in pushed.stderr


def test_a_base_that_never_had_the_metrics_is_judged_on_bounds_and_says_so(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """The first pull request of a project: main has no pipeline yet, so there is nothing to
    compare with; only the bounds apply, and the report says so."""
    repo = init_dvc_repo(tmp_path / "p")
    (repo / "pyproject.toml").write_text(LIVE_POLICY)
    commit_all(repo, "a policy, no pipeline yet")
    git(repo, "checkout", "-q", "-b", "change")
    (repo / "train.py").write_text(LIVE_TRAIN)
    (repo / "dvc.yaml").write_text(yaml.safe_dump(LIVE_PIPELINE, sort_keys=False))
    retrain_live(repo, 0.9)
    code, document = check_json(repo, monkeypatch, capsys)
    assert code == 0 and document["compared"] is False
    assert any("main" in n and "no metrics yet" in n for n in document["notes"])
    assert "no value at base" in document["rules"][0]["reason"]
    retrain_live(repo, 0.4)  # below the policy's min: the bounds still apply
    assert mlgate_in(repo, monkeypatch, "check") == 1


def test_an_unreadable_base_of_a_templated_pipeline_stops_the_gate_too(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """dvc.yaml with ${...}, resolved as DVC resolves it: a metrics file DVC records is still
    "cannot read" when its cache is gone, not "never had"."""
    repo = init_dvc_repo(tmp_path / "p")
    (repo / "dvc.yaml").write_text(TEMPLATED)
    (repo / "params.yaml").write_text("q: 0.9\n")
    (repo / "pyproject.toml").write_text('[tool.mlgate.rules]\nacc = { direction = "higher" }\n')
    dvc(repo, "repro", "-q")
    commit_all(repo, "a templated pipeline")
    git(repo, "checkout", "-q", "-b", "change")
    (repo / "params.yaml").write_text("q: 0.5\n")
    dvc(repo, "repro", "-q")
    assert mlgate_in(repo, monkeypatch, "check") == 1
    drop_cached(repo, "main")
    capsys.readouterr()
    assert mlgate_in(repo, monkeypatch, "check") == 2
    one_line_error(capsys, "m.json at main", "cannot be read", "dvc fetch")


TEMPLATED = """\
vars:
  - out: m.json
stages:
  ev:
    cmd: python -c "import json, yaml; q = yaml.safe_load(open('params.yaml'))['q']; json.dump({'acc':q}, open('${out}', 'w'))"
    params: [q]
    metrics:
    - ${out}
"""


# --- 3. the base is not the change's to choose --------------------------------------------


def test_a_branch_cannot_name_itself_as_the_base(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    repo = score_branch(tmp_path)
    policy = (repo / "pyproject.toml").read_text().replace('base = "main"', 'base = "change"')
    (repo / "pyproject.toml").write_text(policy)
    (repo / "params.yaml").write_text(yaml.safe_dump({"score": {"quality": 0.5}}))
    dvc(repo, "repro", "-q")
    commit_all(repo, "worse, judged against itself")
    code, document = check_json(repo, monkeypatch, capsys)
    assert code == 1 and document["base"]["name"] == "main"
    origin = push_to_new_origin(repo, tmp_path / "origin.git")
    assert origin.exists()
    assert mlgate_in(repo, monkeypatch, "hooks", "install", "--hook", "pre-push") == 0
    pushed = run(repo, "git", "push", "-q", "origin", "change", check=False)
    assert pushed.returncode != 0 and "blocked" in pushed.stderr
    assert "against origin/main" in pushed.stderr


# --- 4. a test set that shrinks -------------------------------------------------------------

SIGNIFICANCE_POLICY = """\
[tool.mlgate]
base = "main"
predictions = "eval/predictions.csv"
{extra}
[tool.mlgate.rules]
accuracy = {{ direction = "higher", significance = 0.05, min_effect = 0.02 }}
"""


@pytest.mark.parametrize(("extra", "expected"), [("", 1), ("max_rows_drop = 1.0\n", 0)])
def test_a_test_set_that_shrinks_fails_unless_the_policy_allows_it(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    extra: str,
    expected: int,
) -> None:
    repo = make_predict_project(tmp_path / "p", 10_000, SIGNIFICANCE_POLICY.format(extra=extra))
    git(repo, "checkout", "-q", "-b", "change")
    retrain(repo, rows=300, flip=0.01)  # worse, judged on 300 rows instead of 10,000
    code, document = check_json(repo, monkeypatch, capsys)
    reason = document["rules"][0]["reason"]
    if expected:
        assert code == 1 and reason.startswith("the test set shrank from 10,000 to 300 rows")
    else:  # judged by its significance test, on the rows it has
        assert "shrank" not in reason and document["rules"][0]["significance"]["rows"] == 300


# --- 9. resource bombs ------------------------------------------------------------------------

LAUGHS = "a: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n" + "".join(
    f"{chr(98 + i)}: &{chr(98 + i)} [*{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, "
    f"*{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}]\n"
    for i in range(9)
)


def test_nested_aliases_are_refused_fast() -> None:
    assert len(LAUGHS) < 2000
    started = time.perf_counter()
    with pytest.raises(DataError, match="expands to more than 1,000,000 values"):
        parse_data_file("params.yaml", LAUGHS.encode(), "params.yaml at x")
    assert time.perf_counter() - started < 5  # measured in bench/ too; a bound, not a timing


@pytest.mark.parametrize("name", ["metrics.json", "params.yaml", "pyproject.toml"])
def test_deep_nesting_is_refused(name: str) -> None:
    deep = {
        "metrics.json": "[" * 5000 + "]" * 5000,
        "params.yaml": "[" * 5000 + "]" * 5000,
        "pyproject.toml": "a = " + "[" * 5000 + "]" * 5000,
    }[name]
    with pytest.raises(DataError, match=r"nested too deeply|not valid"):
        parse_data_file(name, deep.encode(), f"{name} at x")
    with pytest.raises(DataError, match="nested too deeply"):
        check_bounded(json.loads("[" * 150 + "]" * 150), "x")


def test_a_params_bomb_and_deep_metrics_exit_2_in_the_check(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    repo = score_branch(tmp_path)
    (repo / "params.yaml").write_text(yaml.safe_dump({"score": {"quality": 0.9}}) + LAUGHS)
    started = time.perf_counter()
    assert mlgate_in(repo, monkeypatch, "check") == 2
    assert time.perf_counter() - started < 10
    assert "params.yaml at workspace expands to more than" in capsys.readouterr().err
    git(repo, "checkout", "-q", "params.yaml")
    (repo / "metrics.json").write_text('{"accuracy": ' + "[" * 5000 + "]" * 5000 + "}")
    assert mlgate_in(repo, monkeypatch, "diff") == 2
    assert "metrics.json at workspace is nested too deeply" in capsys.readouterr().err


def test_non_finite_json_is_rendered_as_text_not_null() -> None:
    from mlgate.render.table import to_json

    assert json.loads(to_json({"a": math.inf, "b": -math.inf, "c": math.nan})) == {
        "a": "Infinity",
        "b": "-Infinity",
        "c": "NaN",
    }


# --- 5. output a pull request cannot inject into ------------------------------------------

HOSTILE_NAMES = [
    "acc\n::error title=x::injected",
    "::stop-commands::tok",
    "a|b<!-- mlgate-report -->`c`",
    "\x1b[31mred\x1b[0m\r::warning::x",
    "@octocat [x](http://e) ![i](http://e/i.png) <img src=x>",
    "\u202eevil\u2028::debug::x",
]
HOSTILE_POLICY = """\
[tool.mlgate]
base = "main"

[tool.mlgate.rules]
accuracy = { direction = "higher", tolerance = 0.01 }
"*" = { max = 0.4 }
"""


def hostile_branch(tmp_path: Path) -> Path:
    """A score project whose main gates every metric (``"*" = { max = 0.4 }``) and a change
    whose metrics and params carry every kind of injection in their names and values."""
    repo = make_score_project(tmp_path / "p")
    (repo / "pyproject.toml").write_text(HOSTILE_POLICY)
    (repo / "metrics.json").write_text('{"accuracy": 0.3, "rows": 0}')
    commit_all(repo, "gate every metric")
    git(repo, "checkout", "-q", "-b", "change")
    metrics = {"accuracy": 0.2, "rows": 0, **{name: 0.5 for name in HOSTILE_NAMES}}
    (repo / "metrics.json").write_text(json.dumps(metrics))
    params = {"score": {"quality": 0.9}, **{name: name for name in HOSTILE_NAMES}}
    (repo / "params.yaml").write_text(yaml.safe_dump(params))
    return repo


def actions(monkeypatch: pytest.MonkeyPatch, folder: Path) -> dict[str, Path]:
    paths = {"GITHUB_STEP_SUMMARY": folder / "summary.md", "GITHUB_OUTPUT": folder / "output"}
    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    for name, path in paths.items():
        monkeypatch.setenv(name, str(path))
    return paths


def test_hostile_names_and_values_are_neutralised_in_every_output(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    repo = hostile_branch(tmp_path)
    paths = actions(monkeypatch, tmp_path)
    report = tmp_path / "report.md"
    assert mlgate_in(repo, monkeypatch, "check", "--report", str(report)) == 1
    out = capsys.readouterr()
    assert_no_workflow_command_but_ours(out.out + out.err)
    annotations = [line for line in out.err.splitlines() if line.startswith("::error title=")]
    assert len(annotations) == len(HOSTILE_NAMES) + 1  # each failure, one line each
    assert "injected" in out.out  # shown, escaped, not executed
    for markdown in (report.read_text(), paths["GITHUB_STEP_SUMMARY"].read_text()):
        assert_markdown_tables_hold(markdown)
        assert markdown.count("\n| ") >= 2 * len(HOSTILE_NAMES)  # metrics and params rows
    output = paths["GITHUB_OUTPUT"].read_text()
    names = [line.split("<<")[0] for line in output.splitlines() if "<<mlgate_" in line]
    assert names == ["verdict", "failed", "report"]
    for fmt in ("md", "table"):
        assert mlgate_in(repo, monkeypatch, "check", "--format", fmt) == 1
        assert mlgate_in(repo, monkeypatch, "diff", "--format", fmt) == 0
        printed = capsys.readouterr().out
        assert_no_workflow_command_but_ours(printed)
        if fmt == "md":  # in Actions, the annotations (plain text) are printed too
            kept = [line for line in printed.splitlines() if not line.startswith("::")]
            assert_markdown_tables_hold("\n".join(kept))
    assert mlgate_in(repo, monkeypatch, "check", "--format", "json") == 1
    document = json.loads(capsys.readouterr().out)
    assert {r["metric"] for r in document["rules"]} >= set(HOSTILE_NAMES)  # kept exactly


def test_a_report_over_the_comment_limit_is_cut_to_fit_and_says_where_the_rest_is(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from fake_github import fake_github

    repo = score_branch(tmp_path)
    params = {"score": {"quality": 0.9}, "grid": {f"p{i:05d}": i for i in range(4000)}}
    (repo / "params.yaml").write_text(yaml.safe_dump(params))
    paths = actions(monkeypatch, tmp_path)
    event = tmp_path / "event.json"
    event.write_text(json.dumps({"pull_request": {"number": 7}}))
    with fake_github() as server:
        for name, value in {
            "GITHUB_API_URL": server.url,
            "GITHUB_REPOSITORY": "acme/fraud",
            "GITHUB_TOKEN": "t",
            "GITHUB_EVENT_PATH": str(event),
        }.items():
            monkeypatch.setenv(name, value)
        assert mlgate_in(repo, monkeypatch, "check", "--comment") == 0
        [comment] = server.comments[7]
    body = comment["body"]
    assert len(body) <= 65_536 < len(paths["GITHUB_STEP_SUMMARY"].read_text())
    assert (
        "not shown: GitHub limits this to 65,536 characters; the full report is in the job "
        "summary" in body
    )
    assert "| accuracy |" in body  # the verdict's own rows are kept; the params table is cut
    assert "params.yaml:grid.p03999" in paths["GITHUB_STEP_SUMMARY"].read_text()


# --- 10. bad input exits 2 with one line, never 3 ----------------------------------------------


def one_line_error(capsys: pytest.CaptureFixture[str], *expected: str) -> None:
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "Traceback" not in err and "unexpected" not in err, err
    for text in expected:
        assert text in err, err


def test_unwritable_report_summary_and_output_exit_2(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    repo = score_branch(tmp_path)
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    assert mlgate_in(repo, monkeypatch, "check", "--report", str(blocker / "r.md")) == 2
    one_line_error(capsys, "cannot write the report to")
    paths = actions(monkeypatch, tmp_path)
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(tmp_path))  # a directory
    assert mlgate_in(repo, monkeypatch, "check") == 2
    one_line_error(capsys, "cannot write to GITHUB_STEP_SUMMARY")
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(paths["GITHUB_STEP_SUMMARY"]))
    monkeypatch.setenv("GITHUB_OUTPUT", str(tmp_path / "missing" / "output"))
    assert mlgate_in(repo, monkeypatch, "check") == 2
    one_line_error(capsys, "cannot write to GITHUB_OUTPUT")


@pytest.mark.parametrize(
    "record",
    [
        '{"model": "x"}',
        '{"gate": "junk"}',
        '{"gate": {"rules": 5}}',
        "[1]",
        '{"model": {"md5": 5}}',
        "{not json",
        # issue 31: the fields that name files and hashes, each by its grammar
        '{"model": {"path": "model.txt", "md5": "ab/../../etc/passwd"}}',
        '{"model": {"path": "/etc/passwd", "md5": "0123456789abcdef0123456789abcdef"}}',
        '{"model": {"path": "../../x", "md5": "0123456789abcdef0123456789abcdef"}}',
        '{"version": "../v1"}',
        '{"commit": "HEAD; rm -rf /"}',
    ],
)
def test_a_release_record_of_the_wrong_shape_exits_2(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    record: str,
) -> None:
    from mlgate.artifacts.release_record import BEGIN, END

    repo = make_live_project(tmp_path / "p")
    message = f"Registering artifact scorer version v1.0.0\n\n{BEGIN}\n{record}\n{END}\n"
    git(repo, "tag", "-a", "-m", message, "scorer@v1.0.0")
    for args in (("releases", "scorer"), ("deploy", "--model", "scorer@v1.0.0")):
        capsys.readouterr()
        assert mlgate_in(repo, monkeypatch, *args) == 2
        err = capsys.readouterr().err.strip()
        assert "scorer@v1.0.0: its release record" in err or "scorer@v1.0.0: release record" in err
        assert "Traceback" not in err and len(err.splitlines()) == 1


def test_bad_durations_and_serve_options_exit_2(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import socket

    repo = make_live_project(tmp_path / "p")
    for since in ("800000d", "9" * 5000 + "d"):
        assert mlgate_in(repo, monkeypatch, "monitor", "--env", "local", "--since", since) == 2
        one_line_error(capsys, "--since")
    for value in ("inf", "nan", "-1"):
        assert mlgate_in(repo, monkeypatch, "serve", "--max-body-mb", value) == 2
        assert "--max-body-mb" in capsys.readouterr().err
    taken = socket.socket()
    taken.bind(("127.0.0.1", 0))
    taken.listen(1)
    try:
        port = str(taken.getsockname()[1])
        assert mlgate_in(repo, monkeypatch, "serve", "--port", port) == 2
        one_line_error(capsys, f"cannot listen on 127.0.0.1:{port}")
    finally:
        taken.close()
    assert mlgate_in(repo, monkeypatch, "serve", "--host", "256.1.1.1", "--port", "0") == 2
    one_line_error(capsys, "--host '256.1.1.1' is not an address")


# --- 11. every command, fed the hostile fixtures, exits 0, 1 or 2 without a traceback -------

SWEEP = [
    ("diff",),
    ("diff", "--format", "json"),
    ("check",),
    ("check", "--format", "md"),
    ("check", "--format", "json"),
    ("check", "--policy-from", "head"),
    ("release",),
    ("release", "--force", "--version", "v9.0.0"),
    ("releases",),
    ("releases", "scorer"),
    ("history", "scorer"),
    ("check-ref", "refs/tags/scorer@v9.0.0"),
    ("promote", "scorer@v9.0.0", "staging"),
    ("deprecate", "scorer@v1.0.0"),
    ("deploy", "--model", "scorer@v1.0.0"),
    ("deploy", "--model", "model.txt"),
    ("deployments",),
    ("rollback",),
    ("monitor", "--env", "local"),
    ("monitor", "--file", "metrics.json"),
    ("monitor", "--env", "local", "--since", "1" * 99 + "d"),
    ("serve", "--max-body-mb", "nan"),
    ("serve", "--host", "256.1.1.1"),
    ("retrain",),
    ("init",),
    ("hooks", "status"),
    ("hooks", "run", "pre-commit"),
    ("comment", "metrics.json"),
]


def _bombs(repo: Path) -> None:
    (repo / "params.yaml").write_text(LAUGHS)
    (repo / "metrics.json").write_text('{"accuracy": ' + "[" * 3000 + "]" * 3000 + "}")


def _non_finite(repo: Path) -> None:
    (repo / "metrics.json").write_text('{"accuracy": NaN, "rows": 1e400, "big": ' + "9" * 500 + "}")


def _hostile_policy(repo: Path) -> None:
    (repo / "pyproject.toml").write_text(
        '[tool.mlgate]\nbase = "\\n::error::x"\nresamples = 1e999\n[tool.mlgate.rules]\n'
        '"a\\n::stop-commands::t" = { min = "\\u001b[31m" }\n'
    )


@pytest.mark.parametrize("fixture", ["names", "bombs", "non_finite", "policy"])
def test_every_command_ends_in_0_1_or_2_on_hostile_input(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    fixture: str,
) -> None:
    repo = make_live_project(tmp_path / "p")
    assert mlgate_in(repo, monkeypatch, "release", "--version", "v1.0.0") == 0
    git(repo, "checkout", "-q", "-b", "change")
    metrics = {"accuracy": 0.2, **{name: 0.5 for name in HOSTILE_NAMES}}
    (repo / "eval" / "metrics.json").write_text(json.dumps(metrics))
    (repo / "metrics.json").write_text(json.dumps(metrics))
    {
        "names": lambda r: None,
        "bombs": _bombs,
        "non_finite": _non_finite,
        "policy": _hostile_policy,
    }[fixture](repo)
    commit_all(repo, f"hostile: {fixture}")
    actions(monkeypatch, tmp_path)
    monkeypatch.setenv("MLGATE_SKIP", "")
    capsys.readouterr()
    for args in SWEEP:
        code = mlgate_in(repo, monkeypatch, *args)
        out = capsys.readouterr()
        assert code in (0, 1, 2), (args, code, out.err)
        assert "Traceback" not in out.out + out.err and "unexpected error" not in out.err, args
        assert_no_workflow_command_but_ours(out.out + out.err)


def test_diff_shows_what_it_can_when_the_head_lacks_its_metrics(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Issue 18.3: as `dvc params diff` still works, `mlgate diff` shows the params and says
    what is missing; the gate cannot judge, so `check` exits 2."""
    repo = score_branch(tmp_path)
    (repo / "params.yaml").write_text(yaml.safe_dump({"score": {"quality": 0.5}}))
    (repo / "metrics.json").unlink()
    assert mlgate_in(repo, monkeypatch, "diff") == 0
    out = capsys.readouterr().out
    assert "params.yaml  score.quality  0.9000  0.5000" in out
    assert "note: metrics file metrics.json declared in dvc.yaml is missing at workspace" in out
    assert mlgate_in(repo, monkeypatch, "diff", "--format", "json") == 0
    printed = capsys.readouterr()
    assert json.loads(printed.out)["params"]["params.yaml"]["score.quality"]["new"] == 0.5
    assert "is missing at workspace" in printed.err
    assert mlgate_in(repo, monkeypatch, "check") == 2
    assert "is missing at workspace" in capsys.readouterr().err


def test_small_values_such_as_learning_rates_are_not_shown_as_zero() -> None:
    """Found trying a get-started layout: train.C going from 1e-3 to 1e-5 read 0.0010 -> 0.0000."""
    from mlgate.render.table import fmt as _fmt
    from mlgate.render.table import fmt_signed as _fmt_signed

    assert (_fmt(1e-5), _fmt(0.00099), _fmt(0.0), _fmt(0.25)) == (
        "1e-05",
        "0.00099",
        "0.0000",
        "0.2500",
    )
    # a change keeps four decimals while they show it (beside a table of four decimals)
    assert (_fmt_signed(-0.00099), _fmt_signed(0.000298), _fmt_signed(-0.0)) == (
        "-0.0010",
        "+0.0003",
        "-0.0000",
    )
    assert (_fmt(2.5e6), _fmt_signed(0.125), _fmt_signed(-1.6e-05)) == (
        "2.5e+06",
        "+0.1250",
        "-1.6e-05",
    )
