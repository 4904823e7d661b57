"""The training loss as a function of the weights: L(w) = (1/n) Σ_b n_b · loss_b(w).

The user's module is never modified: :func:`working_copy` deep-copies it, moves the copy
to the target device and dtype and sets its normalisation mode, and every evaluation goes
through :func:`torch.func.functional_call` with an explicit parameter dictionary.

Normalisation modes (``--norm-mode``), for networks with BatchNorm:

* ``train`` (default): the loss that training minimises. Each BatchNorm layer normalises
  with the statistics of the batch being evaluated; L is the size-weighted mean over the
  batches of the data source (for a DataLoader, the user's own batches, each with its own
  statistics). The copy's running statistics are never read or updated: its BatchNorm
  layers are switched to ``track_running_stats=False``, which in train mode normalises
  with the batch's statistics and passes no running buffers to ``batch_norm``.
* ``eval``: the running statistics, frozen (what PyHessian and the authors' code use).

Dropout is off in both: a Hessian needs a deterministic loss.

The model is called on each batch as :mod:`adamlr.batch` splits it; attention runs on
PyTorch's math kernel, since the fused ones (flash, memory-efficient) have no double backward.
"""

from __future__ import annotations

import contextlib
import copy
import math
import warnings
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any

import torch
from torch import nn
from torch.func import functional_call

from adamlr.batch import Batch
from adamlr.choices import NormMode
from adamlr.data import BatchSource
from adamlr.errors import AdamlrError, DataError, InputError, ModelError, NumericalError
from adamlr.losses import LossSpec, own_loss, select_output

try:  # torch >= 2.3
    from torch.nn.attention import SDPBackend, sdpa_kernel

    def _math_attention() -> contextlib.AbstractContextManager[None]:
        return sdpa_kernel([SDPBackend.MATH])
except ImportError:  # pragma: no cover - older torch: no fused kernel choice to make
    def _math_attention() -> contextlib.AbstractContextManager[None]:
        return contextlib.nullcontext()

Params = dict[str, torch.Tensor]

STATEFUL_LAYERS = (nn.modules.batchnorm._NormBase, nn.modules.dropout._DropoutNd)


def differs_in_eval(layer: nn.Module) -> bool:
    """Whether ``layer`` computes something else in eval mode than in train mode.

    BatchNorm with running statistics normalises with them in eval mode and with the
    batch's statistics in train mode; ``track_running_stats=False`` uses the batch's in
    both. Dropout with p > 0 is the identity in eval mode only.
    """
    if isinstance(layer, nn.modules.batchnorm._NormBase):
        return bool(layer.track_running_stats)
    if isinstance(layer, nn.modules.dropout._DropoutNd):
        return layer.p > 0
    return False


def batch_statistics_layers(module: nn.Module, norm_mode: NormMode) -> list[nn.modules.batchnorm._NormBase]:
    """The BatchNorm-like layers that normalise with the evaluated batch's statistics under ``norm_mode``."""
    norms = [m for m in module.modules() if isinstance(m, nn.modules.batchnorm._NormBase)]
    return norms if norm_mode == "train" else [m for m in norms if not m.track_running_stats]


def working_copy(module: nn.Module, device: torch.device, dtype: torch.dtype,
                 norm_mode: NormMode = "eval") -> tuple[nn.Module, list[str]]:
    """Deep-copy ``module`` to ``device``/``dtype`` with normalisation in ``norm_mode`` and dropout off.

    Returns:
        The copy, and notes about the layers whose behaviour the mode decides.
    """
    try:
        work = copy.deepcopy(module)
    except Exception as exc:
        raise ModelError(f"expected a model that copy.deepcopy can copy, found {type(exc).__name__}: {exc}") from exc
    work = work.to(device=device, dtype=dtype).eval()
    differing = sorted({type(m).__name__ for m in work.modules() if differs_in_eval(m)})
    if norm_mode == "train":
        for layer in batch_statistics_layers(work, "train"):
            layer.train()
            layer.track_running_stats = False  # batch statistics; running buffers neither read nor written
    return work, _mode_notes(work, differing, norm_mode)


def _mode_notes(work: nn.Module, differing: list[str], norm_mode: NormMode) -> list[str]:
    dropout = any(isinstance(m, nn.modules.dropout._DropoutNd) and m.p > 0 for m in work.modules())
    off = "; Dropout is off, as in eval mode (a Hessian needs a deterministic loss)" if dropout else ""
    batch_norms = sorted({type(m).__name__ for m in batch_statistics_layers(work, norm_mode)})
    if norm_mode == "train" and batch_norms:
        return [f"{', '.join(batch_norms)} layers normalise with each batch's statistics (--norm-mode train: the "
                f"loss training minimises); their running statistics are never updated{off}"]
    if norm_mode == "eval" and differing:
        return [f"model has {', '.join(differing)} layers: the Hessian is taken in eval mode (running statistics "
                "frozen, dropout off), which differs from the training-mode loss (--norm-mode train)"]
    return [off[2].upper() + off[3:]] if off else []


def trainable_parameters(module: nn.Module) -> Params:
    """The parameters that require grad, detached, by name."""
    params = {name: p.detach() for name, p in module.named_parameters() if p.requires_grad}
    if not params:
        raise ModelError("expected a model with at least one trainable parameter, found none")
    return params


def accumulate_gradient(parts: Iterable[torch.Tensor], inputs: list[torch.Tensor]) -> tuple[float, list[torch.Tensor]]:
    """Σ parts and its gradient with respect to ``inputs``, one backward per part (one batch's graph at a time).

    The sum is returned as a float, unchecked: a diverging run gives inf or NaN here rather
    than an exception (:meth:`Objective.value` is the checked form).
    """
    total = 0.0
    sums = [torch.zeros_like(x) for x in inputs]
    for part in parts:
        total += float(part.detach())
        if part.requires_grad:
            grads = torch.autograd.grad(part, inputs, allow_unused=True)
            sums = [s if g is None else s + g for s, g in zip(sums, grads)]
    return total, sums


def _shape(t: object) -> str:
    return str(tuple(t.shape)) if torch.is_tensor(t) else type(t).__name__


def _call_description(batch: Batch) -> str:
    """What the model was given, for messages: ``inputs of shape (8, 4)`` or each argument's shape."""
    if len(batch.args) == 1 and not batch.kwargs and torch.is_tensor(batch.args[0]):
        return f"inputs of shape {tuple(batch.args[0].shape)}"
    parts = [_shape(a) for a in batch.args] + [f"{k}={_shape(v)}" for k, v in batch.kwargs.items()]
    return f"arguments ({', '.join(parts)})"


class _TrainingStep(nn.Module):
    """Calls ``module.training_step(batch, batch_idx)`` as its forward, so ``functional_call`` can route weights.

    ``torch.func.functional_call`` only calls ``forward``; with the user's module as the child
    ``module``, its parameters are this wrapper's ``module.<name>``, and the ``self(...)`` calls
    inside ``training_step`` see them.
    """

    def __init__(self, module: nn.Module) -> None:
        super().__init__()
        self.module = module

    def forward(self, batch: Any, batch_idx: int) -> Any:
        step = getattr(self.module, "training_step")  # noqa: B009 (nn.Module's __getattr__ types it as a Tensor)
        return step(batch, batch_idx)


@contextmanager
def _call_context(own: bool) -> Iterator[None]:
    """Attention by the math kernel (fused ones have no double backward); Lightning's ``self.log`` unheard.

    A LightningModule's ``self.log`` outside a Trainer only warns, once per call; that warning
    is silenced (the report says the logs are ignored).
    """
    with warnings.catch_warnings():
        if own:
            warnings.filterwarnings("ignore", message=r".*self\.log\(\)", category=UserWarning)
        with _math_attention():
            yield


class Objective:
    """The full-data mean loss of a model, evaluated at arbitrary parameters.

    Args:
        module: the working copy (see :func:`working_copy`).
        loss_fn: ``fn(outputs, targets) -> scalar mean`` over a batch, or ``"model"`` (the
            model's own ``loss``, called on the whole batch) or ``"training_step"``.
        batches: the data.
        loss_name: how to name the loss in messages.
        output: which entry of the model's output the loss function gets (``--output``);
            ``None``: a tensor itself, a tuple's first element, a dict's ``logits``.
    """

    def __init__(self, module: nn.Module, loss_fn: LossSpec, batches: BatchSource, loss_name: str,
                 output: str | None = None) -> None:
        self.module = module
        self.loss_fn = loss_fn
        self.batches = batches
        self.loss_name = loss_name
        self.output = output
        self._step = _TrainingStep(module) if loss_fn == "training_step" else None

    def on(self, batches: BatchSource) -> Objective:
        """The same model and loss on other data (e.g. one random batch)."""
        return Objective(self.module, self.loss_fn, batches, self.loss_name, self.output)

    def call(self, params: Params, batch: Batch) -> Any:
        """What the model (or ``training_step``) returns on ``batch`` at ``params``; failures become one clear error."""
        try:
            with _call_context(self._step is not None):
                if self._step is not None:
                    routed = {f"module.{k}": v for k, v in params.items()}
                    return functional_call(self._step, routed, (batch.data, batch.index))
                return functional_call(self.module, params, batch.args, batch.kwargs)
        except AdamlrError:
            raise
        except Exception as exc:
            what = ("training_step to run on the batch" if self._step is not None
                    else f"the model to accept {_call_description(batch)}")
            raise DataError(f"expected {what}, found {type(exc).__name__}: {exc}") from exc

    def outputs(self, params: Params, batch: Batch | torch.Tensor) -> torch.Tensor:
        """The model's outputs at ``params`` (the ``--output`` entry); a bare tensor is taken as the inputs."""
        if torch.is_tensor(batch):
            batch = Batch(batch, (batch,), {}, None, int(batch.shape[0]) if batch.ndim else 1)
        selected: torch.Tensor = select_output(self.call(params, batch), self.output)
        return selected

    def batch_loss(self, params: Params, batch: Any) -> torch.Tensor:
        """Mean loss on one batch (a :class:`Batch`, or a batch as the data gives it); clear errors."""
        return self.loss_and_outputs(params, self.batches.make_batch(batch))[0]

    def loss_and_outputs(self, params: Params, batch: Batch) -> tuple[torch.Tensor, torch.Tensor | None]:
        """The batch's loss and the outputs it came from (``None`` when the model computed its own loss
        and its output has no ``logits``/``--output`` entry, or for ``training_step``)."""
        if self._step is not None:
            return own_loss(self.call(params, batch), "training_step"), None
        out = self.call(params, batch)
        if self.loss_fn == "model":
            try:
                selected = select_output(out, self.output)
            except DataError:
                selected = None
            return own_loss(out, "model"), selected if torch.is_tensor(selected) else None
        if batch.targets is None:
            raise DataError(f"expected batch {batch.index} to hold targets for loss {self.loss_name}, found none")
        selected = select_output(out, self.output)
        return self.loss(selected, batch.targets), selected

    def loss(self, outputs: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        """The loss of ``outputs`` against ``targets`` as a scalar, with the same clear errors."""
        if isinstance(self.loss_fn, str):
            raise TypeError(f"loss {self.loss_name} is computed by the model; use batch_loss")
        try:
            loss = self.loss_fn(outputs, targets)
        except AdamlrError:
            raise
        except Exception as exc:
            raise DataError(
                f"expected loss {self.loss_name} to accept outputs {_shape(outputs)} and targets "
                f"{_shape(targets)} (dtype {targets.dtype}), found {type(exc).__name__}: {exc}"
            ) from exc
        if not torch.is_tensor(loss) or loss.numel() != 1:
            raise InputError(f"expected loss {self.loss_name} to return a scalar tensor, found {_shape(loss)}")
        return loss.reshape(())

    def reduce(self, tensor: torch.Tensor) -> torch.Tensor:
        """Sum ``tensor`` over the processes that share the data (:mod:`adamlr.sharding`); here: itself."""
        return tensor

    def summed(self, loss: float, grads: list[torch.Tensor]) -> tuple[float, list[torch.Tensor]]:
        """A loss and its gradient summed over the processes that share the data; here: as they are."""
        return loss, grads

    @property
    def local_examples(self) -> int:
        """Examples this process evaluates (all of them unless the data is sharded)."""
        return self.batches.n_examples

    @property
    def sharded(self) -> bool:
        """Whether this process holds only its share of the data (torchrun, ``--parallel data``)."""
        return self.local_examples != self.batches.n_examples

    def weighted_losses(self, params: Params) -> Iterator[torch.Tensor]:
        """Yield ``(n_b / n) · loss_b`` per batch: their sum is L(w), and so is its gradient's."""
        n = self.batches.n_examples
        for batch in self.batches:
            yield self.batch_loss(params, batch) * (batch.size / n)

    def loss_and_gradient(self, params: Params) -> tuple[float, list[torch.Tensor]]:
        """L(w) and ∇L(w) (in ``params``' order) over all data; ``params`` must require grad.

        The loss comes with the gradient at no extra cost; it is not checked for finiteness.
        """
        return self.summed(*accumulate_gradient(self.weighted_losses(params), list(params.values())))

    def value(self, params: Params) -> float:
        """L(w): the full-data mean loss, weighted by batch size so a short batch counts right.

        Raises:
            NumericalError: the loss is NaN or infinite.
        """
        total = 0.0
        count = 0
        with torch.no_grad():
            for batch in self.batches:
                total += float(self.batch_loss(params, batch)) * batch.size
                count += batch.size
        summed = self.reduce(torch.tensor([total, count], dtype=torch.float64))  # over shards; here: as they are
        value = float(summed[0]) / float(summed[1])
        if not math.isfinite(value):
            raise NumericalError(f"expected a finite loss over the data, found {value} ({self.loss_name})")
        return value
