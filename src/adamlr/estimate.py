"""Algorithm 2 of the paper end to end: L(w0), K̂ = max_j ‖∇²L(w_j)‖₂, and α.

>>> from adamlr import estimate
>>> result = estimate("sample_models.nets:mlp1_digits", "sample_models.data:digits", epochs=100)  # doctest: +SKIP
>>> result.lr  # doctest: +SKIP
"""

from __future__ import annotations

import dataclasses
import math
import resource
import statistics
import time
from collections.abc import Callable
from typing import Any

import torch

from adamlr import __version__
from adamlr.config import FIELD_NAMES, Settings
from adamlr.cache import Cache, problem_key
from adamlr.errors import ConfigError, Interrupted, NotConvergedError, NumericalError
from adamlr.formula import recommended_lr
from adamlr.hvp import HessianOperator, choose_mode
from adamlr.objective import Objective, Params
from adamlr.problem import Problem, prepare
from adamlr.result import EstimateResult, SampleResult, sample_from_dict
from adamlr.rng import preserved_rng
from adamlr.sampling import reinitializer, sample_seed, sample_weights
from adamlr.solvers import EigenResult, spectral_norm


LARGE_LR = 1e-2  # above this, warn: 10× Adam's usual step, where our own runs went wrong


class Progress:
    """Receives progress events; subclass it (the CLI draws Rich bars). Methods do nothing here."""

    def started(self, n_samples: int, max_iter: int) -> None: ...

    def sample_started(self, index: int) -> None: ...

    def iteration(self, index: int, iteration: int, eigenvalue: float, residual: float) -> None: ...

    def sample_finished(self, sample: SampleResult) -> None: ...


def _peak_memory(device: torch.device) -> tuple[int | None, str]:
    if device.type == "cuda":
        return int(torch.cuda.max_memory_allocated(device)), "cuda max_memory_allocated"
    return int(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss) * 1024, "process peak RSS"


def _solve(problem: Problem, objective: Objective, params: Params, settings: Settings, mode: str,
           seed: int, on_iteration: Callable[[int, float, float], None]) -> tuple[EigenResult, HessianOperator]:
    """‖∇²L(w)‖₂ for one weight sample on one data source (all data, or one random batch)."""
    operator = HessianOperator(objective, params, mode)
    gen = torch.Generator().manual_seed(seed)
    start = torch.randn(operator.size, generator=gen, dtype=torch.float64).to(problem.device, problem.dtype)
    solved = spectral_norm(operator.matvec, start, method=settings.method, tol=settings.tol,
                           max_iter=settings.max_iter, callback=on_iteration)
    operator.release()
    return solved, operator


def _check_finite(value: float, what: str, index: int, settings: Settings) -> None:
    if not math.isfinite(value):
        raise NumericalError(f"expected a finite {what} at weight sample {index}, found {value} "
                             f"(--weights {settings.weights} --scale {settings.scale})")


def _one_sample(problem: Problem, settings: Settings, index: int, mode: str, progress: Progress) -> SampleResult:
    started = time.perf_counter()
    progress.sample_started(index)
    params = sample_weights(
        settings.weights, problem.initial_params, scale=settings.scale, seed=sample_seed(settings.seed, index),
        make_model=reinitializer(problem.factory, problem.user_model) if settings.weights == "init" else None,
    )
    rounds = 1 if settings.batch_size is None else settings.batches_per_sample
    batch_gen = torch.Generator().manual_seed(sample_seed(settings.seed, index, stream=2))
    solves, ops = [], []
    for r in range(rounds):
        objective = problem.objective
        if settings.batch_size is not None:
            objective = objective.on(objective.batches.random_batch(settings.batch_size, batch_gen))
        done = sum(s.iterations for s in solves)
        solved, operator = _solve(problem, objective, params, settings, mode,
                                  sample_seed(settings.seed, index, stream=1) + r,
                                  lambda k, theta, res: progress.iteration(index, done + k, theta, res))
        _check_finite(operator.loss, "loss", index, settings)
        _check_finite(solved.spectral_norm, "Hessian spectral norm", index, settings)
        solves.append(solved)
        ops.append(operator)
    norms = tuple(s.spectral_norm for s in solves)
    sample = SampleResult(
        index=index, spectral_norm=statistics.fmean(norms), eigenvalue=solves[-1].eigenvalue,
        iterations=sum(s.iterations for s in solves), converged=all(s.converged for s in solves),
        residual=max(s.residual for s in solves), seconds=time.perf_counter() - started,
        loss=statistics.fmean(o.loss for o in ops), gradient_norm=statistics.fmean(o.gradient_norm for o in ops),
        history=solves[0].history, batch_norms=norms if settings.batch_size else (),
    )
    return sample


def _settings(settings: Settings | None, options: dict[str, Any]) -> Settings:
    unknown = sorted(set(options) - set(FIELD_NAMES))
    if unknown:
        raise ConfigError("invalid settings", [f"{k}: unknown option" for k in unknown])
    if settings is None:
        return Settings(**options)
    return dataclasses.replace(settings, **options) if options else settings


def estimate(model: Any, data: Any, *, settings: Settings | None = None, progress: Progress | None = None,
             cache: Cache | None = None, **options: Any) -> EstimateResult:
    """Recommend a constant Adam step size for ``model`` on ``data`` (Algorithm 2, section 4).

    Args:
        model: an import path ``"pkg.mod:make_net"`` / ``"file.py:make_net"``, a zero-argument
            factory returning an ``nn.Module``, or a module (never modified).
        data: an import path or object: a DataLoader, an iterable of ``(inputs, targets)``
            batches, a map-style Dataset, a pair of tensors, or a factory of one of those.
        settings: a :class:`~adamlr.config.Settings`; or give its fields as keyword options
            (``epochs=100``, ``samples=10``, …), which override ``settings``.
        progress: receives progress events.
        cache: where finished results and per-sample journals live (None: neither is used).
            A hit returns the stored result; an interrupted run resumes from its journal.

    Returns:
        A frozen :class:`~adamlr.result.EstimateResult`.

    Raises:
        adamlr.errors.AdamlrError: a subclass naming what was expected and what was found;
            :class:`~adamlr.errors.Interrupted` (with the finished samples) on Ctrl-C.
    """
    settings = _settings(settings, options)
    progress = progress or Progress()
    started = time.perf_counter()
    with preserved_rng():
        problem = prepare(model, data, settings.loss, device=settings.device, dtype=settings.dtype,
                          seed=settings.seed, chunk_size=settings.chunk_size)
        key = problem_key(problem, settings) if cache is not None else None
        if cache is not None and key is not None and (hit := cache.load(key)) is not None:
            return _from_cache(hit, cache, key, settings, time.perf_counter() - started)
        done = {d["index"]: sample_from_dict(d) for d in cache.journal(key)} if cache and key else {}
        if problem.device.type == "cuda":
            torch.cuda.reset_peak_memory_stats(problem.device)
        initial_loss = problem.objective.value(problem.initial_params)
        # Mini-batch solves always cache their one small batch's graph; full data chooses.
        mode = "cached" if settings.batch_size else choose_mode(settings.hvp, problem.objective, problem.initial_params)[0]
        rounds = settings.batches_per_sample if settings.batch_size else 1
        progress.started(settings.samples, settings.max_iter * rounds)
        samples: list[SampleResult] = []
        try:
            for j in range(settings.samples):
                sample = done.get(j) or _one_sample(problem, settings, j, mode, progress)
                if j not in done and cache is not None and key is not None:
                    cache.append(key, dataclasses.asdict(sample))  # durable before anyone hears of it
                samples.append(sample)
                progress.sample_finished(sample)
        except KeyboardInterrupt:
            partial = _partial(problem, settings, initial_loss, samples, mode, started)
            raise Interrupted(f"interrupted after {len(samples)} of {settings.samples} samples"
                              + ("; finished samples are journaled, rerun to resume" if cache else ""), partial) from None
    notes = [f"resumed {len(done)} finished samples from the journal"] if done else []
    result = _finish(problem, settings, initial_loss, tuple(samples), mode, time.perf_counter() - started,
                     notes, key, cache)
    return dataclasses.replace(result, warnings=result.warnings + tuple(cache.problems if cache else ()))


def _partial(problem: Problem, settings: Settings, initial_loss: float, samples: list[SampleResult], mode: str,
             started: float) -> EstimateResult | None:
    if not samples or max(s.spectral_norm for s in samples) <= 0:
        return None
    quiet = dataclasses.replace(settings, strict=False)
    result = _finish(problem, quiet, initial_loss, tuple(samples), mode, time.perf_counter() - started,
                     [f"partial: interrupted after {len(samples)} of {settings.samples} samples"], None, None)
    return dataclasses.replace(result, partial=True)


def _from_cache(hit: dict[str, Any], cache: Cache, key: str, settings: Settings, seconds: float) -> EstimateResult:
    result = EstimateResult.from_dict(hit)
    info = {"hit": True, "key": key, "path": str(cache.result_path(key)), "lookup_seconds": seconds,
            "computed_seconds": result.seconds}
    result = dataclasses.replace(result, cache=info, warnings=result.warnings + tuple(cache.problems))
    _raise_if_strict(result, settings)
    return result


def _raise_if_strict(result: EstimateResult, settings: Settings) -> None:
    stalled = [s.index for s in result.samples if not s.converged]
    if settings.strict and stalled:
        raise NotConvergedError(f"expected every sample to converge (--strict), found samples {stalled} not converged", result)


def _finish(problem: Problem, settings: Settings, initial_loss: float, samples: tuple[SampleResult, ...],
            mode: str, seconds: float, notes: list[str], key: str | None,
            cache: Cache | None) -> EstimateResult:
    k_hat = max(s.spectral_norm for s in samples)
    if not k_hat > 0:
        raise NumericalError(
            f"expected a positive Hessian spectral norm, found max ‖H‖ = {k_hat} over {len(samples)} samples "
            "(the loss has no curvature at the sampled weights)"
        )
    horizon, unit = settings.horizon
    lr = recommended_lr(initial_loss, k_hat, horizon, settings.loss_floor)
    warnings = list(problem.warnings) + notes
    stalled = [s.index for s in samples if not s.converged]
    if stalled:
        warnings.append(f"samples {stalled} did not reach tol {settings.tol} in {settings.max_iter} iterations: "
                        "their ‖H‖ may be underestimated (raise --max-iter)")
    if settings.batch_size is not None:
        warnings.append(_batch_note(samples, settings))
    if lr > LARGE_LR:
        warnings.append(f"α = {lr:.3g} is {lr / 1e-3:.0f}× Adam's usual 1e-3: on the MLP and LeNet runs in docs/results.md "
                        "a step this large blew the loss up on the first epoch; try it with `adamlr compare` before a "
                        "long run, and see how --scale moves K̂")
    peak, peak_kind = _peak_memory(problem.device)
    batches = problem.objective.batches
    result = EstimateResult(
        lr=lr, k_hat=k_hat, initial_loss=initial_loss, T=horizon, horizon_unit=unit, loss_floor=settings.loss_floor,
        samples=samples, settings=settings.to_dict(),
        model={"name": problem.model_name, "class": type(problem.user_model).__name__, "parameters": problem.n_params},
        data={"name": batches.description, "examples": batches.n_examples, "batches": batches.n_batches,
              "held_in_memory": batches.kept_in_memory, "loss": problem.objective.loss_name},
        device=str(problem.device), dtype=settings.dtype, hvp_mode=mode, seconds=seconds,
        peak_memory_bytes=peak, peak_memory_kind=peak_kind, warnings=tuple(warnings), version=__version__,
    )
    if cache is not None and key is not None:
        path = cache.store(key, result.to_dict())
        cache.finish(key)
        result = dataclasses.replace(result, cache={"hit": False, "key": key, "path": str(path)})
    _raise_if_strict(result, settings)
    return result


def _batch_note(samples: tuple[SampleResult, ...], settings: Settings) -> str:
    """How much the mini-batch norms spread, and which way the bias goes."""
    spreads = [(max(s.batch_norms) - min(s.batch_norms)) / s.spectral_norm for s in samples if len(s.batch_norms) > 1]
    spread = f"; batch-to-batch spread up to {max(spreads):.1%} of a sample's mean" if spreads else ""
    return (f"mini-batch Algorithm 2 (batches of {settings.batch_size}, {settings.batches_per_sample} per sample): "
            f"each sample's ‖H‖ is the mean over its batches; a batch Hessian's norm is biased upward "
            f"(E‖H_B‖ ≥ ‖H‖), so small batches raise K̂ and lower α{spread}")
