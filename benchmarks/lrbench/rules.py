"""Rules that pick a constant Adam rate before training, each from the setup's data at w0.

A rule is a function ``(prepared setup, rates of the rules before it) -> RuleRate``; the
registry :data:`RULES` runs them in order, so ``probe_halving`` can start from ``paper``.

* ``paper``: the paper's α = sqrt(2 L(w0) / (K̂ T)) from :func:`adamlr.estimate` at its
  defaults (Gaussian weight samples), T = the setup's epochs.
* ``paper_init``: the same with ``weights="init"`` (K̂ over re-initialisations).
* ``range_test``: the LR range test's suggestion (:func:`adamlr.comparison.range_test.lr_range_test`),
  on batches of the setup's training batch size (the full data for full-batch setups).
* ``stability``: Adam's stability limit at w0 (:func:`adamlr.diagnostics.stability.adam_stability`).
* ``probe_halving``: start at the paper's α and halve it until a 10-step full-batch Adam probe
  from w0 never raises the loss above L(w0) (:func:`adamlr.diagnostics.probing.probe`).

The learning-rate-free optimizers (:data:`LR_FREE`) set their own rate while training; they
are trained once each and scored by regret only.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from adamlr.choices import WeightDistribution
from adamlr.comparison.arms import OPTIONAL, Arm, installed
from adamlr.comparison.range_test import lr_range_test
from adamlr.errors import UsageError
from adamlr.estimation import estimate
from lrbench.setups import PreparedSetup


@dataclass(frozen=True)
class RuleRate:
    """A rule's rate for one setup, what it cost to compute, and what else it found.

    Attributes:
        rate: the constant Adam learning rate the rule recommends.
        seconds: wall time to compute it (no training).
        details: numbers worth reporting beside the rate (K̂, the stability limit, …).
    """

    rate: float
    seconds: float = 0.0
    details: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"rate": self.rate, "seconds": self.seconds, "details": dict(self.details)}


RuleFn = Callable[[PreparedSetup, Mapping[str, RuleRate]], RuleRate]


def _paper(prepared: PreparedSetup, weights: WeightDistribution) -> RuleRate:
    setup = prepared.setup
    result = estimate(setup.model, setup.data, epochs=setup.epochs, loss=setup.loss, weights=weights,
                      seed=prepared.seed, device=str(prepared.problem.device))
    return RuleRate(result.lr, result.seconds, {"k_hat": result.k_hat, "initial_loss": result.initial_loss,
                                                "weights": weights, "samples": len(result.samples)})


def paper_rule(prepared: PreparedSetup, earlier: Mapping[str, RuleRate]) -> RuleRate:
    """The paper's α at adamlr's defaults (Gaussian weight samples)."""
    return _paper(prepared, "gaussian")


def paper_init_rule(prepared: PreparedSetup, earlier: Mapping[str, RuleRate]) -> RuleRate:
    """The paper's α with K̂ over re-initialisations of the model (``--weights init``)."""
    return _paper(prepared, "init")


def range_test_rule(prepared: PreparedSetup, earlier: Mapping[str, RuleRate]) -> RuleRate:
    """The LR range test's steepest-descent suggestion, on batches of the training batch size."""
    spec = prepared.spec
    batch_size = prepared.setup.batch_size or prepared.n_examples
    started = time.perf_counter()
    rate = lr_range_test(spec.make_model, spec.initial_state, spec.train, spec.loss_fn, spec.device, spec.dtype,
                         batch_size=batch_size, seed=prepared.seed, loss_name=spec.loss_name)
    return RuleRate(rate, time.perf_counter() - started, {"batch_size": batch_size})


def stability_rule(prepared: PreparedSetup, earlier: Mapping[str, RuleRate]) -> RuleRate:
    """Adam's stability limit at w0, taken as a rate (the colleague's diagnostic, at its defaults)."""
    from adamlr.diagnostics.stability import adam_stability

    problem = prepared.problem
    started = time.perf_counter()
    result = adam_stability(problem.objective, problem.initial_params, seed=prepared.seed)
    return RuleRate(result.lr_limit, time.perf_counter() - started,
                    {"lr_limit": result.lr_limit, "sharpness": result.sharpness})


def probe_halving_rule(prepared: PreparedSetup, earlier: Mapping[str, RuleRate]) -> RuleRate:
    """Halve the paper's α until a 10-step full-batch probe from w0 descends (never above L(w0))."""
    from adamlr.diagnostics.probing import halve_until_descends

    problem = prepared.problem
    found = halve_until_descends(problem.objective, problem.initial_params, earlier["paper"].rate)
    details: dict[str, Any] = {"start": found.start, "halvings": found.halvings}
    if not found.descended:
        details["note"] = "never descended"
    return RuleRate(found.rate, found.seconds, details)


RULES: dict[str, RuleFn] = {
    "paper": paper_rule,
    "paper_init": paper_init_rule,
    "range_test": range_test_rule,
    "stability": stability_rule,
    "probe_halving": probe_halving_rule,
}


def check_rule_names(names: list[str] | None) -> None:
    """Raise :class:`UsageError` for a name that is not in :data:`RULES`."""
    unknown = sorted(set(names or ()) - set(RULES))
    if unknown:
        raise UsageError(f"expected rule names among {', '.join(RULES)}, found {', '.join(unknown)}")


def compute_rules(prepared: PreparedSetup, names: list[str] | None = None) -> dict[str, RuleRate]:
    """Every rule's rate for one setup, in registry order (``probe_halving`` needs ``paper``)."""
    chosen = set(RULES if names is None else names)
    if "probe_halving" in chosen:
        chosen.add("paper")
    rates: dict[str, RuleRate] = {}
    for name, rule in RULES.items():
        if name in chosen:
            rates[name] = rule(prepared, rates)
    return rates


def lr_free_arms() -> dict[str, Arm]:
    """The installed learning-rate-free optimizers as training arms (D-Adaptation, Prodigy, Schedule-Free)."""
    return {name: Arm(name, "optional", None, build) for name, (module, build) in OPTIONAL.items() if installed(module)}
