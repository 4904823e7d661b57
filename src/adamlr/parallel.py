"""Algorithm 2 over the ranks of a distributed run (torchrun): ``--parallel data`` or ``--parallel samples``.

* ``data`` (the default): every rank prepares the same model and its own shard of the data
  (:mod:`adamlr.sharding`); the whole estimate, diagnostics included, runs identically on
  every rank (same seeds, same start vectors) and each loss, gradient and Hessian-vector
  product is summed over ranks by one all-reduce. Every rank ends with the same result.
* ``samples``: every rank holds the whole data, computes L(w0) and the weight samples
  ``j ≡ rank (mod W)`` with :func:`~adamlr.algorithm.solve_sample`; finished samples are
  gathered after each round of W; rank 0 computes the diagnostics and the result and
  broadcasts it. Each sample depends only on ``(seed, j)``, so K̂ equals a one-process run's.

In both, only rank 0 reads and writes the cache and the journal (others learn what it
found by broadcast), and the cache key is the one-process key: rank 0 hashes the whole data
(streamed once more in data mode, since it holds only a shard) and ``parallel`` is not in it.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from typing import Any

from adamlr.algorithm import solve_sample
from adamlr.cache import Cache, problem_key
from adamlr.choices import HvpMode
from adamlr.config import Settings
from adamlr.data import BatchSource, as_batches
from adamlr.distributed import Communicator
from adamlr.errors import UsageError
from adamlr.loading import describe, load_object
from adamlr.objective import batch_statistics_layers
from adamlr.pipeline import _begin, _compute, _finish, _from_cache, _raise_if_strict
from adamlr.problem import Problem, Shard, prepare
from adamlr.progress import Progress
from adamlr.result import EstimateResult, SampleResult, sample_from_dict
from adamlr.rng import preserved_rng
from adamlr.sharding import BATCH_SIZE_NEEDS_SAMPLES, ShardedObjective, Sharder

Found = tuple[str | None, dict[str, Any] | None, list[str], dict[int, SampleResult]]


def estimate_distributed(model: Any, data: Any, settings: Settings, progress: Progress, cache: Cache | None,
                         comm: Communicator) -> EstimateResult:
    """:func:`adamlr.estimate` on every rank of ``comm``; the same result on each (see the module docstring)."""
    started = time.perf_counter()
    progress = progress if comm.is_main else Progress()
    with preserved_rng():
        if settings.parallel == "data":
            return _data_parallel(model, data, settings, progress, cache, comm, started)
        return _sample_parallel(model, data, settings, progress, cache, comm, started)


def _prepare(model: Any, data: Any, settings: Settings, comm: Communicator, shard: Shard | None = None) -> Problem:
    return prepare(model, data, settings.loss, device=comm.device_name(settings.device), dtype=settings.dtype,
                   seed=settings.seed, chunk_size=settings.chunk_size, norm_mode=settings.norm_mode,
                   inputs=settings.inputs, targets=settings.targets, output=settings.output, shard=shard)


def _lookup(cache: Cache | None, comm: Communicator, key_of: Callable[[], str]) -> Found:
    """Rank 0 computes the key and reads the cache and journal; every rank gets what it found."""
    if cache is None:
        return None, None, [], {}
    found: Found | None = None
    if comm.is_main:
        key = key_of()
        hit, notes = cache.load(key)
        journaled, journal_notes = ([], []) if hit is not None else cache.journal(key)
        found = (key, hit, notes + journal_notes, {d["index"]: sample_from_dict(d) for d in journaled})
    shared: Found = comm.broadcast(found)
    return shared


def _whole_data(data: Any, problem: Problem, settings: Settings) -> BatchSource:
    """The unsharded data as a one-process run sees it, streamed (not kept), for the cache key."""
    obj = load_object(data) if isinstance(data, str) else data
    return as_batches(obj, name=describe(data), device=problem.device, dtype=problem.dtype,
                      chunk_size=settings.chunk_size, keep_bytes=0)


def _data_parallel(model: Any, data: Any, settings: Settings, progress: Progress, cache: Cache | None,
                   comm: Communicator, started: float) -> EstimateResult:
    if settings.batch_size is not None:
        raise UsageError(BATCH_SIZE_NEEDS_SAMPLES)
    sharder = Sharder(comm.rank, comm.size)
    problem = _prepare(model, data, settings, comm, shard=sharder)
    if sharder.split_examples and batch_statistics_layers(problem.objective.module, settings.norm_mode):
        raise UsageError(
            f"expected --parallel data to leave the loss unchanged, found BatchNorm layers that normalise with the "
            f"batch's statistics (--norm-mode {settings.norm_mode}) on data adamlr evaluates as one batch, which "
            "shards would split; use --parallel samples, a DataLoader whose batches are your training batches, "
            "or --norm-mode eval")
    key, hit, notes, finished = _lookup(cache, comm, lambda: problem_key(
        dataclasses.replace(problem, objective=problem.objective.on(_whole_data(data, problem, settings))), settings))
    if hit is not None and cache is not None and key is not None:
        return _from_cache(hit, cache, key, settings, time.perf_counter() - started, notes)
    sharded = ShardedObjective.of(problem.objective, comm)
    note = (f"data-parallel over {comm.size} processes: each evaluates its shard ({sharded.local_examples:,} of "
            f"{sharded.batches.n_examples:,} examples on rank {comm.rank}); L, ∇L and each Hessian-vector product are "
            "summed over them")
    problem = dataclasses.replace(problem, objective=sharded, warnings=[*problem.warnings, note])
    mine = cache if comm.is_main else None
    return _compute(problem, settings, progress, started, mine, key if mine else None, finished, notes)


def _sample_parallel(model: Any, data: Any, settings: Settings, progress: Progress, cache: Cache | None,
                     comm: Communicator, started: float) -> EstimateResult:
    problem = _prepare(model, data, settings, comm)
    key, hit, notes, finished = _lookup(cache, comm, lambda: problem_key(problem, settings))
    if hit is not None and cache is not None and key is not None:
        return _from_cache(hit, cache, key, settings, time.perf_counter() - started, notes)
    initial_loss, mode = _begin(problem, settings)

    def journal(sample: SampleResult) -> None:
        if comm.is_main and cache is not None and key is not None:
            cache.append(key, dataclasses.asdict(sample))

    samples = _shared_samples(problem, settings, mode, finished, progress, comm, journal)
    result = _finish(problem, settings, initial_loss, samples, mode, started, len(finished), notes, cache, key) \
        if comm.is_main else None
    shared: EstimateResult = comm.broadcast(result)
    _raise_if_strict(shared, settings)
    return shared


def _shared_samples(problem: Problem, settings: Settings, mode: HvpMode, finished: dict[int, SampleResult],
                    progress: Progress, comm: Communicator,
                    journal: Callable[[SampleResult], None]) -> tuple[SampleResult, ...]:
    """Samples 0..N−1: rank r computes the missing ones at positions ≡ r (mod W); gathered after each round."""
    rounds = settings.batches_per_sample if settings.batch_size else 1
    progress.started(settings.samples, settings.max_iter * rounds)
    done = dict(finished)
    for sample in sorted(finished.values(), key=lambda s: s.index):
        progress.sample_finished(sample)
    todo = [j for j in range(settings.samples) if j not in finished]
    for first in range(0, len(todo), comm.size):
        position = first + comm.rank
        mine = solve_sample(problem, settings, todo[position], mode, progress) if position < len(todo) else None
        for sample in comm.gather(mine):
            if sample is not None:
                journal(sample)  # durable before anyone hears of it
                done[sample.index] = sample
                progress.sample_finished(sample)
    return tuple(done[j] for j in range(settings.samples))

