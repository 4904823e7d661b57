"""The recommendation benchmark end to end: grid, rules, fitted rules, training, scores.

1. Per setup: the grid of constant rates (α*), every rule's rate (computed before any
   training result is used), and one run of each learning-rate-free optimizer.
2. The fitted rules take their constants from the ``tune`` setups' α* and rates.
3. Every rule's rate is trained like a grid rate and scored against α*; summaries per rule
   over all setups and over each half.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from adamlr.rng import preserved_rng
from lrbench.fitted import FittedRule, TuneRow, fit_rules
from lrbench.grid import GRID_RATES, GridResult, RateCache, RunOutcome, grid_search, train_arm
from lrbench.result import BenchmarkResult, SetupResult
from lrbench.rules import RuleRate, check_rule_names, compute_rules, lr_free_arms
from lrbench.score import RuleScore, RuleSummary, score, summarize
from lrbench.setups import PreparedSetup, Setup, prepare_setup

ProgressFn = Callable[[str], None]


@dataclass
class _Measured:
    """Phase 1 of one setup: everything but the fitted rules and the rules' training runs."""

    prepared: PreparedSetup
    cache: RateCache
    grid: GridResult
    rates: dict[str, RuleRate]
    lr_free: dict[str, RunOutcome]
    seconds: float


def _quiet(message: str) -> None:
    """The default progress receiver: ignores every message."""


def _measure(setup: Setup, rules: list[str] | None, lr_free: bool, seed: int, device: str,
             progress: ProgressFn) -> _Measured:
    started = time.perf_counter()
    prepared = prepare_setup(setup, seed=seed, device=device)
    cache = RateCache(prepared)
    progress(f"{setup.name}: rules")
    rates = compute_rules(prepared, rules)
    progress(f"{setup.name}: grid of {len(GRID_RATES)} rates × {setup.epochs} epochs")
    grid = grid_search(cache)
    arms = lr_free_arms() if lr_free else {}
    progress(f"{setup.name}: learning-rate-free optimizers ({', '.join(arms) or 'none'})")
    free = {name: train_arm(prepared, arm, None) for name, arm in arms.items()}
    return _Measured(prepared, cache, grid, rates, free, time.perf_counter() - started)


def _tune_rows(measured: Sequence[_Measured]) -> list[TuneRow]:
    return [TuneRow(m.prepared.setup.name, m.grid.best_rate, m.rates["paper"].rate, m.rates["stability"].rate)
            for m in measured
            if m.prepared.setup.split == "tune" and {"paper", "stability"} <= set(m.rates)]


def _with_fitted(m: _Measured, fitted: Sequence[FittedRule]) -> dict[str, RuleRate]:
    rates = dict(m.rates)
    for rule in fitted:
        rates[rule.name] = RuleRate(rule.rate(m.rates), details={"constant": rule.constant})
    return rates


def _score_setup(m: _Measured, fitted: Sequence[FittedRule], progress: ProgressFn) -> SetupResult:
    started = time.perf_counter()
    name, best = m.prepared.setup.name, m.grid.best
    rates = _with_fitted(m, fitted)
    progress(f"{name}: training the rules' rates")
    runs = {rule: m.cache.run(r.rate) for rule, r in rates.items()}
    runs.update(m.lr_free)
    scores: list[RuleScore] = []
    for rule, run in runs.items():
        given = rates.get(rule)
        scores.append(score(rule, name, given.rate if given else None, run.final_loss, m.grid.best_rate,
                            best.final_loss, given.seconds if given else 0.0, given.details if given else {}))
    return SetupResult(m.prepared.setup, m.grid, rates, runs, tuple(scores),
                       m.seconds + time.perf_counter() - started)


def _summaries(results: Sequence[SetupResult], rules: Sequence[str]) -> dict[str, tuple[RuleSummary, ...]]:
    out: dict[str, tuple[RuleSummary, ...]] = {}
    for group in ("all", "tune", "holdout"):
        members = [r for r in results if group == "all" or r.setup.split == group]
        if members:
            out[group] = tuple(summarize(rule, [r.score_of(rule) for r in members]) for rule in rules)
    return out


def run_benchmark(setups: Sequence[Setup], *, rules: list[str] | None = None, lr_free: bool = True, seed: int = 0,
                  device: str = "cpu", progress: ProgressFn | None = None) -> BenchmarkResult:
    """Run the benchmark on ``setups`` (the caller's global RNG is left as it was).

    Args:
        setups: the problems (see :mod:`lrbench.setups`).
        rules: names of :data:`~lrbench.rules.RULES` to compute (all when None).
        lr_free: also train the installed learning-rate-free optimizers.
        seed: seed of w0, of the rules and of mini-batch order.
        device: where to train.
        progress: receives one line per stage.
    """
    check_rule_names(rules)
    say = progress or _quiet
    started = time.perf_counter()
    with preserved_rng():
        measured = [_measure(s, rules, lr_free, seed, device, say) for s in setups]
        fitted = fit_rules(_tune_rows(measured))
        results = [_score_setup(m, fitted, say) for m in measured]
    order = [s.rule for s in results[0].scores] if results else []
    settings = {"seed": seed, "device": device, "grid": list(GRID_RATES), "lr_free": lr_free,
                "rules": rules, "setups": [s.name for s in setups]}
    return BenchmarkResult(tuple(results), fitted, _summaries(results, order), tuple(order), settings,
                           time.perf_counter() - started)
