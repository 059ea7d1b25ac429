"""Experiments ranked by the gate: which one to propose. Pure: it orders verdicts already made.

An experiment that passes the gate comes before one that fails, and one that fails before one
the gate cannot judge (its metrics could not be read or compared). Among those that pass, the
one with more significant improvements (a tested difference whose p-value is below the rule's
significance) comes first, then more improvements of any size, then the larger gain in the
policy's first rule (in its direction), then the newer.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from mlgate.gate.judge import (
    FAIL,
    IMPROVEMENT,
    GateResult,
    Outcome,
    significance_verdict,
)

Standing = Literal["pass", "fail", "cannot judge"]
_ORDER: dict[Standing, int] = {"pass": 0, "fail": 1, "cannot judge": 2}


@dataclass(frozen=True)
class Entry:
    """One experiment and the gate's verdict on it against the base (or why there is none)."""

    name: str
    commit: str
    timestamp: int
    result: GateResult | None
    problem: str = ""  # why the gate cannot judge it
    against: str = ""  # the revision it was compared with, as the gate names it

    @property
    def standing(self) -> Standing:
        if self.result is None:
            return "cannot judge"
        return "pass" if self.result.passed else "fail"

    @property
    def improved(self) -> tuple[Outcome, ...]:
        return tuple(o for o in self.outcomes if improved(o))

    @property
    def significant(self) -> tuple[Outcome, ...]:
        return tuple(
            o
            for o in self.outcomes
            if o.tested is not None and significance_verdict(o.rule, o.tested) == IMPROVEMENT
        )

    @property
    def outcomes(self) -> tuple[Outcome, ...]:
        return self.result.outcomes if self.result is not None else ()

    @property
    def gain(self) -> float:
        """The first rule's change in its own direction (higher is better), 0 without one."""
        for outcome in self.outcomes:
            change = outcome.change
            if change is not None and outcome.rule.direction is not None:
                return change if outcome.rule.direction == "higher" else -change
        return 0.0


def improved(outcome: Outcome) -> bool:
    """A passing outcome whose metric moved in its rule's direction."""
    change, direction = outcome.change, outcome.rule.direction
    if change is None or direction is None or outcome.status == FAIL:
        return False
    return change > 0 if direction == "higher" else change < 0


def rank(entries: list[Entry]) -> list[Entry]:
    """Best first; the first is the one to propose when it passes."""
    return sorted(
        entries,
        key=lambda e: (
            _ORDER[e.standing],
            -len(e.significant),
            -len(e.improved),
            -e.gain,
            -e.timestamp,
            e.name,
        ),
    )
