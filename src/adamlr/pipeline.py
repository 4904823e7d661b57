"""``estimate``: Algorithm 2 (:mod:`adamlr.algorithm`) wrapped with the cache, the journal, Ctrl-C and strict.

>>> from adamlr import estimate
>>> result = estimate("adamlr.zoo.nets:mlp1_digits", "adamlr.zoo.data:digits", epochs=100)  # doctest: +SKIP
>>> result.lr  # doctest: +SKIP
"""

from __future__ import annotations

import dataclasses
import resource
import time
from typing import Any

import numpy as np
import torch

from adamlr.algorithm import RunFacts, build_result, recommended_rate, run_samples
from adamlr.cache import Cache, problem_key
from adamlr.choices import HvpMode
from adamlr.config import FIELD_NAMES, Settings
from adamlr.diagnose import diagnose
from adamlr.distributed import Communicator
from adamlr.errors import ConfigError, Interrupted, NotConvergedError, NumericalError, ProbeRoseError, did_you_mean
from adamlr.hvp import choose_mode
from adamlr.problem import Problem, prepare
from adamlr.progress import Progress
from adamlr.result import EstimateResult, SampleResult, sample_from_dict
from adamlr.rng import preserved_rng


def _peak_memory(device: torch.device) -> tuple[int | None, str]:
    if device.type == "cuda":
        return int(torch.cuda.max_memory_allocated(device)), "cuda max_memory_allocated"
    return int(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss) * 1024, "process peak RSS"


def _settings(settings: Settings | None, options: dict[str, Any]) -> Settings:
    unknown = sorted(set(options) - set(FIELD_NAMES))
    if unknown:
        raise ConfigError("invalid settings", [f"{k}: unknown option{did_you_mean(k, FIELD_NAMES)}" for k in unknown])
    if settings is None:
        return Settings(**options)
    return dataclasses.replace(settings, **options) if options else settings


def estimate(model: Any, data: Any, *, settings: Settings | None = None, progress: Progress | None = None,
             cache: Cache | None = None, **options: Any) -> EstimateResult:
    """Recommend a constant Adam step size for ``model`` on ``data`` (Algorithm 2, section 4).

    Args:
        model: an import path ``"pkg.mod:make_net"`` / ``"file.py:make_net"``, a zero-argument
            factory returning an ``nn.Module``, or a module (never modified).
        data: an import path or object: a DataLoader, an iterable of batches (``(inputs,
            targets)`` pairs, longer tuples or dicts; see :mod:`adamlr.batch`), a map-style
            Dataset, a pair of tensors, or a factory of one of those. ``None`` with
            ``loss="training_step"``: the LightningModule's ``train_dataloader()``.
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
    comm = Communicator.current()
    if comm.size > 1:  # under torchrun: data- or sample-parallel (adamlr.parallel)
        from adamlr.parallel import estimate_distributed

        return estimate_distributed(model, data, settings, progress, cache, comm)
    started = time.perf_counter()
    with preserved_rng():
        problem = prepare(model, data, settings.loss, device=settings.device, dtype=settings.dtype,
                          seed=settings.seed, chunk_size=settings.chunk_size, norm_mode=settings.norm_mode,
                          inputs=settings.inputs, targets=settings.targets, output=settings.output)
        if cache is None:
            return _compute(problem, settings, progress, started, None, None, {}, [])
        key = problem_key(problem, settings)
        hit, notes = cache.load(key)
        if hit is not None:
            return _from_cache(hit, cache, key, settings, time.perf_counter() - started, notes)
        journaled, journal_notes = cache.journal(key)
        finished = {d["index"]: sample_from_dict(d) for d in journaled}
        return _compute(problem, settings, progress, started, cache, key, finished, notes + journal_notes)


def _compute(problem: Problem, settings: Settings, progress: Progress, started: float, cache: Cache | None,
             key: str | None, finished: dict[int, SampleResult], cache_notes: list[str]) -> EstimateResult:
    """Run the kernel; journal each new sample; on Ctrl-C raise with the partial result; store; apply strict."""
    initial_loss, mode = _begin(problem, settings)
    fresh: list[SampleResult] = []

    def journal(sample: SampleResult) -> None:
        if cache is not None and key is not None:
            cache.append(key, dataclasses.asdict(sample))  # durable before anyone hears of it
        fresh.append(sample)

    try:
        samples = run_samples(problem, settings, mode, finished=finished, on_sample=journal, progress=progress)
    except np.linalg.LinAlgError as exc:  # the eigen-solver met NaN or inf Hessian-vector products
        raise NumericalError(f"expected finite Hessian-vector products, found the eigen-solver failing on them "
                             f"({exc}); are the sampled weights too large for the model (--scale {settings.scale})?"
                             ) from exc
    except KeyboardInterrupt:
        so_far = tuple(sorted([*finished.values(), *fresh], key=lambda s: s.index))
        partial = _partial(problem, settings, initial_loss, so_far, mode, started)
        raise Interrupted(f"interrupted after {len(so_far)} of {settings.samples} samples"
                          + ("; finished samples are journaled, rerun to resume" if cache and cache.writable else ""),
                          partial) from None
    result = _finish(problem, settings, initial_loss, samples, mode, started, len(finished), cache_notes, cache, key)
    _raise_if_strict(result, settings)
    return result


def _begin(problem: Problem, settings: Settings) -> tuple[float, HvpMode]:
    """Before the samples: the peak-memory count reset, L(w0) (a constant cross-entropy refused), the HVP mode.

    Raises:
        NumericalError: a non-finite L(w0), or cross-entropy over one output.
    """
    if problem.device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(problem.device)
    initial_loss = problem.objective.value(problem.initial_params)
    if initial_loss == 0.0:
        _refuse_constant_cross_entropy(problem)
    # Mini-batch solves always cache their one small batch's graph; full data chooses.
    mode: HvpMode = "cached" if settings.batch_size else choose_mode(settings.hvp, problem.objective,
                                                                     problem.initial_params)
    return initial_loss, mode


def _finish(problem: Problem, settings: Settings, initial_loss: float, samples: tuple[SampleResult, ...],
            mode: HvpMode, started: float, resumed: int, cache_notes: list[str], cache: Cache | None,
            key: str | None) -> EstimateResult:
    """The diagnostics and the result from finished samples; stored in the cache (the journal dropped)."""
    notes = (f"resumed {resumed} finished samples from the journal",) if resumed else ()
    diagnostics = diagnose(problem, settings, recommended_rate(settings, initial_loss, samples), mode, initial_loss)
    result = build_result(problem, settings, initial_loss, samples, mode, _facts(problem, started, notes), diagnostics)
    result = dataclasses.replace(result, warnings=result.warnings + tuple(cache_notes))
    if cache is not None and key is not None:
        path = cache.store(key, result.to_dict())
        cache.finish(key)
        result = dataclasses.replace(result, cache={"hit": False, "key": key, "path": str(path)} if path else None,
                                     warnings=result.warnings + tuple(cache.notes))  # a cache that cannot be written
    return result


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


def _facts(problem: Problem, started: float, notes: tuple[str, ...]) -> RunFacts:
    peak, kind = _peak_memory(problem.device)
    return RunFacts(time.perf_counter() - started, peak, kind, notes)


def _partial(problem: Problem, settings: Settings, initial_loss: float, samples: tuple[SampleResult, ...],
             mode: HvpMode, started: float) -> EstimateResult | None:
    if not samples or max(s.spectral_norm for s in samples) <= 0:
        return None
    note = (f"partial: interrupted after {len(samples)} of {settings.samples} samples",)
    result = build_result(problem, settings, initial_loss, samples, mode, _facts(problem, started, note))
    return dataclasses.replace(result, partial=True)


def _from_cache(hit: dict[str, Any], cache: Cache, key: str, settings: Settings, seconds: float,
                notes: list[str]) -> EstimateResult:
    result = EstimateResult.from_dict(hit)
    info = {"hit": True, "key": key, "path": str(cache.result_path(key)), "lookup_seconds": seconds,
            "computed_seconds": result.seconds}
    result = dataclasses.replace(result, cache=info, warnings=result.warnings + tuple(notes))
    _raise_if_strict(result, settings)
    return result


def _raise_if_strict(result: EstimateResult, settings: Settings) -> None:
    if not settings.strict:
        return
    stalled = [s.index for s in result.samples if not (s.converged or s.bounded)]  # bounded: cannot raise K̂
    if stalled:
        raise NotConvergedError(f"expected every sample to converge (--strict), found samples {stalled} not converged",
                                result)
    if result.probe is not None and result.probe["verdict"] == "rises":
        raise ProbeRoseError(f"expected the loss to stay below L(w0) = {result.initial_loss:.4g} during the probe's "
                             f"{result.probe['steps']} Adam steps at α = {result.lr:.4g} (--strict), found it rose; "
                             "α is likely too large for this model", result)
