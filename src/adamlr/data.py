"""Turn whatever the user gave as data into a re-iterable stream of batches.

Accepted forms (after calling a zero-argument factory, if one was given):
a ``DataLoader`` or any re-iterable of batches, a map-style ``Dataset`` of items, or a pair
of tensors ``(X, y)``. A batch (or item) is an ``(inputs, targets)`` pair, a longer tuple or
a dict, split by a :class:`~adamlr.batch.BatchLayout` (see :mod:`adamlr.batch`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import Any

import torch
from torch.utils.data import DataLoader, Dataset, IterableDataset, default_collate

from adamlr.batch import Batch, BatchLayout, split
from adamlr.errors import DataError, call_user

__all__ = ["EXPECTED", "Batch", "BatchLayout", "BatchSource", "Picker", "as_batches", "is_batch_iterable",
           "is_data_factory", "is_map_dataset"]

EXPECTED = (
    "a DataLoader, an iterable of batches ((inputs, targets) pairs, longer tuples or dicts), a map-style "
    "Dataset, or a pair of tensors (X, y)"
)


def is_map_dataset(obj: Any) -> bool:
    """A map-style Dataset with a length: examples by index, so adamlr can chunk, sample or shard it."""
    return isinstance(obj, Dataset) and not isinstance(obj, IterableDataset) and hasattr(obj, "__len__")


def is_data_factory(obj: Any) -> bool:
    """A zero-argument callable that makes the data (not a Dataset, DataLoader, module or tensor)."""
    return callable(obj) and not isinstance(obj, (Dataset, DataLoader, torch.nn.Module)) and not torch.is_tensor(obj)


def is_batch_iterable(obj: Any) -> bool:
    """An iterable of batches (or a one-shot iterator of them); not a string, dict or tensor."""
    return isinstance(obj, Iterable) and not isinstance(obj, (str, bytes, dict)) and not torch.is_tensor(obj)


def _is_tensor_pair(obj: Any) -> bool:
    return isinstance(obj, (tuple, list)) and len(obj) == 2 and all(torch.is_tensor(t) for t in obj)


def _tensor_pair_batches(x: torch.Tensor, y: torch.Tensor, chunk_size: int | None) -> list[tuple[torch.Tensor, ...]]:
    if x.ndim == 0 or y.ndim == 0 or x.shape[0] != y.shape[0]:
        raise DataError(
            f"expected X and y with the same number of rows, found X of shape {tuple(x.shape)} "
            f"and y of shape {tuple(y.shape)}"
        )
    n = x.shape[0]
    step = n if not chunk_size else chunk_size
    return [(x[i : i + step], y[i : i + step]) for i in range(0, n, max(step, 1))]


Picker = Callable[[torch.Tensor], Any]
"""Random access to examples: a 1-D index tensor ↦ the batch of those examples, as the data gives it."""


class BatchSource:
    """A re-iterable stream of batches (:class:`~adamlr.batch.Batch`) on one device and dtype.

    Floating-point tensors are cast to ``dtype``; integer ones (class indices, token ids)
    are kept. Each batch is split into the model's inputs and the targets by ``layout``.
    The facts about the data are known once the source exists: the constructor makes one
    pass over it (as curvlinops' ``_EmpiricalRiskMixin`` does to infer ``num_data``), which
    checks every batch, counts the examples and, if they total at most ``keep_bytes``, keeps
    the batches on the device so later passes skip the user's loader.

    Attributes:
        description: what the data was, for reports.
        n_examples: number of examples.
        n_batches: number of non-empty batches.
        random_access: ``(pick, n)`` when examples can be drawn by index (tensors, a
            map-style Dataset, a DataLoader over one), else ``None``.
        chunked: whether adamlr split the data into batches (``chunk_size`` on tensors or a
            Dataset) rather than taking the user's own batches.
        layout: how each batch splits into the model's inputs and the targets.

    Raises:
        DataError: a malformed batch, or no example at all.
    """

    def __init__(
        self,
        make_iterable: Callable[[], Iterable[Any]],
        description: str,
        device: torch.device,
        dtype: torch.dtype,
        keep_bytes: int = 2 * 1024**3,
        random_access: tuple[Picker, int] | None = None,
        chunked: bool = False,
        layout: BatchLayout | None = None,
    ) -> None:
        self._make_iterable = make_iterable
        self.description = description
        self.device = device
        self.dtype = dtype
        self.keep_bytes = keep_bytes
        self.random_access = random_access
        self.chunked = chunked
        self.layout = layout or BatchLayout()
        self._kept: list[Batch] | None = None
        self.n_examples, self.n_batches, self._kept = self._first_pass()

    def _first_pass(self) -> tuple[int, int, list[Batch] | None]:
        kept: list[Batch] | None = []
        used = n = count = 0
        for batch in self._stream():
            n += batch.size
            count += 1
            if kept is not None:
                used += batch.nbytes()
                if used <= self.keep_bytes:
                    kept.append(batch)
                else:
                    kept = None
        if n == 0:
            raise DataError(f"expected at least one example in {self.description}, found empty data")
        return n, count, kept

    def random_batch(self, size: int, generator: torch.Generator) -> BatchSource:
        """A one-batch source of ``size`` examples drawn without replacement (mini-batch Algorithm 2).

        Raises:
            DataError: the data gives no random access (a plain iterable of batches).
        """
        if self.random_access is None:
            raise DataError(
                f"expected data with random access for --batch-size (tensors, a map-style Dataset, or a "
                f"DataLoader over one), found an iterable of batches in {self.description}"
            )
        n = self.random_access[1]
        if size > n:
            raise DataError(f"expected --batch-size at most the {n} examples of {self.description}, found {size}")
        batch = self.pick(torch.randperm(n, generator=generator)[:size])
        return BatchSource(lambda: [batch], f"{size} random examples of {self.description}", self.device, self.dtype,
                           layout=self.layout)

    def pick(self, index: torch.Tensor) -> Batch:
        """The batch of the examples at ``index`` (a 1-D tensor), on this source's device.

        Raises:
            DataError: the data gives no random access (the caller should have checked).
        """
        if self.random_access is None:
            raise DataError(f"expected data with random access (tensors, a map-style Dataset, or a DataLoader over "
                            f"one), found an iterable of batches in {self.description}")
        return self.make_batch(self.random_access[0](index))

    def make_batch(self, raw: Any, index: int = 0) -> Batch:
        """A batch as the user's data gives it → a :class:`Batch` on this source's device, split by its layout."""
        if isinstance(raw, Batch):
            return raw
        return split(raw, self.layout, index, self.device, self.dtype)

    def _stream(self) -> Iterator[Batch]:
        """The user's batches, checked and converted, empty ones skipped."""
        for index, raw in enumerate(self._make_iterable()):
            batch = self.make_batch(raw, index)
            if batch.size:
                yield batch

    def __iter__(self) -> Iterator[Batch]:
        """The batches, in the data's order (from memory when kept)."""
        if self._kept is not None:
            return iter(self._kept)
        return self._stream()

    @property
    def kept_in_memory(self) -> bool:
        """Whether the batches are held on the device."""
        return self._kept is not None




def _picker_for(obj: Any) -> tuple[Picker, int] | None:
    """Random access to examples by index, where the data allows it: ``(pick, n)``."""
    if _is_tensor_pair(obj):
        x, y = obj
        return (lambda idx: (x[idx], y[idx])), int(x.shape[0])
    dataset, collate = obj, default_collate
    if isinstance(obj, DataLoader):
        dataset, collate = obj.dataset, obj.collate_fn
    if is_map_dataset(dataset):
        return (lambda idx: collate([dataset[int(i)] for i in idx])), len(dataset)
    return None


def _iterable_for(
    obj: Any, factory: Callable[[], Any] | None, name: str, chunk_size: int | None
) -> Callable[[], Iterable[Any]]:
    if _is_tensor_pair(obj):
        batches = _tensor_pair_batches(obj[0], obj[1], chunk_size)
        return lambda: batches
    if is_map_dataset(obj):
        if len(obj) == 0:
            raise DataError(f"expected at least one example in {name}, found an empty Dataset")
        loader = DataLoader(obj, batch_size=chunk_size or len(obj), shuffle=False)
        return lambda: loader
    if is_batch_iterable(obj):
        if iter(obj) is obj:  # a one-shot iterator: re-call the factory for each pass
            if factory is None:
                raise DataError(
                    f"expected a re-iterable data source, found a one-shot {type(obj).__name__}; "
                    "pass a function that returns it instead"
                )
            first: list[Any] = [obj]
            def again() -> Iterable[Any]:
                return first.pop() if first else call_user(factory, f"data factory {name}")
            return again
        return lambda: obj
    raise DataError(f"expected {EXPECTED} from {name}, found {type(obj).__name__}")


def as_batches(
    data: Any,
    *,
    name: str,
    device: torch.device,
    dtype: torch.dtype,
    chunk_size: int | None = None,
    keep_bytes: int = 2 * 1024**3,
    layout: BatchLayout | None = None,
) -> BatchSource:
    """Wrap user data as a :class:`BatchSource`.

    Args:
        data: the data object, or a zero-argument callable returning it.
        name: how to call the data in messages (its import path).
        device: where batches go.
        dtype: floating dtype for inputs and floating targets.
        chunk_size: rows per batch for tensor pairs and Datasets (``None``: all at once).
            A DataLoader's own batches are used as they come.
        keep_bytes: keep batches on the device after one pass if they total at most this.
        layout: how a batch splits into the model's inputs and the targets (default: pairs,
            longer tuples as ``(inputs, targets, …)``, dicts by their targets key).
    """
    factory = None
    obj = data
    if is_data_factory(data):
        factory = data
        obj = call_user(data, f"data factory {name}")
    make = _iterable_for(obj, factory, name, chunk_size)
    return BatchSource(make, name, device, dtype, keep_bytes, random_access=_picker_for(obj),
                       chunked=bool(chunk_size) and (_is_tensor_pair(obj) or is_map_dataset(obj)), layout=layout)
