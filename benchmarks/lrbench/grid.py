"""The grid search for the best constant Adam rate α*: a quarter-decade grid, widened where α* is at an edge.

The grid holds the 21 rates 10^(−5 + k/4), k = 0 … 20 (1e-5 … 1). When the best rate is the
grid's largest (smallest), rates a quarter decade further up (down) are added until it is not,
up to 1e3 (down to 1e-8). α* is the rate with the lowest final full-data training loss; among
losses equal within :data:`TIE_RTOL`, the lower rate (the safer one).

Runs are stored per setup (:class:`RunStore`), keyed by the setup's definition, so a rerun that
changes only a rule reuses the grid.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lrbench.training import Prepared, RunOutcome, adam, rate_label, train

GRID_RATES: tuple[float, ...] = tuple(10.0 ** (-5 + k / 4) for k in range(21))
WIDEST = (1e-8, 1e3)
TIE_RTOL = 1e-6


def best_outcome(outcomes: Sequence[RunOutcome]) -> RunOutcome:
    """The lowest final loss; among losses equal within :data:`TIE_RTOL`, the lowest rate.

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
    return min(tied, key=lambda o: o.rate if o.rate is not None else math.inf)


class RunStore:
    """Constant-rate and optimizer runs of one setup, trained on first request and kept in a JSON file."""

    def __init__(self, prepared: Prepared, directory: Path | None) -> None:
        self.prepared = prepared
        setup = prepared.setup
        self.path = directory / f"{setup.name}-{setup.digest()}-seed{prepared.seed}.json" if directory else None
        self.runs: dict[str, RunOutcome] = {}
        if self.path is not None and self.path.is_file():
            self.runs = {k: RunOutcome.from_dict(v) for k, v in json.loads(self.path.read_text()).items()}

    def _save(self) -> None:
        if self.path is not None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            tmp = self.path.with_suffix(".tmp")
            tmp.write_text(json.dumps({k: v.to_dict() for k, v in self.runs.items()}))
            tmp.replace(self.path)

    def constant(self, rate: float) -> RunOutcome:
        """Adam at the constant ``rate`` for T steps."""
        return self.get(rate_label(rate), lambda: train(self.prepared, rate_label(rate), adam(rate), rate))

    def get(self, name: str, run: Any) -> RunOutcome:
        """The run stored as ``name``, or ``run()`` trained now and stored."""
        if name not in self.runs:
            self.runs[name] = run()
            self._save()
        return self.runs[name]


@dataclass(frozen=True)
class GridResult:
    """Every grid rate's run and the best of them (α*)."""

    runs: tuple[RunOutcome, ...]
    best: RunOutcome

    @property
    def best_rate(self) -> float:
        assert self.best.rate is not None
        return self.best.rate

    def to_dict(self) -> dict[str, Any]:
        return {"rates": [o.rate for o in self.runs], "best_rate": self.best_rate,
                "final_losses": [o.final_loss if math.isfinite(o.final_loss) else None for o in self.runs]}


def grid_search(store: RunStore, rates: Sequence[float] = GRID_RATES) -> GridResult:
    """Train every rate of ``rates``, widening the grid while α* sits at an edge (:data:`WIDEST` at most)."""
    grid = sorted(rates)
    runs = {r: store.constant(r) for r in grid}
    while True:
        best = best_outcome(list(runs.values()))
        assert best.rate is not None
        step = 10.0 ** 0.25
        if best.rate == max(runs) and best.rate * step <= WIDEST[1] * 1.0001 and math.isfinite(best.final_loss):
            new = best.rate * step
        elif best.rate == min(runs) and best.rate / step >= WIDEST[0] * 0.9999 and math.isfinite(best.final_loss):
            new = best.rate / step
        else:
            ordered = tuple(runs[r] for r in sorted(runs))
            return GridResult(ordered, best)
        runs[new] = store.constant(new)
