"""Eigen-solvers on explicit symmetric matrices, against numpy.linalg.eigvalsh."""

import numpy as np
import pytest
import torch

from adamlr.solvers import BOUND_RESIDUAL, RESIDUAL_MARGIN, spectral_norm


def symmetric(eigenvalues, seed=0):
    rng = np.random.default_rng(seed)
    q, _ = np.linalg.qr(rng.standard_normal((len(eigenvalues), len(eigenvalues))))
    return q @ np.diag(eigenvalues) @ q.T


def solve(a, method, tol=1e-8, max_iter=500, seed=1):
    m = torch.from_numpy(a)
    start = torch.from_numpy(np.random.default_rng(seed).standard_normal(a.shape[0]))
    return spectral_norm(lambda v: m @ v, start, method=method, tol=tol, max_iter=max_iter)


def true_norm(a):
    return float(np.max(np.abs(np.linalg.eigvalsh(a))))


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_lanczos_random_symmetric(seed):
    rng = np.random.default_rng(seed)
    b = rng.standard_normal((60, 60))
    a = (b + b.T) / 2
    r = solve(a, "lanczos", tol=1e-9, max_iter=60)
    assert r.converged
    assert r.spectral_norm == pytest.approx(true_norm(a), rel=1e-8)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_power_random_psd_with_gap(seed):
    rng = np.random.default_rng(seed)
    eig = np.concatenate([[3.0], rng.uniform(0, 2, 59)])
    a = symmetric(eig, seed=seed)
    r = solve(a, "power", tol=1e-9, max_iter=3000)
    assert r.converged
    assert r.spectral_norm == pytest.approx(true_norm(a), rel=1e-8)


@pytest.mark.parametrize("method", ["lanczos", "power"])
def test_negative_dominant_eigenvalue(method):
    a = symmetric([-5.0, 3.0, 2.0, 1.0, 0.5, -0.1] + [0.01] * 20, seed=3)
    r = solve(a, method)
    assert r.converged
    assert r.eigenvalue == pytest.approx(-5.0, rel=1e-8)
    assert r.spectral_norm == pytest.approx(true_norm(a), rel=1e-8)


def test_lanczos_clustered_top():
    eig = [10.0, 9.999, 9.998] + list(np.linspace(-2, 2, 50))
    a = symmetric(eig, seed=4)
    r = solve(a, "lanczos", tol=1e-10, max_iter=53)
    assert r.converged
    assert r.spectral_norm == pytest.approx(true_norm(a), rel=1e-9)


def test_lanczos_uses_fewer_products_than_power():
    eig = [1.0, 0.95] + list(np.linspace(0, 0.9, 200))
    a = symmetric(eig, seed=5)
    lz, pw = solve(a, "lanczos", tol=1e-6), solve(a, "power", tol=1e-6, max_iter=5000)
    assert lz.converged and pw.converged
    assert lz.iterations * 4 <= pw.iterations


def contract_case(method, seed):
    """A spectrum each solver can resolve within its budget, with close eigenvalues of both signs on top.

    Lanczos gets the hard case (1, −0.97, 0.96); the power method, which converges like
    (|λ₂|/|λ₁|)^k, gets a gap it can close in 400 products (1, −0.8, 0.75).
    """
    rng = np.random.default_rng(100 + seed)
    top, budget = ([1.0, -0.97, 0.96], 40) if method == "lanczos" else ([1.0, -0.8, 0.75], 400)
    return symmetric(np.concatenate([top, rng.uniform(-0.7, 0.7, 80)]), seed=seed), budget


@pytest.mark.parametrize("method", ["lanczos", "power"])
@pytest.mark.parametrize("tol", [1e-2, 1e-3, 1e-4])
def test_accuracy_contract_converges_within_tol(method, tol):
    """Every solve converges, and a converged norm is within tol (relative) of the truth."""
    for seed in range(8):
        a, budget = contract_case(method, seed)
        r = solve(a, method, tol=tol, max_iter=budget, seed=seed)
        assert r.converged
        assert r.residual < tol * RESIDUAL_MARGIN
        assert abs(r.spectral_norm - true_norm(a)) <= tol * true_norm(a)


@pytest.mark.parametrize("method", ["lanczos", "power"])
def test_budget_too_small_is_flagged_not_converged(method):
    """Out of products before the residual is small enough: reported as not converged, with its residual."""
    a, _ = contract_case(method, seed=0)
    r = solve(a, method, tol=1e-6, max_iter=4, seed=0)
    assert not r.converged
    assert r.iterations == 4
    assert r.residual >= 1e-6 * RESIDUAL_MARGIN


def test_not_converged_is_flagged():
    a = symmetric([1.0, 0.999] + [0.5] * 30, seed=6)
    r = solve(a, "power", tol=1e-12, max_iter=5)
    assert not r.converged
    assert r.iterations == 5
    assert len(r.history) == 5


@pytest.mark.parametrize("method", ["lanczos", "power"])
def test_zero_matrix_gives_zero(method):
    a = torch.zeros(5, 5, dtype=torch.float64)
    r = spectral_norm(lambda v: a @ v, torch.ones(5, dtype=torch.float64), method=method, tol=1e-6, max_iter=10)
    assert r.spectral_norm == 0.0


def test_float32_products_float64_recurrence():
    a = symmetric([4.0, 2.0, 1.0] + [0.1] * 40, seed=7)
    m = torch.from_numpy(a).float()
    r = spectral_norm(lambda v: m @ v, torch.ones(43), method="lanczos", tol=1e-5, max_iter=43)
    assert r.converged
    assert r.spectral_norm == pytest.approx(4.0, rel=1e-5)


def test_unknown_method():
    with pytest.raises(ValueError):
        spectral_norm(lambda v: v, torch.ones(3), method="arnoldi")


def test_accuracy_contract_on_adversarial_spectra():
    """Close top eigenvalues of both signs: a converged Lanczos result must still be within tol."""
    for tol in (1e-2, 1e-3):
        for seed in range(60):
            rng = np.random.default_rng(1000 + seed)
            eig = np.concatenate([[1.0, -rng.uniform(0.9, 1.0), rng.uniform(0.9, 1.0)], rng.uniform(-0.9, 0.9, 80)])
            a = symmetric(eig, seed=seed)
            r = solve(a, "lanczos", tol=tol, max_iter=83, seed=seed)
            assert r.converged
            assert abs(r.spectral_norm - true_norm(a)) <= tol * true_norm(a)
            assert r.residual < tol / 10


def hidden_case(seed, component):
    """Eigenvalues 1, 0.8 and 60 in [−0.7, 0.7]; a unit start with only ``component`` along the top eigenvector."""
    rng = np.random.default_rng(seed)
    eig = np.concatenate([[1.0, 0.8], rng.uniform(-0.7, 0.7, 60)])
    q, _ = np.linalg.qr(rng.standard_normal((62, 62)))
    a = q @ np.diag(eig) @ q.T
    v = rng.standard_normal(62)
    v -= (v @ q[:, 0]) * q[:, 0]
    return a, v / np.linalg.norm(v) + component * q[:, 0]


def solve_from(a, start, **kw):
    m = torch.from_numpy(a)
    return spectral_norm(lambda v: m @ v, torch.from_numpy(start), tol=1e-3, max_iter=a.shape[0], **kw)


@pytest.mark.parametrize("component", [1e-2, 1e-4])
def test_top_eigenvalue_nearly_hidden_from_the_start_is_still_found(component):
    """A start with a tiny component along the top eigenvector (a random unit start's is ≈ 0.13 here)."""
    for seed in range(10):
        a, start = hidden_case(seed, component)
        r = solve_from(a, start)
        assert r.converged and r.spectral_norm == pytest.approx(1.0, rel=1e-3)


def test_ceiling_between_a_nearly_hidden_top_and_the_next_is_not_bounded():
    """The dominant eigenvalue 1 lies above the ceiling 0.95, but the start barely sees it: no early stop."""
    for seed in range(10):
        a, start = hidden_case(seed, 1e-2)
        r = solve_from(a, start, ceiling=0.95)
        assert not r.bounded and r.converged and r.spectral_norm == pytest.approx(1.0, rel=1e-3)


def test_a_start_orthogonal_to_the_top_eigenvector_cannot_see_it():
    """The documented limit of every product-only method: nothing in the Krylov space points at λ = 1."""
    a, start = hidden_case(0, 0.0)
    r = solve_from(a, start)
    assert r.spectral_norm == pytest.approx(0.8, rel=1e-3)


@pytest.mark.parametrize("tol", [1e-2, 1e-3, 1e-4])
def test_tiny_gap_never_converges_on_the_wrong_eigenvalue(tol):
    """Top two eigenvalues 1 and 1 − 3·tol (a gap of a few tol): a converged value is within tol of 1."""
    for seed in range(20):
        rng = np.random.default_rng(500 + seed)
        sign = -1.0 if seed % 2 else 1.0  # the runner-up at either end
        a = symmetric(np.concatenate([[1.0, sign * (1 - 3 * tol)], rng.uniform(-0.9, 0.9, 60)]), seed=seed)
        r = solve(a, "lanczos", tol=tol, max_iter=62, seed=seed)
        assert r.converged
        assert abs(r.spectral_norm - 1.0) <= tol


def test_bounded_below_a_ceiling_stops_early_with_an_upper_estimate():
    """A ceiling 20 % above the norm: the solve stops early, not converged, with |θ| ≤ ‖A‖ ≤ upper < ceiling."""
    a = symmetric([2.0, -1.5, 1.2] + list(np.linspace(-1, 1, 60)), seed=8)
    full = solve(a, "lanczos", tol=1e-4, max_iter=63)
    m = torch.from_numpy(a)
    start = torch.from_numpy(np.random.default_rng(1).standard_normal(63))
    r = spectral_norm(lambda v: m @ v, start, tol=1e-4, max_iter=63, ceiling=2.4)
    assert r.bounded and not r.converged
    assert r.iterations < full.iterations
    assert r.spectral_norm <= true_norm(a) + 1e-12 and true_norm(a) <= r.upper_bound < 2.4
    assert r.residual < BOUND_RESIDUAL
    assert r.history == full.history[: r.iterations]  # the same solve, stopped earlier


def test_ceiling_below_the_norm_is_never_bounded():
    a = symmetric([2.0, -1.5, 1.2] + list(np.linspace(-1, 1, 60)), seed=8)
    m = torch.from_numpy(a)
    for ceiling in (1.9, 1.99, 1.999):
        start = torch.from_numpy(np.random.default_rng(1).standard_normal(63))
        r = spectral_norm(lambda v: m @ v, start, tol=1e-4, max_iter=63, ceiling=ceiling)
        assert not r.bounded and r.converged and r.spectral_norm == pytest.approx(2.0, rel=1e-4)


def test_keep_vector_returns_the_top_ritz_vector():
    a = symmetric([3.0, 1.0, 0.5] + [0.1] * 20, seed=9)
    m = torch.from_numpy(a)
    r = spectral_norm(lambda v: m @ v, torch.ones(23, dtype=torch.float64), tol=1e-8, max_iter=23, keep_vector=True)
    assert r.vector is not None
    assert float(torch.linalg.vector_norm(m @ r.vector - r.eigenvalue * r.vector)) < 1e-6


def test_spread_spectra_below_the_ceiling_are_never_bounded():
    """A few eigenvalues spread over decades (like the least-squares tests'): early Ritz values sit on a lesser
    eigenvalue while the top is still hidden; without the dominant-residual gate some of these were bounded."""
    for seed in range(100):
        rng = np.random.default_rng(1000 + seed)
        n = int(rng.integers(4, 12))
        eig = np.concatenate([[1.0], 10.0 ** rng.uniform(-2, -0.05, n - 1) * rng.choice([-1, 1], n - 1)])
        a = symmetric(eig, seed=seed)
        m = torch.from_numpy(a)
        for ceiling in (0.9, 0.95, 0.99, 0.999):
            start = torch.from_numpy(np.random.default_rng(seed).standard_normal(n))
            r = spectral_norm(m.__matmul__, start, tol=1e-3, max_iter=n, ceiling=ceiling)
            assert not r.bounded
