"""The estimate over the ranks of a distributed run (torchrun): ``--parallel data`` or ``--parallel samples``.

Both run the stages of :mod:`adamlr.pipeline`, as one process does:

* ``data`` (the default): every rank prepares the same model and its own shard of the data
  (:mod:`adamlr.sharding`); the whole estimate, diagnostics included, runs identically on every
  rank (same seeds, same start vectors) and each loss, gradient and Hessian-vector product is
  summed over ranks by one all-reduce; mini-batch probes step on the first batches of the unsharded
  data on every rank alike, as one process does. The Hessian is taken over the whole
  data (sharding is for data too large for one device), so the run is keyed as ``subset: all``.
* ``samples``: every rank holds the whole data and computes L(w0); sample 0 (with its subset
  growth) is computed by every rank alike, then the samples ``j ≡ rank (mod W)`` of each round;
  finished samples are gathered after each round and read in index order, so the adaptive draw
  stops at the sample a one-process run stops at. Rank 0 computes the diagnostics and the
  result and broadcasts it. Each sample depends only on ``(seed, j)``, so K̂ equals a one-process run's.

In both, only rank 0 reads and writes the cache and the journal (others learn what it found by
broadcast), and the cache key is the one-process key: rank 0 hashes the whole data (streamed once
more in data mode, since it holds only a shard) and ``parallel`` is not in it.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

from adamlr.algorithm import (
    SamplesOutcome,
    SamplesStop,
    SolveSpec,
    draw_stop,
    first_sample,
    hvp_mode_for,
    identical_to_first,
    solve_sample,
    subsampler_for,
    subset_objective,
)
from adamlr.cache import Cache, problem_key
from adamlr.config import Settings
from adamlr.data import BatchSource, as_batches
from adamlr.distributed import Communicator
from adamlr.errors import UsageError
from adamlr.loading import describe, load_object
from adamlr.objective import batch_statistics_layers
from adamlr.pipeline import (
    Found,
    Run,
    Start,
    begin,
    compute_and_finish,
    diagnostics_of,
    finish,
    from_cache,
    lookup,
    prepare_run,
    raise_if_strict,
    solve_spec,
)
from adamlr.progress import Progress
from adamlr.result import EstimateResult
from adamlr.rng import preserved_rng
from adamlr.samples import SampleResult
from adamlr.sampling import reinitializer
from adamlr.sharding import BATCH_SIZE_NEEDS_SAMPLES, ShardedObjective, Sharder


def estimate_distributed(model: Any, data: Any, settings: Settings, progress: Progress, cache: Cache | None,
                         comm: Communicator) -> EstimateResult:
    """:func:`adamlr.estimate` on every rank of ``comm``; the same result on each (see the module docstring)."""
    progress = progress if comm.is_main else Progress()
    with preserved_rng():
        if settings.parallel == "data":
            result = _data_parallel(model, data, settings, progress, cache, comm)
        else:
            result = _sample_parallel(model, data, settings, progress, cache, comm)
    raise_if_strict(result, settings)
    return result


def _shared_lookup(run: Run, cache: Cache | None, comm: Communicator, key_of: Callable[[], str]) -> Found:
    """Rank 0 computes the key and reads the cache and journal; every rank gets what it found."""
    found = lookup(run, cache, key_of) if comm.is_main else None
    shared: Found = comm.broadcast(found)
    return shared


def _whole_data(data: Any, run: Run) -> BatchSource:
    """The unsharded data as a one-process run sees it, streamed (not kept), for the cache key."""
    obj = load_object(data) if isinstance(data, str) else data
    problem = run.problem
    return as_batches(obj, name=describe(data), device=problem.device, dtype=problem.dtype,
                      chunk_size=run.settings.chunk_size, keep_bytes=0)


def _data_parallel(model: Any, data: Any, settings: Settings, progress: Progress, cache: Cache | None,
                   comm: Communicator) -> EstimateResult:
    if settings.batch_size is not None:
        raise UsageError(BATCH_SIZE_NEEDS_SAMPLES)
    settings = dataclasses.replace(settings, subset="all") if not settings.exact else settings
    sharder = Sharder(comm.rank, comm.size)
    run = prepare_run(model, data, settings, device=comm.device_name(settings.device), shard=sharder)
    problem = run.problem
    if sharder.split_examples and batch_statistics_layers(problem.objective.module, settings.norm_mode):
        raise UsageError(
            f"expected --parallel data to leave the loss unchanged, found BatchNorm layers that normalise with the "
            f"batch's statistics (--norm-mode {settings.norm_mode}) on data adamlr evaluates as one batch, which "
            "shards would split; use --parallel samples, a DataLoader whose batches are your training batches, "
            "or --norm-mode eval")
    found = _shared_lookup(run, cache, comm, lambda: problem_key(
        dataclasses.replace(problem, objective=problem.objective.on(_whole_data(data, run))), settings))
    if found.hit is not None and cache is not None:
        return from_cache(run, found, cache)
    sharded = ShardedObjective.of(problem.objective, comm)
    note = (f"data-parallel over {comm.size} processes: each evaluates its shard ({sharded.local_examples:,} of "
            f"{sharded.batches.n_examples:,} examples on rank {comm.rank}); L, ∇L and each Hessian-vector product are "
            "summed over them, and the Hessian is taken over the whole data")
    whole = None if sharder.split_examples else problem.sources.data  # whole batches per rank: probes need the order
    run.problem = dataclasses.replace(problem, objective=sharded, warnings=[*problem.warnings, note], whole_data=whole)
    return compute_and_finish(run, found, progress, cache if comm.is_main else None)


def _sample_parallel(model: Any, data: Any, settings: Settings, progress: Progress, cache: Cache | None,
                     comm: Communicator) -> EstimateResult:
    run = prepare_run(model, data, settings, device=comm.device_name(settings.device))
    found = _shared_lookup(run, cache, comm, lambda: problem_key(run.problem, settings))
    if found.hit is not None and cache is not None:
        return from_cache(run, found, cache)
    start = begin(run, progress)

    def journal(sample: SampleResult) -> None:
        if comm.is_main and cache is not None and found.key is not None:
            cache.append(found.key, dataclasses.asdict(sample))  # durable before anyone hears of it

    outcome = _shared_samples(run, start, found.finished, progress, comm, journal)
    result = None
    if comm.is_main:
        diagnostics = diagnostics_of(run, start, outcome, progress)
        result = finish(run, start, outcome, diagnostics, found, cache)
    shared: EstimateResult = comm.broadcast(result)
    return shared


def _shared_samples(run: Run, start: Start, finished: dict[int, SampleResult], progress: Progress, comm: Communicator,
                    journal: Callable[[SampleResult], None]) -> SamplesOutcome:
    """Sample 0 on every rank alike, then rounds of W samples, read in index order (module docstring)."""
    problem = run.problem
    spec = dataclasses.replace(solve_spec(run.settings, start, problem), early_stop=False)
    make_model = reinitializer(problem.factory, problem.user_model) if spec.weights == "init" else None
    objective, w0 = problem.objective, problem.initial_params
    rounds = spec.batches_per_sample if spec.batch_size else 1
    progress.started(spec.samples, spec.max_iter * rounds)
    subsampler = subsampler_for(objective, spec)
    first = finished.get(0)
    if first is None:
        first, target, growth = first_sample(objective, w0, spec, subsampler, progress, make_model)
        journal(first)
    else:
        target, growth = subset_objective(objective, subsampler, first.examples or 0), first.growth
    done = {0: first}
    progress.sample_finished(first)

    def outcome(kept: tuple[SampleResult, ...], stop: SamplesStop) -> SamplesOutcome:
        return SamplesOutcome(kept, target.batches.n_examples, objective.batches.n_examples, growth, stop,
                              hvp_mode_for(target, spec))

    if spec.samples > 1 and identical_to_first(w0, spec, make_model):
        return outcome((first,), "identical")
    todo = [j for j in range(1, spec.samples) if j not in finished]
    for sample in sorted((s for j, s in finished.items() if j > 0), key=lambda s: s.index):
        done[sample.index] = sample
    for begin_at in range(0, len(todo), comm.size):
        position = begin_at + comm.rank
        if position < len(todo):
            progress.sample_started(todo[position])
        mine = solve_sample(target, w0, spec, todo[position], progress, make_model=make_model)[0] \
            if position < len(todo) else None
        for sample in comm.gather(mine):
            if sample is not None:
                journal(sample)
                done[sample.index] = sample
                progress.sample_finished(sample)
        stop = _stopped_at(done, spec)
        if stop is not None:
            return outcome(tuple(done[j] for j in range(stop[0] + 1)), stop[1])
    return outcome(tuple(done[j] for j in range(spec.samples)), "all drawn")


def _stopped_at(done: dict[int, SampleResult], spec: SolveSpec) -> tuple[int, SamplesStop] | None:
    """The first index j after which the draw stops (:func:`~adamlr.algorithm.draw_stop`), reading the samples known
    in index order; None: no stop among them yet."""
    for j in range(spec.samples - 1):
        if j not in done:
            return None
        stopped = draw_stop([done[i] for i in range(j + 1)], spec)
        if stopped is not None:
            return j, stopped
    return None
