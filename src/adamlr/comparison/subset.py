"""The first ``n`` examples of any supported data form, for ``adamlr compare --quick``.

Tensors are sliced, a map-style Dataset becomes a ``torch.utils.data.Subset``, a DataLoader
over one is rebuilt over the subset with the same batch size, shuffling and collate
function, and any other iterable of batches is cut after the batch that reaches ``n``
examples. Only the user's factory is ever blamed for the user's errors: the subsetting is
adamlr's own, and a form it does not know is passed on unchanged (the data layer reports it).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

import torch
from torch.utils.data import DataLoader, RandomSampler
from torch.utils.data import Subset as TorchSubset

from adamlr.data import is_batch_iterable, is_data_factory, is_map_dataset
from adamlr.errors import call_user
from adamlr.loading import describe, load_object


def _rows(batch: Any) -> int:
    """Examples in one batch: the leading size of its first tensor (1 when there is none)."""
    values = batch.values() if isinstance(batch, dict) else batch if isinstance(batch, (tuple, list)) else [batch]
    for value in values:
        if torch.is_tensor(value) and value.ndim > 0:
            return int(value.shape[0])
        if isinstance(value, (tuple, list)) and value and not isinstance(value[0], (tuple, list, dict)):
            return len(value)
    return 1


class FirstBatches:
    """A re-iterable of another's batches, stopping after the batch that reaches ``n`` examples."""

    def __init__(self, batches: Iterable[Any], n: int) -> None:
        self.batches, self.n = batches, n

    def __iter__(self) -> Iterator[Any]:
        seen = 0
        for batch in self.batches:
            yield batch
            seen += _rows(batch)
            if seen >= self.n:
                return


def first_examples(obj: Any, n: int) -> Any:
    """The first ``n`` examples of ``obj``, in the same form (see the module's docstring)."""
    if isinstance(obj, (tuple, list)) and obj and all(torch.is_tensor(t) and t.ndim > 0 for t in obj):
        return type(obj)(t[:n] for t in obj)
    if isinstance(obj, DataLoader):
        if is_map_dataset(obj.dataset) and obj.batch_size is not None:
            return DataLoader(TorchSubset(obj.dataset, range(min(n, len(obj.dataset)))),  # type: ignore[arg-type]
                              batch_size=obj.batch_size, shuffle=isinstance(obj.sampler, RandomSampler),
                              collate_fn=obj.collate_fn, drop_last=obj.drop_last)
        return FirstBatches(obj, n)
    if is_map_dataset(obj):
        return TorchSubset(obj, range(min(n, len(obj))))
    if is_batch_iterable(obj):
        if iter(obj) is obj:  # one-shot: stays one-shot, so the data layer calls the factory again per pass
            return iter(FirstBatches(obj, n))
        return FirstBatches(obj, n)
    return obj


class Subset:
    """A zero-argument data factory giving the first ``n`` examples of ``data`` (any supported form).

    Args:
        data: an import path, a data object, or a zero-argument factory of one.
        n: how many examples to keep.
    """

    def __init__(self, data: Any, n: int) -> None:
        self.data, self.n = data, n
        self.adamlr_name = f"{describe(data)}[:{n}]"

    def __call__(self) -> Any:
        obj = load_object(self.data) if isinstance(self.data, str) else self.data
        if is_data_factory(obj):
            obj = call_user(obj, f"data factory {describe(self.data)}")
        return first_examples(obj, self.n)
