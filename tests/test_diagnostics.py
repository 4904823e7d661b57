"""Stability diagnostics and the solvers' which="largest", each against an independent oracle.

Oracles: numpy.linalg.eigvalsh on explicit matrices, a numpy re-derivation of Adam's
preconditioner, torch.optim.Adam on an nn.Module, and hand-counted layer structure.
"""

import copy
import json
import math
import re
import subprocess
import sys

import numpy as np
import pytest
import torch
from torch import nn

from adamlr.diagnostics import adam_stability, normalization_share, probe, stability_limit
from adamlr.diagnostics.adam import AdamSettings, adam_update, zero_moments
from adamlr.diagnostics.stability import preconditioned_sharpness
from adamlr.problem import prepare
from adamlr.solvers import spectral_norm
from adamlr.zoo.nets import mlp, vgg9
from tests.assets import factories as f


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


# --- shared set-up ------------------------------------------------------------------------------


def problem_for(model, data, loss="mse", dtype="float64", chunk=None, norm_mode="train"):
    return prepare(model, data, loss, device="cpu", dtype=dtype, seed=0, chunk_size=chunk, norm_mode=norm_mode)


def lsq_problem(chunk=7):  # 40 rows = 5·7 + 5: a short last batch
    return problem_for(f.linear_model, f.lsq_data(), chunk=chunk)


def snapshot(params):
    return {k: v.detach().clone() for k, v in params.items()}


def assert_bitwise_equal(before, after):
    assert before.keys() == after.keys()
    for k in before:
        assert torch.equal(before[k], after[k]), k


def torch_adam_run(model, batches, full_x, full_y, lr, loss_fn, betas=(0.9, 0.999), eps=1e-8, per_batch=False):
    """The oracle: torch.optim.Adam on the module, one step per batch; the full-data loss after each step, or
    (``per_batch``) each batch's loss before its step and the full-data loss after the last."""
    optimizer = torch.optim.Adam(model.parameters(), lr=lr, betas=betas, eps=eps)
    losses = []
    for x, y in batches:
        optimizer.zero_grad()
        loss = loss_fn(model(x), y)
        if per_batch:
            losses.append(float(loss.detach()))
        loss.backward()
        optimizer.step()
        if not per_batch:
            with torch.no_grad():
                losses.append(float(loss_fn(model(full_x), full_y)))
    if per_batch:
        with torch.no_grad():
            losses.append(float(loss_fn(model(full_x), full_y)))
    return losses


# --- Adam against torch.optim.Adam --------------------------------------------------------------


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_adam_update_gives_torch_adam_weights(dtype):
    torch.manual_seed(0)
    model = f.tiny_mlp().to(dtype)
    x, y = f.tiny_data()
    x = x.to(dtype)
    params = {k: p.detach().clone() for k, p in model.named_parameters()}
    moments = zero_moments(params)
    settings = AdamSettings(lr=0.05, betas=(0.8, 0.99), eps=1e-6)
    optimizer = torch.optim.Adam(model.parameters(), lr=0.05, betas=(0.8, 0.99), eps=1e-6)
    for _ in range(6):
        leaves = {k: p.clone().requires_grad_(True) for k, p in params.items()}
        loss = torch.nn.functional.cross_entropy(torch.func.functional_call(model, leaves, (x,)), y)
        grads = dict(zip(leaves, torch.autograd.grad(loss, list(leaves.values()))))
        params, moments = adam_update(params, grads, moments, settings)
        optimizer.zero_grad()
        torch.nn.functional.cross_entropy(model(x), y).backward()
        optimizer.step()
    for name, p in model.named_parameters():
        torch.testing.assert_close(params[name], p.detach(), rtol=0, atol=1e-6)


def test_full_batch_probe_losses_match_torch_adam():
    x, y = f.tiny_data()
    problem = problem_for(f.tiny_mlp, (x, y), loss="cross_entropy", chunk=5)
    result = probe(problem.objective, problem.initial_params, 0.02, steps=8)
    oracle_model = copy.deepcopy(problem.user_model).double()
    expected = torch_adam_run(
        oracle_model, [(x.double(), y)] * 8, x.double(), y, 0.02, torch.nn.functional.cross_entropy
    )
    assert result.steps == 8 and len(result.losses) == 8
    np.testing.assert_allclose(result.losses, expected, rtol=1e-9)
    with torch.no_grad():
        l0 = float(torch.nn.functional.cross_entropy(problem.user_model.double()(x.double()), y))
    assert result.initial_loss == pytest.approx(l0, rel=1e-12)


def test_minibatch_probe_steps_once_per_batch_like_torch_adam():
    x, y = f.tiny_data()
    problem = problem_for(f.tiny_mlp, (x, y), loss="cross_entropy")
    batches = [(x[i : i + 5], y[i : i + 5]) for i in range(0, 20, 5)]  # float32 batches: the probe converts them
    result = probe(problem.objective, problem.initial_params, 0.05, steps=3, batches=iter(batches))
    oracle_model = copy.deepcopy(problem.user_model).double()
    expected = torch_adam_run(oracle_model, [(a.double(), b) for a, b in batches[:3]], x.double(), y, 0.05,
                              torch.nn.functional.cross_entropy, per_batch=True)
    assert result.steps == 3 and result.batch_size == 5
    np.testing.assert_allclose([*result.losses, result.final_loss], expected, rtol=1e-9)


def test_probe_steps_are_those_the_batches_allow():
    x, y = f.tiny_data()
    problem = problem_for(f.tiny_mlp, (x, y), loss="cross_entropy")
    assert probe(problem.objective, problem.initial_params, 0.01, steps=10, batches=[(x[:5], y[:5])]).steps == 1
    with pytest.raises(ValueError, match="batch"):
        probe(problem.objective, problem.initial_params, 0.01, batches=[])


# --- probe verdicts -----------------------------------------------------------------------------


def test_probe_descends_at_a_tiny_rate_and_rises_at_a_huge_one():
    problem = lsq_problem()
    small = probe(problem.objective, problem.initial_params, 1e-4)
    huge = probe(problem.objective, problem.initial_params, 1e3)
    assert small.verdict == "descends" and max(small.losses) < small.initial_loss
    assert huge.verdict == "rises" and max(huge.losses) > 1e3 * huge.initial_loss


def test_probe_non_finite_loss_rises_and_serialises_as_null():
    problem = problem_for(f.linear_model, f.lsq_data(), dtype="float32")
    result = probe(problem.objective, problem.initial_params, 1e30, steps=3)
    assert not all(math.isfinite(loss) for loss in result.losses)
    assert result.verdict == "rises"
    as_json = json.loads(json.dumps(result.to_dict(), allow_nan=False))
    assert None in as_json["losses"] and as_json["verdict"] == "rises"


def test_probe_rejects_nonsense():
    problem = lsq_problem()
    with pytest.raises(ValueError):
        probe(problem.objective, problem.initial_params, 0.0)
    with pytest.raises(ValueError):
        probe(problem.objective, problem.initial_params, 0.1, steps=0)


# --- inputs untouched ---------------------------------------------------------------------------


def test_diagnostics_never_modify_weights_batches_or_model():
    x, y = f.tiny_data()
    problem = problem_for(f.bn_model, (x, y), loss="cross_entropy", dtype="float32", chunk=5, norm_mode="eval")
    params, module_state = snapshot(problem.initial_params), snapshot(problem.objective.module.state_dict())
    user_state = snapshot(problem.user_model.state_dict())
    batches = [(x[:5].clone(), y[:5].clone()), (x[5:10].clone(), y[5:10].clone())]
    batch_copies = [(a.clone(), b.clone()) for a, b in batches]
    probe(problem.objective, problem.initial_params, 0.5, steps=3)
    probe(problem.objective, problem.initial_params, 0.5, steps=2, batches=batches)
    adam_stability(problem.objective, problem.initial_params, 0.1, warmup_lr=0.5, max_iter=10)
    assert_bitwise_equal(params, problem.initial_params)
    assert_bitwise_equal(module_state, problem.objective.module.state_dict())
    assert_bitwise_equal(user_state, problem.user_model.state_dict())
    for (a, b), (c, d) in zip(batches, batch_copies):
        assert torch.equal(a, c) and torch.equal(b, d)


# --- stability: preconditioned sharpness against eigvalsh ---------------------------------------


def numpy_adam_preconditioner(x, y, w0, steps, lr, betas, eps, signs=None):
    """P_t = (1 − β₁ᵗ)(sqrt(v_t/(1 − β₂ᵗ)) + ε) after t full-batch Adam steps on mean(s·(Xw − y)²), in numpy."""
    beta1, beta2 = betas
    n = x.shape[0]
    s = np.ones(n) if signs is None else signs
    w, m, v = w0.copy(), np.zeros_like(w0), np.zeros_like(w0)
    for t in range(1, steps + 1):
        g = 2.0 / n * x.T @ (s * (x @ w - y))
        m = beta1 * m + (1 - beta1) * g
        v = beta2 * v + (1 - beta2) * g * g
        w = w - lr / (1 - beta1**t) * m / (np.sqrt(v / (1 - beta2**t)) + eps)
    return (1 - beta1**steps) * (np.sqrt(v / (1 - beta2**steps)) + eps)


def preconditioned_top_eigenvalue(h, p):
    d = np.diag(1.0 / np.sqrt(p))
    return float(np.linalg.eigvalsh(d @ h @ d)[-1])


@pytest.mark.parametrize(("steps", "lr", "betas", "eps"), [
    (10, 1e-7, (0.9, 0.999), 1e-8),  # the defaults: P ≈ (1 − β₁ᵗ)|g(w0)|
    (7, 0.05, (0.8, 0.99), 1e-3),  # a warm-up that moves w, and a large ε
])
def test_stability_matches_numpy_oracle_on_least_squares(steps, lr, betas, eps):
    problem = lsq_problem()
    x, y = (t.double().numpy() for t in f.lsq_data())
    w0 = problem.initial_params["weight"].numpy().reshape(-1)
    p = numpy_adam_preconditioner(x, y.reshape(-1), w0, steps, lr, betas, eps)
    top = preconditioned_top_eigenvalue(2.0 / x.shape[0] * x.T @ x, p)
    result = adam_stability(problem.objective, problem.initial_params, 0.01, warmup_steps=steps, warmup_lr=lr,
                            betas=betas, eps=eps, tol=1e-10, max_iter=6)
    assert result.converged
    assert result.sharpness == pytest.approx(top, rel=1e-8)
    assert result.lr_limit == pytest.approx((2 + 2 * betas[0]) / ((1 - betas[0]) * top), rel=1e-8)
    assert result.ratio == pytest.approx(0.01 / result.lr_limit, rel=1e-12)
    assert (result.warmup_steps, result.warmup_lr, result.eps) == (steps, lr, eps)
    assert result.iterations <= 6 and result.seconds > 0


def test_preconditioned_sharpness_with_a_given_diagonal():
    problem = lsq_problem()
    x = f.lsq_data()[0].double().numpy()
    p = np.array([0.3, 2.0, 0.01, 1.0, 5.0, 0.2])
    given = {"weight": torch.from_numpy(p).reshape(1, -1)}
    r = preconditioned_sharpness(problem.objective, problem.initial_params, given, tol=1e-10, max_iter=6)
    assert r.converged
    assert r.eigenvalue == pytest.approx(preconditioned_top_eigenvalue(2.0 / x.shape[0] * x.T @ x, p), rel=1e-8)


def test_stability_limit_formula():
    assert stability_limit(38.0, 0.9) == pytest.approx(1.0, rel=1e-12)
    assert stability_limit(1.0, 0.5) == pytest.approx(6.0, rel=1e-12)  # (2 + 1)/(0.5·1)
    assert stability_limit(0.0, 0.9) == math.inf
    assert stability_limit(-3.0, 0.9) == math.inf


def signed_square(outputs, targets):
    """mean(s·(Xw − y)²) with targets = [y, s]: H = (2/n)·Xᵀ diag(s) X, indefinite when some s < 0."""
    return (targets[:, 1:] * (outputs - targets[:, :1]) ** 2).mean()


def test_stability_takes_the_largest_algebraic_eigenvalue():
    x, y = f.lsq_data()
    signs = torch.where(torch.arange(40) % 3 == 0, -4.0, 1.0)
    problem = problem_for(f.linear_model, (x, torch.cat([y, signs[:, None]], dim=1)), loss=signed_square)
    xn, yn, sn = x.double().numpy(), y.double().numpy().reshape(-1), signs.double().numpy()
    w0 = problem.initial_params["weight"].numpy().reshape(-1)
    p = numpy_adam_preconditioner(xn, yn, w0, 10, 1e-7, (0.9, 0.999), 1e-8, signs=sn)
    d = np.diag(1.0 / np.sqrt(p))
    spectrum = np.linalg.eigvalsh(d @ (2.0 / 40 * xn.T @ np.diag(sn) @ xn) @ d)
    assert -spectrum[0] > spectrum[-1] > 0  # the dominant eigenvalue is negative: max |λ| would be wrong
    result = adam_stability(problem.objective, problem.initial_params, tol=1e-10, max_iter=6)
    assert result.sharpness == pytest.approx(spectrum[-1], rel=1e-8)
    assert result.ratio is None


def test_stability_without_positive_curvature_has_no_limit():
    problem = problem_for(f.linear_model, f.lsq_data(), loss=negative_square)
    result = adam_stability(problem.objective, problem.initial_params, 0.1, tol=1e-8, max_iter=6)
    assert result.sharpness < 0
    assert result.lr_limit == math.inf and result.ratio == 0.0
    assert json.loads(json.dumps(result.to_dict(), allow_nan=False))["lr_limit"] is None


def negative_square(outputs, targets):
    return -((outputs - targets) ** 2).mean()


def test_stability_rejects_an_uninvertible_preconditioner():
    problem = lsq_problem()
    with pytest.raises(ValueError):
        adam_stability(problem.objective, problem.initial_params, warmup_steps=0)
    with pytest.raises(ValueError):
        adam_stability(problem.objective, problem.initial_params, eps=0.0)


# --- normalisation share ------------------------------------------------------------------------


def bn_everywhere_mlp():
    return nn.Sequential(nn.Flatten(), nn.Linear(4, 6), nn.BatchNorm1d(6), nn.ReLU(), nn.Linear(6, 6),
                         nn.BatchNorm1d(6), nn.ReLU(), nn.Linear(6, 3), nn.BatchNorm1d(3))


class Residual(nn.Module):
    """x + W₂ relu(W₁ x) then LayerNorm: W₂ feeds the norm through the sum; W₁ feeds W₂."""

    def __init__(self):
        super().__init__()
        self.inner, self.outer, self.norm = nn.Linear(4, 8), nn.Linear(8, 4), nn.LayerNorm(4)

    def forward(self, x):
        return self.norm(x + self.outer(torch.relu(self.inner(x))))


class Branching(nn.Module):
    """A data-dependent branch: torch.fx cannot trace it."""

    def __init__(self):
        super().__init__()
        self.first, self.bn, self.last = nn.Linear(4, 4), nn.BatchNorm1d(4), nn.Linear(4, 2)

    def forward(self, x):
        h = self.bn(self.first(x))
        return self.last(h) if h.sum() > 0 else self.last(-h)


@pytest.mark.parametrize(("factory", "weights", "followed"), [
    (f.tiny_relu_mlp, 2, 0),  # plain MLP
    (lambda: mlp(64, width=16, depth=3), 4, 0),  # the paper's plain ReLU MLP
    (bn_everywhere_mlp, 3, 3),  # BatchNorm after every Linear, output included
    (f.bn_model, 2, 1),  # BatchNorm after the first layer only
    (lambda: vgg9(batch_norm=True), 9, 7),  # convolutions normalised, the two Linear layers not
    (lambda: nn.Sequential(nn.Linear(4, 4), nn.ReLU(), nn.LayerNorm(4), nn.Linear(4, 2)), 2, 1),  # through ReLU
    (Residual, 2, 1),
])
def test_normalization_share(factory, weights, followed):
    info = normalization_share(factory())
    assert (info.weight_tensors, info.followed) == (weights, followed)
    assert info.share == pytest.approx(followed / weights)
    assert info.normalized == (followed == weights)
    assert "torch.fx" in info.note and "could not" not in info.note


def test_normalization_branch_that_skips_the_norm_is_not_followed():
    class Skip(nn.Module):
        def __init__(self):
            super().__init__()
            self.layer, self.bn = nn.Linear(4, 4), nn.BatchNorm1d(4)

        def forward(self, x):
            h = self.layer(x)
            return self.bn(h), h

    assert normalization_share(Skip()).followed == 0


def test_normalization_falls_back_to_registration_order():
    info = normalization_share(Branching())
    assert "could not trace" in info.note
    assert (info.weight_tensors, info.followed, info.normalized) == (2, 1, False)


def test_normalization_of_a_model_without_weights():
    info = normalization_share(nn.Sequential(nn.ReLU()))
    assert (info.normalized, info.share, info.weight_tensors) == (False, 0.0, 0)
    assert json.loads(json.dumps(info.to_dict()))["followed"] == 0


# --- the cost benchmark runs --------------------------------------------------------------------


@pytest.mark.slow
def test_diagnostics_cost_benchmark_prints_ratios():
    out = subprocess.run([sys.executable, "benchmarks/diagnostics_cost.py", "--repeats", "1"], check=False,
                         capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr[-2000:]
    for name in ("estimate sample", "probe \\(k=10\\)", "stability"):
        assert re.search(rf"{name}\s+[\d.]+ s\s+[\d.]+x", out.stdout), out.stdout
