"""Frozen results of the recommendation benchmark, with ``to_dict()`` for JSON."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from adamlr import __version__
from lrbench.fitted import FittedRule
from lrbench.grid import GridResult, RunOutcome, finite_or_none
from lrbench.rules import RuleRate
from lrbench.score import RuleScore, RuleSummary
from lrbench.setups import Setup


@dataclass(frozen=True)
class SetupResult:
    """One setup: the grid, every rule's rate and run, and the scores.

    Attributes:
        setup: the registry entry.
        grid: every grid rate's run and α*.
        rates: each rule's rate (learning-rate-free optimizers have none).
        runs: each rule's training run.
        scores: each rule's score against α*.
        seconds: wall time of the setup (rules, grid, rule runs).
    """

    setup: Setup
    grid: GridResult
    rates: dict[str, RuleRate]
    runs: dict[str, RunOutcome]
    scores: tuple[RuleScore, ...]
    seconds: float

    def score_of(self, rule: str) -> RuleScore:
        """The score of ``rule`` on this setup.

        Raises:
            KeyError: the rule was not run here.
        """
        for s in self.scores:
            if s.rule == rule:
                return s
        raise KeyError(f"expected rule {rule} among {', '.join(s.rule for s in self.scores)}, found none")

    @property
    def best_over_lr_limit(self) -> float | None:
        """α* / Adam's stability limit at w0 (None when the stability rule did not run)."""
        limit = self.rates.get("stability")
        return self.grid.best_rate / limit.rate if limit else None

    def to_dict(self) -> dict[str, Any]:
        return {
            "setup": dataclasses.asdict(self.setup), "best_rate": self.grid.best_rate,
            "best_final_loss": finite_or_none(self.grid.best.final_loss), "best_over_lr_limit": self.best_over_lr_limit,
            "grid": self.grid.to_dict(), "rates": {k: v.to_dict() for k, v in self.rates.items()},
            "runs": {k: v.to_dict() for k, v in self.runs.items()},
            "scores": {s.rule: s.to_dict() for s in self.scores}, "seconds": self.seconds,
        }


@dataclass(frozen=True)
class BenchmarkResult:
    """The whole benchmark.

    Attributes:
        setups: one result per setup, in the order run.
        fitted: the fitted rules with their constants and the tune setups they came from.
        summaries: per group (``all``, ``tune``, ``holdout``), one summary per rule.
        rules: the rules' names in table order.
        settings: how the benchmark ran (seed, device, grid, setups).
        seconds: wall time.
    """

    setups: tuple[SetupResult, ...]
    fitted: tuple[FittedRule, ...]
    summaries: dict[str, tuple[RuleSummary, ...]]
    rules: tuple[str, ...]
    settings: dict[str, Any]
    seconds: float

    def summary(self, group: str, rule: str) -> RuleSummary:
        """The summary of ``rule`` over ``group``.

        Raises:
            KeyError: no such group or rule.
        """
        for s in self.summaries[group]:
            if s.rule == rule:
                return s
        raise KeyError(f"expected rule {rule} in the {group} summary, found none")

    def to_dict(self) -> dict[str, Any]:
        return {
            "schema_version": 1, "version": __version__, "settings": dict(self.settings), "rules": list(self.rules),
            "setups": [s.to_dict() for s in self.setups], "fitted": [f.to_dict() for f in self.fitted],
            "summary": {g: [s.to_dict() for s in rows] for g, rows in self.summaries.items()},
            "seconds": self.seconds,
        }
