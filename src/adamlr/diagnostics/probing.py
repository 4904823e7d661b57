"""The probe: a few Adam steps at a candidate rate from w0; does the full-data loss ever rise above L(w0)?

design.md records why this is the verdict to trust over a curvature-based limit: at useful
rates Adam runs above its initial stability threshold and settles, while the paper's α
spiked the loss 10²–10⁵× on the first step of plain ReLU nets, which a short probe sees.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from itertools import islice
from typing import Any, Literal

from adamlr.diagnostics.adam import (
    AdamSettings,
    Batch,
    adam_update,
    batch_gradient,
    full_gradient,
    full_loss,
    zero_moments,
)
from adamlr.objective import Objective, Params

Verdict = Literal["descends", "rises"]


@dataclass(frozen=True)
class ProbeResult:
    """The outcome of :func:`probe`.

    Attributes:
        steps: Adam steps taken (fewer than asked only when ``batches`` ran out).
        lr: the learning rate probed.
        losses: full-data loss L(w_t) after each step t = 1..steps.
        initial_loss: L(w0).
        verdict: ``"rises"`` if some L(w_t) > L(w0) or is not finite, else ``"descends"``.
        seconds: wall-clock time of the probe.
    """

    steps: int
    lr: float
    losses: tuple[float, ...]
    initial_loss: float
    verdict: Verdict
    seconds: float

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready values; a non-finite loss becomes ``None`` (JSON has no NaN or infinity)."""
        out = asdict(self)
        out["losses"] = [loss if math.isfinite(loss) else None for loss in self.losses]
        return out


def probe(
    objective: Objective,
    params: Params,
    lr: float,
    *,
    steps: int = 10,
    betas: tuple[float, float] = (0.9, 0.999),
    eps: float = 1e-8,
    batches: Iterable[Batch] | None = None,
    initial_loss: float | None = None,
) -> ProbeResult:
    """Run ``steps`` Adam steps at ``lr`` from ``params`` and watch the full-data loss.

    Adam is ``torch.optim.Adam``'s update (see :func:`adamlr.diagnostics.adam.adam_update`),
    started from zero moments, applied functionally: ``params`` is never modified. The loss
    is the Objective's, in its normalisation mode (``--norm-mode``, see :mod:`adamlr.objective`):
    by default BatchNorm uses each batch's statistics, as in training; dropout is off.

    * ``batches=None``: full-batch Adam, w_t = w_{t−1} − Adam(∇L(w_{t−1})). The loss L(w_t)
      comes with the gradient taken at w_t for the next step, so the cost is ``steps``
      full-data gradients plus two loss evaluations (L(w0), and L(w_steps)).
    * ``batches`` given (the user's first batches, ``(inputs, targets)`` each): one step per
      batch on that batch's mean loss, for at most ``steps`` batches; L(w_t) is then a
      separate full-data evaluation after each step, so the cost is ``steps`` batch
      gradients plus ``steps + 1`` full-data evaluations.

    Args:
        objective: the full-data loss L.
        params: w0, by name.
        lr: the learning rate to probe (> 0).
        steps: k, the number of Adam steps (≥ 1).
        betas: Adam's (β₁, β₂).
        eps: Adam's ε.
        batches: the batches to step on, or ``None`` for full-batch steps.
        initial_loss: L(w0) when the caller has it (``Objective.value(params)``); computed otherwise.

    Raises:
        ValueError: ``lr`` ≤ 0, ``steps`` < 1, or ``batches`` empty.
    """
    if not lr > 0 or steps < 1:
        raise ValueError(f"expected lr > 0 and steps >= 1, found lr={lr} and steps={steps}")
    started = time.perf_counter()
    if initial_loss is None:
        initial_loss = objective.value(params)
    adam = AdamSettings(lr, betas, eps)
    losses = _full_batch_run(objective, params, steps, adam) if batches is None else \
        _batch_run(objective, params, islice(batches, steps), adam)
    rises = any(not math.isfinite(loss) or loss > initial_loss for loss in losses)
    verdict: Verdict = "rises" if rises else "descends"
    return ProbeResult(len(losses), lr, tuple(losses), initial_loss, verdict, time.perf_counter() - started)


def _full_batch_run(objective: Objective, params: Params, steps: int, adam: AdamSettings) -> list[float]:
    current, moments = params, zero_moments(params)
    losses: list[float] = []
    for step in range(steps):
        loss, grads = full_gradient(objective, current)
        if step > 0:
            losses.append(loss)  # L(w_step), from the gradient pass at w_step
        current, moments = adam_update(current, grads, moments, adam)
    losses.append(full_loss(objective, current))
    return losses


def _batch_run(objective: Objective, params: Params, batches: Iterable[Batch], adam: AdamSettings) -> list[float]:
    current, moments = params, zero_moments(params)
    losses: list[float] = []
    for batch in batches:
        _, grads = batch_gradient(objective, current, batch)
        current, moments = adam_update(current, grads, moments, adam)
        losses.append(full_loss(objective, current))
    if not losses:
        raise ValueError("expected at least one batch to probe on, found none")
    return losses


HALVING_STEPS = 10  # the rule as design.md proposed it and benchmarks/recommend.py measured it; never tuned
HALVING_FACTOR = 0.5
MAX_HALVINGS = 40


@dataclass(frozen=True)
class HalvingResult:
    """The outcome of :func:`halve_until_descends`.

    Attributes:
        rate: the first rate whose probe descended (or the last one tried).
        start: the rate it started from.
        halvings: how many times the rate was halved.
        descended: whether a probe descended within ``MAX_HALVINGS`` halvings.
        seconds: wall-clock time of the probes it ran.
    """

    rate: float
    start: float
    halvings: int
    descended: bool
    seconds: float

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def halve_until_descends(objective: Objective, params: Params, start: float, *, first: ProbeResult | None = None,
                         initial_loss: float | None = None, steps: int = HALVING_STEPS,
                         factor: float = HALVING_FACTOR, max_halvings: int = MAX_HALVINGS) -> HalvingResult:
    """The ``probe_halving`` rule: start at ``start`` and halve until a full-batch probe descends.

    Each try is :func:`probe` with ``steps`` full-batch Adam steps from ``params``; the rate
    is multiplied by ``factor`` while the loss rises above L(w0). On the benchmark of
    ``docs/recommendation.md`` this rule, started at the paper's α, landed within 3× of the
    best grid rate on 8 of 11 setups (the paper's α: 4). It only lowers a rate, so it cannot
    help where α is too small (the convex setups there).

    Args:
        objective: the full-data loss L.
        params: w0, by name (not modified).
        start: the rate to start from (the paper's α).
        first: a probe already run at ``start`` with ``steps`` full-batch steps, reused.
        initial_loss: L(w0) when the caller has it; else taken from ``first`` or computed once
            (not once per probe).
        steps: k, Adam steps per probe.
        factor: the multiplier applied after a probe that rose.
        max_halvings: give up after this many.
    """
    started = time.perf_counter()
    if initial_loss is None:
        initial_loss = first.initial_loss if first is not None else objective.value(params)
    rate = start
    for halvings in range(max_halvings + 1):
        reuse = halvings == 0 and first is not None and first.steps == steps and first.lr == start
        verdict = first.verdict if reuse and first is not None else \
            probe(objective, params, rate, steps=steps, initial_loss=initial_loss).verdict
        if verdict == "descends":
            return HalvingResult(rate, start, halvings, True, time.perf_counter() - started)
        if halvings < max_halvings:
            rate *= factor
    return HalvingResult(rate, start, max_halvings, False, time.perf_counter() - started)
