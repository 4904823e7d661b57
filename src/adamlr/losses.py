"""Loss names to functions ``fn(outputs, targets) -> scalar mean``."""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F

from adamlr.errors import DataError, LoadError
from adamlr.loading import load_object

LossFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


def _same_shape(name: str, fn: LossFn) -> LossFn:
    def loss(outputs: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        if outputs.shape != targets.shape:
            raise DataError(
                f"expected {name} outputs and targets of the same shape, found outputs "
                f"{tuple(outputs.shape)} and targets {tuple(targets.shape)}"
            )
        return fn(outputs, targets)

    loss.__name__ = name
    return loss


LOSSES: dict[str, LossFn] = {
    "cross_entropy": F.cross_entropy,
    "nll": F.nll_loss,
    "mse": _same_shape("mse", F.mse_loss),
    "bce_with_logits": _same_shape("bce_with_logits", F.binary_cross_entropy_with_logits),
}


def resolve_loss(loss: str | LossFn) -> tuple[LossFn, str]:
    """Return the loss function and its display name.

    Args:
        loss: one of :data:`LOSSES`' names, an import path ``"pkg.mod:fn"``, or a callable.

    Raises:
        LoadError: an unknown name or a path that names nothing callable.
    """
    if callable(loss):
        return loss, getattr(loss, "__name__", type(loss).__name__)
    if loss in LOSSES:
        return LOSSES[loss], loss
    if ":" not in loss:
        raise LoadError(f"expected a loss among {', '.join(LOSSES)} or an import path 'pkg.mod:fn', found {loss!r}")
    fn = load_object(loss)
    if not callable(fn):
        raise LoadError(f"expected {loss!r} to be a function fn(outputs, targets), found {type(fn).__name__}")
    return fn, loss
