"""The probe: a few Adam steps at a candidate rate from w0, on the user's own batches; where does the loss go?

Full batch (data given as tensors or a Dataset, no ``--batch-size``), each step takes the
full-data gradient and the loss after step t is L(w_t), exactly. On mini-batches (a DataLoader's
batches, or random batches of ``--batch-size``), each step takes one batch as training does; the
loss of step t is that batch's loss at w_{t−1} (free: it comes with the gradient, on a batch the
weights have not seen), and the probe ends with L(w_k) on a fixed evaluation set of examples.

Verdicts, judged against L(w0) on the same examples:

* ``descends``: the loss never went above L(w0);
* ``transient``: it went above L(w0) for a while but ended below it (Adam often starts above
  its stability threshold and settles: a transient rise is not a blow-up);
* ``rises``: it ended above L(w0), or became NaN/infinite: a run at this rate will likely blow up.

On mini-batches a step's loss counts as above L(w0) when the mean of three consecutive batch
losses is, so that one hard batch is not read as a rise. A probe whose loss passes
:data:`BLOWUP` × L(w0) stops there: it has blown up (``rises``, L(w_k) = +inf), and the steps it
would have taken are saved.
"""

from __future__ import annotations

import math
import statistics
import time
from collections.abc import Iterable, Sequence
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

Verdict = Literal["descends", "transient", "rises"]
SMOOTHING = 3
BLOWUP = 100.0


@dataclass(frozen=True)
class ProbeResult:
    """The outcome of :func:`probe`.

    Attributes:
        steps: Adam steps taken.
        lr: the learning rate probed.
        losses: the loss of each step (full batch: L(w_t), t = 1..k; mini-batch: the batch loss at w_{t−1}).
        initial_loss: L(w0) on the examples the verdict compares against.
        final_loss: L(w_k) on those examples (+inf when it blew up).
        verdict: ``descends``, ``transient`` or ``rises`` (see the module docstring).
        peak_ratio: the largest (smoothed) loss over L(w0).
        steps_above: how many steps' (smoothed) losses lay above L(w0).
        batch_size: examples per step (None: full batch).
        seconds: wall-clock time of the probe.
        step_seconds: the mean time of one Adam step (gradient and update), for the cost in epochs.
    """

    steps: int
    lr: float
    losses: tuple[float, ...]
    initial_loss: float
    final_loss: float
    verdict: Verdict
    peak_ratio: float
    steps_above: int
    batch_size: int | None
    seconds: float
    step_seconds: float = 0.0

    @property
    def blew_up(self) -> bool:
        """The verdict is ``rises``: the loss ended above L(w0) or was not finite."""
        return self.verdict == "rises"

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready values; a non-finite loss becomes ``None`` (JSON has no NaN or infinity)."""
        out = asdict(self)
        out["losses"] = [_finite(x) for x in self.losses]
        out["final_loss"], out["peak_ratio"] = _finite(self.final_loss), _finite(self.peak_ratio)
        return out

    @staticmethod
    def from_dict(d: dict[str, Any]) -> ProbeResult:
        """The inverse of :meth:`to_dict` (``None`` back to +inf)."""
        known = {k: d[k] for k in ProbeResult.__dataclass_fields__ if k in d}
        known["losses"] = tuple(_infinite(x) for x in d.get("losses", ()))
        known["final_loss"], known["peak_ratio"] = _infinite(d.get("final_loss")), _infinite(d.get("peak_ratio"))
        return ProbeResult(**known)


def _finite(x: float) -> float | None:
    return x if math.isfinite(x) else None


def _infinite(x: float | None) -> float:
    return math.inf if x is None else float(x)


def judge(losses: Sequence[float], initial_loss: float, final_loss: float, smoothing: int = 1
          ) -> tuple[Verdict, float, int]:
    """The verdict, the peak ratio and the steps above L(w0) of a loss curve (module docstring).

    >>> judge([2.0, 1.5], 2.3, 1.5)
    ('descends', 0.8695652173913044, 0)
    >>> judge([2.9, 1.5], 2.3, 1.5)[0], judge([2.0, 2.6], 2.3, 2.6)[0], judge([1.0, math.nan], 2.3, math.nan)[0]
    ('transient', 'rises', 'rises')
    """
    values = [x if math.isfinite(x) else math.inf for x in losses]
    window = max(1, min(smoothing, len(values)))
    smoothed = [statistics.fmean(values[i:i + window]) if math.inf not in values[i:i + window] else math.inf
                for i in range(len(values) - window + 1)] or [final_loss]
    above = sum(x > initial_loss for x in smoothed)
    peak = max(smoothed) / initial_loss if initial_loss > 0 else math.inf
    if not math.isfinite(final_loss) or math.inf in values or final_loss > initial_loss:
        return "rises", peak, above
    return ("transient" if above else "descends"), peak, above


def probe(objective: Objective, params: Params, lr: float, *, steps: int = 10, batches: Iterable[Batch] | None = None,
          evaluation: Objective | None = None, initial_loss: float | None = None,
          betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8) -> ProbeResult:
    """Run ``steps`` Adam steps at ``lr`` from ``params`` (never modified) and judge the loss.

    Adam is ``torch.optim.Adam``'s update (:func:`adamlr.diagnostics.adam.adam_update`) from
    zero moments, applied functionally.

    Args:
        objective: the full-data loss L (full batch: each step's gradient; also the default evaluation).
        params: w0, by name.
        lr: the rate to probe (> 0).
        steps: k, the number of Adam steps (≥ 1; at most ``len(batches)`` with batches).
        batches: the user's batches to step on, in order; ``None`` for full-batch steps.
        evaluation: where L(w_k) and L(w0) are measured after mini-batch steps (default ``objective``).
        initial_loss: L(w0) on the evaluation examples when the caller has it.

    Cost: full batch, ``steps`` full-data gradients and one evaluation; mini-batch, ``steps``
    batch gradients and one evaluation of ``evaluation``.

    Raises:
        ValueError: ``lr`` ≤ 0, ``steps`` < 1, or no batch to step on.
    """
    taken = None if batches is None else list(islice(batches, steps))
    if not lr > 0 or steps < 1 or (taken is not None and not taken):
        raise ValueError(f"expected lr > 0, steps >= 1 and a batch to step on, found lr={lr}, steps={steps}")
    started = time.perf_counter()
    target = evaluation or objective
    if initial_loss is None:
        initial_loss = target.value(params)
    adam = AdamSettings(lr, betas, eps)
    limit = BLOWUP * abs(initial_loss) if initial_loss else math.inf
    if taken is None:
        losses, final, spent = _full_batch_run(objective, params, steps, adam, limit)
        smoothing, size = 1, None
    else:
        losses, final, spent = _batch_run(target, params, taken, adam, limit)
        smoothing, size = SMOOTHING, _batch_size(taken[0])
    verdict, peak, above = judge(losses, initial_loss, final, smoothing)
    return ProbeResult(len(losses), lr, tuple(losses), initial_loss, final, verdict, peak, above, size,
                       time.perf_counter() - started, spent / max(len(losses), 1))


def _batch_size(batch: Batch) -> int | None:
    """Examples in a batch: an adamlr Batch's size, or the length of a raw batch's first tensor."""
    if hasattr(batch, "size") and isinstance(batch.size, int):
        return int(batch.size)
    first = batch[0] if isinstance(batch, (tuple, list)) and batch else None
    shape = getattr(first, "shape", None)
    return int(shape[0]) if shape else None


Run = tuple[list[float], float, float]
"""The losses, L(w_k) (+inf when not finite) and the seconds the steps took (the final evaluation apart)."""


def _full_batch_run(objective: Objective, params: Params, steps: int, adam: AdamSettings, limit: float) -> Run:
    started = time.perf_counter()
    current, moments = params, zero_moments(params)
    losses: list[float] = []
    for step in range(steps):
        loss, grads = full_gradient(objective, current)
        if step > 0:
            losses.append(loss)  # L(w_step), from the gradient pass at w_step
        if not math.isfinite(loss) or loss > limit:
            return losses, math.inf, time.perf_counter() - started
        current, moments = adam_update(current, grads, moments, adam)
    taken = time.perf_counter() - started
    final = full_loss(objective, current)
    losses.append(final)
    return losses, final if math.isfinite(final) else math.inf, taken


def _batch_run(evaluation: Objective, params: Params, batches: list[Batch], adam: AdamSettings, limit: float) -> Run:
    started = time.perf_counter()
    current, moments = params, zero_moments(params)
    losses: list[float] = []
    for batch in batches:
        loss, grads = batch_gradient(evaluation, current, batch)
        losses.append(loss)
        if not math.isfinite(loss) or loss > limit:
            return losses, math.inf, time.perf_counter() - started
        current, moments = adam_update(current, grads, moments, adam)
    taken = time.perf_counter() - started
    final = full_loss(evaluation, current)
    return losses, final if math.isfinite(final) else math.inf, taken
