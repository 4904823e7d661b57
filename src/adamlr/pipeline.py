"""The one pipeline of an estimate: prepare → lookup → compute → diagnose → finish.

:func:`adamlr.estimate` runs these stages in one process (:func:`estimate_here`); under torchrun
:mod:`adamlr.parallel` runs the same stages on every rank. The kernel (:mod:`adamlr.algorithm`)
does the numerics; the stages add the cache, the journal, Ctrl-C, the diagnostics, the report's
facts and ``--strict``.
"""

from __future__ import annotations

import dataclasses
import resource
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import torch

from adamlr._version import __version__
from adamlr.algorithm import MAX_EXAMPLES, SamplesOutcome, SolveSpec, hessian_budget, k_hat_of, run_samples
from adamlr.cache import Cache, problem_key
from adamlr.choices import HvpMode
from adamlr.config import Settings
from adamlr.diagnose import Diagnostics, diagnose, steps_per_epoch
from adamlr.errors import Interrupted, NotConvergedError, NumericalError, ProbeRoseError
from adamlr.formula import recommended_lr
from adamlr.hvp import choose_mode, graph_bytes_per_example
from adamlr.initial import InitialLoss, measure_initial_loss
from adamlr.notes import compose_warnings
from adamlr.problem import Problem, Shard, prepare
from adamlr.progress import Progress
from adamlr.result import Accuracy, Cost, EstimateResult
from adamlr.rng import preserved_rng
from adamlr.samples import SampleResult, sample_from_dict
from adamlr.sampling import reinitializer


@dataclass
class Run:
    """One estimate in flight: its settings, the prepared problem, and the time each stage took."""

    settings: Settings
    problem: Problem
    started: float
    seconds: dict[str, float] = field(default_factory=dict)

    def timed(self, stage: str, started: float) -> None:
        self.seconds[stage] = self.seconds.get(stage, 0.0) + time.perf_counter() - started


def prepare_run(model: Any, data: Any, settings: Settings, *, device: str | None = None,
                shard: Shard | None = None) -> Run:
    """Stage 1: build the model under the seed, the data as batches, the loss (call inside ``preserved_rng``)."""
    started = time.perf_counter()
    problem = prepare(model, data, settings.loss, device=device or settings.device, dtype=settings.dtype,
                      seed=settings.seed, chunk_size=settings.chunk_size, norm_mode=settings.norm_mode,
                      inputs=settings.inputs, targets=settings.targets, output=settings.output, shard=shard)
    run = Run(settings, problem, started)
    run.timed("prepare", started)
    return run


@dataclass(frozen=True)
class Found:
    """What the cache held for a run: its key, a stored result, notes on damage, journaled samples."""

    key: str | None = None
    hit: EstimateResult | None = None
    notes: tuple[str, ...] = ()
    finished: dict[int, SampleResult] = field(default_factory=dict)


def lookup(run: Run, cache: Cache | None, key_of: Callable[[], str] | None = None) -> Found:
    """Stage 2: the cache key (``key_of``, else the run's problem key), a stored result or the journaled samples."""
    if cache is None:
        return Found()
    started = time.perf_counter()
    key = key_of() if key_of is not None else problem_key(run.problem, run.settings)
    hit, notes = cache.load(key, EstimateResult.from_dict)
    journaled, journal_notes = ([], []) if hit is not None else cache.journal(key)
    run.timed("cache", started)
    return Found(key, hit, tuple(notes + journal_notes), {d["index"]: sample_from_dict(d) for d in journaled})


def from_cache(run: Run, found: Found, cache: Cache) -> EstimateResult:
    """A stored result, under this run's names (model, data), with the lookup's facts."""
    assert found.hit is not None and found.key is not None
    stored = found.hit
    names = _names(run.problem)
    info = {"hit": True, "key": found.key, "path": str(cache.result_path(found.key)),
            "lookup_seconds": time.perf_counter() - run.started, "computed_seconds": stored.seconds}
    return dataclasses.replace(stored, cache=info, warnings=stored.warnings + found.notes,
                               model={**stored.model, **names["model"]}, data={**stored.data, **names["data"]})


def solve_spec(settings: Settings, start: Start, problem: Problem) -> SolveSpec:
    """The kernel's spec from the settings: the default's budget (:func:`~adamlr.algorithm.hessian_budget`), the
    whole data when the data is sharded across processes, the paper's procedure with ``exact``."""
    objective = problem.objective
    sized = settings.data_subset == "auto" and settings.samples is None
    return SolveSpec(
        samples=settings.sample_count, adaptive=settings.samples is None and not settings.exact,
        subset="all" if objective.sharded else settings.data_subset, weights=settings.weights, scale=settings.scale,
        method=settings.method, tol=settings.solver_tol, max_iter=settings.max_iter, seed=settings.seed,
        batch_size=settings.batch_size, batches_per_sample=settings.batches_per_sample, hvp=start.mode,
        budget=hessian_budget(objective.batches.n_examples, start.graph_bytes) if sized else None,
        cache_one_batch=settings.hvp == "auto",
    )


@dataclass(frozen=True)
class Start:
    """What the samples start from: L(w0), the Hessian-vector product mode, the graph bytes of one example."""

    initial: InitialLoss
    mode: HvpMode
    graph_bytes: float


def begin(run: Run, progress: Progress) -> Start:
    """Stage 3a: L(w0) (a constant cross-entropy refused) and the HVP mode; the peak-memory count reset.

    Raises:
        NumericalError: a non-finite L(w0), or cross-entropy over one output.
    """
    started = time.perf_counter()
    problem, settings = run.problem, run.settings
    if problem.device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(problem.device)
    progress.stage("L(w0)")
    initial = measure_initial_loss(problem.objective, problem.initial_params, subset_seed=settings.seed,
                                   whole=settings.data_subset == "all")
    if initial.value == 0.0:
        _refuse_constant_cross_entropy(problem)
    examples = None if settings.data_subset == "all" else MAX_EXAMPLES
    per_example = graph_bytes_per_example(problem.objective, problem.initial_params)
    mode: HvpMode = "cached" if settings.batch_size else choose_mode(settings.hvp, problem.objective, per_example,
                                                                     examples)
    run.timed("initial_loss", started)
    return Start(initial, mode, per_example)


def compute(run: Run, start: Start, found: Found, progress: Progress,
            on_sample: Callable[[SampleResult], None]) -> SamplesOutcome:
    """Stage 3b: the weight samples (the kernel), journaled through ``on_sample``."""
    started = time.perf_counter()
    problem = run.problem
    spec = solve_spec(run.settings, start, problem)
    make_model = reinitializer(problem.factory, problem.user_model) if spec.weights == "init" else None
    try:
        return run_samples(problem.objective, problem.initial_params, spec, finished=found.finished,
                           on_sample=on_sample, progress=progress, make_model=make_model)
    finally:
        run.timed("samples", started)


def alpha_of(run: Run, start: Start, samples: tuple[SampleResult, ...]) -> float:
    """The paper's α = sqrt(2 (L(w0) − L*) / (K̂ T)) (raises on K̂ ≤ 0)."""
    horizon, _ = run.settings.horizon
    return recommended_lr(start.initial.value, k_hat_of(samples), horizon, run.settings.loss_floor)


def diagnostics_of(run: Run, start: Start, outcome: SamplesOutcome, progress: Progress) -> Diagnostics:
    """Stage 4: the rule, the probe, and what else the settings ask for (:mod:`adamlr.diagnose`)."""
    started = time.perf_counter()
    found = diagnose(run.problem, run.settings, alpha_of(run, start, outcome.samples), start.initial, start.mode,
                     progress)
    run.timed("diagnostics", started)
    return found


def finish(run: Run, start: Start, outcome: SamplesOutcome, diagnostics: Diagnostics | None, found: Found,
           cache: Cache | None) -> EstimateResult:
    """Stage 5: the frozen result, stored in the cache (the journal dropped); ``--strict`` applied by the caller."""
    started = time.perf_counter()
    result = build_result(run, start, outcome, diagnostics, found)
    if cache is not None and found.key is not None:
        path = cache.store(found.key, result.to_dict())
        cache.finish(found.key)
        stored = {"hit": False, "key": found.key, "path": str(path)} if path else None  # None: cannot be written
        result = dataclasses.replace(result, cache=stored, warnings=result.warnings + tuple(cache.notes))
    run.timed("finish", started)
    return result


def build_result(run: Run, start: Start, outcome: SamplesOutcome, diagnostics: Diagnostics | None, found: Found,
                 partial: bool = False) -> EstimateResult:
    """The result's numbers and facts, its accuracy and cost; warnings composed by :mod:`adamlr.notes`."""
    problem, settings = run.problem, run.settings
    samples = outcome.samples
    horizon, unit = settings.horizon
    peak, kind = _peak_memory(problem.device)
    seconds = time.perf_counter() - run.started
    stage_seconds = dict(run.seconds, **(diagnostics.seconds if diagnostics else {}))
    epoch = diagnostics.step_seconds * steps_per_epoch(problem, settings) if diagnostics and \
        diagnostics.step_seconds else None
    cost = Cost(stage_seconds, sum(s.iterations for s in samples), diagnostics.probe_steps if diagnostics else 0,
                epoch, seconds / epoch if epoch else None)
    names = _names(problem)
    batches = problem.objective.batches
    result = EstimateResult(
        lr=alpha_of(run, start, samples), k_hat=k_hat_of(samples), initial_loss=start.initial.value, T=horizon,
        horizon_unit=unit, loss_floor=settings.loss_floor, samples=samples, settings=settings.to_dict(),
        model={**names["model"], "class": type(problem.user_model).__name__, "parameters": problem.n_params},
        data={**names["data"], "examples": batches.n_examples, "batches": batches.n_batches,
              "held_in_memory": batches.kept_in_memory, "loss": problem.objective.loss_name},
        device=str(problem.device), dtype=settings.dtype, hvp_mode=outcome.hvp or start.mode, seconds=seconds,
        peak_memory_bytes=peak, peak_memory_kind=kind, version=__version__, partial=partial,
        rules=diagnostics.rules if diagnostics else {"paper": alpha_of(run, start, samples)},
        probe=diagnostics.probe if diagnostics else None, search=diagnostics.search if diagnostics else None,
        halving=diagnostics.halving if diagnostics else None,
        stability=diagnostics.stability if diagnostics else None,
        normalized=diagnostics.normalization if diagnostics else None,
        accuracy=_accuracy(start.initial, outcome), cost=cost,
    )
    resumed = sum(1 for s in samples if s.index in found.finished)
    return dataclasses.replace(result, warnings=compose_warnings(result, problem.warnings, resumed) + found.notes)


def _accuracy(initial: InitialLoss, outcome: SamplesOutcome) -> Accuracy:
    growth = outcome.growth
    change = _relative_change(growth[-2][1], growth[-1][1]) if len(growth) > 1 else None
    loss_error = initial.standard_error / initial.value if initial.standard_error and initial.value else 0.0
    norms = sorted(s.spectral_norm for s in outcome.samples)
    median = norms[len(norms) // 2]
    return Accuracy(outcome.examples, initial.examples, initial.total, initial.standard_error, growth, change,
                    outcome.stop, norms[-1] / median if median > 0 else float("inf"),
                    0.5 * ((loss_error or 0.0) ** 2 + (change or 0.0) ** 2) ** 0.5)


def _relative_change(before: float, last: float) -> float:
    """|last − before| / |last|; 1 (all of it) when ‖H‖ fell to 0, 0 when it stayed there (a saturated softmax)."""
    if last == before:
        return 0.0
    return abs(last - before) / abs(last) if last else 1.0


def _names(problem: Problem) -> dict[str, dict[str, Any]]:
    return {"model": {"name": problem.model_name}, "data": {"name": problem.objective.batches.description}}


def _peak_memory(device: torch.device) -> tuple[int | None, str]:
    if device.type == "cuda":
        return int(torch.cuda.max_memory_allocated(device)), "cuda max_memory_allocated"
    return int(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss) * 1024, "process peak RSS"


def _refuse_constant_cross_entropy(problem: Problem) -> None:
    """Cross-entropy over one output is 0 whatever the weights (log-softmax of one logit): say so, before sampling.

    Raises:
        NumericalError: the loss is ``cross_entropy`` and the model has one output per example.
    """
    objective = problem.objective
    if objective.loss_name != "cross_entropy":
        return
    with torch.no_grad():
        outputs = objective.outputs(problem.initial_params, next(iter(objective.batches)))
    if torch.is_tensor(outputs) and outputs.ndim >= 1 and outputs.shape[-1 if outputs.ndim < 2 else 1] == 1:
        raise NumericalError(
            f"expected a loss that depends on the weights, found cross_entropy over 1 output (outputs of shape "
            f"{tuple(outputs.shape)}), which is 0 for any weights: no curvature to measure; did you mean --loss mse "
            "(regression) or --loss bce_with_logits (one binary label)?"
        )


def raise_if_strict(result: EstimateResult, settings: Settings) -> None:
    """With ``--strict``: exit 3 when a sample neither converged nor was bounded, or the recommended rate's probe rose.

    Raises:
        NotConvergedError, ProbeRoseError: carrying the result.
    """
    if not settings.strict:
        return
    stalled = [s.index for s in result.samples if not (s.converged or s.bounded)]  # bounded: cannot raise K̂
    if stalled:
        raise NotConvergedError(f"expected every sample to converge (--strict), found samples {stalled} not converged",
                                result)
    probe = result.probe
    if probe is not None and probe.blew_up:
        raise ProbeRoseError(f"expected the loss to end below L(w0) = {probe.initial_loss:.4g} after the probe's "
                             f"{probe.steps} Adam steps at the recommended rate {probe.lr:.4g} (--rule {result.rule}, "
                             f"--strict), found {probe.final_loss:.4g}; the rate is likely too large for this model",
                             result)


def compute_and_finish(run: Run, found: Found, progress: Progress, cache: Cache | None) -> EstimateResult:
    """Stages 3–5 after a cache miss: L(w0), the samples (journaled), the diagnostics, the stored result.

    Raises:
        Interrupted: on Ctrl-C, with the result of the samples finished so far.
    """
    start = begin(run, progress)
    fresh: list[SampleResult] = []

    def journal(sample: SampleResult) -> None:
        if cache is not None and found.key is not None:
            cache.append(found.key, dataclasses.asdict(sample))  # durable before anyone hears of it
        fresh.append(sample)

    try:
        outcome = compute(run, start, found, progress, journal)
    except KeyboardInterrupt:
        raise _interrupted(run, start, found, fresh, cache) from None
    diagnostics = diagnostics_of(run, start, outcome, progress)
    return finish(run, start, outcome, diagnostics, found, cache)


def estimate_here(model: Any, data: Any, settings: Settings, progress: Progress, cache: Cache | None) -> EstimateResult:
    """The whole pipeline in this process (see :func:`adamlr.estimate`)."""
    with preserved_rng():
        run = prepare_run(model, data, settings)
        found = lookup(run, cache)
        result = from_cache(run, found, cache) if found.hit is not None and cache is not None else \
            compute_and_finish(run, found, progress, cache)
    raise_if_strict(result, settings)
    return result


def _interrupted(run: Run, start: Start, found: Found, fresh: list[SampleResult], cache: Cache | None) -> Interrupted:
    """Ctrl-C: the partial result of the samples finished so far (journaled ones included)."""
    so_far = tuple(sorted([*found.finished.values(), *fresh], key=lambda s: s.index))
    total = run.settings.sample_count
    message = f"interrupted after {len(so_far)} of {total} samples" + (
        "; finished samples are journaled, rerun to resume" if cache is not None and cache.writable else "")
    if not so_far or max(s.spectral_norm for s in so_far) <= 0:
        return Interrupted(message, None)
    outcome = SamplesOutcome(so_far, so_far[0].examples or 0, run.problem.objective.batches.n_examples,
                             so_far[0].growth, "all drawn")
    partial = build_result(run, start, outcome, None, found, partial=True)
    note = f"partial: interrupted after {len(so_far)} of {total} samples"
    return Interrupted(message, dataclasses.replace(partial, warnings=(note, *partial.warnings)))
