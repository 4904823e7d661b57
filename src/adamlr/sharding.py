"""Data-parallel Algorithm 2: each rank holds a disjoint shard of the data; sums are all-reduced.

The user's data is split *before* adamlr turns it into batches (:class:`Sharder`), so
whatever batch formats :mod:`adamlr.data` accepts, a shard is the same kind of object:

* tensors ``(X, y, …)`` (or a dict of tensors): a contiguous slice of rows per rank;
* a map-style ``Dataset``: a ``Subset`` of every W-th index from the rank's own (as
  ``DistributedSampler`` does, without its padding, so shards may be unequal);
* a ``DataLoader`` over a map-style Dataset: every W-th batch of its batch sampler, fetched
  by the rank that owns it (each batch stays intact, so BatchNorm's statistics are those of
  the user's batches);
* any other iterable of batches (or a factory of one): every W-th batch.

:class:`ShardedObjective` weights each local batch by n_b / n over the *global* example
count n and sums over ranks: one all-reduce per gradient or Hessian-vector product (the
loss rides along in the same buffer), so L, ∇L and ∇²L·v are the full-data ones.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator, Sized
from itertools import islice
from typing import Any

import torch
from torch.utils.data import DataLoader, DistributedSampler, Subset

from adamlr.batch import Batch
from adamlr.data import BatchSource, is_batch_iterable, is_data_factory, is_map_dataset
from adamlr.distributed import Communicator
from adamlr.errors import UsageError, call_user
from adamlr.objective import Objective

BATCH_SIZE_NEEDS_SAMPLES = ("expected --parallel samples with --batch-size, found --parallel data (a rank holds only "
                            "its shard, not the whole data to draw random batches from)")


def _rows(obj: Any) -> int | None:
    """Rows shared by a tuple/list/dict of tensors (the tensor forms of data), else ``None``."""
    values = list(obj.values()) if isinstance(obj, dict) else obj if isinstance(obj, (tuple, list)) else None
    if not values or not all(torch.is_tensor(v) and v.ndim > 0 for v in values):
        return None
    rows = {int(v.shape[0]) for v in values}
    return rows.pop() if len(rows) == 1 else None


class _EveryNth:
    """Re-iterable: every ``step``-th item of ``source`` from ``first`` on."""

    def __init__(self, source: Iterable[Any], first: int, step: int) -> None:
        self.source, self.first, self.step = source, first, step

    def __iter__(self) -> Iterator[Any]:
        return islice(iter(self.source), self.first, None, self.step)

    def __len__(self) -> int:
        if not isinstance(self.source, Sized):
            raise TypeError("length unknown")
        return max(0, math.ceil((len(self.source) - self.first) / self.step))


class Sharder:
    """Cuts the user's data into this rank's shard (see the module docstring).

    Attributes:
        split_examples: whether examples were split that the one-process run evaluates in
            one batch (tensors or a Dataset): then a batch-statistics BatchNorm would see
            other batches, and data-parallel is refused for it.
    """

    def __init__(self, rank: int, size: int) -> None:
        self.rank, self.size = rank, size
        self.split_examples = False

    def __call__(self, obj: Any, name: str) -> Any:
        """This rank's share of ``obj`` (an object or a factory of one), of the same kind."""
        if not is_data_factory(obj):
            return self._shard(obj)
        made = call_user(obj, f"data factory {name}")
        if isinstance(made, Iterable) and iter(made) is made:  # one-shot: call the factory again for each pass
            first: list[Any] = [made]

            def again() -> Iterable[Any]:
                source = first.pop() if first else call_user(obj, f"data factory {name}")
                return islice(source, self.rank, None, self.size)

            return again
        return self._shard(made)

    def _shard(self, obj: Any) -> Any:
        rows = _rows(obj)
        if rows is not None:
            self.split_examples = True
            lo, hi = self._block(rows)
            return {k: v[lo:hi] for k, v in obj.items()} if isinstance(obj, dict) else type(obj)(v[lo:hi] for v in obj)
        if isinstance(obj, (tuple, list)) and obj and all(torch.is_tensor(v) for v in obj):
            return obj  # tensors that do not share their rows: as_batches says so, on every rank
        if is_map_dataset(obj):
            self.split_examples = True
            return Subset(obj, range(self.rank, len(obj), self.size))
        if isinstance(obj, DataLoader) and isinstance(obj.sampler, DistributedSampler):
            raise UsageError("expected a DataLoader over the whole data, found one with a DistributedSampler, which "
                             "would shard it twice (and pad it); pass the loader without it: adamlr shards it itself")
        if isinstance(obj, DataLoader) and is_map_dataset(obj.dataset) and obj.batch_sampler is not None:
            return _loader_shard(obj, _EveryNth(obj.batch_sampler, self.rank, self.size))
        if is_batch_iterable(obj):
            return islice(obj, self.rank, None, self.size) if iter(obj) is obj else _EveryNth(obj, self.rank, self.size)
        return obj  # not data adamlr knows: as_batches names what it expected

    def _block(self, rows: int) -> tuple[int, int]:
        """Rows ``[lo, hi)`` of this rank: sizes differ by at most one, larger first."""
        base, extra = divmod(rows, self.size)
        lo = self.rank * base + min(self.rank, extra)
        return lo, lo + base + (self.rank < extra)


def _loader_shard(loader: DataLoader[Any], batch_sampler: _EveryNth) -> DataLoader[Any]:
    """The same loader, fetching only this rank's batches."""
    workers = loader.num_workers
    return DataLoader(
        loader.dataset, batch_sampler=batch_sampler, num_workers=workers, collate_fn=loader.collate_fn,
        pin_memory=loader.pin_memory, timeout=loader.timeout, worker_init_fn=loader.worker_init_fn,
        multiprocessing_context=loader.multiprocessing_context if workers else None, generator=loader.generator,
        prefetch_factor=loader.prefetch_factor if workers else None,
        persistent_workers=loader.persistent_workers if workers else False,
    )


class ShardedBatches(BatchSource):
    """A rank's batches (iterated as the local :class:`BatchSource`) reporting the global counts.

    ``n_examples`` and ``n_batches`` are over all ranks, so ``Objective.weighted_losses``
    weights a local batch by n_b / n; ``local_examples`` is this rank's count. The local
    source does the work (its batches, kept or streamed, split by its layout); this one
    only reports the counts, and refuses random batches (a rank holds only its shard).
    """

    def __init__(self, local: BatchSource, n_examples: int, n_batches: int) -> None:
        # Not BatchSource.__init__: that would make another pass over the data the local source has counted.
        self.local = local
        self.description, self.device, self.dtype = local.description, local.device, local.dtype
        self.keep_bytes, self.chunked, self.layout = local.keep_bytes, local.chunked, local.layout
        self.random_access = None
        self.local_examples = local.n_examples
        self.n_examples, self.n_batches = n_examples, n_batches

    def __iter__(self) -> Iterator[Batch]:
        """The local batches, in the shard's order."""
        return iter(self.local)

    def make_batch(self, raw: Any, index: int = 0) -> Batch:
        """A batch as the user's data gives it, made by the local source."""
        return self.local.make_batch(raw, index)

    @property
    def kept_in_memory(self) -> bool:
        """Whether the local batches are held on the device."""
        return self.local.kept_in_memory

    def random_batch(self, size: int, generator: torch.Generator) -> BatchSource:
        raise UsageError(BATCH_SIZE_NEEDS_SAMPLES)


class ShardedObjective(Objective):
    """L(w) over data sharded across ranks: local sums weighted by n_b / n, summed by all-reduce.

    Args:
        objective: the rank's objective on its shard (its model, loss and output are shared, not copied).
        batches: the rank's batches with the global counts.
        comm: the ranks' communicator.
    """

    def __init__(self, objective: Objective, batches: ShardedBatches, comm: Communicator) -> None:
        super().__init__(objective.module, objective.loss_fn, batches, objective.loss_name, objective.output)
        self.comm = comm

    @classmethod
    def of(cls, objective: Objective, comm: Communicator) -> ShardedObjective:
        """Wrap a rank's objective; counts the global examples and batches (one all-reduce)."""
        local = objective.batches
        counts = comm.all_reduce_sum(torch.tensor([local.n_examples, local.n_batches], dtype=torch.int64))
        return cls(objective, ShardedBatches(local, int(counts[0]), int(counts[1])), comm)

    def reduce(self, tensor: torch.Tensor) -> torch.Tensor:
        """The sum over ranks (in place)."""
        return self.comm.all_reduce_sum(tensor)

    @property
    def local_examples(self) -> int:
        batches = self.batches
        return batches.local_examples if isinstance(batches, ShardedBatches) else batches.n_examples

    def summed(self, loss: float, grads: list[torch.Tensor]) -> tuple[float, list[torch.Tensor]]:
        """The loss and gradient summed over ranks: one all-reduce of both, packed in one buffer."""
        like = grads[0]
        packed = torch.cat([torch.tensor([loss], dtype=like.dtype, device=like.device)]
                           + [g.reshape(-1) for g in grads])
        total = self.reduce(packed)
        pieces = torch.split(total[1:], [g.numel() for g in grads])
        return float(total[0]), [p.view_as(g) for p, g in zip(pieces, grads)]
