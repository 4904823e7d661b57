"""--rule: the probe_halving rule beside the paper's α, in estimate, check and the JSON."""

import importlib
import json

import pytest
import yaml
from typer.testing import CliRunner

from adamlr import estimate
from adamlr.cli import app
from adamlr.diagnostics.probing import halve_until_descends, probe
from adamlr.problem import prepare
from adamlr.rng import preserved_rng

A = "tests.assets.factories:"
probe_module = importlib.import_module("adamlr.diagnostics.probing")  # the package re-exports a function of that name


def lsq():
    with preserved_rng():
        return prepare(A + "linear_model", A + "lsq_data", "mse", device="cpu", dtype="float64", seed=0)


def test_halving_stops_at_the_first_rate_whose_probe_descends():
    problem = lsq()
    found = halve_until_descends(problem.objective, problem.initial_params, 64.0)
    assert found.descended and found.rate == 64.0 * 0.5**found.halvings and found.halvings >= 1
    assert probe(problem.objective, problem.initial_params, found.rate, steps=10).verdict == "descends"
    assert probe(problem.objective, problem.initial_params, 2 * found.rate, steps=10).verdict == "rises"


def test_halving_reuses_a_probe_already_run_at_the_start(monkeypatch):
    problem = lsq()
    first = probe(problem.objective, problem.initial_params, 1e-3, steps=10)
    assert first.verdict == "descends"
    calls = []
    monkeypatch.setattr(probe_module, "probe", lambda *a, **k: calls.append(a) or first)
    found = halve_until_descends(problem.objective, problem.initial_params, 1e-3, first=first)
    assert found.rate == 1e-3 and found.halvings == 0 and calls == []


def test_estimate_reports_both_rules_and_recommends_the_chosen_one():
    paper = estimate(A + "tiny_relu_mlp", A + "tiny_data", steps=1, samples=2, scale=4)
    halved = estimate(A + "tiny_relu_mlp", A + "tiny_data", steps=1, samples=2, scale=4, rule="probe_halving")
    assert paper.rules == halved.rules and paper.rules["paper"] == paper.lr
    assert paper.recommended_lr == paper.lr and halved.recommended_lr == halved.rules["probe_halving"]
    assert halved.lr == paper.lr  # lr stays the paper's α
    assert paper.probe["verdict"] == "rises" and halved.recommended_lr < halved.lr
    d = halved.to_dict()
    assert d["rule"] == "probe_halving" and d["recommended_lr"] == d["rules"]["probe_halving"]
    assert d["probe_halving"]["halvings"] >= 1 and d["probe_halving"]["descended"]


def test_check_compares_against_the_chosen_rule(tmp_path):
    cfg = tmp_path / "train.yaml"
    cfg.write_text(yaml.safe_dump({"adamlr": {"model": A + "tiny_relu_mlp", "data": A + "tiny_data", "steps": 1,
                                              "samples": 2}, "optimizer": {"lr": 1.0}}))
    args = ["check", "--config", str(cfg), "--lr-key", "optimizer.lr", "--format", "json", "--band", "0.5,2"]
    paper = json.loads(CliRunner().invoke(app, args).stdout)
    halved = json.loads(CliRunner().invoke(app, [*args, "--rule", "probe_halving"]).stdout)
    assert paper["rule"] == "paper" and paper["recommended_lr"] == paper["estimate"]["lr"]
    assert halved["rule"] == "probe_halving"
    assert halved["recommended_lr"] == pytest.approx(halved["estimate"]["rules"]["probe_halving"])
    assert halved["ratio"] == pytest.approx(1.0 / halved["recommended_lr"])


def test_unknown_rule_is_a_usage_error():
    r = CliRunner().invoke(app, ["estimate", "-m", A + "tiny_mlp", "-d", A + "tiny_data", "--epochs", "1",
                                 "--rule", "magic", "--no-cache"])
    assert r.exit_code == 2 and "rule: expected one of paper, probe_halving" in r.stderr
