"""Step-size schedules of the paper's section 5, as pure functions ``lr(t)`` of the epoch t.

``t`` counts epochs from 0 to ``T − 1``; the step size is held for a whole epoch. The paper
tuned each scheduler (its Table 1, appendix C.1, is not in the text we have); the defaults
here are the common textbook or PyTorch choices, *not* tuned, and each one can be
overridden in YAML (``schedulers: {step: {step_size: 20}}``). Every scheduler starts from
``base_lr`` = 1e-3, Adam's default step.

A second set, ``paper-code`` (:data:`PAPER_CODE_SCHEDULERS`), is what the authors' public
code runs: eight schedulers from 0.01 with their constants (see :data:`SCHEDULER_SETS`).

>>> round(linear(50, 100, 1e-3), 12)
0.0005
>>> step(60, 100, 1e-3, step_size=30, gamma=0.1) == 1e-3 * 0.1 ** 2
True
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Any

Schedule = Callable[..., float]


def linear(t: int, T: int, base_lr: float, end_factor: float = 0.0) -> float:
    """Linear decay from ``base_lr`` to ``end_factor·base_lr`` at t = T."""
    return base_lr * (1.0 + (end_factor - 1.0) * t / T)


def step(t: int, T: int, base_lr: float, step_size: int = 30, gamma: float = 0.1) -> float:
    """Multiply by ``gamma`` every ``step_size`` epochs (PyTorch's StepLR with its usual values)."""
    return base_lr * gamma ** (t // step_size)


def sqrt_decay(t: int, T: int, base_lr: float) -> float:
    """α / sqrt(t + 1), the decay of the classic Adam/AMSGrad convergence proofs."""
    return base_lr / math.sqrt(t + 1)


def inverse_time(t: int, T: int, base_lr: float, decay_rate: float = 1.0, decay_steps: float = 10.0) -> float:
    """α / (1 + decay_rate · t / decay_steps) (Keras' InverseTimeDecay)."""
    return base_lr / (1.0 + decay_rate * t / decay_steps)


def exponential(t: int, T: int, base_lr: float, gamma: float = 0.95) -> float:
    """α · gamma^t (PyTorch's ExponentialLR)."""
    return base_lr * gamma**t


def one_cycle(t: int, T: int, base_lr: float, pct_start: float = 0.3, div_factor: float = 25.0,
              final_div_factor: float = 1e4) -> float:
    """Smith & Topin's one-cycle (PyTorch's OneCycleLR, cosine phases) with max_lr = base_lr.

    Rises from base_lr/div_factor to base_lr over the first pct_start of the run, then falls
    to base_lr/(div_factor·final_div_factor) at the last epoch.
    """
    initial, final = base_lr / div_factor, base_lr / (div_factor * final_div_factor)
    up = max(pct_start * T - 1, 1.0)
    if t <= up:
        return _cos_between(initial, base_lr, t / up)
    return _cos_between(base_lr, final, (t - up) / max(T - 1 - up, 1.0))


def cosine(t: int, T: int, base_lr: float, eta_min: float = 0.0) -> float:
    """Cosine annealing from base_lr to eta_min over T epochs (PyTorch's CosineAnnealingLR)."""
    return eta_min + (base_lr - eta_min) * 0.5 * (1.0 + math.cos(math.pi * t / T))


def constant(t: int, T: int, base_lr: float) -> float:
    return base_lr


def _cos_between(start: float, end: float, fraction: float) -> float:
    return end + (start - end) * 0.5 * (1.0 + math.cos(math.pi * min(max(fraction, 0.0), 1.0)))


SCHEDULERS: dict[str, Schedule] = {
    "linear": linear, "step": step, "sqrt_decay": sqrt_decay, "inverse_time": inverse_time,
    "exponential": exponential, "one_cycle": one_cycle, "cosine": cosine,
}




# The authors' public code (alokendumazumder/ADAM_Convergence, get_scheduler.py and utils.py) runs
# these eight from 0.01, full batch, one scheduler step per epoch.
def sqrt_decay_from_one(t: int, T: int, base_lr: float) -> float:
    """α / sqrt(max(t, 1)): the authors' 0.01/√epoch with epochs counted from 1.

    Their scheduler raises its epoch counter to 1 *before* the first decay, and the first
    epoch runs at the initial rate, so epochs 0 and 1 (0-based) both use α.

    >>> [round(sqrt_decay_from_one(t, 100, 0.01), 6) for t in (0, 1, 4)]
    [0.01, 0.01, 0.005]
    """
    return base_lr / math.sqrt(max(t, 1))


def exp_decay(t: int, T: int, base_lr: float, decay_rate: float = 0.01) -> float:
    """α · e^(−decay_rate · t) (the authors' ``exponential_decay``; ``exponential`` is ExponentialLR).

    >>> round(exp_decay(100, 100, 0.01), 10)
    0.0036787944
    """
    return base_lr * math.exp(-decay_rate * t)


def cosine_period(t: int, T: int, base_lr: float, eta_min: float = 0.005, period: int = 100) -> float:
    """Cosine from α down to eta_min over ``period`` epochs, whatever T (the authors' ``cosine_decay``).

    η_t = eta_min + (α − eta_min)·(1 + cos(π t / period))/2.

    >>> cosine_period(0, 3, 0.01), round(cosine_period(50, 100, 0.01), 10), round(cosine_period(100, 100, 0.01), 10)
    (0.01, 0.0075, 0.005)
    """
    return cosine(t, period, base_lr, eta_min)


# Names match the default set where the schedule is the same kind; exp_decay is the authors' second
# exponential. Their OneCycleLR also cycles Adam's β₁ (0.95 → 0.85 → 0.95): not modelled here.
PAPER_CODE_SCHEDULERS: dict[str, Schedule] = {
    "linear": partial(linear, end_factor=0.1),  # LinearLR(start_factor=1, end_factor=0.1, total_iters=T)
    "step": partial(step, step_size=40),  # StepLR(40, γ=0.1); the authors use 10 for T=20, 20 for T=50
    "sqrt_decay": sqrt_decay_from_one,
    "inverse_time": partial(inverse_time, decay_rate=0.01, decay_steps=1.0),  # 0.01/(1 + 0.01·t)
    "exp_decay": exp_decay,
    "exponential": partial(exponential, gamma=0.9),  # ExponentialLR(0.9)
    "one_cycle": one_cycle,  # OneCycleLR(max_lr=0.01), one step per epoch
    "cosine": cosine_period,
}


@dataclass(frozen=True)
class SchedulerSet:
    """A named family of schedulers and the rate they all start from (``base_lr``)."""

    base_lr: float
    schedulers: dict[str, Schedule]


SCHEDULER_SETS: dict[str, SchedulerSet] = {
    "default": SchedulerSet(1e-3, SCHEDULERS),
    "paper-code": SchedulerSet(1e-2, PAPER_CODE_SCHEDULERS),
}


def schedule_values(name: str, T: int, base_lr: float, options: dict[str, Any] | None = None,
                    scheduler_set: str = "default") -> list[float]:
    """The step size of every epoch 0..T−1 (a name outside ``scheduler_set`` is held constant)."""
    fn = SCHEDULER_SETS[scheduler_set].schedulers.get(name, constant)
    return [fn(t, T, base_lr, **(options or {})) for t in range(T)]
