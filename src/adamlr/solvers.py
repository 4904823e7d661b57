"""Spectral norm ‖A‖₂ = max |λ| of a symmetric operator known only through v ↦ Av.

Nothing here knows about models: every solver takes a plain ``matvec`` on flat torch
vectors, so each is tested on explicit matrices against ``numpy.linalg.eigvalsh``.

``converged`` and ``bounded`` are decided by the pure rules of :mod:`adamlr.stop_rules`
(where their meaning, the evidence for their margins and the rules measured and not adopted
are written down), so a benchmark can replay them on recorded Lanczos coefficients.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable
from dataclasses import dataclass, field

import torch

from adamlr.choices import EIGEN_TARGETS, Method, Which
from adamlr.errors import NumericalError
from adamlr.stop_rules import BOUND_RESIDUAL, RESIDUAL_MARGIN, lanczos_verdict, ritz

__all__ = ["BOUND_RESIDUAL", "RESIDUAL_MARGIN", "EigenResult", "Lanczos", "PowerMethod", "spectral_norm"]

Matvec = Callable[[torch.Tensor], torch.Tensor]
Callback = Callable[[int, float, float], None]


@dataclass(frozen=True)
class EigenResult:
    """The outcome of one spectral-norm solve.

    Attributes:
        spectral_norm: |θ|, the estimate of max |λ|.
        eigenvalue: θ with its sign (negative when the dominant eigenvalue is).
        iterations: matrix-vector products used.
        converged: whether the relative residual fell below tol/10 (:mod:`adamlr.stop_rules`).
        residual: the final relative residual ‖Ay − θy‖ / |θ|.
        history: θ after each iteration, for convergence plots.
        bounded: stopped early because the norm is, by the estimates, below ``ceiling``
            (never together with ``converged``).
        upper_bound: when bounded, the upper estimate of the norm that was below the ceiling.
    """

    spectral_norm: float
    eigenvalue: float
    iterations: int
    converged: bool
    residual: float
    history: tuple[float, ...]
    bounded: bool = False
    upper_bound: float | None = None
    vector: torch.Tensor | None = field(default=None, repr=False, compare=False)


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
        self.tol = tol
        self.stop = tol * RESIDUAL_MARGIN
        self.max_iter = max_iter
        self.iterations = 0
        self.theta = 0.0
        self.residual = math.inf
        self.converged = False
        self.bounded = False
        self.upper_bound: float | None = None
        self.history: list[float] = []

    @property
    def done(self) -> bool:
        return self.converged or self.bounded or self.iterations >= self.max_iter

    def step(self, product: torch.Tensor) -> None:
        raise NotImplementedError

    def result(self) -> EigenResult:
        return EigenResult(abs(self.theta), self.theta, self.iterations, self.converged, self.residual,
                           tuple(self.history), self.bounded, self.upper_bound)


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

    When to stop is :func:`adamlr.stop_rules.lanczos_verdict`'s call on the coefficients
    (``converged``, or ``bounded`` under a ``ceiling``).
    Recurrence coefficients are kept in float64; the basis in the products' dtype.
    """

    def __init__(self, start: torch.Tensor, tol: float, max_iter: int, which: Which = "magnitude",
                 ceiling: float | None = None) -> None:
        super().__init__(start, tol, max_iter)
        self.which, self.ceiling = which, ceiling
        q = self.vector
        self.basis = torch.empty((min(max_iter, 16), q.numel()), dtype=q.dtype, device=q.device)
        self.alphas: list[float] = []
        self.betas: list[float] = []
        self._index = 0

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
        verdict = lanczos_verdict(self.alphas, [*self.betas, beta], self.tol, self.which, self.ceiling)
        self._index = verdict.index
        self.theta, self.residual, self.converged = verdict.theta, verdict.residual, verdict.converged
        self.bounded, self.upper_bound = verdict.bounded, verdict.upper_bound
        self.history.append(self.theta)
        if verdict.invariant:
            return  # no next vector
        self.betas.append(beta)
        self.vector = w / beta

    def ritz_vector(self, index: int | None = None) -> torch.Tensor:
        """The unit Ritz vector of the ``index``-th smallest Ritz value (None: the returned one), e.g. for a start."""
        k = len(self.alphas)
        _, vectors = ritz(self.alphas, self.betas[: k - 1])
        column = self._index if index is None else index
        coeffs = torch.from_numpy(vectors[:, column].copy()).to(self.basis.device, self.basis.dtype)
        return _unit(coeffs @ self.basis[:k])


SOLVERS: dict[Method, type[_Solver]] = {"lanczos": Lanczos, "power": PowerMethod}


def _make(method: Method, start: torch.Tensor, tol: float, max_iter: int, which: Which = "magnitude",
          ceiling: float | None = None) -> _Solver:
    if method not in SOLVERS:
        raise ValueError(f"method must be one of {', '.join(SOLVERS)}, not {method!r}")
    if which not in EIGEN_TARGETS:
        raise ValueError(f"which must be one of {', '.join(EIGEN_TARGETS)}, not {which!r}")
    if method == "lanczos":
        return Lanczos(start, tol, max_iter, which, ceiling)
    if which != "magnitude":
        raise ValueError(
            f"method {method!r} finds the largest-magnitude eigenvalue only; use 'lanczos' for which={which!r}"
        )
    return SOLVERS[method](start, tol, max_iter)


def spectral_norm(matvec: Matvec, start: torch.Tensor, *, method: Method = "lanczos", tol: float = 1e-3,
                  max_iter: int = 100, callback: Callback | None = None, which: Which = "magnitude",
                  ceiling: float | None = None, keep_vector: bool = False) -> EigenResult:
    """‖A‖₂ of a symmetric operator by ``method`` (``"lanczos"`` or ``"power"``), or its largest eigenvalue.

    Args:
        matvec: v ↦ Av on flat vectors.
        start: the start vector (need not be normalised).
        tol: relative tolerance; converged means a relative residual below tol/10 (:mod:`adamlr.stop_rules`).
        max_iter: most products.
        callback: called as ``callback(iteration, θ, residual)`` after each product.
        which: ``"magnitude"``: max |λ| = ‖A‖₂. ``"largest"``: the largest algebraic eigenvalue
            max λ, returned as ``eigenvalue`` (``spectral_norm`` is then its absolute value, not
            ‖A‖₂); Lanczos only.
        ceiling: Lanczos, ``which="magnitude"``: stop early, ``bounded``, once the norm is by the
            estimates below this value (see :mod:`adamlr.stop_rules`); None: never.
        keep_vector: Lanczos: return the unit Ritz vector of the result as ``vector``.

    Raises:
        ValueError: an unknown ``method`` or ``which``, or ``which="largest"`` with
            the power method (it converges to the largest magnitude; a shift that made it find
            max λ would need a bound on the spectrum that we do not have).
        NumericalError: a product with a NaN or infinite entry (a loss that turns NaN or infinite mid-solve).
    """
    solver = _make(method, start, tol, max_iter, which, ceiling)
    while not solver.done:
        product = matvec(solver.vector)
        if not bool(torch.isfinite(product).all()):  # NaN would reach the Ritz values' eigh (LinAlgError) or θ
            raise NumericalError(f"expected finite Hessian-vector products, found a NaN or infinite entry in product "
                                 f"{solver.iterations + 1} of the eigen-solve: the loss or its gradient is not finite "
                                 "near these weights")
        solver.step(product)
        if callback:
            callback(solver.iterations, solver.theta, solver.residual)
    result = solver.result()
    if keep_vector and isinstance(solver, Lanczos) and solver.iterations:
        result = dataclasses.replace(result, vector=solver.ritz_vector())
    return result
