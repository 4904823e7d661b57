"""How good is a recommended rate? A benchmark against the best constant Adam rate of a grid search.

>>> from lrbench import run_benchmark, select_setups
>>> result = run_benchmark(select_setups(["lsq"], epochs=20))  # doctest: +SKIP
>>> result.summary("all", "paper").within_3x  # doctest: +SKIP
"""

from lrbench.fitted import FittedRule
from lrbench.grid import GRID_RATES, GridResult, RunOutcome, best_outcome, grid_search
from lrbench.result import BenchmarkResult, SetupResult
from lrbench.rules import RULES, RuleRate, compute_rules
from lrbench.run import run_benchmark
from lrbench.score import RuleScore, RuleSummary, regret, summarize
from lrbench.setups import (
    QUICK_EPOCHS,
    QUICK_SETUPS,
    SETUPS,
    PreparedSetup,
    Setup,
    prepare_setup,
    select_setups,
)

__all__ = [
    "GRID_RATES", "QUICK_EPOCHS", "QUICK_SETUPS", "RULES", "SETUPS", "BenchmarkResult", "FittedRule", "GridResult",
    "PreparedSetup", "RuleRate", "RuleScore", "RuleSummary", "RunOutcome", "Setup", "SetupResult", "best_outcome",
    "compute_rules", "grid_search", "prepare_setup", "regret", "run_benchmark", "select_setups", "summarize",
]
