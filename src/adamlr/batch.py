"""One batch of the user's data, whatever its shape, split into what the model gets and the targets.

Forms a batch may take (what a DataLoader, a generator or a Dataset's collation yields):

* a pair ``(inputs, targets)``: the model gets ``inputs``, the loss ``(outputs, targets)``;
* a longer tuple or list: ``(inputs, targets, …)`` by default, the rest ignored; ``--inputs 0,2``
  and ``--targets 1`` pick items by index (several inputs go to the model as positional arguments);
* a dict (what Hugging Face datasets and collators yield): the targets under ``--targets KEY`` or
  the first of :data:`TARGET_KEYS` present; the model gets the other keys (or those of
  ``--inputs``): a single one as its positional argument, several as keyword arguments;
* with a loss the model computes itself (``--loss model``, ``--loss training_step``) the model
  gets the whole batch, labels included (a dict as keyword arguments, a tuple as positional
  ones, a tensor as the one argument); ``--inputs`` then names everything it gets, and targets
  need not exist.

Each batch's size, which weights its loss in the mean over the data, is the targets' leading
dimension, or the first input tensor's when there are no targets.

>>> b = split({"input_ids": torch.ones(4, 7), "labels": torch.zeros(4)}, BatchLayout(), 0)
>>> list(b.kwargs), b.args[0].shape, b.size
([], torch.Size([4, 7]), 4)
>>> BatchLayout.parse("input_ids,attention_mask", "label", whole=False)
BatchLayout(inputs=('input_ids', 'attention_mask'), targets='label', whole=False)
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import torch

from adamlr.errors import DataError, UsageError, shorten

TARGET_KEYS = ("labels", "label", "targets", "target", "y")
"""Where the targets of a dict batch are looked for, in this order, when ``--targets`` is not given."""

Key = str | int


def _key(text: str | int) -> Key:
    """An index when the text is a non-negative integer, else a dict key."""
    if isinstance(text, int) and not isinstance(text, bool):
        return text
    text = str(text).strip()
    return int(text) if text.isdigit() else text


@dataclass(frozen=True)
class BatchLayout:
    """Which parts of a batch the model gets and which are the targets.

    Attributes:
        inputs: keys (dict batches) or indices (tuple batches) of the model's inputs; ``None``: the default.
        targets: key or index of the targets; ``None``: the default.
        whole: the model computes its own loss and gets the whole batch (``--loss model``/``training_step``).
    """

    inputs: tuple[Key, ...] | None = None
    targets: Key | None = None
    whole: bool = False

    @staticmethod
    def parse(inputs: Any, targets: Any, *, whole: bool) -> BatchLayout:
        """From ``--inputs KEY[,KEY…]`` (or a YAML list) and ``--targets KEY`` (or an index)."""
        keys = None
        if inputs is not None:
            parts = inputs if isinstance(inputs, (list, tuple)) else str(inputs).split(",")
            keys = tuple(_key(p) for p in parts if str(p).strip())
            if not keys:
                raise UsageError(f"expected --inputs to name at least one key or index, found {shorten(inputs)}")
        return BatchLayout(keys, None if targets is None else _key(targets), whole)


@dataclass(frozen=True, eq=False)
class Batch:
    """One batch on the working device, split by a :class:`BatchLayout`.

    Attributes:
        data: the batch as the user's data gave it, tensors moved (floating ones cast to the dtype).
        args: positional arguments of the model call.
        kwargs: keyword arguments of the model call.
        targets: the targets, or ``None`` (a model that computes its own loss may need none).
        size: examples in the batch (the weight of its loss in the mean).
        index: the batch's position in a pass over the data (``training_step``'s ``batch_idx``).
    """

    data: Any
    args: tuple[Any, ...]
    kwargs: dict[str, Any]
    targets: torch.Tensor | None
    size: int
    index: int = 0

    @property
    def inputs(self) -> Any:
        """The first thing the model gets (the inputs tensor of a plain pair)."""
        return self.args[0] if self.args else next(iter(self.kwargs.values()), None)

    def __iter__(self) -> Iterator[Any]:
        """``inputs, targets = batch``, as for the plain ``(inputs, targets)`` pair."""
        return iter((self.inputs, self.targets))

    def tensors(self) -> list[tuple[str, torch.Tensor]]:
        """Every tensor of the batch with its path in it (``""`` for a bare tensor), in a fixed order."""
        return list(_named_tensors(self.data, ""))

    def nbytes(self) -> int:
        return sum(t.numel() * t.element_size() for _, t in self.tensors())


def _named_tensors(value: Any, path: str) -> Iterator[tuple[str, torch.Tensor]]:
    if torch.is_tensor(value):
        yield path, value
    elif isinstance(value, Mapping):
        for k in value:
            yield from _named_tensors(value[k], f"{path}.{k}" if path else str(k))
    elif isinstance(value, (tuple, list)):
        for i, v in enumerate(value):
            yield from _named_tensors(v, f"{path}.{i}" if path else str(i))


def moved(value: Any, device: torch.device, dtype: torch.dtype) -> Any:
    """``value`` with every tensor on ``device``, floating ones cast to ``dtype`` (class indices kept)."""
    if torch.is_tensor(value):
        return value.to(device, dtype) if value.is_floating_point() else value.to(device)
    if isinstance(value, Mapping):
        return {k: moved(v, device, dtype) for k, v in value.items()}
    if isinstance(value, list):
        return [moved(v, device, dtype) for v in value]
    if isinstance(value, tuple):
        return tuple(moved(v, device, dtype) for v in value)
    return value


def _tensor(value: Any, role: str, index: int) -> torch.Tensor:
    if torch.is_tensor(value):
        return value
    try:
        return torch.as_tensor(value)
    except Exception as exc:
        raise DataError(f"expected batch {index} {role} to be a tensor, found {type(value).__name__}") from exc


def _input_tensor(value: Any, key: Key, batch: Any, index: int) -> torch.Tensor:
    if torch.is_tensor(value):
        return value
    try:
        return torch.as_tensor(value)
    except Exception as exc:
        where = f"input {shorten(key)}" if isinstance(batch, Mapping) else "inputs"
        raise DataError(f"expected batch {index} {where} to be a tensor, found {type(value).__name__}; name the "
                        "model's inputs with --inputs KEY[,KEY…]") from exc


def _describe(batch: Any) -> str:
    if isinstance(batch, Mapping):
        return f"a dict with keys {', '.join(map(str, batch)) or '(none)'}"
    if isinstance(batch, (tuple, list)):
        return f"{type(batch).__name__} of length {len(batch)}"
    return type(batch).__name__


def _pick(batch: Any, key: Key, option: str, index: int) -> Any:
    if isinstance(batch, Mapping):
        for k in (key, str(key)):
            if k in batch:
                return batch[k]
        raise DataError(f"expected key {shorten(key)} ({option}) in batch {index}, found {_describe(batch)}")
    if not isinstance(key, int):
        raise DataError(f"expected an integer index for {option} with batches that are tuples or lists, found "
                        f"{shorten(key)} (batch {index} is a {_describe(batch)})")
    if key >= len(batch):
        raise DataError(f"expected index {key} ({option}) within batch {index}, found a {_describe(batch)}")
    return batch[key]


def _targets_of(batch: Any, layout: BatchLayout, index: int) -> tuple[Key | None, Any]:
    """The targets' key and value, or ``(None, None)`` where there are none and none are needed."""
    if layout.targets is not None:
        return layout.targets, _pick(batch, layout.targets, "--targets", index)
    if isinstance(batch, Mapping):
        found = next((k for k in TARGET_KEYS if k in batch), None)
        if found is None and not layout.whole:
            raise DataError(f"expected batch {index}, a dict, to hold its targets under one of "
                            f"{', '.join(TARGET_KEYS)}, found keys {', '.join(map(str, batch))}; name them with "
                            "--targets KEY (or use --loss model if the model computes its own loss)")
        return found, (batch[found] if found is not None else None)
    if isinstance(batch, (tuple, list)) and len(batch) >= 2 and not (layout.whole and layout.inputs is not None):
        return 1, batch[1]
    if layout.whole:
        return None, None
    raise DataError(f"expected each batch to be an (inputs, targets) pair, a longer tuple or a dict, found "
                    f"{_describe(batch)} at batch {index}")


def _call_of(batch: Any, layout: BatchLayout, target_key: Key | None,
             index: int) -> tuple[tuple[Any, ...], dict[str, Any]]:
    """The model call's positional and keyword arguments."""
    if layout.inputs is not None:
        chosen = [(k, _pick(batch, k, "--inputs", index)) for k in layout.inputs]
    elif layout.whole:
        if isinstance(batch, Mapping):
            return (), dict(batch)
        return (tuple(batch) if isinstance(batch, (tuple, list)) else (batch,)), {}
    elif isinstance(batch, Mapping):
        chosen = [(k, v) for k, v in batch.items() if k != target_key]
        if not chosen:
            raise DataError(f"expected batch {index} to hold inputs besides its targets {shorten(target_key)}, "
                            "found none")
    else:
        chosen = [(0, batch[0])]
    if not layout.whole:
        chosen = [(k, _input_tensor(v, k, batch, index)) for k, v in chosen]
    if isinstance(batch, Mapping) and (len(chosen) > 1 or layout.whole):
        return (), {str(k): v for k, v in chosen}
    return tuple(v for _, v in chosen), {}


def split(batch: Any, layout: BatchLayout, index: int, device: torch.device | None = None,
          dtype: torch.dtype = torch.float32) -> Batch:
    """Split ``batch`` by ``layout``, its tensors moved to ``device`` (``None``: left where they are).

    Inputs and targets that are not tensors (lists of numbers, say) become tensors. Checks
    that inputs and targets agree on the batch size.

    Raises:
        DataError: a form the layout cannot split, a missing key or index, or mismatched sizes.
    """
    if device is not None:
        batch = moved(batch, device, dtype)
    target_key, targets = _targets_of(batch, layout, index)
    args, kwargs = _call_of(batch, layout, target_key, index)
    if device is not None:
        args, kwargs = moved(args, device, dtype), moved(kwargs, device, dtype)
    target_tensor = None if targets is None else _tensor(targets, "targets", index)
    if target_tensor is not None and device is not None:
        target_tensor = moved(target_tensor, device, dtype)
    first = next((v for v in (*args, *kwargs.values()) if torch.is_tensor(v)), None)
    if first is None:
        first = next((t for _, t in _named_tensors(batch, "")), None)
    if target_tensor is not None and (target_tensor.ndim == 0 or (first is not None and (
            first.ndim == 0 or first.shape[0] != target_tensor.shape[0]))):
        found = tuple(first.shape) if first is not None else "none"
        raise DataError(f"expected inputs and targets with the same batch size at batch {index}, found inputs "
                        f"{found} and targets {tuple(target_tensor.shape)}")
    sized = target_tensor if target_tensor is not None else first
    if sized is None or sized.ndim == 0:
        raise DataError(f"expected batch {index} to hold a tensor with a batch dimension, found {_describe(batch)}")
    return Batch(batch, args, kwargs, target_tensor, int(sized.shape[0]), index)
