"""Stability diagnostics and the solvers' which="largest", each against an independent oracle.

Oracles: numpy.linalg.eigvalsh on explicit matrices, a numpy re-derivation of Adam's
preconditioner, torch.optim.Adam on an nn.Module, and hand-counted layer structure.
"""

import numpy as np
import pytest
import torch

from adamlr.solvers import spectral_norm


def symmetric(eigenvalues, seed=0):
    rng = np.random.default_rng(seed)
    q, _ = np.linalg.qr(rng.standard_normal((len(eigenvalues), len(eigenvalues))))
    return q @ np.diag(eigenvalues) @ q.T


def solve(a, which, method="lanczos", tol=1e-8, max_iter=500, seed=1):
    m = torch.from_numpy(a)
    start = torch.from_numpy(np.random.default_rng(seed).standard_normal(a.shape[0]))
    return spectral_norm(lambda v: m @ v, start, method=method, tol=tol, max_iter=max_iter, which=which)


# --- solvers: which="largest" -------------------------------------------------------------------


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_largest_algebraic_with_dominant_negative_eigenvalue(seed):
    rng = np.random.default_rng(seed)
    a = symmetric([-8.0, 3.0, 2.9] + list(rng.uniform(-2, 2, 40)), seed=seed)
    top = float(np.linalg.eigvalsh(a)[-1])
    largest = solve(a, "largest")
    assert largest.converged
    assert largest.eigenvalue == pytest.approx(top, rel=1e-7)
    assert solve(a, "magnitude").eigenvalue == pytest.approx(-8.0, rel=1e-7)  # the default is unchanged


def test_largest_algebraic_when_every_eigenvalue_is_negative():
    a = symmetric([-9.0, -4.0, -1.5] + [-3.0] * 10, seed=5)
    r = solve(a, "largest")
    assert r.converged
    assert r.eigenvalue == pytest.approx(float(np.linalg.eigvalsh(a)[-1]), rel=1e-7)


def test_largest_stops_on_its_own_residual_without_waiting_for_the_other_end():
    """λ = 5 isolated above a dense [−50, 1]: the top converges in ~24 products, the bottom needs ~80."""
    a = symmetric([5.0] + list(np.linspace(-50, 1, 399)), seed=7)
    r = solve(a, "largest", tol=1e-3, max_iter=300)
    assert r.converged and r.residual < 1e-4
    assert abs(r.eigenvalue - 5.0) <= 1e-3 * 5.0
    assert r.iterations < 40


def test_largest_with_power_method_is_refused():
    with pytest.raises(ValueError, match="lanczos"):
        solve(np.eye(3), "largest", method="power")


def test_unknown_which_is_refused():
    with pytest.raises(ValueError, match="which"):
        solve(np.eye(3), "smallest")
