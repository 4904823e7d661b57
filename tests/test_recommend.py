"""The recommendation benchmark: setups, grid search, scoring, fitted rules, and the script's JSON."""

import importlib.util
import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch
from lrbench import GRID_RATES, SETUPS, prepare_setup, select_setups
from lrbench.fitted import CAP_CANDIDATES, TuneRow, fit_limit_scaled, fit_paper_capped
from lrbench.grid import RateCache, RunOutcome, best_outcome, grid_search
from lrbench.rules import RuleRate
from lrbench.score import regret, score, summarize, within

import adamlr
from adamlr.loading import load_object
from sample_models import setups as sample_setups

ROOT = Path(__file__).resolve().parents[1]
FASHION = Path("/usr/share/datasets/fashion-mnist")


def test_lsq_k_hat_is_the_exact_hessian_norm():
    x, _ = sample_setups.lsq_data()
    xd = x.double().numpy()
    exact = np.linalg.eigvalsh(2.0 / xd.shape[0] * xd.T @ xd).max()
    result = adamlr.estimate("sample_models.setups:lsq_model", "sample_models.setups:lsq_data", epochs=100,
                             loss="mse", samples=2, device="cpu")
    assert result.k_hat == pytest.approx(exact, rel=1e-3)


def test_logistic_k_hat_is_below_the_closed_form_bound():
    x, _ = sample_setups.digits_binary_data()
    xb = torch.cat([x, torch.ones(x.shape[0], 1)], dim=1).double().numpy()  # the bias is a column of ones
    bound = np.linalg.eigvalsh(xb.T @ xb / xb.shape[0]).max() / 4  # σ(1 − σ) ≤ 1/4, reached at logits 0
    result = adamlr.estimate("sample_models.setups:logistic_model", "sample_models.setups:digits_binary_data",
                             epochs=100, loss="bce_with_logits", samples=3, device="cpu")
    assert 0 < result.k_hat <= bound * (1 + 1e-3)


def _numpy_adam_lsq(x: np.ndarray, y: np.ndarray, w: np.ndarray, lr: float, steps: int) -> float:
    """Full-batch Adam (PyTorch's defaults) on mean((Xw − y)²), written out: the reference."""
    m, v = np.zeros_like(w), np.zeros_like(w)
    n = x.shape[0]
    for t in range(1, steps + 1):
        g = 2.0 / n * x.T @ (x @ w - y)
        m, v = 0.9 * m + 0.1 * g, 0.999 * v + 0.001 * g * g
        w = w - lr * (m / (1 - 0.9**t)) / (np.sqrt(v / (1 - 0.999**t)) + 1e-8)
    return float(np.mean((x @ w - y) ** 2))


def test_grid_picks_the_rate_an_independent_adam_finds_best():
    (setup,) = select_setups(["lsq"], epochs=15)
    prepared = prepare_setup(setup)
    grid = grid_search(RateCache(prepared))
    x, y = (t.double().numpy() for t in sample_setups.lsq_data())
    w0 = prepared.spec.initial_state["weight"].double().numpy().T
    reference = [_numpy_adam_lsq(x, y, w0, lr, setup.epochs) for lr in GRID_RATES]
    assert grid.best_rate == GRID_RATES[int(np.argmin(reference))]
    assert [o.final_loss for o in grid.runs] == pytest.approx(reference, rel=1e-3)


def _outcome(rate, loss, grad=1.0):
    return RunOutcome(f"{rate:g}", rate, loss, grad, not math.isfinite(loss), (), 0.0)


def test_best_outcome_breaks_ties_by_gradient_norm_and_counts_divergence_as_inf():
    runs = [_outcome(1e-3, 0.5), _outcome(1e-2, 0.2, grad=3.0), _outcome(1e-1, 0.2, grad=1.0),
            _outcome(1.0, math.inf)]
    assert best_outcome(runs).rate == 1e-1
    assert best_outcome(runs[:2]).rate == 1e-2
    assert best_outcome([_outcome(1.0, math.inf), _outcome(0.1, math.inf)]).rate == 0.1


def test_scores_on_hand_made_numbers():
    assert regret(0.3, 0.2) == pytest.approx(1.5)
    assert regret(math.inf, 0.2) == math.inf and regret(0.0, 0.0) == 1.0
    assert within(3.0) and within(1 / 3) and not within(3.1) and not within(0.3)
    s = score("paper", "a", rate=0.3, final_loss=0.4, best_rate=0.01, best_loss=0.2, seconds=2.0)
    assert s.ratio == pytest.approx(30.0) and s.regret == pytest.approx(2.0)
    scores = [s, score("paper", "b", 0.02, 0.21, 0.01, 0.2), score("paper", "c", 0.01, 0.2, 0.01, 0.2),
              score("paper", "d", 0.001, math.inf, 0.01, 0.2)]
    summary = summarize("paper", scores)
    # |log10 ratio| = 1.477, 0.301, 0, 1 → median (0.301 + 1) / 2
    assert summary.median_abs_log10_ratio == pytest.approx((math.log10(2) + 1) / 2)
    assert (summary.within_3x, summary.regret_ok, summary.reaches_target) == (2, 2, False)
    assert summary.median_regret == pytest.approx((1.05 + 2.0) / 2)
    free = summarize("prodigy", [score("prodigy", "a", None, 0.2, 0.01, 0.2)] * 5)
    assert free.within_3x is None and free.regret_ok == 5 and not free.reaches_target
    good = [score("r", str(i), 0.01 * (1 if i < 8 else 10), 0.2, 0.01, 0.2) for i in range(10)]
    assert summarize("r", good).reaches_target  # 8/10 within 3× and 10/10 regret ≤ 1.5


def test_fitted_constants_on_hand_made_rows():
    rows = [TuneRow("a", best_rate=0.01, paper_rate=1.0, lr_limit=0.001),  # α*/limit = 10
            TuneRow("b", best_rate=0.1, paper_rate=0.05, lr_limit=0.001),  # 100
            TuneRow("c", best_rate=0.03, paper_rate=0.5, lr_limit=0.01)]   # 3
    scaled = fit_limit_scaled(rows)
    assert scaled.constant == pytest.approx(10.0) and scaled.fitted_on == ("a", "b", "c")
    # a is within 3× for c in [3.3, 30], c for c in [1, 9], b only for c ≥ 33: the only candidate
    # with two hits is 10^0.75 ≈ 5.6
    capped = fit_paper_capped(rows)
    assert capped.constant == pytest.approx(10**0.75) and capped.constant in CAP_CANDIDATES
    rates = {"paper": RuleRate(1.0), "stability": RuleRate(0.001)}
    assert capped.rate(rates) == pytest.approx(10**0.75 * 0.001)
    assert scaled.rate(rates) == pytest.approx(0.01)


@pytest.mark.parametrize("setup", SETUPS, ids=lambda s: s.name)
def test_every_setup_builds_and_its_outputs_fit_the_loss(setup):
    if "fashion" in setup.data and not FASHION.is_dir():
        pytest.skip("Fashion-MNIST files are not installed")
    torch.manual_seed(0)
    model = load_object(setup.model)()
    x, y = load_object(setup.data)()
    out = model(x[:8])
    if setup.loss == "cross_entropy":
        assert y.dtype == torch.int64 and out.shape == (8, int(y.max()) + 1)
    else:
        assert out.shape == y[:8].shape and y.is_floating_point()
    assert torch.isfinite(adamlr.losses.resolve_loss(setup.loss)[0](out, y[:8]))


def test_quick_script_writes_the_expected_json(tmp_path):
    spec = importlib.util.spec_from_file_location("recommend_script", ROOT / "benchmarks" / "recommend.py")
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    out = tmp_path / "r.json"
    assert script.main(["--quick", "--setups", "lsq,logistic", "--epochs", "5", "--out", str(out), "--no-figure"]) == 0
    data = json.loads(out.read_text())
    assert {"settings", "rules", "setups", "fitted", "summary"} <= set(data)
    assert {"paper", "paper_init", "range_test", "stability", "probe_halving"} <= set(data["rules"])
    first = data["setups"][0]
    assert {"best_rate", "best_over_lr_limit", "grid", "rates", "scores"} <= set(first)
    assert len(first["grid"]["rates"]) == 11 and set(data["summary"]) == {"all", "tune", "holdout"}
    assert {"median_abs_log10_ratio", "share_within_3x", "share_regret_le_1_5"} <= set(data["summary"]["all"][0])
