"""Full-data gradients and Adam's update on parameter dictionaries, shared by the probe and the stability limit.

Both diagnostics run Adam from w0 without touching the user's weights: the update here is
functional (every step returns new tensors, nothing is written in place), so the input
dictionary stays bit for bit what it was.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch

from adamlr.objective import Objective, Params, accumulate_gradient

Batch = Any
"""A batch: an :class:`adamlr.batch.Batch`, or one as the data gives it (an ``(inputs, targets)`` pair, …)."""


@dataclass(frozen=True)
class AdamSettings:
    """Adam's hyper-parameters: the learning rate, (β₁, β₂) and ε."""

    lr: float
    betas: tuple[float, float] = (0.9, 0.999)
    eps: float = 1e-8


@dataclass(frozen=True)
class AdamMoments:
    """Adam's state after ``step`` updates: the first and second moment estimates m_t and v_t, by name."""

    first: Params
    second: Params
    step: int


def zero_moments(params: Params) -> AdamMoments:
    """m_0 = v_0 = 0, as Adam starts."""
    return AdamMoments({k: torch.zeros_like(p) for k, p in params.items()},
                       {k: torch.zeros_like(p) for k, p in params.items()}, 0)


def adam_update(params: Params, grads: Params, moments: AdamMoments, adam: AdamSettings) -> tuple[Params, AdamMoments]:
    """One Adam step (Kingma & Ba 2015) exactly as ``torch.optim.Adam`` computes it (no weight decay, no AMSGrad).

    With t the new step count and g the gradient:

        m_t = β₁ m_{t−1} + (1 − β₁) g,   v_t = β₂ v_{t−1} + (1 − β₂) g²,
        w_t = w_{t−1} − (lr / (1 − β₁ᵗ)) · m_t / (sqrt(v_t) / sqrt(1 − β₂ᵗ) + ε)

    (ε outside the square root, added after the bias correction of v).

    Returns:
        New weights and new moments; ``params``, ``grads`` and ``moments`` are not modified.
    """
    beta1, beta2 = adam.betas
    step = moments.step + 1
    first = {k: torch.lerp(moments.first[k], g, 1 - beta1) for k, g in grads.items()}
    second = {k: moments.second[k] * beta2 + (1 - beta2) * g * g for k, g in grads.items()}
    step_size = adam.lr / (1 - beta1**step)
    root_correction = (1 - beta2**step) ** 0.5
    updated = {k: p - step_size * first[k] / (second[k].sqrt() / root_correction + adam.eps) for k, p in params.items()}
    return updated, AdamMoments(first, second, step)


def _leaves(params: Params) -> Params:
    return {k: p.detach().requires_grad_(True) for k, p in params.items()}


def full_gradient(objective: Objective, params: Params) -> tuple[float, Params]:
    """L(w) and ∇L(w) over all data: Σ_b ∇((n_b/n)·loss_b), through ``Objective.weighted_losses``.

    The loss comes with the gradient at no extra cost (it is the forward pass's value). It is
    not checked for finiteness: a diverging run yields inf/NaN here rather than an exception.
    """
    leaves = _leaves(params)
    total, grads = objective.loss_and_gradient(leaves)
    return total, dict(zip(leaves, grads))


def full_loss(objective: Objective, params: Params) -> float:
    """L(w) = Σ_b (n_b/n)·loss_b without gradients; inf/NaN come back as they are (``Objective.value`` raises)."""
    with torch.no_grad():
        total = sum(float(part) for part in objective.weighted_losses(params))
    return float(objective.reduce(torch.tensor([total], dtype=torch.float64)))  # over shards; here: total


def batch_gradient(objective: Objective, params: Params, batch: Batch) -> tuple[float, Params]:
    """loss_b(w) and its gradient on one batch, moved to the data's device (floating tensors to its dtype).

    The batch is whole on this process (under torchrun every rank steps on the same batches), so nothing
    is summed over processes.
    """
    leaves = _leaves(params)
    total, grads = accumulate_gradient([objective.batch_loss(leaves, batch)], list(leaves.values()))
    return total, dict(zip(leaves, grads))
