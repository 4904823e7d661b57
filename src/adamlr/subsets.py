"""Nested random subsets of the training data, for a Hessian and an L(w0) sized to the answer.

The rate matters to about 1.5×, and α ∝ (L(w0)/K̂)^½, so neither needs the whole data set:
:class:`Subsampler` draws one seeded order of the examples (or, for data without random access,
of the batches) and hands out its prefixes, so the subset of m examples is contained in the subset
of 2m. Growing m until ‖H‖ settles (:mod:`adamlr.algorithm`) then measures the subset's bias
directly: a Hessian averaged over fewer examples tends to have a larger top eigenvalue.

Subsets keep the shape of the user's batches: data given as tensors or a Dataset is one batch
(full-batch training, and BatchNorm with batch statistics over the batch), a DataLoader's
subset is cut into batches of its own size, and an iterable without random access gives whole
batches in a seeded order.
"""

from __future__ import annotations

import math

import torch

from adamlr.batch import Batch
from adamlr.data import BatchSource
from adamlr.sampling import sample_seed

FULL_DATA_FACTOR = 2  # a subset of more than half the data is replaced by all of it
SUBSET_STREAM = 4  # sample_seed streams: 0 weights, 1 start vectors, 2 batches, 3 the diagnostics, 4 subsets


class Subsampler:
    """Prefixes of one seeded random order of a data source's examples (or batches).

    Args:
        source: the data.
        seed: seeds the order; the same seed gives the same subsets.
    """

    def __init__(self, source: BatchSource, seed: int) -> None:
        self.source = source
        self.generator_seed = seed
        self.n = source.n_examples
        self.batch_size = max(1, math.ceil(self.n / max(source.n_batches, 1)))
        generator = torch.Generator().manual_seed(seed)
        self.order: torch.Tensor | None = None
        self.batch_order: torch.Tensor | None = None
        if source.random_access is not None:
            self.order = torch.randperm(source.random_access[1], generator=generator)
        else:
            self.batch_order = torch.randperm(source.n_batches, generator=generator)

    @classmethod
    def of_run(cls, source: BatchSource, seed: int) -> Subsampler:
        """The order of a run with ``seed``: the Hessians' subsets and L(w0)'s examples are prefixes of this one."""
        return cls(source, sample_seed(seed, 0, stream=SUBSET_STREAM))

    def covers_all(self, m: int) -> bool:
        """Whether a subset of ``m`` examples would be more than half the data (then all of it is used)."""
        return m * FULL_DATA_FACTOR > self.n

    def subset(self, m: int) -> BatchSource:
        """The first ``m`` examples of the order (whole batches for data without random access).

        Returns the source itself when ``m`` covers more than half of the data.
        """
        if self.covers_all(m):
            return self.source
        return self._source(self._batches(0, m) if self.order is not None else self._whole_batches(m))

    def parts(self, m: int, count: int) -> list[BatchSource]:
        """The subset of ``m`` examples cut into ``count`` disjoint parts (for a standard error)."""
        if self.order is not None:
            edges = [round(i * m / count) for i in range(count + 1)]
            return [self._source(self._batches(a, b)) for a, b in zip(edges, edges[1:]) if b > a]
        batches = self._whole_batches(m)
        return [self._source(batches[i::count]) for i in range(min(count, len(batches)))]

    def _batches(self, start: int, stop: int) -> list[Batch]:
        """The examples ``order[start:stop]`` in batches as near the data's own size as an even split allows (no
        stray batch of a few examples, which BatchNorm with batch statistics would normalise alone)."""
        assert self.order is not None
        picked = self.order[start:stop]
        count = 1 if self.source.n_batches == 1 else max(1, round(len(picked) / self.batch_size))
        return [self.source.pick(chunk) for chunk in torch.tensor_split(picked, count)]

    def _source(self, batches: list[Batch]) -> BatchSource:
        count = sum(b.size for b in batches)
        return BatchSource(lambda: batches, f"{count:,} random examples of {self.source.description}",
                           self.source.device, self.source.dtype, layout=self.source.layout)

    def _whole_batches(self, m: int) -> list[Batch]:
        """Whole batches in the seeded batch order until they hold at least ``m`` examples (one pass)."""
        assert self.batch_order is not None
        rank = {int(b): position for position, b in enumerate(self.batch_order)}
        chosen: dict[int, Batch] = {}
        needed = math.ceil(m / self.batch_size)
        wanted = {int(b) for b in self.batch_order[:needed]}
        for index, batch in enumerate(self.source):
            if index in wanted:
                chosen[rank[index]] = batch
        return [chosen[k] for k in sorted(chosen)]
