"""Algorithm 2 of the paper end to end: L(w0), K̂ = max_j ‖∇²L(w_j)‖₂, and α.

>>> from adamlr import estimate
>>> result = estimate("sample_models.nets:mlp1_digits", "sample_models.data:digits", epochs=100)  # doctest: +SKIP
>>> result.lr  # doctest: +SKIP
"""

from __future__ import annotations

import dataclasses
import math
import resource
import time
from typing import Any

import torch

from adamlr import __version__
from adamlr.config import FIELD_NAMES, Settings
from adamlr.errors import ConfigError, NotConvergedError, NumericalError
from adamlr.formula import recommended_lr
from adamlr.hvp import HessianOperator, choose_mode
from adamlr.problem import Problem, prepare
from adamlr.result import EstimateResult, SampleResult
from adamlr.rng import preserved_rng
from adamlr.sampling import reinitializer, sample_seed, sample_weights
from adamlr.solvers import spectral_norm


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


def _one_sample(problem: Problem, settings: Settings, index: int, mode: str, progress: Progress) -> SampleResult:
    started = time.perf_counter()
    progress.sample_started(index)
    params = sample_weights(
        settings.weights, problem.initial_params, scale=settings.scale, seed=sample_seed(settings.seed, index),
        make_model=reinitializer(problem.factory, problem.user_model) if settings.weights == "init" else None,
    )
    operator = HessianOperator(problem.objective, params, mode)
    if not math.isfinite(operator.loss):
        raise NumericalError(
            f"expected a finite loss at weight sample {index}, found {operator.loss} "
            f"(--weights {settings.weights} --scale {settings.scale})"
        )
    gen = torch.Generator().manual_seed(sample_seed(settings.seed, index, stream=1))
    start = torch.randn(operator.size, generator=gen, dtype=torch.float64).to(problem.device, problem.dtype)
    solved = spectral_norm(
        operator.matvec, start, method=settings.method, tol=settings.tol, max_iter=settings.max_iter,
        callback=lambda k, theta, res: progress.iteration(index, k, theta, res),
    )
    operator.release()
    if not math.isfinite(solved.spectral_norm):
        raise NumericalError(f"expected a finite Hessian spectral norm at weight sample {index}, found {solved.spectral_norm}")
    sample = SampleResult(
        index=index, spectral_norm=solved.spectral_norm, eigenvalue=solved.eigenvalue, iterations=solved.iterations,
        converged=solved.converged, residual=solved.residual, seconds=time.perf_counter() - started,
        loss=operator.loss, gradient_norm=operator.gradient_norm, history=solved.history,
    )
    progress.sample_finished(sample)
    return sample


def _settings(settings: Settings | None, options: dict[str, Any]) -> Settings:
    unknown = sorted(set(options) - set(FIELD_NAMES))
    if unknown:
        raise ConfigError("invalid settings", [f"{k}: unknown option" for k in unknown])
    if settings is None:
        return Settings(**options)
    return dataclasses.replace(settings, **options) if options else settings


def estimate(model: Any, data: Any, *, settings: Settings | None = None, progress: Progress | None = None,
             **options: Any) -> EstimateResult:
    """Recommend a constant Adam step size for ``model`` on ``data`` (Algorithm 2, section 4).

    Args:
        model: an import path ``"pkg.mod:make_net"`` / ``"file.py:make_net"``, a zero-argument
            factory returning an ``nn.Module``, or a module (never modified).
        data: an import path or object: a DataLoader, an iterable of ``(inputs, targets)``
            batches, a map-style Dataset, a pair of tensors, or a factory of one of those.
        settings: a :class:`~adamlr.config.Settings`; or give its fields as keyword options
            (``epochs=100``, ``samples=10``, …), which override ``settings``.
        progress: receives progress events.

    Returns:
        A frozen :class:`~adamlr.result.EstimateResult`.

    Raises:
        adamlr.errors.AdamlrError: a subclass naming what was expected and what was found.
    """
    settings = _settings(settings, options)
    progress = progress or Progress()
    started = time.perf_counter()
    with preserved_rng():
        problem = prepare(model, data, settings.loss, device=settings.device, dtype=settings.dtype,
                          seed=settings.seed, chunk_size=settings.chunk_size)
        if problem.device.type == "cuda":
            torch.cuda.reset_peak_memory_stats(problem.device)
        initial_loss = problem.objective.value(problem.initial_params)
        mode, graph_bytes = choose_mode(settings.hvp, problem.objective, problem.initial_params)
        progress.started(settings.samples, settings.max_iter)
        samples = tuple(_one_sample(problem, settings, j, mode, progress) for j in range(settings.samples))
    return _finish(problem, settings, initial_loss, samples, mode, graph_bytes, time.perf_counter() - started)


def _finish(problem: Problem, settings: Settings, initial_loss: float, samples: tuple[SampleResult, ...],
            mode: str, graph_bytes: float, seconds: float) -> EstimateResult:
    k_hat = max(s.spectral_norm for s in samples)
    if not k_hat > 0:
        raise NumericalError(
            f"expected a positive Hessian spectral norm, found max ‖H‖ = {k_hat} over {len(samples)} samples "
            "(the loss has no curvature at the sampled weights)"
        )
    horizon, unit = settings.horizon
    lr = recommended_lr(initial_loss, k_hat, horizon, settings.loss_floor)
    warnings = list(problem.warnings)
    stalled = [s.index for s in samples if not s.converged]
    if stalled:
        warnings.append(f"samples {stalled} did not reach tol {settings.tol} in {settings.max_iter} iterations: "
                        "their ‖H‖ may be underestimated (raise --max-iter)")
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
    if settings.strict and stalled:
        raise NotConvergedError(f"expected every sample to converge (--strict), found samples {stalled} not converged", result)
    return result
