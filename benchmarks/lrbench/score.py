"""Scores of a rule against the grid's best constant rate α*, and their summary over setups.

Per setup: the ratio α_rule / α* and the final-loss regret, final loss at α_rule ÷ final
loss at α* (1 = as good as the best grid rate; below 1 = better than every grid rate;
+inf = the rule's run diverged). Per rule, over setups: the median |log10(α_rule / α*)|,
how many setups lie within 3× of α*, and how many have regret ≤ 1.5.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

WITHIN_FACTOR = 3.0
REGRET_LIMIT = 1.5
TARGET_SHARE = 0.8  # the target: 8 of 10 setups


def rate_ratio(rate: float, best_rate: float) -> float:
    """α_rule / α*."""
    return rate / best_rate


def regret(final_loss: float, best_loss: float) -> float:
    """Final loss at the rule's rate ÷ final loss at α* (a diverged run, +inf loss, gives +inf).

    >>> regret(0.3, 0.25)
    1.2
    >>> regret(0.0, 0.0), regret(0.1, 0.0), regret(math.inf, 0.2)
    (1.0, inf, inf)
    """
    if not math.isfinite(final_loss):
        return math.inf
    if best_loss <= 0.0:
        return 1.0 if final_loss <= best_loss else math.inf
    return final_loss / best_loss


def within(ratio: float, factor: float = WITHIN_FACTOR) -> bool:
    """Whether α_rule lies within ``factor``× of α* on either side.

    >>> within(3.0), within(1 / 3), within(3.01)
    (True, True, False)
    """
    return abs(math.log10(ratio)) <= math.log10(factor) + 1e-12


@dataclass(frozen=True)
class RuleScore:
    """One rule on one setup.

    Attributes:
        rule: the rule's name.
        setup: the setup's name.
        rate: the rule's constant rate (None for optimizers that set their own).
        ratio: α_rule / α* (None without a rate).
        regret: final loss at the rule ÷ final loss at α*.
        final_loss: the rule's final training loss (+inf when it diverged).
        seconds: wall time to compute the rate (0 for the learning-rate-free optimizers).
        details: the rule's own numbers (K̂, the stability limit, …).
    """

    rule: str
    setup: str
    rate: float | None
    ratio: float | None
    regret: float
    final_loss: float
    seconds: float = 0.0
    details: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"rule": self.rule, "setup": self.setup, "rate": self.rate, "ratio": self.ratio,
                "regret": _json_number(self.regret), "final_loss": _json_number(self.final_loss),
                "seconds": self.seconds, "details": dict(self.details)}


def _json_number(value: float) -> float | None:
    return value if math.isfinite(value) else None


def score(rule: str, setup: str, rate: float | None, final_loss: float, best_rate: float, best_loss: float,
          seconds: float = 0.0, details: dict[str, Any] | None = None) -> RuleScore:
    """Score one rule's run against the grid's best (α*, its final loss)."""
    ratio = rate_ratio(rate, best_rate) if rate is not None else None
    return RuleScore(rule, setup, rate, ratio, regret(final_loss, best_loss), final_loss, seconds, details or {})


@dataclass(frozen=True)
class RuleSummary:
    """One rule over a set of setups.

    Attributes:
        rule: the rule's name.
        setups: how many setups were scored.
        median_abs_log10_ratio: median |log10(α_rule / α*)| (None when the rule has no rate).
        within_3x: setups with α_rule within 3× of α* (None when the rule has no rate).
        regret_ok: setups with regret ≤ 1.5.
        median_regret: median regret.
        reaches_target: within 3× on at least 80 % of setups and regret ≤ 1.5 on at least 80 %.
    """

    rule: str
    setups: int
    median_abs_log10_ratio: float | None
    within_3x: int | None
    regret_ok: int
    median_regret: float
    reaches_target: bool

    @property
    def share_within_3x(self) -> float | None:
        """The share of setups within 3× of α* (None when the rule has no rate)."""
        return None if self.within_3x is None else self.within_3x / self.setups

    @property
    def share_regret_ok(self) -> float:
        """The share of setups with regret ≤ 1.5."""
        return self.regret_ok / self.setups

    def to_dict(self) -> dict[str, Any]:
        return {"rule": self.rule, "setups": self.setups, "median_abs_log10_ratio": self.median_abs_log10_ratio,
                "within_3x": self.within_3x, "share_within_3x": self.share_within_3x,
                "regret_le_1_5": self.regret_ok, "share_regret_le_1_5": self.share_regret_ok,
                "median_regret": _json_number(self.median_regret), "reaches_target": self.reaches_target}


def summarize(rule: str, scores: Sequence[RuleScore]) -> RuleSummary:
    """Summarise ``rule`` over ``scores`` (one per setup).

    Raises:
        ValueError: no scores.
    """
    if not scores:
        raise ValueError(f"expected at least one score of rule {rule}, found none")
    ratios = [s.ratio for s in scores if s.ratio is not None]
    has_rate = len(ratios) == len(scores)
    within_count = sum(within(r) for r in ratios) if has_rate else None
    regret_ok = sum(s.regret <= REGRET_LIMIT for s in scores)
    reaches = (within_count is not None and within_count >= TARGET_SHARE * len(scores)
               and regret_ok >= TARGET_SHARE * len(scores))
    return RuleSummary(
        rule=rule, setups=len(scores),
        median_abs_log10_ratio=statistics.median(abs(math.log10(r)) for r in ratios) if has_rate else None,
        within_3x=within_count, regret_ok=regret_ok,
        median_regret=statistics.median(s.regret for s in scores), reaches_target=reaches,
    )
