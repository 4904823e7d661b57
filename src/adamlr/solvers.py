"""Spectral norm ‖A‖₂ = max |λ| of a symmetric operator known only through v ↦ Av.

Nothing here knows about models: every solver takes a plain ``matvec`` on flat torch
vectors, so each is tested on explicit matrices against ``numpy.linalg.eigvalsh``.

Stopping rule (both solvers): the relative residual ‖Ay − θy‖₂ / |θ| of the returned
unit vector y and value θ is below ``tol``. For a symmetric A this bounds the distance
from θ to an eigenvalue of A by ``tol·|θ|`` (Parlett, *The Symmetric Eigenvalue
Problem*, thm. 4.5.1), which a relative-change rule does not.

That bound is to *an* eigenvalue, not necessarily the dominant one: when the top two
eigenvalues are within a few per cent, a solve can settle on the lesser one before the
dominant direction emerges from the start vector. So both solvers stop at a residual of
``tol · RESIDUAL_MARGIN`` (tol/10): on 900 seeded adversarial spectra (eigenvalues 1,
−u, v with u, v ∈ [0.9, 1], plus 80 in [−0.9, 0.9]; tol 1e-2, 1e-3, 1e-4) Lanczos then
reported no converged value farther than tol from the true norm (8 did at a margin of
1), for about 20 % more products. ``converged`` means: residual below tol/10.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import torch

from adamlr.choices import EIGEN_TARGETS, Method, Which

Matvec = Callable[[torch.Tensor], torch.Tensor]
Callback = Callable[[int, float, float], None]

RESIDUAL_MARGIN = 0.1


@dataclass(frozen=True)
class EigenResult:
    """The outcome of one spectral-norm solve.

    Attributes:
        spectral_norm: |θ|, the estimate of max |λ|.
        eigenvalue: θ with its sign (negative when the dominant eigenvalue is).
        iterations: matrix-vector products used.
        converged: whether the relative residual fell below the tolerance.
        residual: the final relative residual ‖Ay − θy‖ / |θ|.
        history: θ after each iteration, for convergence plots.
    """

    spectral_norm: float
    eigenvalue: float
    iterations: int
    converged: bool
    residual: float
    history: tuple[float, ...]


def _unit(v: torch.Tensor) -> torch.Tensor:
    norm = torch.linalg.vector_norm(v)
    if norm == 0:
        raise ValueError("the start vector is zero")
    unit: torch.Tensor = v / norm
    return unit


class _Solver:
    """One solve as a state machine: read :attr:`vector`, pass ``A @ vector`` to :meth:`step`.

    Written this way so that a driver owns the loop (see :func:`spectral_norm`): it can
    interleave solves, batch their products or stop one early.
    """

    def __init__(self, start: torch.Tensor, tol: float, max_iter: int) -> None:
        self.vector = _unit(start)
        self.stop = tol * RESIDUAL_MARGIN
        self.max_iter = max_iter
        self.iterations = 0
        self.theta = 0.0
        self.residual = math.inf
        self.converged = False
        self.history: list[float] = []

    @property
    def done(self) -> bool:
        return self.converged or self.iterations >= self.max_iter

    def step(self, product: torch.Tensor) -> None:
        raise NotImplementedError

    def result(self) -> EigenResult:
        return EigenResult(
            abs(self.theta), self.theta, self.iterations, self.converged, self.residual, tuple(self.history)
        )


class PowerMethod(_Solver):
    """Power iteration (Müntz 1913) with a Rayleigh-quotient estimate and a residual stop.

    Each iteration costs one product: w = Av gives θ = vᵀw and the residual ‖w − θv‖.
    Converges like (|λ₂|/|λ₁|)^k; stalls when λ and −λ are both dominant.
    """

    def step(self, product: torch.Tensor) -> None:
        v, w = self.vector, product
        self.iterations += 1
        self.theta = float(torch.dot(v.double(), w.double()))
        self.history.append(self.theta)
        wnorm = float(torch.linalg.vector_norm(w))
        if wnorm == 0.0:
            self.theta, self.residual, self.converged = 0.0, 0.0, True
            return
        self.residual = (
            float(torch.linalg.vector_norm(w - self.theta * v)) / abs(self.theta) if self.theta else math.inf
        )
        self.converged = bool(self.residual < self.stop)
        self.vector = w / wnorm


class Lanczos(_Solver):
    """Lanczos (1950) with full reorthogonalisation; both spectrum ends from one run.

    With ``which="magnitude"`` (the default) it returns max |λ| as follows; with
    ``which="largest"`` it returns the largest Ritz value θ_max (→ the largest algebraic
    eigenvalue λ_max) once its own relative residual is below ``tol·RESIDUAL_MARGIN``:
    the other end of the spectrum does not matter there, and θ_max ≤ λ_max always
    (Cauchy interlacing), so it cannot overshoot. The residual is relative to |θ_max|:
    a λ_max near 0 next to a large negative spectrum needs many products to converge.

    After k products, the tridiagonal T_k = Q_kᵀ A Q_k has Ritz values θ_i with
    residuals ‖A y_i − θ_i y_i‖ = β_{k+1} |s_{k,i}| (s_i the eigenvectors of T_k).
    The Ritz value of largest magnitude, max(|θ_min|, |θ_max|), is returned once its
    relative residual is below ``tol·RESIDUAL_MARGIN`` and the other end of the spectrum
    has settled: its residual is below that (times max|θ|) too, or even its value plus
    its residual stays below max|θ| in magnitude. (Without the second condition a Ritz
    value can converge on a lesser eigenvalue at one end while the dominant one, at the
    other end, has not yet appeared: seen on a matrix with eigenvalues 1 and −0.97.)
    Recurrence coefficients are kept in float64; the basis in the products' dtype.
    """

    def __init__(self, start: torch.Tensor, tol: float, max_iter: int, which: Which = "magnitude") -> None:
        super().__init__(start, tol, max_iter)
        self.which = which
        q = self.vector
        self.basis = torch.empty((min(max_iter, 16), q.numel()), dtype=q.dtype, device=q.device)
        self.alphas: list[float] = []
        self.betas: list[float] = []

    def _store(self, k: int, q: torch.Tensor) -> None:
        if k > self.basis.shape[0]:  # grow by doubling, up to max_iter rows
            grown = torch.empty(
                (min(2 * self.basis.shape[0], self.max_iter), q.numel()), dtype=q.dtype, device=q.device
            )
            grown[: self.basis.shape[0]] = self.basis
            self.basis = grown
        self.basis[k - 1] = q

    def step(self, product: torch.Tensor) -> None:
        q, w = self.vector, product.to(self.vector.dtype)
        self.iterations = k = self.iterations + 1
        self._store(k, q)
        self.alphas.append(float(torch.dot(q.double(), w.double())))
        stacked = self.basis[:k]
        for _ in range(2):  # classical Gram-Schmidt, twice ("twice is enough")
            w = w - stacked.T @ (stacked @ w)
        beta = float(torch.linalg.vector_norm(w))
        ritz, vecs = np.linalg.eigh(_tridiagonal(self.alphas, self.betas))
        i = int(np.argmax(np.abs(ritz))) if self.which == "magnitude" else len(ritz) - 1
        self.theta = float(ritz[i])
        self.history.append(self.theta)
        scale = max(abs(self.theta), 1e-300)
        self.residual = beta * abs(vecs[-1, i]) / scale
        j = len(ritz) - 1 - i
        other = beta * abs(vecs[-1, j])
        settled = bool(self.which == "largest" or other <= self.stop * scale or abs(ritz[j]) + other < abs(self.theta))
        if (self.theta == 0.0 and beta == 0.0) or beta <= 1e-12 * scale:
            self.converged = True  # an invariant subspace: the Ritz values are exact
            self.residual = min(self.residual, beta / scale)
            return
        self.converged = bool(self.residual < self.stop) and settled
        self.betas.append(beta)
        self.vector = w / beta


def _tridiagonal(alphas: list[float], betas: list[float]) -> npt.NDArray[np.float64]:
    t = np.diag(np.asarray(alphas, dtype=np.float64))
    if betas:
        off = np.asarray(betas, dtype=np.float64)
        t += np.diag(off, 1) + np.diag(off, -1)
    return t


SOLVERS: dict[Method, type[_Solver]] = {"lanczos": Lanczos, "power": PowerMethod}


def _make(method: Method, start: torch.Tensor, tol: float, max_iter: int, which: Which = "magnitude") -> _Solver:
    if method not in SOLVERS:
        raise ValueError(f"method must be one of {', '.join(SOLVERS)}, not {method!r}")
    if which not in EIGEN_TARGETS:
        raise ValueError(f"which must be one of {', '.join(EIGEN_TARGETS)}, not {which!r}")
    if method == "lanczos":
        return Lanczos(start, tol, max_iter, which)
    if which != "magnitude":
        raise ValueError(
            f"method {method!r} finds the largest-magnitude eigenvalue only; use 'lanczos' for which={which!r}"
        )
    return SOLVERS[method](start, tol, max_iter)


def spectral_norm(matvec: Matvec, start: torch.Tensor, *, method: Method = "lanczos", tol: float = 1e-3,
                  max_iter: int = 100, callback: Callback | None = None, which: Which = "magnitude") -> EigenResult:
    """‖A‖₂ of a symmetric operator by ``method`` (``"lanczos"`` or ``"power"``), or its largest eigenvalue.

    Args:
        matvec: v ↦ Av on flat vectors.
        start: the start vector (need not be normalised).
        tol: relative tolerance; converged means a relative residual below tol/10.
        max_iter: most products.
        callback: called as ``callback(iteration, θ, residual)`` after each product.
        which: ``"magnitude"``: max |λ| = ‖A‖₂. ``"largest"``: the largest algebraic eigenvalue
            max λ, returned as ``eigenvalue`` (``spectral_norm`` is then its absolute value, not
            ‖A‖₂); Lanczos only.

    Raises:
        ValueError: an unknown ``method`` or ``which``, or ``which="largest"`` with the power
            method (it converges to the largest magnitude; a shift that made it find max λ
            would need a bound on the spectrum that we do not have).
    """
    solver = _make(method, start, tol, max_iter, which)
    while not solver.done:
        solver.step(matvec(solver.vector))
        if callback:
            callback(solver.iterations, solver.theta, solver.residual)
    return solver.result()
