"""Files a CI job hands to its runner (GitHub's GITHUB_OUTPUT and GITHUB_STEP_SUMMARY, a GitLab
dotenv report): appended to, never rewritten, and an error naming the variable when they
cannot be."""

from __future__ import annotations

from mlgate.errors import MlgateError


def append(path: str, text: str, variable: str) -> None:
    try:
        with open(path, "a", encoding="utf-8") as f:
            f.write(text)
    except OSError as exc:
        raise MlgateError(f"cannot write to {variable} ({path}): {exc.strerror or exc}") from None
