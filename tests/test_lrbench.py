"""The recommendation benchmark's harness (benchmarks/lrbench): the declared suite, scoring, the fitted constant and
the grid's widening."""

import math

import pytest

from lrbench.grid import GRID_RATES, best_outcome, grid_search
from lrbench.score import fit_constant, good, regret, within
from lrbench.setups import SETUPS, select_setups
from lrbench.training import RunOutcome


def test_the_suite_is_declared_split_and_spans_the_dimensions():
    halves = {s.split for s in SETUPS}
    assert halves == {"tune", "holdout"} and len(SETUPS) >= 20
    assert abs(sum(s.split == "tune" for s in SETUPS) - sum(s.split == "holdout" for s in SETUPS)) <= 2
    dims = {s.dimension for s in SETUPS}
    assert {"scale", "horizon", "batching", "starting point", "depth", "normalisation", "convex"} <= dims
    with pytest.raises(ValueError, match="setup names"):
        select_setups(["nope"])


def test_good_is_a_loss_ratio_or_near_zero():
    assert good(1.5, 1.0, 2.3) and not good(1.51, 1.0, 2.3)
    assert good(2e-4, 1e-9, 2.3) and not good(3e-4, 1e-9, 2.3)  # 1e-4 × L(w0) = 2.3e-4
    assert not good(math.inf, 1.0, 2.3) and regret(math.inf, 1.0) == math.inf and within(1 / 3)


def _outcome(rate, loss):
    return RunOutcome(f"{rate:.2e}", rate, loss, not math.isfinite(loss), (), 0.0)


def test_best_outcome_prefers_the_lower_rate_on_a_tie_and_the_fitted_constant_the_most_good():
    assert best_outcome([_outcome(0.1, 1.0), _outcome(0.01, 1.0), _outcome(1.0, math.inf)]).rate == 0.01
    rates = (0.001, 0.01, 0.1)
    tune = [(0.01, {0.001: 2.0, 0.01: 1.0, 0.1: 1.6}, 1.0, 3.0), (0.1, {0.001: 5.0, 0.01: 1.4, 0.1: 1.0}, 1.0, 3.0)]
    assert fit_constant(rates, tune) == 0.01  # good on both (1.0 and 1.4 ≤ 1.5); 0.1 only on the second


class FakeStore:
    """Final loss a parabola in log10(rate) around 300 (above the grid's top): the grid must widen upward."""

    def __init__(self):
        self.trained = []

    def constant(self, rate):
        self.trained.append(rate)
        return _outcome(rate, 1 + (math.log10(rate) - math.log10(300.0)) ** 2)


def test_the_grid_widens_until_the_best_rate_is_inside():
    store = FakeStore()
    grid = grid_search(store)
    assert len(grid.runs) > len(GRID_RATES) and abs(math.log10(grid.best_rate / 300)) <= 0.125 + 1e-9
    assert max(r.rate for r in grid.runs) > grid.best_rate  # one rate above α*: it is interior
