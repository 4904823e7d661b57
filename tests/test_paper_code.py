"""The authors' code's setup: adamlr.zoo.paper_code, the paper-code scheduler set, the *_bn_* presets."""

import dataclasses
import math
from pathlib import Path

import pytest
import torch
from torch import nn
from typer.testing import CliRunner

from adamlr import estimate
from adamlr.cli import app
from adamlr.comparison import schedules as S
from adamlr.comparison.arms import paper_arms
from adamlr.comparison.presets import preset, quick
from adamlr.comparison.runner import run_compare
from adamlr.comparison.setup import settings_list
from adamlr.errors import ConfigError
from adamlr.loading import load_object
from adamlr.zoo import paper_code as P

A = "tests.assets.factories:"
HAS_FASHION = Path("/usr/share/datasets/fashion-mnist").is_dir()
needs_fashion = pytest.mark.skipif(not HAS_FASHION, reason="Debian's dataset-fashion-mnist is not installed")
NEW_PRESETS = ("mlp1_bn_full", "mlp3_bn_full", "mlp5_bn_full", "lenet_bn_full", "vgg9_bn_cifar10")


def follower(net: nn.Sequential, kind: type[nn.Module]) -> list[nn.Module]:
    """The module right after each ``kind`` layer (None after the last module)."""
    layers = list(net)
    return [layers[i + 1] if i + 1 < len(layers) else None for i, m in enumerate(layers) if isinstance(m, kind)]


def weights(net: nn.Module) -> torch.Tensor:
    return torch.cat([m.weight.detach().flatten() for m in net.modules() if isinstance(m, (nn.Linear, nn.Conv2d))])


@pytest.mark.parametrize("depth", [1, 3, 5])
def test_mlp_bn_normalises_every_linear_output_included(depth):
    torch.manual_seed(0)
    net = getattr(P, f"mlp{depth}_bn_fashion")()
    linears = [m for m in net if isinstance(m, nn.Linear)]
    assert len(linears) == depth + 1 and linears[0].in_features == 784 and linears[-1].out_features == 1000
    assert all(m.out_features == 1000 for m in linears)  # hidden width 1000 too
    after = follower(net, nn.Linear)
    assert all(isinstance(bn, nn.BatchNorm1d) and not bn.track_running_stats for bn in after)
    assert all(isinstance(m, nn.ReLU) for m in follower(net, nn.BatchNorm1d))  # ReLU after the output's BN too
    assert isinstance(net[-1], nn.ReLU) and isinstance(net[0], nn.Flatten)


def test_mlp_bn_output_and_cross_entropy_on_ten_labels():
    torch.manual_seed(0)
    net = P.mlp1_bn_fashion()
    out = net(torch.randn(16, 1, 28, 28))
    assert out.shape == (16, 1000) and bool((out >= 0).all())
    net.eval()  # no running statistics: eval mode gives the same batch-statistics output
    torch.testing.assert_close(net(torch.ones(4, 1, 28, 28) * torch.arange(4.0).view(4, 1, 1, 1)),
                               net.train()(torch.ones(4, 1, 28, 28) * torch.arange(4.0).view(4, 1, 1, 1)))
    loss = nn.functional.cross_entropy(out.detach(), torch.arange(16) % 10)
    assert math.isfinite(float(loss)) and float(loss) > math.log(10)  # 1000 logits, not 10


def test_lenet_bn_and_vgg9_bn_layouts():
    torch.manual_seed(0)
    for net, convs in ((P.lenet_bn_fashion(), 2), (P.vgg9_bn_cifar10(), 7)):
        conv_next = follower(net, nn.Conv2d)
        assert len(conv_next) == convs
        assert all(isinstance(bn, nn.BatchNorm2d) and bn.track_running_stats for bn in conv_next)
        linear_next = follower(net, nn.Linear)
        assert all(isinstance(bn, nn.BatchNorm1d) and bn.track_running_stats for bn in linear_next[:-1])
        assert linear_next[-1] is None and list(net)[-1].out_features == 1000  # plain 1000-unit output
    assert P.lenet_bn_fashion()(torch.randn(3, 1, 28, 28)).shape == (3, 1000)
    assert P.vgg9_bn_cifar10()(torch.randn(2, 3, 32, 32)).shape == (2, 1000)


@pytest.mark.parametrize(("factory", "std"), [("mlp3_bn_fashion", 0.04), ("lenet_bn_fashion", 0.1),
                                              ("vgg9_bn_cifar10", 0.045)])
def test_init_is_normal_with_this_std_biases_zero_bn_identity(factory, std):
    torch.manual_seed(0)
    net = getattr(P, factory)()
    w = weights(net).double()
    # std of a sample std ≈ σ/√(2n): n ≥ 1.4e5 here, so 2 % is > 10 standard errors; 0.04² would be 25× off.
    assert float(w.std()) == pytest.approx(std, rel=0.02)
    assert abs(float(w.mean())) < 5 * std / math.sqrt(w.numel())
    for m in net.modules():
        if isinstance(m, (nn.Linear, nn.Conv2d)):
            assert bool((m.bias == 0).all())
        if isinstance(m, nn.modules.batchnorm._BatchNorm):
            assert bool((m.weight == 1).all()) and bool((m.bias == 0).all())


def test_factories_draw_from_the_global_rng():
    torch.manual_seed(3)
    a = weights(P.lenet_bn_fashion())
    torch.manual_seed(3)
    b = weights(P.lenet_bn_fashion())
    c = weights(P.lenet_bn_fashion())
    assert torch.equal(a, b) and not torch.equal(b, c)


def test_paper_code_schedules_by_hand():
    lr, T = 0.01, 100
    values = {name: S.schedule_values(name, T, lr, scheduler_set="paper-code") for name in S.PAPER_CODE_SCHEDULERS}
    assert values["sqrt_decay"][:2] == [0.01, 0.01] and values["sqrt_decay"][4] == pytest.approx(0.005)
    assert values["sqrt_decay"][25] == pytest.approx(0.002)  # 0.01/√25
    assert values["inverse_time"][0] == 0.01 and values["inverse_time"][50] == pytest.approx(0.01 / 1.5)
    assert values["exp_decay"][50] == pytest.approx(0.01 * math.exp(-0.5))  # 0.0060653
    assert values["exponential"][2] == pytest.approx(0.0081)  # 0.01 · 0.9²
    assert values["cosine"][0] == 0.01 and values["cosine"][50] == pytest.approx(0.0075)
    assert values["cosine"][99] == pytest.approx(0.005 + 0.0025 * (1 + math.cos(0.99 * math.pi)))
    assert (
        values["step"][39] == 0.01
        and values["step"][40] == pytest.approx(1e-3)
        and values["step"][80] == pytest.approx(1e-4)
    )
    assert values["linear"][50] == pytest.approx(0.0055) and values["linear"][99] == pytest.approx(0.00109)
    assert values["one_cycle"][0] == pytest.approx(4e-4) and values["one_cycle"][29] == pytest.approx(0.01)
    assert values["one_cycle"][99] == pytest.approx(4e-8)
    # The cosine runs over 100 epochs whatever T: a 3-epoch run barely moves.
    assert S.schedule_values("cosine", 3, lr, scheduler_set="paper-code")[2] == pytest.approx(0.009995067, rel=1e-6)


@pytest.mark.parametrize(("name", "make"), [
    ("step", lambda opt: torch.optim.lr_scheduler.StepLR(opt, step_size=40, gamma=0.1)),
    ("linear", lambda opt: torch.optim.lr_scheduler.LinearLR(opt, start_factor=1.0, end_factor=0.1, total_iters=100)),
    ("exponential", lambda opt: torch.optim.lr_scheduler.ExponentialLR(opt, 0.9)),
    ("one_cycle", lambda opt: torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=0.01, total_steps=100)),
])
def test_paper_code_schedules_match_pytorchs_schedulers(name, make):
    """The authors step these once per epoch, full batch: epoch t runs at the scheduler's t-th rate."""
    opt = torch.optim.Adam([nn.Parameter(torch.zeros(1))], lr=0.01)
    scheduler = make(opt)
    expected = []
    for _ in range(100):
        expected.append(opt.param_groups[0]["lr"])
        opt.step()
        scheduler.step()
    assert S.schedule_values(name, 100, 0.01, scheduler_set="paper-code") == pytest.approx(
        expected, rel=1e-9, abs=1e-15
    )


def test_paper_arms_by_scheduler_set():
    default = paper_arms(0.05, 10)
    assert [a.name for a in default if a.family == "scheduler"] == list(S.SCHEDULERS)
    assert next(a for a in default if a.name == "linear").lrs[0] == 1e-3
    code = paper_arms(0.05, 10, scheduler_set="paper-code")
    schedulers = [a for a in code if a.family == "scheduler"]
    assert [a.name for a in schedulers] == ["linear", "step", "sqrt_decay", "inverse_time", "exp_decay", "exponential",
                                            "one_cycle", "cosine"]
    assert all(a.lrs[0] == 0.01 for a in schedulers if a.name != "one_cycle")
    assert len(code) == 1 + 8 + 4 and code[0].lrs == [0.05] * 10


def test_scheduler_set_from_yaml_cli_and_presets(tmp_path):
    cfg = tmp_path / "c.yaml"
    cfg.write_text("model: a:b\ndata: c:d\nscheduler_set: paper-code\nschedulers: {exp_decay: {decay_rate: 0.02}}\n")
    [(_, cs)] = settings_list({}, None, False, cfg)
    assert cs.scheduler_set == "paper-code" and cs.schedulers == {"exp_decay": {"decay_rate": 0.02}}
    with pytest.raises(ConfigError) as info:
        settings_list({"scheduler_set": "default"}, None, False, cfg)  # exp_decay is not a default scheduler
    assert any("schedulers.exp_decay" in p for p in info.value.problems)
    with pytest.raises(ConfigError) as info:
        settings_list({"scheduler_set": "paper"}, None, False, cfg)
    assert any("scheduler_set: expected one of default, paper-code" in p for p in info.value.problems)
    [(_, from_preset)] = settings_list({"schedulers": {"exp_decay": {"decay_rate": 0.1}}}, "mlp3_bn_full", False, None)
    assert from_preset.scheduler_set == "paper-code"
    [(_, plain)] = settings_list({}, "mlp3_full", False, None)
    assert plain.scheduler_set == "default"


def test_cli_schedulers_option(tmp_path):
    base = ["compare", "-m", A + "tiny_mlp", "-d", A + "tiny_data", "--epochs", "2", "--lr", "0.01"]
    r = CliRunner().invoke(app, [*base, "--schedulers", "paper-code", "--arms", "schedulers", "--out", str(tmp_path),
                                 "--json", "--quiet"])
    assert r.exit_code == 0, r.stderr
    summary = __import__("json").loads(r.stdout)["summary"]
    assert set(summary) == {"adamlr", *S.PAPER_CODE_SCHEDULERS}
    bad = CliRunner().invoke(app, [*base, "--schedulers", "bogus", "--out", str(tmp_path / "b")])
    assert bad.exit_code == 2 and "scheduler_set" in bad.stderr


@pytest.mark.parametrize("name", NEW_PRESETS)
def test_new_presets_resolve(name):
    [(sub, cs)] = preset(name)
    assert sub == "" and cs.scheduler_set == "paper-code" and cs.model.startswith("adamlr.zoo.paper_code:")
    assert callable(load_object(cs.model)) and callable(load_object(cs.data)) and callable(load_object(cs.test_data))
    if name != "vgg9_bn_cifar10":
        assert cs.data == "adamlr.zoo.data:fashion_mini_paper" and cs.batch_size is None
        assert cs.test_data == "adamlr.zoo.data:fashion_mini_test_paper"
    small = quick(cs)
    assert small.epochs == 3 and small.scheduler_set == "paper-code"
    assert cs.estimate_options == {"weights": "init"}  # K̂ from fresh models of their own init, as the authors


@pytest.mark.slow
@needs_fashion
def test_paper_normalisation_same_images_in_minus_one_to_one():
    from adamlr.zoo import data as D

    (x, y), (xs, ys) = D.fashion_mini_paper(), D.fashion_mini()
    assert x.shape == (5500, 1, 28, 28) and torch.equal(y, ys)
    assert float(x.min()) == -1.0 and float(x.max()) == 1.0
    mean, std = D.STATS["fashion"]  # the same pixels, only rescaled
    torch.testing.assert_close((x * 0.5 + 0.5 - mean) / std, xs, rtol=0, atol=1e-5)


@pytest.mark.slow
@needs_fashion
@pytest.mark.parametrize("name", ["mlp1_bn_full", "lenet_bn_full"])
def test_quick_presets_run_end_to_end(name, tmp_path):
    [cs] = [quick(c) for _, c in preset(name)]
    cs = dataclasses.replace(cs, samples=1, arms="adamlr,exp_decay,one_cycle,const_0.001")
    res = run_compare(cs, tmp_path)
    assert {r["arm"] for r in res["runs"]} == {"adamlr", "exp_decay", "one_cycle", "const_0.001"}
    assert math.isfinite(res["adamlr_lr"]["0"]) and res["adamlr_lr"]["0"] > 0
    exp_decay = next(r for r in res["runs"] if r["arm"] == "exp_decay")
    assert [e["lr"] for e in exp_decay["records"][:3]] == pytest.approx([0.01 * math.exp(-0.01 * t) for t in range(3)])
    assert all(len(r["records"]) == 4 and not r["diverged"] for r in res["runs"])


@pytest.mark.slow
@needs_fashion
def test_estimate_on_the_bn_everywhere_mlp():
    from adamlr.zoo.data import fashion_mini_paper

    x, y = fashion_mini_paper()
    result = estimate("adamlr.zoo.paper_code:mlp1_bn_fashion", (x[:64], y[:64]), epochs=100, samples=2)
    assert math.isfinite(result.lr) and result.lr > 0
    assert math.isfinite(result.k_hat) and result.k_hat > 0
