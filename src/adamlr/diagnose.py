"""The diagnostics of an estimate, after K̂: the rule's probes, the probe at the recommended rate, and more on request.

* **rules**: the paper's α always; ``search`` (the default: the best rate of short probes on the
  user's batches, searched from α) or ``probe_halving`` when ``--rule`` picks them. Only the
  chosen rule runs its probes.
* **probe**: k Adam steps at the recommended rate from w0 on the user's batches; its verdict
  (``descends``, ``transient``, ``rises``) is what ``--strict`` judges.
* **stability**: Adam's stability limit at w0 (Cohen et al. 2022), only with ``stability`` (it is
  information, not a verdict, and costs a full eigen-solve).
* **normalized**: the share of weight tensors followed by a normalisation layer (free).

Probes step on the user's own batches at their batch size, as training does: a DataLoader's first
k batches, k random batches of ``--batch-size``, or the whole data (tensors or a Dataset without
``--batch-size``, and every probe with ``--exact``).
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterator
from dataclasses import dataclass, field

import torch

from adamlr.batch import Batch
from adamlr.choices import HvpMode
from adamlr.config import Settings
from adamlr.diagnostics import (
    HalvingResult,
    NormalizationInfo,
    ProbeResult,
    SearchResult,
    StabilityResult,
    adam_stability,
    halve_until_descends,
    normalization_share,
    probe,
    search_rate,
)
from adamlr.diagnostics.halving import HALVING_STEPS
from adamlr.diagnostics.search import PROBE_STEPS
from adamlr.initial import InitialLoss
from adamlr.problem import Problem
from adamlr.progress import Progress
from adamlr.sampling import sample_seed

WARMUP_STEPS = 10
WARMUP_LR = 1e-7
VERDICT_STEPS = 10
PROBE_STREAM = 3  # sample_seed streams: 0 weights, 1 start vectors, 2 batches, 3 the diagnostics (4: subsets)


@dataclass(frozen=True)
class Diagnostics:
    """What the rules and the diagnostics found, and what they cost."""

    rules: dict[str, float]
    probe: ProbeResult | None
    search: SearchResult | None
    halving: HalvingResult | None
    stability: StabilityResult | None
    normalization: NormalizationInfo
    seconds: dict[str, float] = field(default_factory=dict)
    probe_steps: int = 0
    step_seconds: float | None = None


def _full_batch(problem: Problem) -> bool:
    """Training takes the whole data as one batch: one batch, or one batch's rows split across processes."""
    rows_split = problem.objective.sharded and problem.whole_data is None
    return rows_split or problem.objective.batches.n_batches == 1


def steps_per_epoch(problem: Problem, settings: Settings) -> int:
    """Adam steps in one epoch of training: ⌈n / batch size⌉, the loader's batches, or 1 (full batch)."""
    batches = problem.objective.batches
    if settings.batch_size:
        return math.ceil(batches.n_examples / settings.batch_size)
    return 1 if _full_batch(problem) else batches.n_batches


def horizon_steps(problem: Problem, settings: Settings) -> int:
    """T in Adam steps (``--epochs`` times the steps of an epoch, or ``--steps``)."""
    horizon, unit = settings.horizon
    return horizon * steps_per_epoch(problem, settings) if unit == "epochs" else horizon


def probe_batches(problem: Problem, settings: Settings, steps: int) -> list[Batch] | None:
    """The batches a probe of ``steps`` steps takes, as training would (module docstring); None: full batch."""
    batches = problem.objective.batches
    if settings.exact or (not settings.batch_size and _full_batch(problem)):
        return None
    if settings.batch_size:
        generator = torch.Generator().manual_seed(sample_seed(settings.seed, 0, stream=PROBE_STREAM))
        return [next(iter(batches.random_batch(settings.batch_size, generator))) for _ in range(steps)]
    taken: list[Batch] = []
    while len(taken) < steps:  # a loader of fewer batches than steps: the next epoch's, in the same order
        for batch in _unsharded(problem) if problem.whole_data is not None else batches:
            taken.append(batch)
            if len(taken) == steps:
                break
    return taken


def _unsharded(problem: Problem) -> Iterator[Batch]:
    """The user's own batches in order (every rank alike under torchrun), converted as the problem's data."""
    batches = problem.objective.batches
    data = problem.whole_data
    raw = data() if callable(data) and not hasattr(data, "__iter__") else data
    for index, item in enumerate(raw):
        batch = batches.make_batch(item, index)
        if batch.size:
            yield batch


def diagnose(problem: Problem, settings: Settings, alpha: float, initial: InitialLoss, mode: HvpMode,
             progress: Progress) -> Diagnostics:
    """Run the chosen rule's probes, the probe at its rate, the stability limit if asked, the normalisation check.

    Args:
        problem: the prepared problem.
        settings: ``rule``, ``probe_steps`` (0: no probe at all; None: the rule's own), ``stability``, …
        alpha: the paper's α.
        initial: L(w0) and the examples the probes are judged on.
        mode: how Hessian-vector products are computed (the stability solve).
        progress: told which stage runs.
    """
    seconds: dict[str, float] = {}
    rules: dict[str, float] = {"paper": alpha}
    search = halving = verdict_probe = stability = None
    probes: list[ProbeResult] = []
    horizon = horizon_steps(problem, settings)

    whole_initial = initial.value if initial.examples == initial.total else None  # full-batch probes: L(w0) itself

    taken: dict[int, list[Batch] | None] = {}  # every probe of k steps takes the same first k batches: drawn once

    def run_probe(rate: float, steps: int) -> ProbeResult:
        progress.stage(f"probe: {steps} Adam steps at {rate:.3g}")
        if steps not in taken:
            taken[steps] = probe_batches(problem, settings, steps)
        batches = taken[steps]
        found = probe(problem.objective, problem.initial_params, rate, steps=steps, batches=batches,
                      evaluation=initial.evaluation if batches is not None else None,
                      initial_loss=initial.evaluation_loss if batches is not None else whole_initial)
        probes.append(found)
        return found

    started = time.perf_counter()
    if settings.probe_steps != 0 and settings.rule == "search":
        k = min(settings.probe_steps or PROBE_STEPS, horizon)
        search = search_rate(lambda rate: run_probe(rate, k), alpha, steps=k, horizon=horizon)
        rules["search"] = search.rate
    elif settings.probe_steps != 0 and settings.rule == "probe_halving":
        k = settings.probe_steps or HALVING_STEPS
        halving = halve_until_descends(lambda rate: run_probe(rate, k), alpha)
        rules["probe_halving"] = halving.rate
    seconds["rule"] = time.perf_counter() - started
    if settings.probe_steps != 0:
        started = time.perf_counter()
        rate = rules.get(settings.rule, alpha)
        steps = min(settings.probe_steps or VERDICT_STEPS, horizon)
        earlier = next((p for p in probes if math.isclose(p.lr, rate, rel_tol=1e-9) and p.steps == steps), None)
        verdict_probe = earlier or run_probe(rate, steps)
        seconds["probe"] = time.perf_counter() - started
    if settings.stability:
        progress.stage("Adam's stability limit at w0")
        started = time.perf_counter()
        stability = adam_stability(problem.objective, problem.initial_params, rules.get(settings.rule, alpha),
                                   warmup_steps=WARMUP_STEPS, warmup_lr=WARMUP_LR, tol=settings.solver_tol,
                                   max_iter=settings.max_iter, seed=sample_seed(settings.seed, 1, stream=PROBE_STREAM),
                                   mode=mode)
        seconds["stability"] = time.perf_counter() - started
    total_steps = sum(p.steps for p in probes)
    step_seconds = sum(p.step_seconds * p.steps for p in probes) / total_steps if total_steps else None
    return Diagnostics(rules, verdict_probe, search, halving, stability, normalization_share(problem.objective.module),
                       seconds, total_steps, step_seconds)
