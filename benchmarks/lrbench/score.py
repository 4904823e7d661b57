"""Scores of a rate against the grid's best constant rate α*, the best constant fitted on the tune half, summaries.

Per setup: the ratio α_rule / α*, and whether the rule's final full-data loss is **good**: at most
:data:`GOOD_RATIO` × the grid-best's, or at most :data:`GOOD_ABSOLUTE` × L(w0) (a ratio of two losses
near zero is noise). Per rule, over setups: how many lie within 3× of α*, how many are good, the
median regret (final loss ÷ the grid-best's) and the median |log10(α_rule / α*)|.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

WITHIN_FACTOR = 3.0
GOOD_RATIO = 1.5
GOOD_ABSOLUTE = 1e-4
TARGET_SHARE = 0.9


def within(ratio: float | None, factor: float = WITHIN_FACTOR) -> bool:
    """Whether α_rule lies within ``factor``× of α* on either side.

    >>> within(3.0), within(1 / 3), within(3.01), within(None)
    (True, True, False, False)
    """
    return ratio is not None and ratio > 0 and abs(math.log10(ratio)) <= math.log10(factor) + 1e-12


def good(final_loss: float, best_loss: float, initial_loss: float) -> bool:
    """Final loss ≤ 1.5 × the grid-best's, or ≤ 1e-4 × L(w0) (a diverged run, +inf, is never good).

    >>> good(0.3, 0.25, 2.3), good(0.4, 0.25, 2.3), good(1e-5, 1e-8, 2.3), good(math.inf, 0.2, 2.3)
    (True, False, True, False)
    """
    return math.isfinite(final_loss) and (final_loss <= GOOD_RATIO * best_loss or
                                          final_loss <= GOOD_ABSOLUTE * abs(initial_loss))


def regret(final_loss: float, best_loss: float) -> float:
    """Final loss ÷ the grid-best's (+inf for a diverged run; 1 when both are 0).

    >>> regret(0.3, 0.25), regret(0.0, 0.0), regret(math.inf, 0.2)
    (1.2, 1.0, inf)
    """
    if not math.isfinite(final_loss):
        return math.inf
    if best_loss <= 0.0:
        return 1.0 if final_loss <= best_loss else math.inf
    return final_loss / best_loss


@dataclass(frozen=True)
class Score:
    """One rule on one setup."""

    rule: str
    setup: str
    rate: float | None
    ratio: float | None
    final_loss: float
    regret: float
    good: bool
    within: bool
    cost_runs: float | None

    def to_dict(self) -> dict[str, Any]:
        def inf(x: float | None) -> float | None:
            return x if x is None or math.isfinite(x) else None

        return {"rule": self.rule, "setup": self.setup, "rate": self.rate, "ratio": self.ratio,
                "final_loss": inf(self.final_loss), "regret": inf(self.regret), "good": self.good,
                "within_3x": self.within, "cost_runs": self.cost_runs}


@dataclass(frozen=True)
class Summary:
    """One rule over a group of setups."""

    rule: str
    setups: int
    within_3x: int | None
    good: int
    median_regret: float
    median_abs_log10_ratio: float | None
    median_cost_runs: float | None

    @property
    def reaches_target(self) -> bool:
        """Within 3× and good on at least 90 % of the setups."""
        return self.within_3x is not None and min(self.within_3x, self.good) >= TARGET_SHARE * self.setups

    def to_dict(self) -> dict[str, Any]:
        out = dict(vars(self))
        out["median_regret"] = self.median_regret if math.isfinite(self.median_regret) else None
        out["reaches_target"] = self.reaches_target
        return out


def summarize(rule: str, scores: Sequence[Score]) -> Summary:
    """Summarise ``rule`` over ``scores`` (one per setup)."""
    rated = [s for s in scores if s.ratio is not None]
    costs = [s.cost_runs for s in scores if s.cost_runs is not None]
    return Summary(
        rule=rule, setups=len(scores), within_3x=sum(s.within for s in rated) if rated else None,
        good=sum(s.good for s in scores), median_regret=statistics.median(s.regret for s in scores),
        median_abs_log10_ratio=statistics.median(abs(math.log10(s.ratio)) for s in rated if s.ratio) if rated
        else None, median_cost_runs=statistics.median(costs) if costs else None)


def fit_constant(candidates: Sequence[float], tune: Sequence[tuple[float, dict[float, float], float, float]]) -> float:
    """The candidate rate with the most tune setups good, then within 3×, then the lowest median |log ratio|.

    Args:
        candidates: the grid's rates.
        tune: per tune setup, (α*, {rate: final loss}, the grid-best's loss, L(w0)).
    """
    def merit(c: float) -> tuple[int, int, float]:
        goods = sum(good(finals.get(c, math.inf), best_loss, initial) for _, finals, best_loss, initial in tune)
        near = sum(within(c / best) for best, _, _, _ in tune)
        return goods, near, -statistics.median(abs(math.log10(c / best)) for best, _, _, _ in tune)

    return max(candidates, key=merit)
