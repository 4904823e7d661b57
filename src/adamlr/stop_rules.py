"""When a Lanczos solve may stop: the ``converged`` and ``bounded`` rules, as pure functions.

After k products the Lanczos coefficients α_1..α_k, β_2..β_{k+1} are all a stop rule sees:
the Ritz values θ_i are the eigenvalues of the tridiagonal T_k, and their residuals are
ρ_i = ‖A y_i − θ_i y_i‖ = β_{k+1} |s_{k,i}| (s_i the eigenvectors of T_k; Parlett, *The
Symmetric Eigenvalue Problem*, §13.2). :func:`lanczos_verdict` maps the coefficients to
the verdict, so the solver (:class:`adamlr.solvers.Lanczos`) and the replay benchmark
(``benchmarks/stop_replay.py``, which records the coefficients of long solves once and
asks when each rule would have stopped) use the same code.

``converged`` (both solvers): the relative residual ρ/|θ| = ‖Ay − θy‖₂ / |θ| of the
returned unit vector y and value θ is below ``tol · RESIDUAL_MARGIN`` (tol/10), and, for
Lanczos, the other end of the spectrum has settled (below). For a symmetric A the residual
bounds the distance from θ to *an* eigenvalue by ρ (Parlett, thm. 4.5.1), which a
relative-change rule does not; the margin of ten leaves any eigenvalue farther than tol
from θ a weight below 1/10 in the Ritz vector.

"Settled", for ``which="magnitude"``: the Ritz value of largest magnitude is returned once
its relative residual is below ``tol·RESIDUAL_MARGIN`` and the other end of the spectrum
has settled: its residual is below that (times max|θ|) too, or even its value plus its
residual stays below max|θ| in magnitude. (Without the second condition a Ritz value can
converge on a lesser eigenvalue at one end while the dominant one, at the other end, has
not yet appeared: seen on a matrix with eigenvalues 1 and −0.97.) With
``which="largest"`` only the top end counts: θ_max ≤ λ_max always (Cauchy interlacing).

``bounded`` (Lanczos, ``which="magnitude"``, with a ``ceiling``, e.g. the running maximum of
Algorithm 2): the solve stops early, not converged, when the dominant relative residual is
below ``BOUND_RESIDUAL`` (1e-2) and at *both* ends of the spectrum the extreme Ritz value
plus ten times its residual, |θ_e| + ρ_e / RESIDUAL_MARGIN, is below the ceiling. Every Ritz
value lies inside the spectrum, so |θ| never exceeds ‖A‖; the margin is ``converged``'s, and
the residual gate keeps the earliest iterations, whose Ritz values are still far from any
eigenvalue, from claiming it. Like ``converged`` this is a heuristic, not a certificate: no
method that sees A only through products from one start vector can exclude an eigenvalue
whose eigenvector the start vector (nearly) misses; a random start makes that unlikely.

Why these margins and not cheaper stops (an eigenvalue-error stop ρ²/gap < tol, a residual
margin of 1, a bound margin of 3): each was measured on seeded adversarial spectra and on
recorded solves of real Hessians, and each gave wrong answers where these rules gave none;
docs/how-it-works.md ("Why the stop rules are what they are") has the numbers and the commands.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from adamlr.choices import Which

RESIDUAL_MARGIN = 0.1
BOUND_RESIDUAL = 1e-2


@dataclass(frozen=True)
class Verdict:
    """What the coefficients after k products say.

    Attributes:
        theta: the returned Ritz value (largest magnitude, or largest algebraic).
        residual: its relative residual ρ/|θ|.
        converged: the ``converged`` rule holds (module docstring).
        bounded: not converged, and the ``bounded`` rule holds under the ceiling.
        upper_bound: when bounded, max over both ends of |θ_e| + ρ_e / RESIDUAL_MARGIN.
        index: the position of ``theta`` among the ascending Ritz values.
        invariant: β_{k+1} vanished (the Krylov space is invariant, the Ritz values exact):
            converged, and there is no next Lanczos vector.
    """

    theta: float
    residual: float
    converged: bool
    bounded: bool = False
    upper_bound: float | None = None
    index: int = 0
    invariant: bool = False


def tridiagonal(alphas: Sequence[float], betas: Sequence[float]) -> npt.NDArray[np.float64]:
    """T_k from α_1..α_k and the k − 1 off-diagonal β_2..β_k."""
    t = np.diag(np.asarray(alphas, dtype=np.float64))
    if len(betas):
        off = np.asarray(betas, dtype=np.float64)
        t += np.diag(off, 1) + np.diag(off, -1)
    return t


def ritz(alphas: Sequence[float], betas: Sequence[float]) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """Ritz values (ascending) and eigenvectors of T_k, from α_1..α_k and β_2..β_k."""
    values, vectors = np.linalg.eigh(tridiagonal(alphas, betas))
    return values, vectors


def ritz_pairs(alphas: Sequence[float], betas: Sequence[float]) -> tuple[
        npt.NDArray[np.float64], npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """Ritz values (ascending), eigenvectors of T_k and residuals ρ_i = β_{k+1}|s_{k,i}| = ‖A y_i − θ_i y_i‖.

    Args:
        alphas: α_1..α_k.
        betas: β_2..β_{k+1} (k values: T_k's off-diagonal, then the next residual norm).
    """
    k = len(alphas)
    values, vectors = ritz(alphas, betas[: k - 1])
    return values, vectors, float(betas[k - 1]) * np.abs(vectors[-1, :])


def lanczos_verdict(alphas: Sequence[float], betas: Sequence[float], tol: float, which: Which = "magnitude",
                    ceiling: float | None = None) -> Verdict:
    """The stop verdict after k = len(alphas) products; ``betas`` holds β_2..β_{k+1} (k values).

    Args:
        alphas: the diagonal of T_k.
        betas: the off-diagonal of T_k followed by β_{k+1}, the norm of the next residual vector.
        tol: the relative tolerance; converged means a relative residual below tol·RESIDUAL_MARGIN.
        which: ``magnitude`` (max |λ|, both ends must have settled) or ``largest`` (max λ).
        ceiling: with ``magnitude``, a value the norm may be bounded below (None: never bounded).
    """
    k = len(alphas)
    values, _, rho = ritz_pairs(alphas, betas)
    beta = float(betas[k - 1])
    i = int(np.argmax(np.abs(values))) if which == "magnitude" else k - 1
    theta = float(values[i])
    scale = max(abs(theta), 1e-300)
    residual = float(rho[i]) / scale
    if beta <= 1e-12 * scale:  # an invariant subspace (β = θ = 0 included): the Ritz values are exact
        return Verdict(theta, min(residual, beta / scale), True, index=i, invariant=True)
    stop = tol * RESIDUAL_MARGIN
    j = k - 1 - i
    settled = which == "largest" or rho[j] <= stop * scale or abs(values[j]) + rho[j] < abs(theta)
    if residual < stop and settled:
        return Verdict(theta, residual, True, index=i)
    upper = bound(values, rho, residual, which, ceiling)
    return Verdict(theta, residual, False, upper is not None, upper, i)


def bound(values: npt.NDArray[np.float64], rho: npt.NDArray[np.float64], residual: float, which: Which,
          ceiling: float | None, margin: float = 1 / RESIDUAL_MARGIN) -> float | None:
    """The upper estimate max_e |θ_e| + margin·ρ_e over both ends when it is below the ceiling, else None.

    Only with ``which="magnitude"`` and a dominant relative residual below BOUND_RESIDUAL (module
    docstring). ``margin`` is 1/RESIDUAL_MARGIN = 10 in the solver; the replay benchmark tries others.
    """
    if ceiling is None or which != "magnitude" or residual >= BOUND_RESIDUAL:
        return None
    upper = float(max(abs(values[0]) + margin * rho[0], abs(values[-1]) + margin * rho[-1]))
    return upper if upper < ceiling else None
