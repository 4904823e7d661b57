"""One weight sample of Algorithm 2 and its JSON form (what the journal stores)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class SampleResult:
    """One weight sample of Algorithm 2.

    Attributes:
        index: 0-based sample number.
        spectral_norm: ‖∇²L(w_j)‖₂ = max |λ|.
        eigenvalue: the dominant eigenvalue with its sign.
        iterations: Hessian-vector products used by the solver.
        converged: whether the solve converged (relative residual below tol/10, see
            :mod:`adamlr.solvers`).
        residual: final relative residual ‖Hv − λv‖ / |λ|.
        seconds: wall time of this sample (graph build and solve).
        loss: L(w_j), the full-data loss at the sample.
        gradient_norm: ‖∇L(w_j)‖₂.
        history: the eigenvalue estimate after each iteration.
        batch_norms: mini-batch Algorithm 2 only: ‖H_B(w_j)‖₂ on each random batch;
            ``spectral_norm`` is then their mean.
        bounded: stopped early, not converged, because it cannot raise K̂: at both ends of the
            spectrum the Ritz value plus ten times its residual was below the largest ‖H‖ of
            the samples before it. ``spectral_norm`` is then a lower estimate.
        upper_bound: when bounded, the larger of those two upper estimates.
        examples: how many training examples its Hessian was taken over (None: every one).
        growth: sample 0 of an adaptive subset: ``(examples, ‖H‖)`` of each subset it was solved on.
    """

    index: int
    spectral_norm: float
    eigenvalue: float
    iterations: int
    converged: bool
    residual: float
    seconds: float
    loss: float
    gradient_norm: float
    history: tuple[float, ...] = ()
    batch_norms: tuple[float, ...] = ()
    bounded: bool = False
    upper_bound: float | None = None
    examples: int | None = None
    growth: tuple[tuple[int, float], ...] = ()



def sample_from_dict(d: dict[str, Any]) -> SampleResult:
    """A :class:`SampleResult` from its dictionary (lists back to tuples; null residual to inf)."""
    d = dict(d)
    d["history"] = tuple(d.get("history") or ())
    d["batch_norms"] = tuple(d.get("batch_norms") or ())
    d["growth"] = tuple((int(m), float(h)) for m, h in d.get("growth") or ())
    if d.get("residual") is None:
        d["residual"] = float("inf")
    return SampleResult(**d)
