"""The one error boundary (errors.guarded) the command line, the hooks and the stages share."""

from __future__ import annotations

import subprocess
import sys

import pytest

from mlgate.errors import (
    EXIT_BUG,
    EXIT_COULD_NOT_RUN,
    EXIT_INTERRUPTED,
    EXIT_REJECTED,
    DataError,
    guarded,
)


def run(raising: BaseException | None, **options: object) -> tuple[int, list[str]]:
    said: list[str] = []

    def body() -> int:
        if raising is not None:
            raise raising
        return EXIT_REJECTED

    return guarded(body, say=said.append, **options), said  # type: ignore[arg-type]


def test_a_result_passes_through_and_nothing_is_said() -> None:
    assert run(None) == (EXIT_REJECTED, [])


def test_an_mlgate_error_is_one_line_and_exit_2_whatever_its_message_quotes() -> None:
    code, said = run(DataError("params.yaml: bad\nline two\x1b[2J"), hint=" (skip: X=1)")
    assert code == EXIT_COULD_NOT_RUN and len(said) == 1
    assert said[0].startswith("mlgate: error: params.yaml: bad") and said[0].endswith(
        " (skip: X=1)"
    )
    assert "\n" not in said[0] and "\x1b" not in said[0]


def test_ctrl_c_is_exit_130() -> None:
    assert run(KeyboardInterrupt(), prefix="train") == (EXIT_INTERRUPTED, ["train: interrupted"])


def test_a_bug_is_exit_3_naming_its_type_in_one_line() -> None:
    code, said = run(ZeroDivisionError("division by zero\nmore"), advice="please report it")
    assert code == EXIT_BUG and len(said) == 1
    assert said[0] == (
        "mlgate: an unexpected error has occurred: ZeroDivisionError: division by zero\\nmore "
        "(please report it)"
    )


def test_a_stage_s_bug_prints_its_traceback_then_one_line_and_exits_3(tmp_path) -> None:
    """A DVC stage is run by `dvc repro`, where a traceback is what a developer wants to see."""
    script = (
        "from mlgate.pipeline._common import run_stage\n"
        "def boom(args): raise RuntimeError('broken')\n"
        "raise SystemExit(run_stage('demo', lambda parser: None, boom, []))\n"
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert result.returncode == EXIT_BUG
    assert "Traceback" in result.stderr
    assert (
        result.stderr.strip()
        .splitlines()[-1]
        .startswith("demo: an unexpected error has occurred: RuntimeError: broken")
    )


@pytest.mark.faults
def test_the_hook_entry_point_turns_a_bug_into_one_line_and_how_to_skip(monkeypatch) -> None:
    from mlgate.commands import hook

    def broken(*args: object) -> object:
        raise RuntimeError("broken")

    monkeypatch.setattr(hook, "run", broken)
    said: list[str] = []
    monkeypatch.setattr(hook, "print", lambda line, file=None: said.append(line), raising=False)
    assert hook.main(["pre-commit"]) == EXIT_BUG
    assert said == [
        "mlgate: an unexpected error has occurred: RuntimeError: broken (in the pre-commit "
        "hook; set MLGATE_SKIP=1 to skip it, and please report it)"
    ]
