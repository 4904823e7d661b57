"""Hessian-vector products against dense Hessians from torch.func.hessian (float64)."""

import pytest
import torch
from torch.func import functional_call, hessian

from adamlr.data import as_batches
from adamlr.hvp import HessianOperator, ParamLayout, choose_mode, graph_bytes_per_example
from adamlr.losses import resolve_loss
from adamlr.objective import Objective, trainable_parameters, working_copy
from tests.assets import factories as f

CPU = torch.device("cpu")


def objective_for(model, data, loss="cross_entropy", chunk=None):
    work, _ = working_copy(model, CPU, torch.float64)
    fn, name = resolve_loss(loss)
    batches = as_batches(data, name="test", device=CPU, dtype=torch.float64, chunk_size=chunk)
    obj = Objective(work, fn, batches, name)
    params = trainable_parameters(work)
    obj.value(params)
    return obj, params


def dense_hessian(model, x, y, loss_fn, params):
    work, _ = working_copy(model, CPU, torch.float64)
    layout = ParamLayout(params)

    def loss_of(flat):
        return loss_fn(functional_call(work, dict(zip(layout.names, layout.split(flat))), (x.double(),)),
                       y.double() if y.is_floating_point() else y)

    return hessian(loss_of)(layout.flatten(list(params.values())).clone())


@pytest.mark.parametrize("mode", ["cached", "stream"])
@pytest.mark.parametrize("chunk", [None, 5])
def test_hvp_matches_dense_hessian(mode, chunk):
    torch.manual_seed(0)
    model = f.tiny_mlp()
    x, y = f.tiny_data()
    obj, params = objective_for(model, (x, y), chunk=chunk)
    h = dense_hessian(model, x, y, torch.nn.functional.cross_entropy, params)
    op = HessianOperator(obj, params, mode)
    for seed in range(3):
        v = torch.randn(op.size, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)
        torch.testing.assert_close(op.matvec(v), h @ v, rtol=1e-10, atol=1e-12)
    assert op.matvecs == 3


@pytest.mark.parametrize("mode", ["cached", "stream"])
def test_least_squares_hessian_is_2_over_n_xtx(mode):
    x, y = f.lsq_data()
    obj, params = objective_for(f.linear_model(), (x, y), loss="mse", chunk=7)  # 40 = 5·7 + 5: short last batch
    op = HessianOperator(obj, params, mode)
    expected = 2.0 / x.shape[0] * x.double().T @ x.double()
    dense = torch.stack([op.matvec(e) for e in torch.eye(op.size, dtype=torch.float64)], dim=1)
    torch.testing.assert_close(dense, expected, rtol=1e-12, atol=1e-12)


def test_loss_and_gradient_norm_reported():
    x, y = f.lsq_data()
    obj, params = objective_for(f.linear_model(), (x, y), loss="mse")
    op = HessianOperator(obj, params, "cached")
    w = params["weight"].reshape(-1, 1)
    residual = x.double() @ w - y.double()
    assert op.loss == pytest.approx(float((residual**2).mean()), rel=1e-12)
    grad = 2.0 / x.shape[0] * x.double().T @ residual
    assert op.gradient_norm == pytest.approx(float(grad.norm()), rel=1e-10)


def test_zero_curvature_gives_zero_product():
    x, y = f.lsq_data()
    obj, params = objective_for(f.linear_model(), (x, y), loss=f.mean_output)
    op = HessianOperator(obj, params, "stream")
    assert torch.count_nonzero(op.matvec(torch.ones(op.size, dtype=torch.float64))) == 0


def test_auto_mode_caches_small_data_and_measures_graph():
    obj, params = objective_for(f.tiny_mlp(), f.tiny_data())
    assert graph_bytes_per_example(obj, params) > 0
    per_example = graph_bytes_per_example(obj, params)
    assert choose_mode("auto", obj, per_example) == "cached"
    assert choose_mode("stream", obj, per_example) == "stream"
    assert choose_mode("auto", obj, 1e18) == "stream"  # a graph that cannot fit
