"""Models, data and losses a new user might hand in that sit at the edge of what an estimate can do (issue 28).

:func:`model`, :func:`data` and :func:`loss` build each kind for the property-based test
(tests/test_degenerate.py); the zero-argument ``model_<kind>``, ``data_<kind>`` and ``loss_<kind>`` below are the
same problems as import paths, for the command line.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

FEATURES, OUTPUTS = 3, 2


def breast_cancer_linear() -> nn.Module:
    """Logistic regression over the 30 breast-cancer features."""
    return nn.Linear(30, 2)


def breast_cancer_raw() -> tuple[torch.Tensor, torch.Tensor]:
    """scikit-learn's breast-cancer features left raw (scales up to 2,500): the softmax saturates at w0."""
    from sklearn.datasets import load_breast_cancer

    x, y = load_breast_cancer(return_X_y=True)
    return torch.tensor(x, dtype=torch.float32), torch.tensor(y)


# --- models -----------------------------------------------------------------------------------------------------------

class Frozen(nn.Module):
    """Two layers, the first frozen (``some``) or both (``all``)."""

    def __init__(self, which: str) -> None:
        super().__init__()
        self.a, self.b = nn.Linear(FEATURES, 4), nn.Linear(4, OUTPUTS)
        for name, p in self.named_parameters():
            if which == "all" or name.startswith("a."):
                p.requires_grad_(False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.b(torch.tanh(self.a(x)))


class MixedDtypes(nn.Module):
    """A float64 layer before a float32 one; forward casts to each layer's own dtype."""

    def __init__(self) -> None:
        super().__init__()
        self.a, self.b = nn.Linear(FEATURES, 4).double(), nn.Linear(4, OUTPUTS)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = torch.tanh(self.a(x.to(self.a.weight.dtype)))
        return self.b(h.to(self.b.weight.dtype))


class Tied(nn.Module):
    """The same weight matrix used twice (``b.weight is a.weight``)."""

    def __init__(self) -> None:
        super().__init__()
        self.a, self.b, self.c = nn.Linear(FEATURES, FEATURES), nn.Linear(FEATURES, FEATURES), nn.Linear(FEATURES, 2)
        self.b.weight = self.a.weight

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.c(torch.tanh(self.b(torch.tanh(self.a(x)))))


class CountingBuffer(nn.Module):
    """A buffer that ``forward`` increments, and one (a running mean) that ``forward`` updates and uses."""

    def __init__(self) -> None:
        super().__init__()
        self.a = nn.Linear(FEATURES, OUTPUTS)
        self.register_buffer("calls", torch.zeros(()))
        self.register_buffer("mean", torch.zeros(FEATURES))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.calls += 1
        with torch.no_grad():
            self.mean.mul_(0.9).add_(0.1 * x.float().mean(0))
        return self.a(x - self.mean.to(x.dtype))


class Unused(nn.Module):
    """A layer the output never reaches: no gradient path to its parameters."""

    def __init__(self) -> None:
        super().__init__()
        self.a, self.unused = nn.Linear(FEATURES, OUTPUTS), nn.Linear(FEATURES, OUTPUTS)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.a(x)


class Detached(nn.Module):
    """An output cut from every parameter (``detach``)."""

    def __init__(self) -> None:
        super().__init__()
        self.a = nn.Linear(FEATURES, OUTPUTS)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.a(x).detach()


class ConstantOutput(nn.Module):
    """Zeros whatever the weights (a parameter exists, no path leads to it)."""

    def __init__(self) -> None:
        super().__init__()
        self.a = nn.Linear(FEATURES, OUTPUTS)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.zeros(x.shape[0], OUTPUTS, dtype=self.a.weight.dtype)


class Embedded(nn.Module):
    """Integer inputs (token ids) through an embedding."""

    def __init__(self) -> None:
        super().__init__()
        self.e = nn.Embedding(10, OUTPUTS)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.e(x.long().clamp(0, 9)).sum(1)


def _zero_output() -> nn.Module:
    net = nn.Sequential(nn.Linear(FEATURES, 4), nn.Tanh(), nn.Linear(4, OUTPUTS))
    nn.init.zeros_(net[2].weight)
    nn.init.zeros_(net[2].bias)
    return net


MODELS: dict[str, Callable[[], nn.Module]] = {
    "linear": lambda: nn.Linear(FEATURES, OUTPUTS),
    "mlp": lambda: nn.Sequential(nn.Linear(FEATURES, 4), nn.Tanh(), nn.Linear(4, OUTPUTS)),
    "zero_output": _zero_output,  # outputs 0 at w0: mse on zero targets is exactly 0 there
    "frozen_all": lambda: Frozen("all"),
    "frozen_some": lambda: Frozen("some"),
    "mixed_dtypes": MixedDtypes,
    "tied": Tied,
    "buffers": CountingBuffer,
    "unused": Unused,
    "detached": Detached,
    "constant_output": ConstantOutput,
    "embedding": Embedded,
}


def model(kind: str) -> Callable[[], nn.Module]:
    """A zero-argument factory of the model ``kind`` (one of :data:`MODELS`)."""
    return MODELS[kind]


# --- data -------------------------------------------------------------------------------------------------------------

TARGETS = ("classes", "values", "zeros")
FORMS = ("tensors", "loader", "one_batch")


def data(n: int, scale: float = 1.0, targets: str = "classes", integer: bool = False, form: str = "tensors",
         loader_batch: int = 4, seed: int = 0) -> Any:
    """``n`` examples of :data:`FEATURES` inputs at ``scale`` (integers 0–9 with ``integer``), as ``form``."""
    g = torch.Generator().manual_seed(seed)
    x = torch.randint(0, 10, (n, FEATURES), generator=g) if integer else torch.randn(n, FEATURES, generator=g) * scale
    y = {"classes": lambda: torch.randint(0, OUTPUTS, (n,), generator=g),
         "values": lambda: torch.randn(n, OUTPUTS, generator=g),
         "zeros": lambda: torch.zeros(n, OUTPUTS)}[targets]()
    if form == "loader":
        return DataLoader(TensorDataset(x, y), batch_size=loader_batch, shuffle=False)
    if form == "one_batch":
        return [(x, y)]
    return x, y


# --- losses -----------------------------------------------------------------------------------------------------------

def _linear(outputs: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """Linear in the outputs: with a linear model, a Hessian of exactly 0 everywhere."""
    return (outputs * targets.reshape(outputs.shape[0], -1).to(outputs.dtype)).mean() + 10.0


def _constant(outputs: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    return outputs.sum() * 0.0 + 1.0


def _constant_detached(outputs: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    return torch.tensor(1.0)


def _squares(outputs: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """The outputs' mean square: exactly 0 at w0 for a model whose output is 0 there (``zero_output``)."""
    return (outputs**2).mean()


def _zero(outputs: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    return outputs.sum() * 0.0


def _nonscalar(outputs: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    return ((outputs - targets.reshape(outputs.shape[0], -1).to(outputs.dtype)) ** 2).mean(1)


def _nontensor(outputs: torch.Tensor, targets: torch.Tensor) -> float:
    return float(((outputs - targets.reshape(outputs.shape[0], -1).to(outputs.dtype)) ** 2).mean())


def _fit(outputs: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """Cross-entropy on class targets, mean squared error on the others."""
    if targets.dtype in (torch.int64, torch.int32):
        return F.cross_entropy(outputs, targets)
    return F.mse_loss(outputs, targets.to(outputs.dtype))


def turns_bad(at: int, value: float) -> Callable[[torch.Tensor, torch.Tensor], torch.Tensor]:
    """A loss that becomes ``value`` (NaN or ±inf) from its ``at``-th call on (mid-probe, mid-solve)."""
    calls = [0]

    def loss(outputs: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        calls[0] += 1
        fit = _fit(outputs, targets)
        return fit * value if calls[0] >= at else fit

    return loss


LOSSES: dict[str, Any] = {
    "fit": _fit, "squares": _squares, "zero": _zero, "linear": _linear, "constant": _constant,
    "constant_detached": _constant_detached,
    "nonscalar": _nonscalar, "nontensor": _nontensor,
}


def loss(kind: str, at: int = 1) -> Any:
    """The loss ``kind``: one of :data:`LOSSES`, or ``nan``/``inf``/``-inf`` from call ``at`` on."""
    if kind in ("nan", "inf", "-inf"):
        return turns_bad(at, float(kind))
    return LOSSES[kind]


# --- the same as import paths, for the command line ---------------------------------------------------------------

def model_linear() -> nn.Module:
    return MODELS["linear"]()


def model_mlp() -> nn.Module:
    return MODELS["mlp"]()


def model_zero_output() -> nn.Module:
    return _zero_output()


def model_frozen_all() -> nn.Module:
    return Frozen("all")


def model_tied() -> nn.Module:
    return Tied()


def model_buffers() -> nn.Module:
    return CountingBuffer()


def model_detached() -> nn.Module:
    return Detached()


def model_embedding() -> nn.Module:
    return Embedded()


def data_classes() -> Any:
    return data(12)


def data_huge() -> Any:
    return data(12, scale=1e6)


def data_tiny() -> Any:
    return data(12, scale=1e-6)


def data_one_example() -> Any:
    return data(1)


def data_integers() -> Any:
    return data(12, integer=True)


def data_zeros() -> Any:
    return data(12, targets="zeros")


def loss_linear(outputs: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    return _linear(outputs, targets)


def loss_nonscalar(outputs: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    return _nonscalar(outputs, targets)


def loss_nontensor(outputs: torch.Tensor, targets: torch.Tensor) -> float:
    return _nontensor(outputs, targets)


def loss_nan_later(outputs: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """NaN from the 6th call on in this process (mid-solve or mid-probe, depending on the settings)."""
    _LATER[0] += 1
    fit = _fit(outputs, targets)
    return fit * float("nan") if _LATER[0] >= 6 else fit


_LATER = [0]
