"""Eigen-solvers on explicit symmetric matrices, against numpy.linalg.eigvalsh."""

import numpy as np
import pytest
import torch

from adamlr.solvers import lanczos, power_method, spectral_norm


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


@pytest.mark.parametrize("method", ["lanczos", "power"])
@pytest.mark.parametrize("tol", [1e-2, 1e-3, 1e-4])
def test_accuracy_contract_within_tol_or_flagged(method, tol):
    """Each reported norm is within tol (relative) of the truth, or flagged not converged."""
    for seed in range(8):
        rng = np.random.default_rng(100 + seed)
        eig = np.concatenate([[1.0, -0.97, 0.96], rng.uniform(-0.9, 0.9, 80)])
        a = symmetric(eig, seed=seed)
        r = solve(a, method, tol=tol, max_iter=40, seed=seed)
        if r.converged:
            assert abs(r.spectral_norm - true_norm(a)) <= tol * true_norm(a)


def test_not_converged_is_flagged():
    a = symmetric([1.0, 0.999] + [0.5] * 30, seed=6)
    r = solve(a, "power", tol=1e-12, max_iter=5)
    assert not r.converged
    assert r.iterations == 5
    assert len(r.history) == 5


@pytest.mark.parametrize("solver", [lanczos, power_method])
def test_zero_matrix_gives_zero(solver):
    a = torch.zeros(5, 5, dtype=torch.float64)
    r = solver(lambda v: a @ v, torch.ones(5, dtype=torch.float64), tol=1e-6, max_iter=10)
    assert r.spectral_norm == 0.0


def test_float32_products_float64_recurrence():
    a = symmetric([4.0, 2.0, 1.0] + [0.1] * 40, seed=7)
    m = torch.from_numpy(a).float()
    r = lanczos(lambda v: m @ v, torch.ones(43), tol=1e-5, max_iter=43)
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


@pytest.mark.parametrize("method", ["lanczos", "power"])
def test_lockstep_solves_equal_single_solves(method):
    from adamlr.solvers import spectral_norms

    mats = [torch.from_numpy(symmetric([3.0 + i, 1.0, -0.5] + [0.1] * 10, seed=i)) for i in range(3)]
    starts = [torch.from_numpy(np.random.default_rng(i).standard_normal(13)) for i in range(3)]
    seen = []

    def batched(vectors, indices):
        seen.append(list(indices))
        return torch.stack([mats[i] @ v for v, i in zip(vectors, indices)])

    together = spectral_norms(batched, starts, method=method, tol=1e-8, max_iter=300)
    alone = [spectral_norm(lambda v, m=m: m @ v, s, method=method, tol=1e-8, max_iter=300) for m, s in zip(mats, starts)]
    for a, b in zip(together, alone):
        assert a.iterations == b.iterations and a.spectral_norm == pytest.approx(b.spectral_norm, rel=1e-12)
    assert seen[0] == [0, 1, 2]
