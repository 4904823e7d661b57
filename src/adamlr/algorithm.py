"""Algorithm 2 of the paper as a pure kernel: weight samples, ‖∇²L(w_j)‖₂ at each, K̂.

Algorithm 2 (sections 4.2–4.3): draw N weight vectors w_j ~ W, compute
K̂ = max_j ‖∇²L(w_j)‖₂ over the training set; then α = sqrt(2 (L(w0) − L*) / (K̂ T)).

The kernel sizes the work to the answer (:class:`SolveSpec`):

* **the data**: with ``spec.subset == "auto"``, sample 0's ‖H‖ is solved on nested random
  subsets of 128, 256, … examples (:mod:`adamlr.subsets`), each solve warm-started from the
  last one's top Ritz vector, until two successive sizes agree within ``spec.accuracy / 2``, or
  until the next size would take the Hessian's work past ``spec.budget`` (:func:`work` counts it
  in example-gradients: a solve on m examples with p products is m·(1 + 2p)); every sample then
  uses that subset. A Hessian averaged over fewer examples tends to overestimate the top
  eigenvalue, so the growth measures the bias it stops at.
* **the samples**: with ``spec.adaptive``, the draw stops after at least :data:`MIN_SAMPLES` once
  every sample's ‖H‖ lies within ``spec.accuracy`` of their maximum (:func:`settled`): further
  draws from so tight a distribution cannot move K̂ by more than that. Past the budget the draw
  stops (``budget``) at two samples that agree so, or at :data:`MIN_SAMPLES` whatever their
  spread, which the result reports (K̂ may then be low by up to about that spread). A factory that
  returns fixed weights (``weights="init"`` giving sample 1 = sample 0) stops after one sample.
* **each solve**: Lanczos to ``spec.tol``; sample j > 0 stops early, ``bounded``, once it cannot
  raise the running K̂ (:mod:`adamlr.stop_rules`).

Nothing here reads or writes files, prints, caches, journals or composes messages; the
pipeline (:mod:`adamlr.pipeline`) adds those.
"""

from __future__ import annotations

import math
import statistics
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Literal

import numpy as np
import torch
from torch import nn

from adamlr.choices import HvpMode, Method, WeightDistribution
from adamlr.errors import NumericalError
from adamlr.hvp import HessianOperator
from adamlr.objective import Objective, Params
from adamlr.progress import Progress
from adamlr.samples import SampleResult
from adamlr.sampling import sample_seed, sample_weights
from adamlr.solvers import EigenResult, spectral_norm
from adamlr.subsets import Subsampler

MIN_SAMPLES = 3
START_EXAMPLES = 128
MAX_EXAMPLES = 16384
HESSIAN_EPOCHS = 0.5  # the default's Hessian budget: half an epoch of gradients over the data …
BUDGET_FLOOR_BYTES = 1e9  # … or as many example-gradients as move this many bytes of graph, if more (small problems)
WARM_NOISE = 0.1  # share of a random vector mixed into a warm start, so no direction is missed
SampleSink = Callable[[SampleResult], None]
SamplesStop = Literal["all drawn", "settled", "identical", "budget"]


@dataclass(frozen=True)
class SolveSpec:
    """How the kernel draws and solves the weight samples.

    Attributes:
        samples: N, the most weight samples to draw.
        adaptive: stop drawing once the samples settle (:func:`settled`); False: exactly N.
        accuracy: the relative accuracy K̂ is computed to (subset growth and the settling rule).
        subset: ``"auto"`` (grow a random subset, see the module docstring), ``"all"`` (the whole
            data), or a number of examples.
        max_examples: the largest subset ``"auto"`` grows to.
        weights, scale: the weight distribution and its scale (:mod:`adamlr.sampling`).
        method, tol, max_iter: the eigen-solver, its relative tolerance and most products per solve.
        seed: seeds the samples, the start vectors, the subsets and the random batches.
        batch_size, batches_per_sample: mini-batch Algorithm 2 (each sample's ‖H‖ the mean over
            random batches of this size); None: the (sub)set as the data gives it.
        hvp: how Hessian-vector products are computed.
        budget: the Hessian's work (example-gradients, :func:`work`) the subset growth and the adaptive
            draw may spend; None: no limit.
        early_stop: bounded early stops of samples that cannot raise K̂ (never with ``adaptive``:
            the settling rule reads every sample's converged ‖H‖, so that runs split across
            processes draw the same samples).
        cache_one_batch: a solve whose data is one batch caches its gradient graph even when ``hvp``
            is ``stream`` (:func:`hvp_mode_for`); set for the ``auto`` mode.
    """

    samples: int = 10
    adaptive: bool = False
    accuracy: float = 0.1
    subset: int | Literal["auto", "all"] = "all"
    max_examples: int = MAX_EXAMPLES
    weights: WeightDistribution = "gaussian"
    scale: float = 1.0
    method: Method = "lanczos"
    tol: float = 1e-3
    max_iter: int = 100
    seed: int = 0
    batch_size: int | None = None
    batches_per_sample: int = 1
    hvp: HvpMode = "cached"
    early_stop: bool = True
    budget: float | None = None
    cache_one_batch: bool = False


@dataclass(frozen=True)
class SamplesOutcome:
    """What :func:`run_samples` found besides the samples: the subset used, why the draw stopped, and the mode of
    the products on that subset (:func:`hvp_mode_for`; None: not known, e.g. an interrupted run)."""

    samples: tuple[SampleResult, ...]
    examples: int
    total_examples: int
    growth: tuple[tuple[int, float], ...]
    stop: SamplesStop
    hvp: HvpMode | None = None


def hvp_mode_for(objective: Objective, spec: SolveSpec) -> HvpMode:
    """How a solve on ``objective`` computes its products: ``spec.hvp``, but ``cached`` for data of one batch
    when ``spec.cache_one_batch``. Streaming one batch holds that batch's gradient graph as caching does, and
    rebuilds it for every product: caching it costs no more memory and saves the forward and first backward
    of each product (13–17 % of the samples' time on a ResNet-18's 128-example subset, docs/benchmarks.md)."""
    one_batch = spec.cache_one_batch and objective.batches.n_batches == 1
    return "cached" if one_batch else spec.hvp


def _solve(objective: Objective, params: Params, spec: SolveSpec, seed: int, on_iteration: Callable[..., None],
           ceiling: float | None = None, warm: torch.Tensor | None = None) -> tuple[EigenResult, float, float]:
    """‖∇²L(w)‖₂ on one data source; returns (eigen result with its Ritz vector, L(w), ‖∇L(w)‖)."""
    operator = HessianOperator(objective, params, hvp_mode_for(objective, spec))
    gen = torch.Generator().manual_seed(seed)
    first = next(iter(params.values()))
    start = torch.randn(operator.size, generator=gen, dtype=torch.float64).to(first.device, first.dtype)
    if warm is not None:
        start = warm / warm.norm() + WARM_NOISE * start / start.norm()
    try:
        eigen = spectral_norm(operator.matvec, start, method=spec.method, tol=spec.tol, max_iter=spec.max_iter,
                              callback=on_iteration, ceiling=ceiling, keep_vector=spec.method == "lanczos")
    except np.linalg.LinAlgError as exc:  # the eigen-solver met NaN or inf Hessian-vector products
        raise NumericalError(f"expected finite Hessian-vector products, found the eigen-solver failing on them "
                             f"({exc}); are the sampled weights too large for the model (scale {spec.scale})?"
                             ) from exc
    except NumericalError as exc:  # the solver refused a NaN or inf product
        raise NumericalError(f"{exc} (weights {spec.weights}, scale {spec.scale}); are the sampled weights too large "
                             "for the model, or does the loss turn NaN?") from exc
    finally:
        operator.release()
    for value, what in ((operator.loss, "loss"), (eigen.spectral_norm, "Hessian spectral norm")):
        if not math.isfinite(value):
            raise NumericalError(f"expected a finite {what} at a weight sample, found {value} "
                                 f"(weights {spec.weights}, scale {spec.scale})")
    return eigen, operator.loss, operator.gradient_norm


def weights_of(w0: Params, spec: SolveSpec, index: int, make_model: Callable[[], nn.Module] | None) -> Params:
    """Weight sample ``index``: it depends only on ``(spec.seed, index)``."""
    return sample_weights(spec.weights, w0, scale=spec.scale, seed=sample_seed(spec.seed, index),
                          make_model=make_model if spec.weights == "init" else None)


def solve_sample(objective: Objective, w0: Params, spec: SolveSpec, index: int, progress: Progress, *,
                 ceiling: float | None = None, make_model: Callable[[], nn.Module] | None = None,
                 warm: torch.Tensor | None = None, offset: int = 0) -> tuple[SampleResult, torch.Tensor | None]:
    """Weight sample ``index`` on ``objective`` (mean over random batches in mini-batch mode).

    Args:
        ceiling: the running K̂ of the samples before it; the solve stops ``bounded`` once it cannot
            raise it (ignored with several batches per sample, where ‖H‖ is a mean). None: never.
        warm: a start vector from an earlier solve of the same weights (subset growth).
        offset: products already spent on this sample (progress counts on from them).

    Returns:
        The sample and the top Ritz vector of its last solve (None for the power method).
    """
    started = time.perf_counter()
    params = weights_of(w0, spec, index, make_model)
    rounds = 1 if spec.batch_size is None else spec.batches_per_sample
    batch_gen = torch.Generator().manual_seed(sample_seed(spec.seed, index, stream=2))
    solves: list[tuple[EigenResult, float, float]] = []
    for r in range(rounds):
        target = objective if spec.batch_size is None else objective.on(
            objective.batches.random_batch(spec.batch_size, batch_gen))
        spent = offset + sum(s[0].iterations for s in solves)

        def report(iteration: int, theta: float, residual: float, spent: int = spent) -> None:
            progress.iteration(index, spent + iteration, theta, residual)

        solves.append(_solve(target, params, spec, sample_seed(spec.seed, index, stream=1) + r, report,
                             ceiling if rounds == 1 else None, warm if r == 0 else None))
    eigen = [s[0] for s in solves]
    norms = tuple(e.spectral_norm for e in eigen)
    sample = SampleResult(
        index=index, spectral_norm=statistics.fmean(norms), eigenvalue=eigen[-1].eigenvalue,
        iterations=sum(e.iterations for e in eigen), converged=all(e.converged for e in eigen),
        residual=max(e.residual for e in eigen), seconds=time.perf_counter() - started,
        loss=statistics.fmean(s[1] for s in solves), gradient_norm=statistics.fmean(s[2] for s in solves),
        history=eigen[0].history, batch_norms=norms if spec.batch_size else (), bounded=eigen[-1].bounded,
        upper_bound=eigen[-1].upper_bound, examples=objective.batches.n_examples,
    )
    return sample, eigen[-1].vector


def settled(norms: Sequence[float], accuracy: float, minimum: int = MIN_SAMPLES) -> bool:
    """The adaptive draw's stop: at least ``minimum`` samples, all within ``accuracy`` of their maximum.

    >>> settled([1.0, 0.97, 0.95], 0.1), settled([1.0, 0.5, 0.95], 0.1), settled([1.0, 1.0], 0.1)
    (True, False, False)
    """
    return len(norms) >= minimum and max(norms) - min(norms) <= accuracy * max(norms)


def subset_objective(objective: Objective, subsampler: Subsampler | None, m: int) -> Objective:
    if subsampler is None or subsampler.covers_all(m):
        return objective
    return objective.on(subsampler.subset(m))


def work(examples: int, products: int) -> int:
    """A solve's work in example-gradients: the gradient graph (one) and each product (two), over ``examples``."""
    return examples * (1 + 2 * products)


def hessian_budget(examples: int, graph_bytes_per_example: float) -> float:
    """The default's budget in example-gradients: :data:`HESSIAN_EPOCHS` of the data, or, if more, as many as keep
    :data:`BUDGET_FLOOR_BYTES` of gradient graph (a model's cost per example, deterministic, from the graph autograd
    saves: :func:`adamlr.hvp.graph_bytes_per_example`), so that a small problem gets the whole accuracy it can."""
    return max(HESSIAN_EPOCHS * examples, BUDGET_FLOOR_BYTES / max(graph_bytes_per_example, 1.0))


def first_sample(objective: Objective, w0: Params, spec: SolveSpec, subsampler: Subsampler | None,
                 progress: Progress, make_model: Callable[[], nn.Module] | None
                 ) -> tuple[SampleResult, Objective, tuple[tuple[int, float], ...]]:
    """Sample 0: on subsets grown until ‖H‖ settles or the budget ends (``subset="auto"``), or on the fixed one."""
    progress.sample_started(0)
    n = objective.batches.n_examples
    if spec.subset != "auto" or subsampler is None:
        m = n if spec.subset == "all" or subsampler is None else int(spec.subset)
        target = subset_objective(objective, subsampler, m)
        sample, _ = solve_sample(target, w0, spec, 0, progress, make_model=make_model)
        return sample, target, ()
    m, products, spent, warm, cold = START_EXAMPLES, 0, 0, None, 0
    growth: list[tuple[int, float]] = []
    while True:
        target = subset_objective(objective, subsampler, m)
        sample, warm = solve_sample(target, w0, spec, 0, progress, make_model=make_model, warm=warm, offset=products)
        products += sample.iterations
        spent += work(target.batches.n_examples, sample.iterations)
        cold = cold or sample.iterations
        growth.append((target.batches.n_examples, sample.spectral_norm))
        done = target is objective or m >= spec.max_examples
        settled = len(growth) > 1 and abs(growth[-1][1] - growth[-2][1]) <= spec.accuracy / 2 * growth[-1][1]
        if settled and growth[-1][1] > 0:  # 0 twice (a saturated softmax) is no sign of settling: grow on
            done = True
        projected = spent + work(2 * m, sample.iterations) + (MIN_SAMPLES - 1) * work(2 * m, cold)
        if done or (spec.budget is not None and projected > spec.budget):
            return replace(sample, iterations=products, growth=tuple(growth)), target, tuple(growth)
        m *= 2


def draw_stop(samples: Sequence[SampleResult], spec: SolveSpec) -> SamplesStop | None:
    """Whether the adaptive draw stops after ``samples`` (see the module docstring), and why; None: draw on.

    The work already spent is counted from the samples themselves (Σ m·(1 + 2p), sample 0's products
    over its growth counted at its final size), so a resumed run decides as an uninterrupted one.
    """
    norms = [s.spectral_norm for s in samples]
    if not spec.adaptive or len(samples) >= spec.samples:
        return None
    if settled(norms, spec.accuracy):
        return "settled"
    spent = sum(work(s.examples or 0, s.iterations) for s in samples)
    per_sample = work(samples[-1].examples or 0, samples[-1].iterations)
    over = spec.budget is not None and spent + per_sample > spec.budget
    enough = settled(norms, spec.accuracy, minimum=2) or len(samples) >= MIN_SAMPLES
    return "budget" if over and enough else None


def identical_to_first(w0: Params, spec: SolveSpec, make_model: Callable[[], nn.Module] | None) -> bool:
    """``weights="init"`` from a factory that loads fixed weights: sample 1 equals sample 0."""
    if spec.weights != "init":
        return False
    first, second = (weights_of(w0, spec, j, make_model) for j in (0, 1))
    return all(torch.equal(first[k], second[k]) for k in first)


def subsampler_for(objective: Objective, spec: SolveSpec) -> Subsampler | None:
    """The subsampler of an ``auto`` or numbered subset (None: the whole data, or mini-batch samples)."""
    if spec.subset == "all" or spec.batch_size is not None or objective.sharded:  # a shard: the whole data
        return None
    return Subsampler.of_run(objective.batches, spec.seed)


def run_samples(objective: Objective, w0: Params, spec: SolveSpec, *, finished: Mapping[int, SampleResult],
                on_sample: SampleSink, progress: Progress,
                make_model: Callable[[], nn.Module] | None = None) -> SamplesOutcome:
    """Samples 0..N−1 of Algorithm 2 (fewer when the draw settles), reusing ``finished`` ones.

    ``on_sample`` hears each new sample before ``progress`` does, so that a journal can make it
    durable before anyone is told it exists. A KeyboardInterrupt propagates; the caller has heard
    of every sample finished before it. A resumed run takes the subset size from its journaled
    sample 0, so its samples are the ones an uninterrupted run computes.
    """
    rounds = spec.batches_per_sample if spec.batch_size else 1
    progress.started(spec.samples, spec.max_iter * rounds)
    subsampler = subsampler_for(objective, spec)
    target: Objective = objective
    growth: tuple[tuple[int, float], ...] = ()
    samples: list[SampleResult] = []
    stop: SamplesStop = "all drawn"
    for j in range(spec.samples):
        sample = finished.get(j)
        if j == 0 and sample is not None and subsampler is not None:
            target, growth = subset_objective(objective, subsampler, sample.examples or 0), sample.growth
        elif j == 0:
            sample, target, growth = first_sample(objective, w0, spec, subsampler, progress, make_model)
            on_sample(sample)
        elif sample is None:
            progress.sample_started(j)
            ceiling = max(s.spectral_norm for s in samples) if spec.early_stop and not spec.adaptive else None
            sample, _ = solve_sample(target, w0, spec, j, progress, ceiling=ceiling or None, make_model=make_model)
            on_sample(sample)
        samples.append(sample)
        progress.sample_finished(sample)
        if j == 0 and spec.samples > 1 and identical_to_first(w0, spec, make_model):
            stop = "identical"
            break
        stopped = draw_stop(samples, spec)
        if stopped is not None:
            stop = stopped
            break
    return SamplesOutcome(tuple(samples), target.batches.n_examples, objective.batches.n_examples, growth, stop,
                          hvp_mode_for(target, spec))


def k_hat_of(samples: Sequence[SampleResult]) -> float:
    """K̂ = max_j ‖∇²L(w_j)‖₂.

    Raises:
        NumericalError: K̂ ≤ 0: the loss has no curvature at the sampled weights.
    """
    k_hat = max(s.spectral_norm for s in samples)
    if not k_hat > 0:
        raise NumericalError(
            f"expected a positive Hessian spectral norm, found max ‖H‖ = {k_hat} over {len(samples)} samples "
            "(the loss has no curvature at the sampled weights)"
        )
    return k_hat
