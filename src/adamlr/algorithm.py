"""Algorithm 2 of the paper as a pure kernel: weight samples, ‖∇²L(w_j)‖₂ at each, K̂, α.

Nothing here reads or writes files, prints, caches or journals. :func:`run_samples`
takes the prepared problem, the settings, the samples already finished (e.g. from a
journal) and a sink that hears of each newly finished sample; :func:`build_result`
turns the numbers into a frozen :class:`~adamlr.result.EstimateResult`. The wrapper in
:mod:`adamlr.estimate` adds the cache, the journal, Ctrl-C and ``--strict``.

Algorithm 2 (sections 4.2–4.3): draw N weight vectors w_j ~ W, compute
K̂ = max_j ‖∇²L(w_j)‖₂ over the whole training set, and set
α = sqrt(2 (L(w0) − L*) / (K̂ T)).
"""

from __future__ import annotations

import math
import statistics
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import torch

from adamlr._version import __version__
from adamlr.choices import HvpMode
from adamlr.config import Settings
from adamlr.diagnose import Diagnostics
from adamlr.errors import NumericalError
from adamlr.formula import recommended_lr
from adamlr.hvp import HessianOperator
from adamlr.objective import Objective, Params
from adamlr.problem import Problem
from adamlr.progress import Progress
from adamlr.result import EstimateResult, SampleResult
from adamlr.sampling import reinitializer, sample_seed, sample_weights
from adamlr.solvers import EigenResult, spectral_norm

LARGE_LR = 1e-2  # above this, warn: 10× Adam's usual step, where our own runs went wrong

SampleSink = Callable[[SampleResult], None]


@dataclass(frozen=True)
class _Solve:
    """One spectral-norm solve on one data source, with the loss and gradient norm met on the way."""

    eigen: EigenResult
    loss: float
    gradient_norm: float


def _solve(objective: Objective, params: Params, settings: Settings, mode: HvpMode, seed: int,
           on_iteration: Callable[[int, float, float], None], ceiling: float | None = None) -> _Solve:
    """‖∇²L(w)‖₂ for one weight sample on one data source (all data, or one random batch)."""
    operator = HessianOperator(objective, params, mode)
    gen = torch.Generator().manual_seed(seed)
    first = next(iter(params.values()))
    start = torch.randn(operator.size, generator=gen, dtype=torch.float64).to(first.device, first.dtype)
    eigen = spectral_norm(operator.matvec, start, method=settings.method, tol=settings.tol,
                          max_iter=settings.max_iter, callback=on_iteration, ceiling=ceiling)
    operator.release()
    return _Solve(eigen, operator.loss, operator.gradient_norm)


def _check_finite(value: float, what: str, index: int, settings: Settings) -> None:
    if not math.isfinite(value):
        raise NumericalError(f"expected a finite {what} at weight sample {index}, found {value} "
                             f"(--weights {settings.weights} --scale {settings.scale})")


def _iteration_reporter(progress: Progress, index: int, offset: int) -> Callable[[int, float, float], None]:
    """Progress for one solve of sample ``index``, counting on from the ``offset`` products of its earlier batches."""

    def report(iteration: int, eigenvalue: float, residual: float) -> None:
        progress.iteration(index, offset + iteration, eigenvalue, residual)

    return report


def solve_sample(problem: Problem, settings: Settings, index: int, mode: HvpMode, progress: Progress,
                 ceiling: float | None = None) -> SampleResult:
    """Weight sample ``index``: its weights, its ‖H‖ (mean over random batches in mini-batch mode).

    The weights and start vectors depend only on ``(settings.seed, index)``, so a sample
    computed alone equals the same sample computed in a full run with the same ``ceiling``.

    Args:
        ceiling: the running K̂ of the samples before this one (None: none known, or early
            stops unwanted). With Lanczos on the full data, the solve stops early, ``bounded``,
            once at both ends of the spectrum the Ritz value plus ten times its residual is below
            it: the sample cannot raise K̂ (see :mod:`adamlr.stop_rules`). Ignored with more than one
            batch per sample, where ‖H‖ is a mean over batches.
    """
    started = time.perf_counter()
    progress.sample_started(index)
    params = sample_weights(
        settings.weights, problem.initial_params, scale=settings.scale, seed=sample_seed(settings.seed, index),
        make_model=reinitializer(problem.factory, problem.user_model) if settings.weights == "init" else None,
    )
    rounds = 1 if settings.batch_size is None else settings.batches_per_sample
    batch_gen = torch.Generator().manual_seed(sample_seed(settings.seed, index, stream=2))
    solves: list[_Solve] = []
    for r in range(rounds):
        objective = problem.objective
        if settings.batch_size is not None:
            objective = objective.on(objective.batches.random_batch(settings.batch_size, batch_gen))
        report = _iteration_reporter(progress, index, offset=sum(s.eigen.iterations for s in solves))
        solved = _solve(objective, params, settings, mode, sample_seed(settings.seed, index, stream=1) + r, report,
                        ceiling if rounds == 1 else None)
        _check_finite(solved.loss, "loss", index, settings)
        _check_finite(solved.eigen.spectral_norm, "Hessian spectral norm", index, settings)
        solves.append(solved)
    norms = tuple(s.eigen.spectral_norm for s in solves)
    return SampleResult(
        index=index, spectral_norm=statistics.fmean(norms), eigenvalue=solves[-1].eigen.eigenvalue,
        iterations=sum(s.eigen.iterations for s in solves), converged=all(s.eigen.converged for s in solves),
        residual=max(s.eigen.residual for s in solves), seconds=time.perf_counter() - started,
        loss=statistics.fmean(s.loss for s in solves), gradient_norm=statistics.fmean(s.gradient_norm for s in solves),
        history=solves[0].eigen.history, batch_norms=norms if settings.batch_size else (),
        bounded=solves[-1].eigen.bounded, upper_bound=solves[-1].eigen.upper_bound,
    )


def run_samples(problem: Problem, settings: Settings, mode: HvpMode, *, finished: Mapping[int, SampleResult],
                on_sample: SampleSink, progress: Progress, early_stop: bool = True) -> tuple[SampleResult, ...]:
    """Samples 0..N−1 of Algorithm 2, reusing ``finished`` ones; ``on_sample`` hears each new one first.

    ``on_sample`` is called before ``progress`` so that a journal can make a sample
    durable before anyone is told it exists. A KeyboardInterrupt propagates; the caller
    has heard of every sample finished before it. With ``early_stop``, sample j gets the
    largest ‖H‖ of samples 0..j−1 as its ``ceiling`` (:func:`solve_sample`): a sample that
    cannot raise K̂ stops early as ``bounded``, and K̂ is the one a run without early stops
    finds (a bounded sample never raises the running maximum, so every other solve is the same).
    """
    rounds = settings.batches_per_sample if settings.batch_size else 1
    progress.started(settings.samples, settings.max_iter * rounds)
    samples: list[SampleResult] = []
    for j in range(settings.samples):
        sample = finished.get(j)
        if sample is None:
            ceiling = max((s.spectral_norm for s in samples), default=None) if early_stop else None
            sample = solve_sample(problem, settings, j, mode, progress, ceiling=ceiling or None)
            on_sample(sample)
        samples.append(sample)
        progress.sample_finished(sample)
    return tuple(samples)


def k_hat_of(samples: tuple[SampleResult, ...]) -> float:
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


@dataclass(frozen=True)
class RunFacts:
    """What the wrapper measured around the kernel, for the report."""

    seconds: float
    peak_memory_bytes: int | None
    peak_memory_kind: str
    notes: tuple[str, ...] = ()


def recommended_rate(settings: Settings, initial_loss: float, samples: tuple[SampleResult, ...]) -> float:
    """α = sqrt(2 (L(w0) − L*) / (K̂ T)) from the samples (raises on K̂ ≤ 0, see :func:`k_hat_of`)."""
    horizon, _ = settings.horizon
    return recommended_lr(initial_loss, k_hat_of(samples), horizon, settings.loss_floor)


def build_result(problem: Problem, settings: Settings, initial_loss: float, samples: tuple[SampleResult, ...],
                 mode: HvpMode, facts: RunFacts, diagnostics: Diagnostics | None = None) -> EstimateResult:
    """The frozen result of an estimate: K̂, α, the evidence and the diagnostics; no side effects."""
    k_hat = k_hat_of(samples)
    horizon, unit = settings.horizon
    lr = recommended_lr(initial_loss, k_hat, horizon, settings.loss_floor)
    batches = problem.objective.batches
    found = diagnostics.to_dicts() if diagnostics else {}
    return EstimateResult(
        lr=lr, k_hat=k_hat, initial_loss=initial_loss, T=horizon, horizon_unit=unit, loss_floor=settings.loss_floor,
        samples=samples, settings=settings.to_dict(),
        model={"name": problem.model_name, "class": type(problem.user_model).__name__, "parameters": problem.n_params},
        data={"name": batches.description, "examples": batches.n_examples, "batches": batches.n_batches,
              "held_in_memory": batches.kept_in_memory, "loss": problem.objective.loss_name},
        device=str(problem.device), dtype=settings.dtype, hvp_mode=mode, seconds=facts.seconds,
        peak_memory_bytes=facts.peak_memory_bytes, peak_memory_kind=facts.peak_memory_kind,
        warnings=tuple(_warnings(problem, settings, samples, lr, facts.notes) + _diagnostic_warnings(diagnostics)),
        version=__version__, **found,
    )


def _diagnostic_warnings(diagnostics: Diagnostics | None) -> list[str]:
    if diagnostics is None:
        return []
    out = []
    probe, norm = diagnostics.probe, diagnostics.normalization
    if probe is not None and probe.verdict == "rises":
        losses = [loss if math.isfinite(loss) else math.inf for loss in probe.losses]
        worst = losses.index(max(losses))
        out.append(f"the probe ROSE: {probe.steps} Adam steps at α = {probe.lr:.3g} from w0 took the loss from "
                   f"{probe.initial_loss:.4g} to {losses[worst]:.4g} at step {worst + 1}; a run at α will likely "
                   f"blow up at the start (--rule probe_halving gives {diagnostics.halving.rate:.3g}, the first "
                   "halving of α whose probe descended; check a rate with `adamlr compare`)")
    if not norm.normalized:
        out.append(f"{norm.followed} of {norm.weight_tensors} weight tensors feed a normalisation layer: the paper's α "
                   "held up in our runs only where every layer, output included, was batch-normalised "
                   "(docs/results.md); read the probe before trusting α here")
    return out


def _warnings(problem: Problem, settings: Settings, samples: tuple[SampleResult, ...], lr: float,
              notes: tuple[str, ...]) -> list[str]:
    warnings = list(problem.warnings) + list(notes)
    stalled = [s.index for s in samples if not (s.converged or s.bounded)]
    if stalled:
        warnings.append(f"samples {stalled} did not reach tol {settings.tol} in {settings.max_iter} iterations: "
                        "their ‖H‖ may be underestimated (raise --max-iter)")
    if settings.batch_size is not None:
        warnings.append(_batch_note(samples, settings))
    if lr > LARGE_LR:
        warnings.append(
            f"α = {lr:.3g} is {lr / 1e-3:.0f}× Adam's usual 1e-3: on the MLP and LeNet runs in docs/results.md "
            "a step this large blew the loss up on the first epoch; try it with `adamlr compare` before a "
            "long run, and see how --scale moves K̂"
        )
    return warnings


def _batch_note(samples: tuple[SampleResult, ...], settings: Settings) -> str:
    """How much the mini-batch norms spread, and which way the bias goes."""
    spreads = [(max(s.batch_norms) - min(s.batch_norms)) / s.spectral_norm for s in samples if len(s.batch_norms) > 1]
    spread = f"; batch-to-batch spread up to {max(spreads):.1%} of a sample's mean" if spreads else ""
    return (f"mini-batch Algorithm 2 (batches of {settings.batch_size}, {settings.batches_per_sample} per sample): "
            f"each sample's ‖H‖ is the mean over its batches; a batch Hessian's norm is biased upward "
            f"(E‖H_B‖ ≥ ‖H‖), so small batches raise K̂ and lower α{spread}")
