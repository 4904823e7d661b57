"""--norm-mode: the Hessian of the loss training sees (batch statistics) or of the eval-mode loss.

The oracle is an independent, hand-written BatchNorm forward differentiated twice by
``torch.func.hessian``, compared with the dense matrix adamlr's products build column by column.
"""

import json

import pytest
import torch
from torch.func import hessian
from typer.testing import CliRunner

from adamlr import estimate
from adamlr.cli import app
from adamlr.errors import UsageError
from adamlr.hvp import HessianOperator
from adamlr.problem import prepare
from adamlr.rng import preserved_rng
from tests.assets import factories as f

A = "tests.assets.factories:"
EPS = 1e-5  # BatchNorm1d's default


def manual_loss(flat, x, y, mode):
    """Linear(3,4) → BN(4) → tanh → Linear(4,2), cross-entropy; BN with batch or initial running statistics."""
    w1, b1, g, beta, w2, b2 = torch.split(flat, [12, 4, 4, 4, 8, 2])
    h = x @ w1.view(4, 3).T + b1
    if mode == "train":
        mean, var = h.mean(0), h.var(0, unbiased=False)
    else:  # eval at initialisation: running mean 0, running variance 1
        mean, var = torch.zeros(4, dtype=h.dtype), torch.ones(4, dtype=h.dtype)
    h = torch.tanh((h - mean) / torch.sqrt(var + EPS) * g + beta)
    return torch.nn.functional.cross_entropy(h @ w2.view(2, 4).T + b2, y)


def dense_hessian_from_products(problem):
    op = HessianOperator(problem.objective, problem.initial_params, "cached")
    eye = torch.eye(op.size, dtype=torch.float64)
    return torch.stack([op.matvec(eye[i]) for i in range(op.size)], dim=1)


def bn_problem(norm_mode, data=None, chunk=None):
    with preserved_rng():
        return prepare(A + "bn_tanh_model", data or A + "bn_tanh_data", "cross_entropy", device="cpu",
                       dtype="float64", seed=0, chunk_size=chunk, norm_mode=norm_mode)


@pytest.mark.parametrize("mode", ["train", "eval"])
def test_hvp_matches_torch_func_hessian_of_the_same_loss(mode):
    problem = bn_problem(mode)
    flat = torch.cat([p.reshape(-1) for p in problem.initial_params.values()])
    x, y = f.bn_tanh_data()
    oracle = hessian(manual_loss)(flat, x.double(), y, mode)
    assert torch.allclose(dense_hessian_from_products(problem), oracle, atol=1e-10, rtol=1e-8)
    assert problem.objective.value(problem.initial_params) == pytest.approx(
        float(manual_loss(flat, x.double(), y, mode))
    )


def test_train_and_eval_are_different_losses_on_a_batchnorm_net():
    train, ev = dense_hessian_from_products(bn_problem("train")), dense_hessian_from_products(bn_problem("eval"))
    assert not torch.allclose(train, ev, atol=1e-3)


def test_loader_batches_each_use_their_own_statistics():
    problem = bn_problem("train", data=A + "bn_tanh_loader")
    flat = torch.cat([p.reshape(-1) for p in problem.initial_params.values()])
    x, y = f.bn_tanh_data()
    expected = sum(float(manual_loss(flat, x[i:i + 5].double(), y[i:i + 5], "train")) * len(y[i:i + 5])
                   for i in range(0, 12, 5)) / 12
    assert problem.objective.value(problem.initial_params) == pytest.approx(expected, rel=1e-12)
    assert any("each normalised with its own statistics" in w for w in problem.warnings)


def test_chunking_that_would_change_the_loss_is_refused():
    with pytest.raises(UsageError, match="--chunk-size"):
        bn_problem("train", chunk=5)
    bn_problem("eval", chunk=5)  # running statistics: chunks change nothing
    r = CliRunner().invoke(app, ["estimate", "-m", A + "bn_tanh_model", "-d", A + "bn_tanh_data", "--epochs", "5",
                                 "--samples", "1", "--chunk-size", "5", "--no-cache"])
    assert r.exit_code == 2 and "--chunk-size" in r.stderr and len(r.stderr.strip().splitlines()) == 1


def test_running_statistics_and_modes_of_the_user_model_are_untouched():
    model = f.bn_model()  # BatchNorm with running statistics, and Dropout
    model.train()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    r = estimate(model, A + "tiny_data", epochs=5, samples=2, norm_mode="train")
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())  # num_batches_tracked too
    assert model.training and all(m.training for m in model.modules())
    assert model[1].track_running_stats
    assert any("each batch's statistics" in w and "Dropout is off" in w for w in r.warnings)


def test_no_running_statistics_means_no_eval_mode_warning_and_the_same_hessian():
    train = estimate(A + "no_running_stats_model", A + "bn_tanh_data", epochs=5, samples=2, norm_mode="train",
                     dtype="float64", tol=1e-8)
    ev = estimate(A + "no_running_stats_model", A + "bn_tanh_data", epochs=5, samples=2, norm_mode="eval",
                  dtype="float64", tol=1e-8)
    assert not any("eval mode" in w for w in ev.warnings)
    assert train.k_hat == pytest.approx(ev.k_hat, rel=1e-10)


def test_diagnostics_in_the_json_and_probes_off():
    r = estimate(A + "tiny_mlp", A + "tiny_data", epochs=5, samples=2, probe_steps=3, stability=True)
    d = r.to_dict()
    assert d["schema_version"] == 3 and d["rule"] == "search" and set(d["rules"]) == {"paper", "search"}
    assert d["probe"]["steps"] == 3 and len(d["probe"]["losses"]) == 3
    assert d["probe"]["verdict"] in ("descends", "transient", "rises") and d["probe"]["lr"] == r.recommended_lr
    assert d["search"]["steps"] == 3 and all(p["steps"] == 3 for p in d["search"]["probes"])
    assert d["stability"]["lr_limit"] > 0 and d["stability"]["ratio"] == pytest.approx(
        r.recommended_lr / d["stability"]["lr_limit"])
    assert d["normalized"]["weight_tensors"] == 2 and d["normalized"]["normalized"] is False
    assert estimate(A + "tiny_mlp", A + "tiny_data", epochs=5, samples=2).stability is None  # only when asked
    off = estimate(A + "tiny_mlp", A + "tiny_data", epochs=5, samples=2, probe_steps=0)
    assert off.probe is None and off.search is None and off.rules == {"paper": off.lr}
    assert off.recommended_lr == off.lr and off.cost.probe_steps == 0


def test_strict_judges_the_recommended_rate_and_still_prints_the_json():
    """Issue 21, item 4: --strict judged the paper's α whatever --rule recommended. T = 1 step makes α blow this
    small net up; the search rule's rate does not, so strict passes with it and fails with --rule paper."""
    args = ["estimate", "-m", A + "tiny_relu_mlp", "-d", A + "tiny_data", "--steps", "1", "--samples", "2",
            "--scale", "4", "--no-cache", "--json"]
    paper = CliRunner().invoke(app, [*args, "--rule", "paper"])
    d = json.loads(paper.stdout)
    assert d["probe"]["verdict"] == "rises" and d["probe"]["lr"] == d["lr"], d["probe"]
    assert paper.exit_code == 0 and "a run at this rate will likely blow up" in paper.stderr
    strict = CliRunner().invoke(app, [*args, "--rule", "paper", "--strict"])
    assert strict.exit_code == 3 and json.loads(strict.stdout)["probe"]["verdict"] == "rises"
    assert "expected the loss to end below L(w0)" in strict.stderr and "--rule paper" in strict.stderr
    search = CliRunner().invoke(app, [*args, "--strict"])
    out = json.loads(search.stdout)
    assert search.exit_code == 0, search.stderr
    assert out["rule"] == "search" and out["probe"]["verdict"] != "rises" and out["recommended_lr"] < out["lr"]


def test_probe_rises_on_a_plain_mlp_and_descends_on_a_bn_everywhere_mlp():
    """The paper's α on digits, T = 100 epochs: blows the plain ReLU net up, trains the BN-everywhere one."""
    plain = estimate("adamlr.zoo.nets:mlp_digits", "adamlr.zoo.data:digits", epochs=100, samples=3, rule="paper")
    normalised = estimate(A + "bn_everywhere_digits", "adamlr.zoo.data:digits", epochs=100, samples=3,
                          weights="init", rule="paper")
    assert plain.probe.verdict == "rises" and not plain.normalized.normalized
    assert normalised.probe.verdict == "descends" and normalised.normalized.normalized


def test_the_probe_warning_is_printed_once():
    """Issue 21, item 10: without --json the report on stdout says the probe rose, and stderr does not repeat it;
    with --json (nothing human on stdout) stderr says it once."""
    args = ["estimate", "-m", A + "tiny_relu_mlp", "-d", A + "tiny_data", "--steps", "1", "--samples", "2",
            "--scale", "4", "--no-cache", "--rule", "paper"]
    human = CliRunner().invoke(app, args)
    assert human.exit_code == 0 and "blow up" not in human.stderr
    assert " ".join(human.stdout.split()).count("a run at this rate will likely blow up") == 1
    machine = CliRunner().invoke(app, [*args, "--json"])
    assert machine.stderr.count("a run at this rate will likely blow up") == 1
