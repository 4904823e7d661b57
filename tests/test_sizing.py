"""The estimate sized to the answer (issue 19) against --exact; the warnings fixed on real setups (issue 18, item 6);
the cost in the report; the plot."""

import json

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from adamlr import estimate
from adamlr.cli import app
from adamlr.initial import EXAMPLES, measure_initial_loss
from adamlr.problem import prepare
from adamlr.rng import preserved_rng
from tests.assets import factories as f

A = "tests.assets.factories:"


def lsq_top(x: torch.Tensor) -> float:
    xd = x.double()
    return float(np.linalg.eigvalsh((2.0 / xd.shape[0] * xd.T @ xd).numpy())[-1])


def test_the_default_alpha_is_within_ten_percent_of_exact_on_a_subset_of_large_data():
    """6,000 least-squares rows: the default takes the Hessian on a random subset and L(w0) on 4,096 rows, and its α
    is within 10 % of --exact's (whole data, tol 1e-3, 10 samples), whose K̂ is the closed form 2/n·XᵀX's norm."""
    default = estimate(A + "wide_linear_model", A + "large_lsq_data", loss="mse", epochs=10, rule="paper",
                       probe_steps=0)
    exact = estimate(A + "wide_linear_model", A + "large_lsq_data", loss="mse", epochs=10, rule="paper",
                     probe_steps=0, exact=True, dtype="float64")
    x, _ = f.large_lsq_data()
    assert exact.k_hat == pytest.approx(lsq_top(x), rel=1e-6) and len(exact.samples) == 10
    assert exact.accuracy.hessian_examples == exact.accuracy.loss_examples == 6000
    assert default.accuracy.hessian_examples < 6000 and default.accuracy.loss_examples == 6000  # ≤ 2 × 4,096: all
    assert default.accuracy.samples_stop == "settled" and len(default.samples) == 3  # one Hessian for every w
    assert default.lr == pytest.approx(exact.lr, rel=0.10)
    assert sum(s.iterations for s in default.samples) < sum(s.iterations for s in exact.samples) / 3


def test_the_initial_loss_on_a_subset_has_a_standard_error_that_covers_the_whole_datas():
    with preserved_rng():
        problem = prepare(A + "wide_linear_model", A + "huge_lsq_data", "mse", device="cpu", dtype="float64", seed=0)
    whole = problem.objective.value(problem.initial_params)
    part = measure_initial_loss(problem.objective, problem.initial_params, subset_seed=0, whole=False)
    assert part.examples == EXAMPLES and part.total == 20000 and part.standard_error is not None
    assert abs(part.value - whole) < 4 * part.standard_error
    assert measure_initial_loss(problem.objective, problem.initial_params, subset_seed=0, whole=True).value == whole


def test_exact_is_the_papers_procedure():
    r = estimate(A + "tiny_mlp", A + "tiny_loader", epochs=5, exact=True)
    assert len(r.samples) == 10 and r.settings["exact"] and r.accuracy.hessian_examples == 23
    assert all(p.batch_size is None for p in r.search.probes)  # full-batch probes
    with pytest.raises(Exception, match="exact/subset"):
        estimate(A + "tiny_mlp", A + "tiny_data", epochs=5, exact=True, subset=10)


def test_the_report_says_what_the_estimate_cost():
    r = estimate(A + "tiny_mlp", A + "tiny_loader", epochs=5, samples=2)
    c = r.cost
    assert c.hvp_products == sum(s.iterations for s in r.samples) and c.probe_steps > 0
    assert c.epoch_seconds and c.epochs == pytest.approx(r.seconds / c.epoch_seconds, rel=1e-6)
    assert {"prepare", "initial_loss", "samples", "rule", "probe"} <= set(c.seconds)
    text = " ".join(CliRunner().invoke(app, ["estimate", "-m", A + "tiny_mlp", "-d", A + "tiny_loader", "--epochs",
                                             "5", "--samples", "2", "--no-cache"]).stdout.split())
    assert "epochs of training" in text and "probe steps" in text


# --- issue 18, item 6: warnings that were wrong on real setups ------------------------------------------------


def test_a_large_rate_whose_probe_descends_gets_no_size_warning():
    """Least squares with targets ×1000 (α* was 562): a rate in the hundreds is right there, and no warning may
    call it too large for being far from Adam's usual 1e-3."""
    r = estimate("sample_models.scaled:lsq_large_target_model", "sample_models.scaled:lsq_large_target_data",
                 loss="mse", epochs=100)
    assert r.recommended_lr > 10 and r.probe.verdict != "rises"
    assert not any("1e-3" in w or "usual" in w for w in r.warnings)


def test_a_transient_rise_is_named_with_its_size_and_length_not_a_blow_up():
    """The paper's α on the tiny tanh net at T = 5 rises for a few steps and ends below L(w0)."""
    text = [w for w in estimate(A + "tiny_mlp", A + "tiny_data", epochs=5, samples=2, rule="paper").warnings
            if "rose to" in w]
    assert text and "transient rise, not a blow-up" in text[0] and "× L(w0) for" in text[0]


def test_a_factory_of_fixed_weights_is_said_and_sampled_once():
    r = estimate(A + "fixed_weights_model", A + "tiny_data", epochs=5, weights="init")
    assert len(r.samples) == 1 and r.accuracy.samples_stop == "identical"
    assert any("identical to sample 0" in w for w in r.warnings)


def test_k_hat_resting_on_one_outlier_sample_is_warned():
    """Logistic regression on raw breast-cancer features: most Gaussian weight samples saturate the sigmoid (‖H‖ ≈ 0)
    and one lands near the boundary, so K̂ rests on it (the issue's norms [0, 0, 0, 1e-4, 5214, 0, …])."""
    r = estimate("sample_models.scaled:logistic_raw_model", "sample_models.scaled:breast_cancer_raw_data",
                 loss="bce_with_logits", epochs=100, samples=10, probe_steps=0)
    assert r.accuracy.spread > 10
    assert any("rests on one sample" in w and "seed" in w for w in r.warnings)


# --- the plot ---------------------------------------------------------------------------------------------------


def test_plot_writes_a_figure_and_without_matplotlib_warns_in_one_line(tmp_path, monkeypatch):
    args = ["estimate", "-m", A + "tiny_mlp", "-d", A + "tiny_data", "--epochs", "5", "--samples", "2", "--no-cache",
            "--json", "--plot", str(tmp_path / "probes.png")]
    r = CliRunner().invoke(app, args)
    assert r.exit_code == 0 and (tmp_path / "probes.png").read_bytes()[:4] == b"\x89PNG"
    assert json.loads(r.stdout)["rule"] == "search"
    import builtins

    real = builtins.__import__

    def no_matplotlib(name, *a, **kw):
        if name.startswith("matplotlib"):
            raise ImportError("no matplotlib here")
        return real(name, *a, **kw)

    monkeypatch.setattr(builtins, "__import__", no_matplotlib)
    r = CliRunner().invoke(app, args[:-1] + [str(tmp_path / "none.png")])
    assert r.exit_code == 0 and not (tmp_path / "none.png").exists()
    lines = [x for x in r.stderr.splitlines() if x.strip()]
    assert len([x for x in lines if "matplotlib is not installed" in x]) == 1


def test_under_auto_one_batch_subsets_are_solved_cached_and_the_report_says_so(monkeypatch):
    """Where no whole-data graph fits (``auto`` streams), the default's subsets of one batch are solved with their
    graph cached, and the result says ``cached``; an explicit ``stream`` is kept, for the same K̂."""
    monkeypatch.setattr("adamlr.hvp.memory_budget", lambda device: 0)
    options = {"loss": "mse", "epochs": 10, "rule": "paper", "probe_steps": 0, "dtype": "float64"}
    auto = estimate(A + "wide_linear_model", A + "large_lsq_data", **options)
    streamed = estimate(A + "wide_linear_model", A + "large_lsq_data", hvp="stream", **options)
    assert (auto.hvp_mode, streamed.hvp_mode) == ("cached", "stream")
    assert auto.k_hat == pytest.approx(streamed.k_hat, rel=1e-8)
