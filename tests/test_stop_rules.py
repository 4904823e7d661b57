"""The pure stop rules against the solver that uses them, and against closed forms."""

import numpy as np
import pytest
import torch

from adamlr.solvers import Lanczos, spectral_norm
from adamlr.stop_rules import BOUND_RESIDUAL, RESIDUAL_MARGIN, lanczos_verdict, ritz, tridiagonal


def symmetric(eigenvalues, seed=0):
    rng = np.random.default_rng(seed)
    q, _ = np.linalg.qr(rng.standard_normal((len(eigenvalues), len(eigenvalues))))
    return q @ np.diag(eigenvalues) @ q.T


def recorded(a, seed, max_iter):
    """A long Lanczos solve's coefficients (what benchmarks/stop_replay.py records)."""
    m = torch.from_numpy(a)
    solver = Lanczos(torch.from_numpy(np.random.default_rng(seed).standard_normal(a.shape[0])), 1e-12, max_iter)
    while not solver.done:
        solver.step(m @ solver.vector)
    return m, solver


def replay(solver, tol, ceiling):
    for k in range(1, len(solver.alphas) + 1):
        v = lanczos_verdict(solver.alphas[:k], solver.betas[:k], tol, "magnitude", ceiling)
        if v.converged or v.bounded:
            return k, v
    raise AssertionError("the recording ended before the rule stopped")


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("tol", [1e-2, 1e-4])
@pytest.mark.parametrize("ceiling", [None, 0.97, 1.05, 1.3])
def test_replayed_verdict_stops_where_the_solver_stops(seed, tol, ceiling):
    """Replaying the verdict on a long solve's leading coefficients gives the short solve's stop, θ and bound."""
    rng = np.random.default_rng(seed)
    a = symmetric(np.concatenate([[1.0, -rng.uniform(0.8, 1.0), rng.uniform(0.8, 1.0)], rng.uniform(-0.8, 0.8, 50)]),
                  seed)
    m, long = recorded(a, seed, 53)
    k, verdict = replay(long, tol, ceiling)
    start = torch.from_numpy(np.random.default_rng(seed).standard_normal(53))
    short = spectral_norm(m.__matmul__, start, tol=tol, max_iter=53, ceiling=ceiling)
    assert short.iterations == k
    assert (short.converged, short.bounded) == (verdict.converged, verdict.bounded)
    assert short.eigenvalue == verdict.theta and short.upper_bound == verdict.upper_bound


def test_ritz_values_of_the_full_tridiagonal_are_the_eigenvalues():
    """After n products on an n×n matrix T_n is similar to A: its eigenvalues are A's (numpy's eigvalsh)."""
    eig = np.array([3.0, -2.0, 1.5, 0.5, -0.25, 0.1])
    _, solver = recorded(symmetric(eig, 3), 3, 6)
    values, _ = ritz(solver.alphas, solver.betas[:5])
    np.testing.assert_allclose(values, np.sort(eig), atol=1e-10)


def test_residuals_are_the_true_residuals_of_the_ritz_vectors():
    """ρ_i = β_{k+1}|s_{k,i}| equals ‖A y_i − θ_i y_i‖ computed from the basis, for every Ritz pair."""
    a = symmetric(np.linspace(-1, 2, 30), 5)
    m = torch.from_numpy(a)
    solver = Lanczos(torch.ones(30, dtype=torch.float64), 1e-14, 8)
    while not solver.done:
        solver.step(m @ solver.vector)
    k = len(solver.alphas)
    values, vectors = np.linalg.eigh(tridiagonal(solver.alphas, solver.betas[: k - 1]))
    y = torch.from_numpy(vectors).T @ solver.basis[:k]
    true = [float(torch.linalg.vector_norm(m @ yi - t * yi)) for yi, t in zip(y, values)]
    np.testing.assert_allclose(solver.betas[k - 1] * np.abs(vectors[-1, :]), true, rtol=1e-6, atol=1e-12)


def test_converged_needs_the_residual_below_tol_times_the_margin():
    """After one product, T_1 = [θ] and ρ = β_2: converged exactly when ρ/|θ| < tol·RESIDUAL_MARGIN."""
    # T_1 = [2], β_2 = r: θ = 2 and ρ = r (the vector's whole residual)
    for r, tol, expected in [(1e-3, 1e-2, True), (3e-3, 1e-2, False), (1.9e-4, 1e-3, True), (2.1e-4, 1e-3, False)]:
        v = lanczos_verdict([2.0], [r], tol)
        assert v.theta == 2.0 and v.residual == pytest.approx(r / 2)
        assert v.converged is expected is (r / 2 < tol * RESIDUAL_MARGIN)


def test_bounded_needs_the_gate_and_the_margin_below_the_ceiling():
    """T_1 = [2], ρ = r at tol 1e-4 (not converged): bounded iff r/2 < BOUND_RESIDUAL and 2 + r/RESIDUAL_MARGIN is
    below the ceiling."""
    cases = [(0.01, 2.2, True), (0.01, 2.05, False), (0.03, 10.0, False), (0.019, 2.2, True), (0.019, 2.18, False)]
    for r, ceiling, expected in cases:
        v = lanczos_verdict([2.0], [r], 1e-4, "magnitude", ceiling)
        assert not v.converged and v.bounded is expected
        assert v.upper_bound == (pytest.approx(2 + r / RESIDUAL_MARGIN) if expected else None)
    assert r / 2 < BOUND_RESIDUAL  # the last cases pass the gate and fail only on the margin
    assert not lanczos_verdict([2.0], [0.01], 1e-4, "largest", 10.0).bounded  # only for the spectral norm
