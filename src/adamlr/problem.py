"""Resolve what the user gave (model, data, loss) into an :class:`Objective` to analyse."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from adamlr.batch import BatchLayout
from adamlr.choices import OWN_LOSSES, DtypeName, NormMode
from adamlr.data import BatchSource, as_batches
from adamlr.errors import ModelError, UsageError, call_user
from adamlr.loading import describe, load_loss, load_object
from adamlr.losses import LossFn
from adamlr.objective import Objective, Params, batch_statistics_layers, trainable_parameters, working_copy
from adamlr.rng import preserved_rng, seed_all

Shard = Callable[[Any, str], Any]
"""The user's data object (or factory) and its name ↦ this process's share of it."""

TORCH_DTYPES: dict[DtypeName, torch.dtype] = {"float32": torch.float32, "float64": torch.float64}


def resolve_device(name: str) -> torch.device:
    """``auto`` → CUDA when available, else CPU; ``cuda`` without a GPU is a usage error."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise UsageError(f"expected a CUDA device for --device {name}, found none (torch {torch.__version__})")
    try:
        return torch.device(name)
    except RuntimeError as exc:
        raise UsageError(f"expected a device like cpu, cuda or cuda:0, found {name!r}") from exc


def build_model(model: Any, seed: int) -> tuple[nn.Module, Callable[[], nn.Module] | None, str]:
    """Import and call the model factory under ``seed``; returns (module, factory, name).

    Call inside :func:`adamlr.rng.preserved_rng`: the global RNG is seeded here.
    """
    name = describe(model)
    obj = load_object(model) if isinstance(model, str) else model
    if isinstance(obj, nn.Module):
        return obj, None, name
    if not callable(obj):
        raise ModelError(f"expected {name} to be an nn.Module or a function returning one, found {type(obj).__name__}")
    seed_all(seed)
    module = call_user(obj, f"model factory {name}")
    if not isinstance(module, nn.Module):
        raise ModelError(f"expected model factory {name} to return an nn.Module, found {type(module).__name__}")
    return module, obj, name


def load_batches(data: Any, *, device: torch.device, dtype: torch.dtype, chunk_size: int | None = None,
                 layout: BatchLayout | None = None, shard: Shard | None = None, name: str | None = None) -> BatchSource:
    """A :class:`BatchSource` for data given as an import path or an object (see :func:`as_batches`).

    ``shard(obj, name)``, when given, cuts the user's object to this process's share first
    (:class:`adamlr.sharding.Sharder`).
    """
    obj = load_object(data) if isinstance(data, str) else data
    name = name or describe(data)
    if shard is not None:
        obj = shard(obj, name)
    return as_batches(obj, name=name, device=device, dtype=dtype, chunk_size=chunk_size, layout=layout)


def layout_for(loss: Any, inputs: Any = None, targets: Any = None) -> BatchLayout:
    """How batches split for ``loss``: a loss the model computes itself gets the whole batch."""
    return BatchLayout.parse(inputs, targets, whole=isinstance(loss, str) and loss in OWN_LOSSES)


def model_data(module: nn.Module, loss: Any, name: str) -> Any:
    """The data when ``--data`` is not given: a LightningModule's ``train_dataloader`` with ``--loss training_step``.

    Raises:
        UsageError: another loss, or a module without ``train_dataloader``.
    """
    loader = getattr(module, "train_dataloader", None)
    if loss != "training_step" or not callable(loader):
        raise UsageError(f"expected --data, found none (only --loss training_step on a module with train_dataloader() "
                         f"can do without it; {name} is a {type(module).__name__})")
    return _NamedFactory(loader, f"{name}.train_dataloader()")


class _NamedFactory:
    """A zero-argument factory with the name reports give it."""

    def __init__(self, fn: Callable[[], Any], name: str) -> None:
        self.fn = fn
        self.adamlr_name = name

    def __call__(self) -> Any:
        return self.fn()


def training_data(model: Any, loss: Any, seed: int) -> Any:
    """The default data of ``model`` (see :func:`model_data`), built under ``seed``, the RNG restored."""
    with preserved_rng():
        module, _, name = build_model(model, seed)
    return model_data(module, loss, name)


@dataclass(frozen=True)
class Sources:
    """What defines a problem as code, as the user gave it, for the cache key (:mod:`adamlr.fingerprints`).

    Attributes:
        factory: the model factory (None for a module instance).
        loss: the loss function (or the name of one).
        data: the data object or its factory (None for a LightningModule's own loader).
    """

    factory: Any = None
    loss: Any = None
    data: Any = None


@dataclass
class Problem:
    """The resolved model, data and loss.

    Attributes:
        user_model: the module the factory returned (or the user's instance); never modified.
        factory: the zero-argument factory, when one was given.
        objective: L(w) on a working copy of the model.
        initial_params: w0, the factory's weights, on the working device and dtype.
        warnings: things the user should know (which statistics BatchNorm uses, …).
        sources: what defines the problem as code, for the cache key: the model factory, the loss
            function and the data object or factory as the user gave them (see :mod:`adamlr.fingerprints`).
        whole_data: under torchrun with sharded data, the user's unsharded data (an iterable of batches),
            from which every rank takes the probes' first batches alike; None otherwise.
    """

    user_model: nn.Module
    factory: Callable[[], nn.Module] | None
    model_name: str
    objective: Objective
    initial_params: Params
    device: torch.device
    dtype: torch.dtype
    warnings: list[str]
    sources: Sources = Sources()
    whole_data: Any = None

    @property
    def n_params(self) -> int:
        return sum(p.numel() for p in self.initial_params.values())


def prepare(model: Any, data: Any, loss: str | LossFn, *, device: str, dtype: DtypeName, seed: int,
            chunk_size: int | None = None, norm_mode: NormMode = "train", inputs: Any = None, targets: Any = None,
            output: str | None = None, shard: Shard | None = None) -> Problem:
    """Build the problem: model under ``seed``, working copy in ``norm_mode``, batches and loss.

    Args:
        data: the data, or ``None`` for a LightningModule's ``train_dataloader()`` (``--loss training_step``).
        inputs, targets: ``--inputs``/``--targets``, how batches split (see :mod:`adamlr.batch`).
        output: ``--output``, the entry of the model's output the loss function gets.

    Raises:
        UsageError: ``chunk_size`` would change the loss (batch-statistics normalisation), or no data.
    """
    dev = resolve_device(device)
    torch_dtype = TORCH_DTYPES[dtype]
    loss_fn, loss_name = load_loss(loss)
    user_model, factory, model_name = build_model(model, seed)
    work, warnings = working_copy(user_model, dev, torch_dtype, norm_mode)
    if data is None:
        data = model_data(user_model, loss, model_name)
    data_object = load_object(data) if isinstance(data, str) else data
    batches = load_batches(data_object, name=describe(data), device=dev, dtype=torch_dtype, chunk_size=chunk_size,
                           layout=layout_for(loss, inputs, targets), shard=shard)
    warnings += _batch_statistics_notes(work, batches, norm_mode)
    if loss == "training_step":
        warnings.append("the loss is the model's training_step(batch, batch_idx), called outside a Trainer: its "
                        "self.log calls are ignored")
    objective = Objective(work, loss_fn, batches, loss_name, output)
    return Problem(user_model, factory, model_name, objective, trainable_parameters(work), dev, torch_dtype, warnings,
                   sources=Sources(factory, loss_fn, data_object))


def _batch_statistics_notes(work: nn.Module, batches: BatchSource, norm_mode: NormMode) -> list[str]:
    """What "the batch" is when BatchNorm uses batch statistics; refuse chunks that would change the loss."""
    if not batch_statistics_layers(work, norm_mode) or batches.n_batches == 1:
        return []
    if batches.chunked:
        raise UsageError(
            f"expected --chunk-size to leave the loss unchanged, found BatchNorm layers that normalise with each "
            f"batch's statistics (--norm-mode {norm_mode}), so chunks of the data would change the loss; drop "
            "--chunk-size, pass a DataLoader whose batches are your training batches, or use --norm-mode eval"
        )
    return [f"L(w) is the size-weighted mean over the {batches.n_batches} batches of {batches.description}, each "
            "normalised with its own statistics, as in training"]
