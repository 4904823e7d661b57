"""Train one arm and record the paper's per-epoch metrics.

An epoch is one Adam step on the full-data gradient, one pass over seeded shuffled
mini-batches, or one pass over the data's own batches (``TrainSpec.batching``).

Per epoch t (0 = the initial weights) it records, over the *whole* training set in eval
mode: the gradient norm ‖∇L(w_t)‖₂ (the paper's main metric, not the last mini-batch's),
the training loss; on the test set, loss and accuracy; the step size used in the epoch
that follows, and the cumulative wall time.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict, dataclass
from typing import Any

import torch
from torch import nn

from adamlr.choices import Batching
from adamlr.comparison.arms import Arm
from adamlr.data import Batch, BatchSource
from adamlr.losses import LossSpec
from adamlr.objective import Objective, Params, differs_in_eval


@dataclass(frozen=True)
class EpochRecord:
    epoch: int
    lr: float | None
    grad_norm: float
    train_loss: float
    test_loss: float | None
    test_accuracy: float | None
    seconds: float


@dataclass(frozen=True)
class RunResult:
    """One arm, one seed."""

    arm: str
    family: str
    seed: int
    records: tuple[EpochRecord, ...]
    diverged: bool
    note: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {"arm": self.arm, "family": self.family, "seed": self.seed, "diverged": self.diverged,
                "note": self.note, "records": [asdict(r) for r in self.records]}

    @staticmethod
    def from_dict(d: dict[str, Any]) -> RunResult:
        return RunResult(d["arm"], d["family"], d["seed"], tuple(EpochRecord(**r) for r in d["records"]),
                         d["diverged"], d.get("note", ""))


def trainable(model: nn.Module) -> Params:
    """The live parameters that require grad, by name (gradients flow into the model)."""
    return {name: p for name, p in model.named_parameters() if p.requires_grad}


@torch.no_grad()
def evaluate(objective: Objective, params: Params) -> tuple[float, float | None]:
    """Mean loss and accuracy over the objective's data (accuracy only for class-index targets)."""
    total = correct = 0.0
    classify = True
    for batch in objective.batches:
        loss, out = objective.loss_and_outputs(params, batch)
        y = batch.targets
        total += float(loss) * batch.size
        classify = classify and out is not None and y is not None and not y.is_floating_point() and out.ndim == 2
        if classify:
            assert out is not None and y is not None
            correct += float((out.argmax(dim=1) == y).sum())
    n = objective.batches.n_examples
    return total / n, (correct / n if classify else None)


@dataclass
class TrainSpec:
    """What every arm shares: model, data, horizon, batching."""

    make_model: Callable[[], nn.Module]
    initial_state: dict[str, torch.Tensor]
    train: BatchSource
    test: BatchSource | None
    loss_fn: LossSpec
    loss_name: str
    epochs: int
    batch_size: int | None
    device: torch.device
    dtype: torch.dtype
    batching: Batching = "full"
    stream: BatchSource | None = None
    """With ``batching="loader"``: the user's batches, re-read each epoch (so a shuffling loader reshuffles)."""
    output: str | None = None
    """Which entry of the model's output the loss gets (``--output``)."""


def _epoch_batches(spec: TrainSpec, generator: torch.Generator) -> Iterable[Batch]:
    """The batches of one epoch: the data's own (``loader``) or seeded shuffled mini-batches."""
    if spec.batching == "loader":
        return spec.stream if spec.stream is not None else spec.train
    return _mini_batches(spec, generator)


def _mini_batches(spec: TrainSpec, generator: torch.Generator) -> Iterator[Batch]:
    """One epoch of shuffled mini-batches (the runner checked that the data has random access)."""
    assert spec.train.random_access is not None
    n = spec.train.random_access[1]
    order = torch.randperm(n, generator=generator)
    for i in range(0, n, spec.batch_size or n):
        yield spec.train.pick(order[i : i + (spec.batch_size or n)])


def train(arm: Arm, spec: TrainSpec, seed: int, on_epoch: Callable[[int], None] | None = None) -> RunResult:
    """Train ``arm`` from the shared initial weights for ``spec.epochs`` epochs."""
    model = spec.make_model()
    model.load_state_dict(spec.initial_state)
    model.to(spec.device, spec.dtype)
    stateful = any(differs_in_eval(m) for m in model.modules())  # else the metric's gradient is the step's
    params = trainable(model)
    objective = Objective(model, spec.loss_fn, spec.train, spec.loss_name, spec.output)
    test = objective.on(spec.test) if spec.test is not None else None
    optimizer = arm.optimizer([p for p in model.parameters() if p.requires_grad])  # the same tensors as ``params``
    generator = torch.Generator().manual_seed(seed)
    records: list[EpochRecord] = []
    started = time.perf_counter()
    for epoch in range(spec.epochs + 1):
        model.eval()
        arm.before_eval(optimizer)
        loss, grads = objective.loss_and_gradient(params)
        grad_norm = math.sqrt(sum(float((g.double() ** 2).sum()) for g in grads))
        test_loss, test_acc = evaluate(test, params) if test is not None else (None, None)
        arm.after_eval(optimizer)
        lr = arm.set_epoch(optimizer, epoch) if epoch < spec.epochs else None
        records.append(EpochRecord(epoch, lr, grad_norm, loss, test_loss, test_acc, time.perf_counter() - started))
        if on_epoch:
            on_epoch(epoch)
        if not (math.isfinite(loss) and math.isfinite(grad_norm)):
            return RunResult(arm.name, arm.family, seed, tuple(records), True, f"diverged at epoch {epoch}")
        if epoch == spec.epochs:
            break
        model.train()
        if spec.batch_size is None and spec.batching != "loader":
            _full_batch_step(objective, params, optimizer, grads if not stateful else None)
        else:
            for batch in _epoch_batches(spec, generator):
                optimizer.zero_grad(set_to_none=True)
                loss_b = objective.batch_loss(params, batch)
                loss_b.backward()  # type: ignore[no-untyped-call]
                optimizer.step()
    return RunResult(arm.name, arm.family, seed, tuple(records), False)


def _full_batch_step(objective: Objective, params: Params, optimizer: torch.optim.Optimizer,
                     grads: list[torch.Tensor] | None) -> None:
    """One Adam step on the full-data gradient (reusing the metric's gradient when train = eval mode)."""
    optimizer.zero_grad(set_to_none=True)
    if grads is None:
        _, grads = objective.loss_and_gradient(params)
    for p, g in zip(params.values(), grads):
        p.grad = g
    optimizer.step()
