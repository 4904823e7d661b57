"""Rules with one fitted constant, fitted on the ``tune`` half of the setups only.

* ``limit_scaled``: c · lr_limit, Adam's stability limit at w0 times a constant. c is the
  geometric median of α* / lr_limit over the tune half, the c that minimises the summed
  |log10(c · lr_limit / α*)| there.
* ``paper_capped``: min(paper α, c · lr_limit), the paper's α capped at a multiple of the
  limit. c is the candidate of :data:`CAP_CANDIDATES` that puts the most tune setups within
  3× of α*; ties go to the lower median |log10(rate / α*)|, then to the larger c (the
  lighter cap).

Both need only α* and the rules' rates of the tune setups (no extra training), so the
constant is fixed before any holdout setup is looked at.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from lrbench.rules import RuleRate
from lrbench.score import within

FittedKind = Literal["limit_scaled", "paper_capped"]
CAP_CANDIDATES: tuple[float, ...] = tuple(10.0 ** (k / 4) for k in range(-4, 13))  # 0.1 … 1000, quarter decades


@dataclass(frozen=True)
class TuneRow:
    """What fitting needs from one tune setup: α*, the paper's α and the stability limit."""

    setup: str
    best_rate: float
    paper_rate: float
    lr_limit: float


@dataclass(frozen=True)
class FittedRule:
    """A rule with its constant and the setups it was fitted on."""

    name: FittedKind
    constant: float
    fitted_on: tuple[str, ...]

    def rate(self, rates: Mapping[str, RuleRate]) -> float:
        """The rule's rate for one setup, from that setup's ``paper`` and ``stability`` rates."""
        limit = rates["stability"].rate
        if self.name == "limit_scaled":
            return self.constant * limit
        return min(rates["paper"].rate, self.constant * limit)

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "constant": self.constant, "fitted_on": list(self.fitted_on)}


def _log_error(rate: float, best: float) -> float:
    return abs(math.log10(rate / best))


def fit_limit_scaled(rows: Sequence[TuneRow]) -> FittedRule:
    """c = 10^median(log10(α* / lr_limit)) over ``rows``."""
    exponent = statistics.median(math.log10(r.best_rate / r.lr_limit) for r in rows)
    return FittedRule("limit_scaled", 10.0**exponent, tuple(r.setup for r in rows))


def fit_paper_capped(rows: Sequence[TuneRow], candidates: Sequence[float] = CAP_CANDIDATES) -> FittedRule:
    """The cap multiple c with the most ``rows`` within 3× of α* (then the lowest median error, then larger c)."""

    def merit(c: float) -> tuple[int, float, float]:
        rates = [(min(r.paper_rate, c * r.lr_limit), r.best_rate) for r in rows]
        hits = sum(within(rate / best) for rate, best in rates)
        return hits, -statistics.median(_log_error(rate, best) for rate, best in rates), c

    return FittedRule("paper_capped", max(candidates, key=merit), tuple(r.setup for r in rows))


def fit_rules(rows: Sequence[TuneRow]) -> tuple[FittedRule, ...]:
    """Both fitted rules on ``rows`` (none when there is no tune setup to fit on)."""
    if not rows:
        return ()
    return fit_limit_scaled(rows), fit_paper_capped(rows)
