"""The recommendation benchmark end to end: grid, rules, baselines, training, scores, summaries.

1. Per setup: the grid of constant rates (α*), every rule's rate (computed before any training result
   is used), and one run of each learning-rate-free optimizer.
2. The best constant is fitted on the ``tune`` setups' grids only.
3. Every rule's rate is trained like a grid rate and scored against α*; summaries per rule over all
   setups and over each half.
"""

from __future__ import annotations

import math
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import adamlr
from lrbench.grid import GRID_RATES, GridResult, RunStore, grid_search
from lrbench.rules import CONSTANTS, LR_FREE, RANGE_TESTS, RuleRate, adamlr_rules
from lrbench.score import Score, Summary, fit_constant, good, regret, summarize, within
from lrbench.setups import Setup
from lrbench.training import Prepared, RunOutcome, prepare, train

Say = Callable[[str], None]
ADAMLR_RULES = ("search", "paper", "paper_exact", "probe_halving")


@dataclass
class Measured:
    """One setup: the grid, every rule's rate and run."""

    prepared: Prepared
    grid: GridResult
    rates: dict[str, RuleRate]
    runs: dict[str, RunOutcome]
    run_seconds: float
    seconds: float

    @property
    def setup(self) -> Setup:
        return self.prepared.setup

    def finals(self) -> dict[float, float]:
        return {o.rate: o.final_loss for o in self.grid.runs if o.rate is not None}


def measure(setup: Setup, store_dir: Path | None, say: Say, rules: Sequence[str] | None = None) -> Measured:
    """Phase 1 of one setup: the grid, the rules' rates, their runs and the learning-rate-free optimizers."""
    started = time.perf_counter()
    prepared = prepare(setup)
    store = RunStore(prepared, store_dir)
    say(f"{setup.name}: grid of {len(GRID_RATES)}+ rates × {prepared.steps} steps")
    grid = grid_search(store)
    say(f"{setup.name}: adamlr's rules")
    rates = adamlr_rules(prepared)
    for name, range_test in RANGE_TESTS.items():
        if rules is None or name in rules:
            say(f"{setup.name}: {name}")
            rates[name] = range_test(prepared)
    for c in CONSTANTS:
        rates[f"constant {c:g}"] = RuleRate(c)
    runs = {name: store.constant(r.rate) for name, r in rates.items() if math.isfinite(r.rate) and r.rate > 0}
    for name, make in LR_FREE.items():
        say(f"{setup.name}: {name}")
        try:
            factory = make()
        except ImportError:
            continue
        runs[name] = store.get(name, lambda name=name, factory=factory: train(prepared, name, factory))
    run_seconds = statistics.median(o.seconds for o in grid.runs)
    return Measured(prepared, grid, rates, runs, run_seconds, time.perf_counter() - started)


def _score(m: Measured, rule: str, rate: float | None, run: RunOutcome, cost_runs: float | None) -> Score:
    best = m.grid.best
    ratio = rate / m.grid.best_rate if rate else None
    return Score(rule, m.setup.name, rate, ratio, run.final_loss, regret(run.final_loss, best.final_loss),
                 good(run.final_loss, best.final_loss, m.prepared.initial_loss), within(ratio), cost_runs)


def score_setup(m: Measured, fitted: float, fitted_run: RunOutcome) -> list[Score]:
    """Every rule's score on one setup (cost in training runs: the rule's seconds ÷ one grid run's)."""
    scores = []
    for name, rate in m.rates.items():
        if name in m.runs:
            scores.append(_score(m, name, rate.rate, m.runs[name], rate.seconds / m.run_seconds))
    scores.append(_score(m, "best constant (tune)", fitted, fitted_run, 0.0))
    for name in LR_FREE:
        if name in m.runs:
            scores.append(_score(m, name, None, m.runs[name], 1.0))
    return scores


@dataclass(frozen=True)
class Benchmark:
    """The whole benchmark: per-setup measurements, scores, the fitted constant and summaries."""

    measured: tuple[Measured, ...]
    scores: tuple[Score, ...]
    fitted: float
    summaries: dict[str, tuple[Summary, ...]]
    rules: tuple[str, ...]
    seconds: float

    def summary(self, group: str, rule: str) -> Summary:
        return next(s for s in self.summaries[group] if s.rule == rule)

    def score(self, setup: str, rule: str) -> Score:
        return next(s for s in self.scores if s.setup == setup and s.rule == rule)

    def to_dict(self) -> dict[str, Any]:
        setups = []
        for m in self.measured:
            finals = {f"{r:.4g}": (x if math.isfinite(x) else None) for r, x in m.finals().items()}
            setups.append({"setup": vars(m.setup) | {"steps": m.prepared.steps},
                           "initial_loss": m.prepared.initial_loss,
                           "best_rate": m.grid.best_rate, "best_loss": m.grid.best.final_loss, "grid": finals,
                           "rates": {k: v.to_dict() for k, v in m.rates.items()}, "run_seconds": m.run_seconds,
                           "seconds": m.seconds})
        return {"schema_version": 2, "adamlr": adamlr.__version__, "fitted_constant": self.fitted,
                "rules": list(self.rules), "setups": setups, "scores": [s.to_dict() for s in self.scores],
                "summary": {g: [s.to_dict() for s in rows] for g, rows in self.summaries.items()},
                "seconds": self.seconds}


def run_benchmark(setups: Sequence[Setup], store_dir: Path | None = None, say: Say | None = None,
                  rules: Sequence[str] | None = None) -> Benchmark:
    """Measure every setup, fit the constant on the tune half, score and summarise."""
    started = time.perf_counter()
    tell = say or (lambda message: None)
    measured = tuple(measure(s, store_dir, tell, rules) for s in setups)
    tune = [(m.grid.best_rate, m.finals(), m.grid.best.final_loss, m.prepared.initial_loss)
            for m in measured if m.setup.split == "tune"]
    fitted = fit_constant(GRID_RATES, tune) if tune else 1e-3
    scores: list[Score] = []
    for m in measured:
        fitted_run = RunStore(m.prepared, store_dir).constant(fitted)
        scores += score_setup(m, fitted, fitted_run)
    order = list(dict.fromkeys(s.rule for s in scores))
    summaries: dict[str, tuple[Summary, ...]] = {}
    for group in ("holdout", "tune", "all"):
        members = {m.setup.name for m in measured if group == "all" or m.setup.split == group}
        if members:
            summaries[group] = tuple(summarize(rule, [s for s in scores if s.rule == rule and s.setup in members])
                                     for rule in order)
    return Benchmark(measured, tuple(scores), fitted, summaries, tuple(order), time.perf_counter() - started)
