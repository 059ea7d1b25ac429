"""Issue 31: the third hostile probe's breaks, each as a class closed at the boundary.

Real git repositories and DVC projects in temporary directories; every test here failed before
its fix. Variants of each attack sit beside the example the probe found.
"""

from __future__ import annotations

import contextlib
import json
import os
from pathlib import Path

import pytest
import yaml

from helpers import commit_all, git, make_live_project, mlgate_in

pytestmark = pytest.mark.faults


def one_line_error(capsys: pytest.CaptureFixture[str], *expected: str) -> str:
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.startswith("mlgate: error: ")]
    assert len(lines) == 1 and "Traceback" not in err, err
    for text in expected:
        assert text in lines[0], lines[0]
    return lines[0]


# --- paths and hashes from a pull request never reach the file system unchecked -----------


def forge_lock(repo: Path, md5: str) -> None:
    """A change whose dvc.lock records ``md5`` for the cached eval/ directory."""
    lock = yaml.safe_load((repo / "dvc.lock").read_text())
    [out] = [o for o in lock["stages"]["train"]["outs"] if o["path"] == "eval"]
    out["md5"] = md5
    (repo / "dvc.lock").write_text(yaml.safe_dump(lock, sort_keys=False))


@pytest.fixture(scope="module")
def live_project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The live layout (eval/ a cached directory output), reproduced once for the module."""
    return make_live_project(tmp_path_factory.mktemp("live") / "p", quality=0.9)


@pytest.mark.parametrize(
    "forged",
    [
        "ab{outside}",  # md5[2:] is absolute: pathlib drops the cache folder
        "ab/../../../..{outside}",
        "{outside}",
        "ABCDEF0123456789ABCDEF0123456789.dir",  # not DVC's lower-case hex
        "0123456789abcdef0123456789abcdef0.dir",  # 33 digits
    ],
)
def test_an_md5_that_is_not_32_hex_digits_is_never_a_path(
    live_project: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    forged: str,
) -> None:
    import shutil

    repo = Path(shutil.copytree(live_project, tmp_path / "p", symlinks=True))
    # what the attacker wants read: a manifest listing metrics.json, and its "metrics"
    secret = tmp_path / "secret.json"
    secret.write_text('{"accuracy": 0.97}')
    manifest = tmp_path / "outside.dir"
    manifest.write_text(json.dumps([{"md5": f"ab{secret}", "relpath": "metrics.json"}]))
    git(repo, "checkout", "-q", "-b", "change")
    forge_lock(repo, forged.format(outside=manifest))
    commit_all(repo, "forged lock")
    git(repo, "checkout", "-q", "main")
    code = mlgate_in(repo, monkeypatch, "diff", "main", "change", "--format", "json")
    assert code == 2
    one_line_error(capsys, "md5", "32 hexadecimal digits")


def test_a_metrics_file_that_is_a_symlink_out_of_the_repository_is_not_read(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from helpers import make_score_project

    repo = make_score_project(tmp_path / "p")
    outside = tmp_path / "outside.json"
    outside.write_text('{"accuracy": 0.99, "rows": 2}')
    git(repo, "checkout", "-q", "-b", "change")
    (repo / "metrics.json").unlink()
    os.symlink(outside, repo / "metrics.json")
    assert mlgate_in(repo, monkeypatch, "check", "--format", "json") == 2
    one_line_error(capsys, "metrics.json", "outside the repository")


@pytest.mark.parametrize("target", ["/dev/zero", "/dev/null", "fifo"])
def test_a_metrics_file_that_is_not_a_regular_file_is_not_read(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    target: str,
) -> None:
    from helpers import make_score_project

    repo = make_score_project(tmp_path / "p")
    git(repo, "checkout", "-q", "-b", "change")
    (repo / "metrics.json").unlink()
    if target == "fifo":
        os.mkfifo(repo / "metrics.json")  # inside the repository, and would block a reader
    else:
        os.symlink(target, repo / "metrics.json")
    assert mlgate_in(repo, monkeypatch, "check", "--format", "json") == 2
    one_line_error(capsys, "metrics.json")


def test_a_symlink_inside_the_repository_is_read_as_its_target(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from helpers import make_score_project

    repo = make_score_project(tmp_path / "p")
    git(repo, "checkout", "-q", "-b", "change")
    (repo / "kept.json").write_text((repo / "metrics.json").read_text())
    (repo / "metrics.json").unlink()
    os.symlink("kept.json", repo / "metrics.json")
    assert mlgate_in(repo, monkeypatch, "check", "--format", "json") == 0
    capsys.readouterr()


# --- fail closed: a verdict passes only on finite numbers from finite tests -----------------

ROC_POLICY = """\
[tool.mlgate]
base = "main"
predictions = "eval/predictions.csv"

[tool.mlgate.rules]
roc_auc = { direction = "higher", significance = 0.05, min_effect = 0.01 }
"""


@pytest.mark.parametrize("only", ["1", "0"])
def test_a_head_whose_predictions_have_one_class_cannot_be_judged(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    only: str,
) -> None:
    """The probe's break: one class at head gives the bootstrap NaN, which read as "within
    noise" and passed a real regression (roc_auc 0.907 -> 0.86)."""
    from helpers import make_predict_project

    repo = make_predict_project(tmp_path / "p", rows=400, policy=ROC_POLICY)
    (repo / "metrics.json").write_text('{"roc_auc": 0.907}')
    commit_all(repo, "roc_auc on main")
    git(repo, "checkout", "-q", "-b", "change")
    rows = (repo / "eval" / "predictions.csv").read_text().splitlines()
    one_class = [rows[0], *(",".join([r.split(",")[0], only, *r.split(",")[2:]]) for r in rows[1:])]
    (repo / "eval" / "predictions.csv").write_text("\n".join(one_class) + "\n")
    (repo / "metrics.json").write_text('{"roc_auc": 0.86}')
    code = mlgate_in(repo, monkeypatch, "check")
    assert code == 2
    one_line_error(capsys, "roc_auc", "cannot judge")


def test_a_difference_that_is_not_finite_never_passes_the_pure_judge() -> None:
    import math

    from mlgate.gate import judge, stats
    from mlgate.policy import parse_policy

    rules = {
        "predictions": "eval/predictions.csv",
        "rules": {"roc_auc": {"direction": "higher", "significance": 0.05}},
    }
    policy = parse_policy(rules, "pyproject.toml", "test")
    [rule] = policy.rules
    for field in ("head", "low", "p_value"):
        values = {"base": 0.9, "head": 0.86, "low": -0.1, "high": 0.0, "p_value": 0.5}
        values[field] = math.nan
        tested = stats.Difference(
            "roc_auc",
            confidence=0.95,
            method="paired",
            test="bootstrap",
            rows=400,
            resamples=1000,
            seed=7,
            **values,
        )
        outcome = judge.judge_rule(rule, "metrics.json", "roc_auc", 0.9, 0.86, tested)
        assert outcome.status == judge.FAIL and "cannot judge" in outcome.reason, field


def numeric_profile_document() -> dict:
    from mlgate.artifacts.profile import LEVELS, NUMERIC

    return {"kind": NUMERIC, "rows": 100, "missing": 0, "std": 1.0,
            "quantiles": [i / LEVELS for i in range(LEVELS)]}  # fmt: skip


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("std", float("nan")),
        ("std", float("inf")),
        ("std", -1.0),
        ("std", "1.0"),
        ("rows", -5),
        ("rows", True),
        ("rows", 2.5),
        ("missing", None),
        ("quantiles", "reversed"),
        ("quantiles", "nan"),
    ],
)
def test_a_reference_profile_with_a_number_that_is_not_one_cannot_judge(
    field: str, value: object
) -> None:
    """The probe's break: ``std: NaN`` in a profile made every test say "no drift"."""
    from mlgate.artifacts.profile import parse_profile
    from mlgate.errors import MlgateError

    document = numeric_profile_document()
    if value == "reversed":
        document["quantiles"] = document["quantiles"][::-1]
    elif value == "nan":
        document["quantiles"][3] = float("nan")
    else:
        document[field] = value
    with pytest.raises(MlgateError, match="malformed"):
        parse_profile({"columns": {"amount": document}}, "profile.json")


def test_current_values_that_give_a_nan_score_cannot_judge() -> None:
    from mlgate.artifacts.profile import parse_profile
    from mlgate.errors import MlgateError
    from mlgate.monitor import drift

    [profile] = parse_profile(
        {"columns": {"amount": numeric_profile_document()}}, "p"
    ).columns.values()
    with pytest.raises(MlgateError, match="cannot judge drift in column 'amount'"):
        drift.compare(profile, [float("inf"), 1.0, float("-inf")] * 40)


def test_any_profile_document_parses_or_is_one_error() -> None:
    from hypothesis import given, settings
    from hypothesis import strategies as st

    from mlgate.artifacts.profile import CATEGORICAL, NUMERIC, parse_profile
    from mlgate.errors import MlgateError

    scalars = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), st.text(max_size=5))
    json_values = st.recursive(
        scalars,
        lambda inner: st.one_of(
            st.lists(inner, max_size=12), st.dictionaries(st.text(max_size=8), inner, max_size=6)
        ),
        max_leaves=8,
    )
    column = st.fixed_dictionaries(
        {},
        optional={
            "kind": st.sampled_from([NUMERIC, CATEGORICAL, "x"]),
            "rows": json_values,
            "missing": json_values,
            "std": json_values,
            "quantiles": json_values,
            "counts": json_values,
            "text": json_values,
            "values": json_values,
        },
    )

    @settings(max_examples=150, deadline=None)
    @given(st.dictionaries(st.text(max_size=8), column, max_size=2))
    def parse(columns: dict) -> None:
        try:
            profile = parse_profile({"columns": columns}, "profile.json")
        except MlgateError:
            return
        for parsed in profile.columns.values():
            assert all(map(math.isfinite, (*parsed.quantiles, *parsed.values, parsed.std)))

    import math

    parse()


# --- files parsed as DVC parses them, or refused as DVC refuses them -------------------------

YAML_CASES = [
    "a: 1\na: 2\n",
    "x:\n  b: 1\n  b: 2\n",
    "base: &b {k: 1}\nd:\n  <<: *b\n  k: 2\n",
    "a: {b: 1}\nc: [1, {d: 2, d: 3}]\n",
    "1: a\n'1': b\n",
    "acc: 0.9\nacc: 0.99\n",
]


@pytest.mark.parametrize("text", YAML_CASES)
def test_yaml_with_a_key_written_twice_is_refused_as_dvcs_parser_refuses_it(text: str) -> None:
    """The probe's break: a metrics file with a duplicate key was judged on its last value,
    where DVC (ruamel.yaml) refuses the file."""
    import io

    from ruamel.yaml import YAML

    from mlgate.dvcfiles import parse_yaml
    from mlgate.errors import DataError

    try:
        theirs: object = YAML(typ="safe", pure=True).load(io.StringIO(text))
    except Exception as exc:  # ruamel's DuplicateKeyError
        theirs = type(exc).__name__
    if theirs == "DuplicateKeyError":
        with pytest.raises(DataError, match="duplicate key"):
            parse_yaml(text, "metrics.yaml")
    else:
        assert parse_yaml(text, "metrics.yaml") == theirs


def test_the_gate_refuses_a_yaml_metrics_file_with_a_duplicate_key(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from helpers import make_score_project

    repo = make_score_project(tmp_path / "p")
    dvc_yaml = yaml.safe_load((repo / "dvc.yaml").read_text())
    stage = next(iter(dvc_yaml["stages"].values()))
    stage["metrics"] = [{"metrics.yaml": {"cache": False}}]
    (repo / "dvc.yaml").write_text(yaml.safe_dump(dvc_yaml))
    (repo / "metrics.yaml").write_text("accuracy: 0.9\nrows: 2\n")
    commit_all(repo, "YAML metrics")
    git(repo, "checkout", "-q", "-b", "change")
    (repo / "metrics.yaml").write_text("accuracy: 0.1\nrows: 2\naccuracy: 0.95\n")
    assert mlgate_in(repo, monkeypatch, "check") == 2
    one_line_error(capsys, "metrics.yaml", "duplicate key 'accuracy'")


def test_any_bytes_in_a_data_file_parse_or_are_one_error() -> None:
    from hypothesis import given, settings
    from hypothesis import strategies as st

    from mlgate.dvcfiles import parse_data_file
    from mlgate.errors import DataError

    pieces = st.sampled_from(["a: ", "&x ", "*x", "<<: ", "{", "}", "[", "]", "\n", "  ", "- ",
                              "1e400", "NaN", '"', "=", "[t]\n", ",", ":"])  # fmt: skip
    texts = st.one_of(
        st.binary(max_size=40), st.lists(pieces, max_size=20).map("".join).map(str.encode)
    )

    @settings(max_examples=200, deadline=None)
    @given(st.sampled_from(["m.yaml", "m.json", "m.toml", "params.py"]), texts)
    def parse(name: str, content: bytes) -> None:
        with contextlib.suppress(DataError):
            parse_data_file(name, content, name)

    parse()


# --- credentials never printed ------------------------------------------------------------


@pytest.mark.parametrize(
    "endpoint",
    ["http://AKIAEXAMPLE:s3cr3t-pass@127.0.0.1:9", "http://s3cr3t-pass@127.0.0.1:9/x?y=1"],
)
def test_a_credential_in_the_endpoint_url_is_never_printed(
    endpoint: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The probe's break: a credential in AWS_ENDPOINT_URL was printed with botocore's error.
    A real botocore client against a closed loopback port."""
    pytest.importorskip("botocore")
    from mlgate import objectstore
    from mlgate.errors import MlgateError

    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIAEXAMPLE")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "another-secret")
    monkeypatch.setenv("AWS_ENDPOINT_URL", endpoint)
    s3 = objectstore.client(what=f"s3://bucket via {endpoint}")
    with pytest.raises(MlgateError) as raised:
        objectstore.call(s3, f"s3://bucket via {endpoint}", "head_object", Bucket="b", Key="k")
    said = str(raised.value)
    assert "s3cr3t" not in said and "another-secret" not in said and "AKIAEXAMPLE" not in said
    assert "127.0.0.1" in said  # where it failed is still said


def test_redaction_hides_signed_urls_and_known_secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    from mlgate.objectstore import redact

    monkeypatch.setenv("AWS_SESSION_TOKEN", "tok-123456")
    text = "GET https://h/b/k?X-Amz-Signature=abcdef&X-Amz-Credential=AKIA/x failed tok-123456"
    assert redact(text) == "GET https://h/b/k?X-Amz-Signature=***&X-Amz-Credential=*** failed ***"


def test_a_class_only_the_head_has_is_blamed_on_the_head(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from helpers import make_predict_project

    repo = make_predict_project(tmp_path / "p", rows=200, policy=ROC_POLICY)
    (repo / "metrics.json").write_text('{"roc_auc": 0.9}')
    commit_all(repo, "roc_auc on main")
    git(repo, "checkout", "-q", "-b", "change")
    path = repo / "eval" / "predictions.csv"
    header, first, *rest = path.read_text().splitlines()
    fields = first.split(",")
    fields[1] = "7"  # a label no revision scored before
    path.write_text("\n".join([header, ",".join(fields), *rest]) + "\n")
    assert mlgate_in(repo, monkeypatch, "check") == 2
    line = one_line_error(capsys, "eval/predictions.csv at workspace has '7' that the other lacks")
    assert "at main" not in line.split("has")[0]


def test_every_test_the_threat_model_names_exists() -> None:
    """docs/threat-model.md cites a test for each guarantee: each must be a test in the suite
    (``file::name``, or ``..._end`` for another test of the file last named)."""
    import re

    root = Path(__file__).resolve().parents[1]
    text = (root / "docs" / "threat-model.md").read_text()
    cited, last = 0, None
    for cell in re.findall(r"`((?:tests/)?(?:\w+/)?test_\w+\.py(?:::[\w.]+)?|\.\.\.\w+)`", text):
        if cell.startswith("..."):
            assert last is not None, cell
            assert any(name.endswith(cell[3:]) for name in _tests_in(last)), cell
        else:
            file, _, name = cell.partition("::")
            name_of = Path(file).name
            found = [*root.glob(f"tests/{name_of}"), *root.glob(f"tests/*/{name_of}")]
            assert len(found) == 1, cell  # test files have names unique across folders
            last = found[0]
            assert not name or name in _tests_in(last), cell
        cited += 1
    assert cited >= 20


def _tests_in(path: Path) -> set[str]:
    import re

    return set(re.findall(r"^def (test_\w+)", path.read_text(), re.MULTILINE))


# --- every parser of outside input: a typed value or one error, never anything else --------


def json_values():  # type: ignore[no-untyped-def]
    from hypothesis import strategies as st

    scalars = st.one_of(
        st.none(), st.booleans(), st.integers(), st.floats(), st.text(max_size=12),
        st.sampled_from(["/victim", "../x", "ab/etc/passwd", "v1.0.0", "0" * 32, "::x", "\x00"]),
    )  # fmt: skip
    return st.recursive(
        scalars,
        lambda inner: st.one_of(
            st.lists(inner, max_size=6), st.dictionaries(st.text(max_size=10), inner, max_size=6)
        ),
        max_leaves=12,
    )


def test_any_request_body_is_rows_or_a_client_error() -> None:
    """A scoring client's bytes: parsed, or BadRequest / UnsupportedMediaType (400 / 415),
    never another exception (a 500)."""
    pytest.importorskip("numpy")
    from hypothesis import given, settings
    from hypothesis import strategies as st

    from mlgate.artifacts.card import Feature
    from mlgate.serve import payload

    features = (
        Feature("amount", "float", takes_missing=False),
        Feature("count", "integer"),
        Feature("merchant", "text", nullable=True),
    )
    bodies = st.one_of(
        st.binary(max_size=60),
        json_values().map(lambda v: json.dumps(v).encode()),
        st.fixed_dictionaries(
            {
                "instances": st.lists(
                    st.dictionaries(
                        st.sampled_from(["amount", "count", "merchant", "x"]),
                        st.one_of(
                            st.none(),
                            st.floats(),
                            st.integers(),
                            st.text(max_size=4),
                            st.booleans(),
                        ),
                        max_size=4,
                    ),
                    max_size=4,
                )
            }
        ).map(lambda v: json.dumps(v).encode()),
        st.lists(st.text(alphabet='amount,cnr\n"1.5-e', max_size=12), max_size=4).map(
            lambda lines: ("amount,count,merchant\n" + "\n".join(lines)).encode()
        ),
    )

    @settings(max_examples=300, deadline=None)
    @given(bodies, st.sampled_from(["application/json", "text/csv", "text/plain", ""]))
    def parse(body: bytes, content_type: str) -> None:
        try:
            rows = payload.parse(body, content_type, features)
        except (payload.BadRequest, payload.UnsupportedMediaType):
            return
        import numpy as np

        amounts = rows["amount"]
        if amounts.dtype.kind == "f":
            assert np.isfinite(amounts).all()  # no missing value reaches a model refusing it

    parse()


def test_any_release_record_and_deployment_record_parse_or_are_one_error() -> None:
    from hypothesis import given, settings
    from hypothesis import strategies as st

    from mlgate.artifacts import deployment
    from mlgate.artifacts.release_record import BEGIN, END
    from mlgate.errors import DataError
    from mlgate.registry.release import read_record

    @settings(max_examples=200, deadline=None)
    @given(json_values(), st.text(max_size=20))
    def parse(document: object, noise: str) -> None:
        message = f"x{noise}\n{BEGIN}\n{json.dumps(document)}\n{END}\n"
        with contextlib.suppress(DataError):
            read_record(message, "a tag")
        try:
            record = deployment.decode(json.dumps(document))
        except (ValueError, TypeError, RecursionError):  # read_current's unreadable
            return
        assert valid_path_part(record.version) and valid_path_part(record.model_file)

    parse()


def valid_path_part(name: str) -> bool:
    return "/" not in name and name not in ("", ".", "..") and "\x00" not in name


@pytest.mark.parametrize("value", ["v1.0.0\n", "scorer\n", "md5-0123456789ab\n"])
def test_a_trailing_line_break_is_no_name_and_no_version(value: str) -> None:
    """``$`` matches before a final line break: every grammar is anchored at the very end, so a
    version ``v1.0.0\\n`` never becomes a folder's or a key's name."""
    from mlgate import valid
    from mlgate.artifacts import deployment
    from mlgate.registry import tags

    assert not valid.is_deployed_version(value) and not valid.is_name(value)
    assert tags.parse_tag_name(f"scorer@{value}") is None
    with pytest.raises(ValueError, match="version"):
        deployment.decode(json.dumps({**DEPLOYMENT_RECORD, "version": value}))
    with pytest.raises(ValueError, match="artifact"):
        deployment.decode(json.dumps({**DEPLOYMENT_RECORD, "artifact": value}))
    deployment.decode(json.dumps(DEPLOYMENT_RECORD))  # the record itself is one


DEPLOYMENT_RECORD = {
    "id": "a", "time": "2026-12-02T10:00:00+00:00", "environment": "production",
    "action": "deploy", "outcome": "deployed", "artifact": "scorer", "version": "v1.0.0",
    "md5": "0" * 32, "commit": None, "model_file": "model.pkl", "who": "ada", "monitoring": True,
    "previous": None,
}  # fmt: skip
