"""Training runs of the benchmark: one optimizer for T steps from the shared w0, plain PyTorch.

Full-batch setups take one step per epoch on the whole data; mini-batch setups take seeded
shuffled batches (the same order for every rate). Each run records the loss of every step (the
batch's loss before the step, free) and ends with the full-data training loss in eval mode. A
loss that becomes NaN or infinite, or exceeds :data:`BLOWUP` × L(w0), ends the run as diverged
(final loss +inf).
"""

from __future__ import annotations

import copy
import math
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from adamlr.loading import load_object
from adamlr.losses import resolve_loss
from lrbench.setups import Setup

BLOWUP = 1e6
EVAL_CHUNK = 8192
OptimizerFactory = Callable[[list[torch.Tensor]], torch.optim.Optimizer]


@dataclass
class Prepared:
    """What every run of one setup shares: w0 (the factory called under ``seed``), the data, the loss."""

    setup: Setup
    model: nn.Module
    state: dict[str, torch.Tensor]
    x: torch.Tensor
    y: torch.Tensor
    loss_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
    seed: int
    initial_loss: float = math.nan

    @property
    def n_examples(self) -> int:
        return int(self.x.shape[0])

    @property
    def steps(self) -> int:
        """T in Adam steps."""
        return self.setup.steps(self.n_examples)

    @property
    def steps_per_epoch(self) -> int:
        return 1 if self.setup.batch_size is None else math.ceil(self.n_examples / self.setup.batch_size)

    def fresh_model(self) -> nn.Module:
        """A copy of the model at w0."""
        model = copy.deepcopy(self.model)
        model.load_state_dict(self.state)
        return model


def prepare(setup: Setup, seed: int = 0) -> Prepared:
    """Call the factories (the model under ``seed``); the caller's global RNG state is kept."""
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        model = load_object(setup.model)()
    x, y = load_object(setup.data)()
    loss_fn, _ = resolve_loss(setup.loss)
    assert callable(loss_fn)
    state = {k: v.detach().clone() for k, v in model.state_dict().items()}
    prepared = Prepared(setup, model, state, x, y, loss_fn, seed)
    prepared.initial_loss = full_loss(prepared, prepared.fresh_model())
    return prepared


@torch.no_grad()
def full_loss(prepared: Prepared, model: nn.Module) -> float:
    """The mean training loss over all examples, in eval mode (one pass; chunks only for large data)."""
    model.eval()
    n, total = prepared.n_examples, 0.0
    step = n if n <= EVAL_CHUNK else EVAL_CHUNK
    for i in range(0, n, step):
        xb, yb = prepared.x[i:i + step], prepared.y[i:i + step]
        total += float(prepared.loss_fn(model(xb), yb)) * xb.shape[0]
    model.train()
    return total / n


def batches(prepared: Prepared) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """The training batches in order, endlessly: the whole data, or seeded shuffled mini-batches."""
    size = prepared.setup.batch_size
    generator = torch.Generator().manual_seed(prepared.seed)
    while True:
        if size is None:
            yield prepared.x, prepared.y
            continue
        order = torch.randperm(prepared.n_examples, generator=generator)
        for i in range(0, prepared.n_examples, size):
            index = order[i:i + size]
            yield prepared.x[index], prepared.y[index]


@dataclass(frozen=True)
class RunOutcome:
    """The end of one training run.

    Attributes:
        name: the rate or optimizer trained (``"3.16e-03"``, ``"prodigy"``).
        rate: the constant Adam rate, or None for an optimizer that sets its own.
        final_loss: full-data training loss after T steps (+inf when the run diverged).
        diverged: the loss became non-finite or exceeded BLOWUP × L(w0).
        losses: the batch loss of every step (up to a divergence).
        seconds: wall time of the run.
    """

    name: str
    rate: float | None
    final_loss: float
    diverged: bool
    losses: tuple[float, ...]
    seconds: float

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "rate": self.rate, "final_loss": finite_or_none(self.final_loss),
                "diverged": self.diverged, "losses": [finite_or_none(x) for x in self.losses],
                "seconds": self.seconds}

    @staticmethod
    def from_dict(d: dict[str, Any]) -> RunOutcome:
        inf = math.inf
        return RunOutcome(d["name"], d["rate"], inf if d["final_loss"] is None else d["final_loss"], d["diverged"],
                          tuple(inf if x is None else x for x in d["losses"]), d["seconds"])


def finite_or_none(value: float) -> float | None:
    """JSON has no infinity: a non-finite number is written as null."""
    return value if math.isfinite(value) else None


def train(prepared: Prepared, name: str, make_optimizer: OptimizerFactory, rate: float | None = None,
          steps: int | None = None) -> RunOutcome:
    """Train a copy of w0 with ``make_optimizer(parameters)`` for T steps (or ``steps``); the global RNG is kept."""
    started = time.perf_counter()
    with torch.random.fork_rng():
        torch.manual_seed(prepared.seed)
        model = prepared.fresh_model()
        model.train()
        optimizer = make_optimizer([p for p in model.parameters() if p.requires_grad])
        getattr(optimizer, "train", lambda: None)()  # Schedule-Free switches its weights for training
        losses: list[float] = []
        limit = BLOWUP * max(abs(prepared.initial_loss), 1e-12)
        for _, (xb, yb) in zip(range(steps or prepared.steps), batches(prepared)):
            optimizer.zero_grad(set_to_none=True)
            loss = prepared.loss_fn(model(xb), yb)
            value = float(loss.detach())
            losses.append(value)
            if not math.isfinite(value) or value > limit:
                return RunOutcome(name, rate, math.inf, True, tuple(losses), time.perf_counter() - started)
            loss.backward()  # type: ignore[no-untyped-call]
            optimizer.step()
        getattr(optimizer, "eval", lambda: None)()  # Schedule-Free evaluates its averaged weights
        final = full_loss(prepared, model)
    diverged = not math.isfinite(final) or final > limit
    return RunOutcome(name, rate, math.inf if diverged else final, diverged, tuple(losses),
                      time.perf_counter() - started)


def adam(rate: float) -> OptimizerFactory:
    """``torch.optim.Adam`` at a constant ``rate`` (PyTorch's defaults otherwise)."""
    return lambda params: torch.optim.Adam(params, lr=rate)


def rate_label(rate: float) -> str:
    """A rate as a run name, e.g. ``3.16e-03``."""
    return f"{rate:.2e}"
