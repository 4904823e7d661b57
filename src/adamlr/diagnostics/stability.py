"""Adam's stability limit at w0 from its preconditioned sharpness (Cohen et al. 2022).

Cohen, Ghorbani, Krishnan, Agarwal, Medapati, Badura, Suo, Cardoze, Nado, Dahl, Gilmer,
"Adaptive Gradient Methods at the Edge of Stability" (arXiv:2207.14484, 2022): full-batch
Adam with rate η, β₁ and a frozen diagonal preconditioner P is a linear recurrence on a
quadratic, stable exactly while the preconditioned sharpness λ_max(P^{-1/2} H P^{-1/2}) is
at most (2 + 2β₁)/((1 − β₁)·η) (38/η for β₁ = 0.9); in training it rises to that value
and hovers there ("adaptive edge of stability").
"""

from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass
from typing import Any

import torch

from adamlr.choices import HvpMode
from adamlr.diagnostics.adam import AdamSettings, adam_update, full_gradient, zero_moments
from adamlr.hvp import HessianOperator
from adamlr.objective import Objective, Params
from adamlr.solvers import EigenResult, spectral_norm


@dataclass(frozen=True)
class StabilityResult:
    """The outcome of :func:`adam_stability`.

    Attributes:
        lr_limit: (2 + 2β₁)/((1 − β₁)·sharpness); ``math.inf`` when sharpness ≤ 0.
        sharpness: λ_max(P^{-1/2} H P^{-1/2}), the largest algebraic eigenvalue, at w0.
        ratio: lr / lr_limit for the ``lr`` given, else ``None``.
        warmup_steps: full-batch Adam steps that formed P.
        warmup_lr: their learning rate.
        eps: Adam's ε in P.
        iterations: Hessian-vector products of the eigen-solve.
        converged: whether the solve met its residual tolerance.
        seconds: wall-clock time, warm-up and solve together.
    """

    lr_limit: float
    sharpness: float
    ratio: float | None
    warmup_steps: int
    warmup_lr: float
    eps: float
    iterations: int
    converged: bool
    seconds: float

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready values; an infinite limit becomes ``None`` (JSON has no infinity)."""
        out = asdict(self)
        out["lr_limit"] = self.lr_limit if math.isfinite(self.lr_limit) else None
        return out

    @staticmethod
    def from_dict(d: dict[str, Any]) -> StabilityResult:
        """The inverse of :meth:`to_dict` (a null limit back to infinity)."""
        known = {k: d[k] for k in StabilityResult.__dataclass_fields__}
        known["lr_limit"] = math.inf if known["lr_limit"] is None else known["lr_limit"]
        return StabilityResult(**known)


def stability_limit(sharpness: float, beta1: float) -> float:
    """The largest rate at which full-batch Adam is stable at this preconditioned sharpness.

    Cohen et al. 2022: stable while λ_max(P^{-1/2} H P^{-1/2}) ≤ (2 + 2β₁)/((1 − β₁)·η), so
    η_limit = (2 + 2β₁)/((1 − β₁)·λ_max); no limit (``math.inf``) when λ_max ≤ 0.

    >>> round(stability_limit(38.0, 0.9), 12)
    1.0
    """
    return (2 + 2 * beta1) / ((1 - beta1) * sharpness) if sharpness > 0 else math.inf


def adam_preconditioner(objective: Objective, params: Params, adam: AdamSettings, steps: int) -> Params:
    """Adam's diagonal preconditioner after ``steps`` full-batch steps from ``params`` (which are not modified).

    P_t = (1 − β₁ᵗ)·(sqrt(v_t / (1 − β₂ᵗ)) + ε), elementwise, so that Adam's step is
    w_{t+1} = w_t − η·P_t^{-1} m_t (Cohen et al. 2022; m_t without bias correction).
    """
    current, moments = params, zero_moments(params)
    for _ in range(steps):
        _, grads = full_gradient(objective, current)
        current, moments = adam_update(current, grads, moments, adam)
    beta1, beta2 = adam.betas
    t = moments.step
    return {k: (1 - beta1**t) * ((v / (1 - beta2**t)).sqrt() + adam.eps) for k, v in moments.second.items()}


def preconditioned_sharpness(objective: Objective, params: Params, preconditioner: Params, *, tol: float = 1e-3,
                             max_iter: int = 100, seed: int = 0, mode: HvpMode = "cached") -> EigenResult:
    """λ_max(P^{-1/2} H P^{-1/2}) with H = ∇²L(params), by Lanczos on v ↦ P^{-1/2} H (P^{-1/2} v).

    The operator is symmetric, so Lanczos applies; the largest *algebraic* eigenvalue is
    wanted (a large negative curvature does not make Adam unstable along its direction).
    H is taken as ``HessianOperator`` takes it (in the Objective's ``--norm-mode``).
    The start vector is standard normal from ``seed``.
    """
    operator = HessianOperator(objective, params, mode=mode)
    try:
        names = operator.layout.names
        like = params[names[0]]
        scale = operator.layout.flatten([preconditioner[k] for k in names]).rsqrt().to(like.device, like.dtype)
        start = torch.randn(operator.size, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)
        return spectral_norm(lambda v: scale * operator.matvec(scale * v), start.to(like.device, like.dtype),
                             method="lanczos", tol=tol, max_iter=max_iter, which="largest")
    finally:
        operator.release()


def adam_stability(objective: Objective, params: Params, lr: float | None = None, *, warmup_steps: int = 10,
                   warmup_lr: float = 1e-7, betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8,
                   tol: float = 1e-3, max_iter: int = 100, seed: int = 0, mode: HvpMode = "cached") -> StabilityResult:
    """Adam's stability limit at w0: η_limit = (2 + 2β₁)/((1 − β₁)·λ_max(P^{-1/2} H P^{-1/2})).

    H = ∇²L(w0); P is Adam's diagonal preconditioner P_t = (1 − β₁ᵗ)(sqrt(v_t/(1 − β₂ᵗ)) + ε)
    after t = ``warmup_steps`` full-batch Adam steps at ``warmup_lr`` from w0 (on copies);
    λ_max is the largest algebraic eigenvalue (Lanczos, ``which="largest"``). Cohen et al.
    2022 ("Adaptive Gradient Methods at the Edge of Stability") show full-batch Adam is
    stable on a quadratic while λ_max ≤ 38/η (β₁ = 0.9), and that training drives it there.

    Read the limit as information, not a verdict on a rate: how P is formed moves it a lot
    (warm-up length and rate, and ε: where the gradient is tiny, P ≈ (1 − β₁ᵗ)·ε), and the
    best constant rates of the setups in docs/recommendation.md lie 0.28× to 11.6× this
    initial limit (α*/lr_limit there): a rate above it may well train, as Adam's
    preconditioner adapts. The probe is the verdict.

    Cost: ``warmup_steps`` full-data gradients, one gradient graph, up to ``max_iter``
    Hessian-vector products.

    Args:
        objective: the full-data loss L.
        params: w0, by name (not modified).
        lr: a rate to compare with the limit (``ratio``), or ``None``.
        warmup_steps: t ≥ 1 (P_0 = 0 is not invertible).
        warmup_lr: the warm-up steps' rate.
        betas: Adam's (β₁, β₂).
        eps: Adam's ε (> 0, so that P is invertible).
        tol: the eigen-solve's relative tolerance (see :mod:`adamlr.stop_rules`).
        max_iter: most Hessian-vector products.
        seed: the start vector's seed.
        mode: how the Hessian-vector products are computed (see :mod:`adamlr.hvp`).
    """
    if warmup_steps < 1 or not eps > 0:
        raise ValueError(f"expected warmup_steps >= 1 and eps > 0, found {warmup_steps} and {eps}")
    started = time.perf_counter()
    preconditioner = adam_preconditioner(objective, params, AdamSettings(warmup_lr, betas, eps), warmup_steps)
    solved = preconditioned_sharpness(objective, params, preconditioner, tol=tol, max_iter=max_iter, seed=seed,
                                      mode=mode)
    limit = stability_limit(solved.eigenvalue, betas[0])
    return StabilityResult(limit, solved.eigenvalue, None if lr is None else lr / limit, warmup_steps, warmup_lr, eps,
                           solved.iterations, solved.converged, time.perf_counter() - started)
