"""The trust diagnostics of an estimate, computed after α from the same problem: no I/O.

* **probe**: k Adam steps at α from w0 (on copies), full batch, or k random batches of
  ``--batch-size``; the verdict is ``rises`` when the loss went above L(w0) at any step.
  This is the check that matters: on plain ReLU networks the paper's α blew the loss up on
  the first step (docs/results.md).
* **stability**: Adam's stability limit at w0, (2 + 2β₁)/((1 − β₁)·λ_max(P^{-1/2} H P^{-1/2}))
  with P from 10 warm-up steps at 1e-7 (Cohen et al. 2022, "Adaptive Gradient Methods at
  the Edge of Stability"). Information, not a verdict: useful constant rates were measured
  5–34× above it (shared notes, design.md), since Adam runs above its initial threshold and
  settles.
* **normalized**: the share of weight tensors followed by a normalisation layer; the
  paper's α held up in our runs only where every layer, output included, was normalised.
* **rules**: the paper's α and ``probe_halving`` (α halved until a 10-step full-batch probe
  descends), which measured better on docs/recommendation.md's benchmark (within 3× of the
  grid's best rate on 8 of 11 setups against the paper's 4). ``--rule`` picks the one a
  report recommends; ``lr`` stays the paper's α.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch

from adamlr.choices import HvpMode
from adamlr.config import Settings
from adamlr.data import Batch
from adamlr.diagnostics import NormalizationInfo, ProbeResult, StabilityResult, adam_stability, normalization_share
from adamlr.diagnostics import probe as adam_probe
from adamlr.diagnostics.probing import HALVING_STEPS, HalvingResult, halve_until_descends
from adamlr.problem import Problem
from adamlr.sampling import sample_seed

WARMUP_STEPS = 10
WARMUP_LR = 1e-7
PROBE_STREAM = 3  # sample_seed streams: 0 weights, 1 start vectors, 2 batches; 3 the diagnostics


@dataclass(frozen=True)
class Diagnostics:
    """What the probe, the stability limit and the normalisation check found."""

    probe: ProbeResult | None
    stability: StabilityResult
    normalization: NormalizationInfo
    halving: HalvingResult

    def to_dicts(self) -> dict[str, Any]:
        """The result's JSON keys ``probe``, ``stability``, ``normalized``, ``rules`` and ``probe_halving``."""
        return {"probe": self.probe.to_dict() if self.probe else None, "stability": self.stability.to_dict(),
                "normalized": self.normalization.to_dict(),
                "rules": {"paper": self.halving.start, "probe_halving": self.halving.rate},
                "probe_halving": self.halving.to_dict()}


def _probe_batches(problem: Problem, settings: Settings) -> list[Batch]:
    """k random batches of ``--batch-size`` examples, drawn as mini-batch training would draw them."""
    assert settings.batch_size is not None
    generator = torch.Generator().manual_seed(sample_seed(settings.seed, 0, stream=PROBE_STREAM))
    batches = problem.objective.batches
    return [next(iter(batches.random_batch(settings.batch_size, generator))) for _ in range(settings.probe_steps)]


def diagnose(problem: Problem, settings: Settings, lr: float, mode: HvpMode, initial_loss: float) -> Diagnostics:
    """Probe α, measure Adam's stability limit at w0 and the model's normalisation.

    Args:
        problem: the prepared problem (the Hessian in its ``--norm-mode``).
        settings: ``probe_steps`` (0: no probe), ``batch_size``, ``tol``, ``max_iter``, ``seed``.
        lr: the rate to judge (the paper's α).
        mode: how Hessian-vector products are computed for the stability solve.
        initial_loss: L(w0), already computed by the estimate (the probes reuse it).
    """
    objective, w0 = problem.objective, problem.initial_params
    probed = None
    if settings.probe_steps:
        batches = _probe_batches(problem, settings) if settings.batch_size else None
        probed = adam_probe(objective, w0, lr, steps=settings.probe_steps, batches=batches, initial_loss=initial_loss)
    stability = adam_stability(objective, w0, lr, warmup_steps=WARMUP_STEPS, warmup_lr=WARMUP_LR, tol=settings.tol,
                               max_iter=settings.max_iter, seed=sample_seed(settings.seed, 1, stream=PROBE_STREAM),
                               mode=mode)
    full_batch_probe = probed if probed is not None and not settings.batch_size else None
    halving = halve_until_descends(objective, w0, lr, first=full_batch_probe, initial_loss=initial_loss,
                                   steps=HALVING_STEPS)
    return Diagnostics(probed, stability, normalization_share(problem.objective.module), halving)
