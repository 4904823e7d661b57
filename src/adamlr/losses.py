"""Losses: names to functions ``fn(outputs, targets) -> scalar mean``, and what to take from a model's output.

A model may return a tensor, a tuple or list (its first element is the outputs), or a dict or
Hugging Face ``ModelOutput`` (its ``logits``); ``--output KEY`` names another entry. With a loss
the model computes itself (:data:`~adamlr.choices.OwnLoss`), the loss is its output's ``loss``.

>>> select_output({"logits": torch.ones(2, 3), "hidden": torch.zeros(2)}, None).shape
torch.Size([2, 3])
>>> float(own_loss((torch.tensor(0.5), torch.ones(2)), "model"))
0.5
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import torch
import torch.nn.functional as F

from adamlr.choices import LOSS_NAMES, OWN_LOSSES, OwnLoss
from adamlr.errors import ConfigError, DataError, InputError, did_you_mean, shorten

LossFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
LossSpec = LossFn | OwnLoss
"""A loss function of (outputs, targets), or the name of a loss the model computes itself."""


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



def resolve_loss(loss: str | LossFn) -> tuple[LossSpec, str]:
    """Return the loss (a function, or the name of a loss the model computes) and its display name.

    Args:
        loss: one of :data:`LOSSES`' names, ``model`` or ``training_step``, or a callable. An
            import path ``"pkg.mod:fn"`` is user code: :func:`adamlr.loading.load_loss` imports it.

    Raises:
        ConfigError: an unknown name, or an import path.
    """
    if callable(loss):
        return loss, getattr(loss, "__name__", type(loss).__name__)
    if loss in LOSSES:
        return LOSSES[loss], loss
    if loss in OWN_LOSSES:
        return loss, loss
    if ":" not in loss:  # a name, mistyped: a usage error (exit 2), as a bad --weights or --device is
        raise ConfigError("invalid settings", [unknown_loss(loss)])
    raise ConfigError("invalid settings", [f"loss: {shorten(loss)} is an import path, which "
                                           "adamlr.loading.load_loss imports (this function takes names)"])


def unknown_loss(name: str) -> str:
    """The problem with a loss name that is none of the built-in ones (with its did-you-mean)."""
    names = (*LOSS_NAMES, *OWN_LOSSES)
    return (f"loss: expected one of {', '.join(names)} or an import path 'pkg.mod:fn', found {shorten(name)}"
            f"{did_you_mean(name, names)}")


def _kind(value: Any) -> str:
    if isinstance(value, Mapping):
        return f"{type(value).__name__} with keys {', '.join(map(str, value)) or '(none)'}"
    return type(value).__name__


def select_output(out: Any, key: str | None) -> Any:
    """The outputs a loss function gets: ``out`` itself, its first element, its ``logits``, or ``out[key]``.

    Raises:
        DataError: ``out`` holds nothing of the kind (the message names what it holds).
    """
    if key is None:
        if torch.is_tensor(out):
            return out
        if isinstance(out, Mapping) and "logits" in out:
            return out["logits"]
        if isinstance(out, (tuple, list)) and out:
            return out[0]
        if not isinstance(out, Mapping) and getattr(out, "logits", None) is not None:
            return out.logits
        raise DataError(f"expected the model to return a tensor, a tuple, or a dict or ModelOutput with 'logits', "
                        f"found {_kind(out)}; name the entry to use with --output KEY")
    if isinstance(out, Mapping):
        if key in out:
            return out[key]
    elif isinstance(out, (tuple, list)):
        if key.isdigit() and int(key) < len(out):
            return out[int(key)]
    elif getattr(out, key, None) is not None:
        return getattr(out, key)
    raise DataError(f"expected the model's output to hold {key!r} (--output), found {_kind(out)}")


def own_loss(out: Any, source: OwnLoss) -> torch.Tensor:
    """The loss a model computed itself: ``training_step``'s tensor or ``["loss"]``; the model output's ``loss``.

    Raises:
        InputError: no loss in ``out``, or one that is not a scalar tensor.
    """
    if isinstance(out, Mapping):
        value = out.get("loss")
    elif torch.is_tensor(out) or source == "training_step":
        value = out
    elif isinstance(out, (tuple, list)) and out:
        value = out[0]
    else:
        value = getattr(out, "loss", None)
    if not torch.is_tensor(value) or value.numel() != 1:
        where = ("training_step to return the loss (a scalar tensor, or a dict with 'loss')"
                 if source == "training_step" else
                 "the model, called on the whole batch (labels included), to return its loss (a scalar tensor, "
                 "a tuple starting with it, or an output with .loss / ['loss'])")
        found = f"{_kind(out)}" + (f" whose loss is {_kind(value)}" if value is not out else "")
        hint = "" if source == "training_step" else "; does each batch hold the labels (a 'labels' key)?"
        raise InputError(f"expected {where}, found {found}{hint}")
    return value.reshape(())
