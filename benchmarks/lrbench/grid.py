"""Constant-rate Adam runs from the shared w0, and the grid search for the best constant rate α*.

The grid holds the 11 rates 1e-5, 3.16e-5, …, 1 (half-decades). Every rate trains for the
setup's T epochs from the same initial weights (:func:`train_constant`); α* is the rate with
the lowest final full-data training loss, ties (equal within :data:`TIE_RTOL`) broken by the
lower final gradient norm. A run whose loss or gradient became NaN or infinite counts as a
final loss of +inf.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch

from adamlr.comparison.arms import Arm
from adamlr.comparison.training import RunResult, train
from adamlr.rng import preserved_rng
from lrbench.setups import PreparedSetup

GRID_RATES: tuple[float, ...] = tuple(10.0 ** (-5 + k / 2) for k in range(11))
TIE_RTOL = 1e-6


@dataclass(frozen=True)
class RunOutcome:
    """The end of one training run.

    Attributes:
        name: the rate or optimizer that was trained (``"3.16e-03"``, ``"prodigy"``).
        rate: the constant Adam rate, or None for an optimizer that sets its own.
        final_loss: full-data training loss after T epochs (+inf when the run diverged).
        final_grad_norm: ‖∇L‖₂ over the full data after T epochs (+inf when diverged).
        diverged: the loss or gradient became NaN or infinite.
        losses: the training loss at every epoch, w0 first (up to the divergence).
        seconds: wall time of the run.
    """

    name: str
    rate: float | None
    final_loss: float
    final_grad_norm: float
    diverged: bool
    losses: tuple[float, ...]
    seconds: float

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "rate": self.rate, "final_loss": finite_or_none(self.final_loss),
                "final_grad_norm": finite_or_none(self.final_grad_norm), "diverged": self.diverged,
                "losses": [finite_or_none(x) for x in self.losses], "seconds": self.seconds}


def finite_or_none(value: float) -> float | None:
    """JSON has no infinity: a non-finite number is written as null."""
    return value if math.isfinite(value) else None


def outcome_of(run: RunResult, rate: float | None) -> RunOutcome:
    """Summarise a :class:`RunResult`: final loss and gradient norm, +inf when it diverged."""
    last = run.records[-1]
    finite = not run.diverged and math.isfinite(last.train_loss) and math.isfinite(last.grad_norm)
    return RunOutcome(
        name=run.arm, rate=rate,
        final_loss=last.train_loss if finite else math.inf,
        final_grad_norm=last.grad_norm if finite else math.inf,
        diverged=not finite, losses=tuple(r.train_loss for r in run.records),
        seconds=last.seconds,
    )


def rate_label(rate: float) -> str:
    """A rate as a run name, e.g. ``3.16e-03``."""
    return f"{rate:.2e}"


def train_arm(prepared: PreparedSetup, arm: Arm, rate: float | None) -> RunOutcome:
    """Train ``arm`` for the setup's T epochs from w0 (the caller's global RNG is left as it was)."""
    with preserved_rng():
        torch.manual_seed(prepared.seed)
        run = train(arm, prepared.spec, prepared.seed)
    return outcome_of(run, rate)


def train_constant(prepared: PreparedSetup, rate: float) -> RunOutcome:
    """Adam (PyTorch defaults) at the constant ``rate`` for T epochs from w0."""
    arm = Arm(rate_label(rate), "constant", [rate] * prepared.setup.epochs)
    return train_arm(prepared, arm, rate)


def best_outcome(outcomes: Sequence[RunOutcome]) -> RunOutcome:
    """The lowest final loss; among losses equal within :data:`TIE_RTOL`, the lowest gradient norm.

    When every run diverged, the lowest rate is returned (its loss is +inf like the others).

    Raises:
        ValueError: no outcomes.
    """
    if not outcomes:
        raise ValueError("expected at least one run to choose from, found none")
    lowest = min(o.final_loss for o in outcomes)
    if not math.isfinite(lowest):
        return min(outcomes, key=lambda o: o.rate if o.rate is not None else math.inf)
    tied = [o for o in outcomes if o.final_loss <= lowest + TIE_RTOL * abs(lowest)]
    return min(tied, key=lambda o: (o.final_grad_norm, o.final_loss))


@dataclass(frozen=True)
class GridResult:
    """Every grid rate's run and the best of them (α*)."""

    runs: tuple[RunOutcome, ...]
    best: RunOutcome

    @property
    def best_rate(self) -> float:
        """α*, the best grid rate."""
        assert self.best.rate is not None  # grid runs are constant-rate runs
        return self.best.rate

    def to_dict(self) -> dict[str, Any]:
        return {"rates": [o.rate for o in self.runs], "best_rate": self.best_rate,
                "runs": [o.to_dict() for o in self.runs]}


class RateCache:
    """Constant-rate runs of one setup by rate, so a rule that lands on a trained rate reuses its run."""

    def __init__(self, prepared: PreparedSetup) -> None:
        self.prepared = prepared
        self._runs: dict[float, RunOutcome] = {}

    def run(self, rate: float) -> RunOutcome:
        """The run at ``rate``, trained on first request."""
        if rate not in self._runs:
            self._runs[rate] = train_constant(self.prepared, rate)
        return self._runs[rate]


def grid_search(cache: RateCache, rates: Sequence[float] = GRID_RATES) -> GridResult:
    """Train every rate of ``rates`` and pick α* (:func:`best_outcome`)."""
    runs = tuple(cache.run(rate) for rate in rates)
    return GridResult(runs, best_outcome(runs))
