"""Eigen-solvers on explicit symmetric matrices, against numpy.linalg.eigvalsh."""

import numpy as np
import pytest
import torch

from adamlr.solvers import RESIDUAL_MARGIN, spectral_norm


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
