"""Algorithm 2 end to end on tiny models: exactness, reproducibility, the user's side untouched."""

import copy
import random

import numpy as np
import pytest
import torch

from adamlr import estimate
from adamlr.errors import DataError, ModelError, NotConvergedError, NumericalError, UserCodeError
from adamlr.formula import recommended_lr
from tests.assets import factories as f

A = "tests.assets.factories:"
TIGHT = dict(dtype="float64", tol=1e-8, max_iter=50)


@pytest.mark.parametrize("method", ["lanczos", "power"])
@pytest.mark.parametrize("weights", ["gaussian", "init"])
def test_least_squares_k_hat_is_top_eigenvalue_of_2xtx_over_n(method, weights):
    x, y = f.lsq_data()
    top = float(np.linalg.eigvalsh(2.0 / x.shape[0] * (x.double().T @ x.double()).numpy())[-1])
    r = estimate(A + "linear_model", A + "lsq_data", epochs=10, loss="mse", samples=3, method=method,
                 weights=weights, **(TIGHT | {"max_iter": 400}))
    for s in r.samples:  # the Hessian does not depend on w: every sample sees the same matrix
        assert s.converged
        assert s.spectral_norm == pytest.approx(top, rel=1e-6)
    assert r.k_hat == pytest.approx(top, rel=1e-6)


def test_alpha_follows_the_formula():
    r = estimate(A + "tiny_mlp", A + "tiny_data", epochs=20, samples=2, **TIGHT)
    assert r.k_hat == max(s.spectral_norm for s in r.samples)
    assert r.lr == pytest.approx(recommended_lr(r.initial_loss, r.k_hat, 20))
    assert (r.T, r.horizon_unit) == (20, "epochs")
    steps = estimate(A + "tiny_mlp", A + "tiny_data", steps=80, samples=2, **TIGHT)
    assert (steps.T, steps.horizon_unit) == (80, "steps")
    assert steps.lr == pytest.approx(r.lr / 2)  # T four times larger


def test_initial_loss_is_full_data_mean_with_short_batch():
    x, y = f.tiny_data()
    model = f.tiny_mlp()
    with torch.no_grad():
        direct = float(torch.nn.functional.cross_entropy(copy.deepcopy(model).double()(x.double()), y))
    for chunk in (None, 5, 10):  # 23 rows: the last chunk is short
        r = estimate(model, (x, y), epochs=1, samples=1, chunk_size=chunk, **TIGHT)
        assert r.initial_loss == pytest.approx(direct, rel=1e-12)


def test_data_forms_agree():
    results = [estimate(A + "tiny_mlp", A + d, epochs=5, samples=2, seed=3, **TIGHT).k_hat
               for d in ("tiny_data", "tiny_loader", "tiny_dataset", "tiny_generator")]
    assert max(results) == pytest.approx(min(results), rel=1e-9)


def test_same_seed_same_k_hat_other_seed_other():
    a = estimate(A + "tiny_mlp", A + "tiny_data", epochs=5, samples=3, seed=11)
    b = estimate(A + "tiny_mlp", A + "tiny_data", epochs=5, samples=3, seed=11)
    c = estimate(A + "tiny_mlp", A + "tiny_data", epochs=5, samples=3, seed=12)
    assert a.k_hat == b.k_hat and a.lr == b.lr
    assert a.k_hat != c.k_hat


def test_user_model_and_rng_untouched():
    model = f.bn_model()
    model.train()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    torch.manual_seed(123)
    random.seed(5)
    np.random.seed(9)
    expect_torch, expect_py, expect_np = torch.rand(3), random.random(), np.random.rand()
    torch.manual_seed(123)
    random.seed(5)
    np.random.seed(9)
    r = estimate(model, A + "tiny_data", epochs=5, samples=2, weights="init")
    assert torch.equal(torch.rand(3), expect_torch)
    assert random.random() == expect_py and np.random.rand() == expect_np
    after = model.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)
    assert model.training
    assert any("eval mode" in w for w in r.warnings)


def test_factory_rng_seeded():
    a = estimate(A + "rng_model", A + "tiny_data", epochs=5, samples=1, seed=4)
    torch.rand(100)  # moving the global stream must not matter
    b = estimate(A + "rng_model", A + "tiny_data", epochs=5, samples=1, seed=4)
    assert a.initial_loss == b.initial_loss


def test_scale_moves_k_hat_and_is_reported():
    small = estimate(A + "tiny_mlp", A + "tiny_data", epochs=5, samples=2, scale=1.0)
    large = estimate(A + "tiny_mlp", A + "tiny_data", epochs=5, samples=2, scale=4.0)
    assert large.k_hat != small.k_hat
    assert large.settings["scale"] == 4.0 and large.settings["weights"] == "gaussian"


def test_factory_raises():
    with pytest.raises(
        UserCodeError, match="model factory .*raising_factory raised ValueError: width must be positive"
    ):
        estimate(A + "raising_factory", A + "tiny_data", epochs=1)


def test_factory_wrong_type():
    with pytest.raises(ModelError, match="return an nn.Module, found int"):
        estimate(A + "not_a_module", A + "tiny_data", epochs=1)


def test_not_callable_model():
    with pytest.raises(ModelError, match="found float"):
        estimate(A + "not_callable_thing", A + "tiny_data", epochs=1)


def test_shape_mismatch():
    with pytest.raises(DataError, match=r"accept inputs of shape \(10, 7\)"):
        estimate(A + "tiny_mlp", A + "wrong_width_data", epochs=1)


def test_loss_target_mismatch():
    with pytest.raises(DataError, match="expected mse outputs and targets of the same shape"):
        estimate(A + "tiny_mlp", A + "tiny_data", epochs=1, loss="mse")


def test_nan_loss():
    with pytest.raises(NumericalError, match="finite loss"):
        estimate(A + "tiny_mlp", A + "nan_data", epochs=1)


def test_zero_curvature_is_rejected():
    with pytest.raises(NumericalError, match="positive Hessian spectral norm"):
        estimate(A + "linear_model", A + "lsq_data", epochs=1, loss=A + "mean_output", samples=2)


def test_strict_not_converged_carries_result():
    with pytest.raises(NotConvergedError) as info:
        estimate(A + "tiny_mlp", A + "tiny_data", epochs=1, samples=2, max_iter=2, tol=1e-9, strict=True)
    assert info.value.exit_code == 3
    assert info.value.result is not None and not info.value.result.all_converged


def test_to_dict_contract():
    d = estimate(A + "tiny_mlp", A + "tiny_data", epochs=3, samples=2).to_dict()
    for key in ("schema_version", "lr", "k_hat", "initial_loss", "T", "samples"):
        assert key in d
    for key in ("spectral_norm", "iterations", "converged", "seconds"):
        assert key in d["samples"][0]


def test_mini_batch_least_squares_matches_the_batch_hessian():
    """With --batch-size B the sample's norm is that of 2/B X_Bᵀ X_B for its random batch."""
    from adamlr.sampling import sample_seed

    x, y = f.lsq_data()
    r = estimate(A + "linear_model", A + "lsq_data", epochs=1, loss="mse", samples=2, batch_size=16,
                 batches_per_sample=3, **(TIGHT | {"max_iter": 20}))
    for s in r.samples:
        gen = torch.Generator().manual_seed(sample_seed(0, s.index, stream=2))
        expected = []
        for _ in range(3):
            idx = torch.randperm(40, generator=gen)[:16]
            xb = x[idx].double()
            expected.append(float(np.linalg.eigvalsh((2.0 / 16 * xb.T @ xb).numpy())[-1]))
        assert s.batch_norms == pytest.approx(tuple(expected), rel=1e-8)
        assert s.spectral_norm == pytest.approx(float(np.mean(expected)), rel=1e-8)
    assert any("mini-batch" in w for w in r.warnings)


def test_mini_batch_of_everything_equals_full_data():
    full = estimate(A + "linear_model", A + "lsq_data", epochs=1, loss="mse", samples=1, **TIGHT)
    whole = estimate(A + "linear_model", A + "lsq_data", epochs=1, loss="mse", samples=1, batch_size=40, **TIGHT)
    assert whole.k_hat == pytest.approx(full.k_hat, rel=1e-9)


def test_mini_batch_needs_random_access():
    with pytest.raises(DataError, match="random access"):
        estimate(A + "tiny_mlp", A + "tiny_generator", epochs=1, batch_size=4)
    with pytest.raises(DataError, match="at most the 23 examples"):
        estimate(A + "tiny_mlp", A + "tiny_data", epochs=1, batch_size=50)


def test_mini_batch_from_a_dataloader_dataset():
    r = estimate(A + "tiny_mlp", A + "tiny_loader", epochs=1, samples=1, batch_size=8, batches_per_sample=2)
    assert len(r.samples[0].batch_norms) == 2


def test_strict_accepts_bounded_samples_and_the_json_counts_them():
    r = estimate(A + "tiny_mlp", A + "tiny_data", epochs=10, samples=10, device="cpu", dtype="float64", tol=1e-6,
                 probe_steps=0, strict=True)  # does not raise
    d = r.to_dict()
    assert d["bounded_total"] == sum(s.bounded for s in r.samples) > 0
    assert d["all_converged"] and not all(s.converged for s in r.samples)
    assert all(isinstance(s["bounded"], bool) for s in d["samples"])
