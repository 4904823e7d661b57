"""An LR range test (Smith 2017; the way torch-lr-finder and Lightning suggest a rate).

Adam steps on mini-batches while the rate grows exponentially from ``start`` to ``end``;
the suggestion is the rate at the steepest descent of the smoothed loss curve (loss
against log rate), the first 10 and last 5 points skipped, as torch-lr-finder does.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
from torch import nn

from adamlr.comparison.training import trainable
from adamlr.data import BatchSource
from adamlr.losses import LossSpec
from adamlr.objective import Objective

SMOOTHING = 0.05  # exponential smoothing of the loss, torch-lr-finder's default
SKIP_START, SKIP_END = 10, 5


def lr_range_test(make_model: Callable[[], nn.Module], state: dict[str, torch.Tensor], train: BatchSource,
                  loss_fn: LossSpec, device: torch.device, dtype: torch.dtype, *, steps: int = 100,
                  start: float = 1e-7, end: float = 1.0, batch_size: int = 256, seed: int = 0,
                  loss_name: str = "loss", output: str | None = None) -> float:
    """Return the suggested learning rate (never modifies ``state``)."""
    model = make_model()
    model.load_state_dict(state)
    model.to(device, dtype).train()
    params = trainable(model)
    objective = Objective(model, loss_fn, train, loss_name, output)
    optimizer = torch.optim.Adam(params.values(), lr=start)
    assert train.random_access is not None, "the runner only calls this on data with random access"
    n = train.random_access[1]
    gen = torch.Generator().manual_seed(seed)
    ratio = (end / start) ** (1.0 / (steps - 1))
    lrs: list[float] = []
    losses: list[float] = []
    for i in range(steps):
        lr = start * ratio**i
        for group in optimizer.param_groups:
            group["lr"] = lr
        batch = train.pick(torch.randperm(n, generator=gen)[: min(batch_size, n)])
        optimizer.zero_grad(set_to_none=True)
        loss = objective.batch_loss(params, batch)
        loss.backward()  # type: ignore[no-untyped-call]
        optimizer.step()
        value = float(loss.detach())
        if not math.isfinite(value):
            break
        lrs.append(lr)
        losses.append(value if not losses else SMOOTHING * value + (1 - SMOOTHING) * losses[-1])
        if losses[-1] > 4 * min(losses):
            break
    return _steepest(lrs, losses, start)


def _steepest(lrs: list[float], losses: list[float], fallback: float) -> float:
    """The rate where the smoothed loss falls fastest per decade, skipping the ends (as torch-lr-finder)."""
    lo, hi = SKIP_START, len(losses) - SKIP_END
    if hi - lo < 3:
        return fallback
    slopes = {i: (losses[i + 1] - losses[i - 1]) / math.log(lrs[i + 1] / lrs[i - 1]) for i in range(lo + 1, hi - 1)}
    return lrs[min(slopes, key=slopes.__getitem__)]
