"""adamlr check: the band, the exit codes, --write keeping the file, output formats."""

import json

import pytest
from typer.testing import CliRunner

from adamlr.cli import app
from adamlr.config_check import parse_band, read_lr, write_lr
from adamlr.errors import ConfigError

A = "tests.assets.factories:"
TRAIN = f"""# training config, owned by the user
adamlr:
  model: {A}tiny_mlp
  data: {A}tiny_data
  epochs: 5
  samples: 2
optimizer:
  name: adam   # keep
  lr: {{lr}}   # tuned by hand
  betas: [0.9, 0.999]
schedule:
  - {{{{warmup: 3}}}}
"""
runner = CliRunner()


def config(tmp_path, lr):
    path = tmp_path / "train.yaml"
    path.write_text(TRAIN.format(lr=lr))
    return path


def alpha(tmp_path):
    r = runner.invoke(app, ["estimate", "-m", A + "tiny_mlp", "-d", A + "tiny_data", "--epochs", "5", "--samples", "2",
                            "--json", "--cache-dir", str(tmp_path / "cache")])
    return json.loads(r.stdout)["recommended_lr"]  # what check judges against and --write writes


def check(path, *extra, cache=None):
    args = ["check", "--config", str(path), "--lr-key", "optimizer.lr", *extra]
    if cache:
        args += ["--cache-dir", str(cache)]
    return runner.invoke(app, args)


def test_within_and_outside_band(tmp_path):
    a = alpha(tmp_path)
    inside = check(config(tmp_path, a * 2), "--format", "json", cache=tmp_path / "cache")
    assert inside.exit_code == 0, inside.stderr
    d = json.loads(inside.stdout)
    assert d["within_band"] and d["ratio"] == pytest.approx(2.0, rel=1e-4) and d["recommended_lr"] == pytest.approx(a)
    assert d["estimate"]["cache"]["hit"] is True  # alpha() above filled the cache
    outside = check(config(tmp_path, a * 50), cache=tmp_path / "cache")
    assert outside.exit_code == 4
    assert "FAIL" in outside.stdout and "is 50× the recommended" in " ".join(outside.stdout.split())
    narrow = check(config(tmp_path, a * 2), "--band", "0.5,1.5", cache=tmp_path / "cache")
    assert narrow.exit_code == 4


def test_write_sets_alpha_and_keeps_the_rest(tmp_path):
    path = config(tmp_path, 0.5)
    before = path.read_text()
    r = check(path, "--write", cache=tmp_path / "cache")
    assert r.exit_code == 0, r.stderr
    after = path.read_text()
    a = read_lr(path, "optimizer.lr")
    assert a == pytest.approx(alpha(tmp_path), rel=1e-5)
    assert after == before.replace("lr: 0.5", f"lr: {a:.6g}")  # only the value changed: comments kept


def test_github_annotations(tmp_path, monkeypatch):
    a = alpha(tmp_path)
    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    r = check(config(tmp_path, a * 100), cache=tmp_path / "cache")
    assert r.exit_code == 4 and r.stdout.startswith("::error file=") and "optimizer.lr" in r.stdout
    ok = check(config(tmp_path, a), cache=tmp_path / "cache")
    assert ok.exit_code == 0 and ok.stdout.startswith("::notice ")


def test_flags_override_the_section(tmp_path):
    r = check(config(tmp_path, 1e-3), "--samples", "3", "--format", "json", cache=tmp_path / "cache")
    assert json.loads(r.stdout)["estimate"]["settings"]["samples"] == 3


@pytest.mark.parametrize("key, message", [
    ("optimizer.learning_rate", "found no 'learning_rate' under optimizer"),
    ("trainer.lr", "found no 'trainer' under the top level"),
    ("optimizer.betas", "expected a number at 'optimizer.betas'"),
    ("optimizer.name", "found 'adam'"),
])
def test_bad_key(tmp_path, key, message):
    path = config(tmp_path, 1e-3)
    r = runner.invoke(app, ["check", "--config", str(path), "--lr-key", key, "--no-cache"])
    assert r.exit_code == 2 and message in " ".join(r.stderr.split())


def test_missing_file(tmp_path):
    r = runner.invoke(app, ["check", "--config", str(tmp_path / "no.yaml"), "--lr-key", "a.b"])
    assert r.exit_code == 2 and "readable YAML" in r.stderr


def test_string_lr_and_list_index(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("optimizers:\n  - lr: '1e-3'\n  - lr: 2.0e-4\n")
    assert read_lr(path, "optimizers.0.lr") == 1e-3 and read_lr(path, "optimizers.1.lr") == 2e-4
    write_lr(path, "optimizers.1.lr", 0.0123)
    assert path.read_text() == "optimizers:\n  - lr: '1e-3'\n  - lr: 0.0123\n"


@pytest.mark.parametrize("band", ["10", "a,b", "2,10", "0.1,0.5", "0,3"])
def test_bad_band(band):
    with pytest.raises(ConfigError):
        parse_band(band)


@pytest.mark.parametrize("rule", ["search", "probe_halving", "paper"])
def test_every_report_calls_the_recommended_rate_by_its_rule(tmp_path, rule):
    """Issue 28: `recommended rate (rule)` in estimate, check (rich, json, github) and compare; α is the paper's."""
    name = f"recommended rate ({rule})"
    path = config(tmp_path, 0.5)
    estimate = runner.invoke(app, ["estimate", "-m", A + "tiny_mlp", "-d", A + "tiny_data", "--epochs", "5",
                                   "--samples", "2", "--rule", rule, "--cache-dir", str(tmp_path / "cache")])
    text = " ".join(estimate.stdout.split())
    assert estimate.exit_code == 0 and name in text and "the paper's α" in text
    reports = {fmt: check(path, "--rule", rule, "--format", fmt, cache=tmp_path / "cache")
               for fmt in ("rich", "json", "github")}
    rich, github = (" ".join(reports[f].stdout.split()) for f in ("rich", "github"))
    assert f"the {name} = " in rich and f"adamlr's {name} = " in github
    assert "recommended α" not in rich and "alpha" not in github
    d = json.loads(reports["json"].stdout)
    assert d["rule"] == rule and d["estimate"]["rule"] == rule
    assert d["estimate"]["recommended_lr"] == d["recommended_lr"]
    if rule != "search":
        return
    compare = runner.invoke(app, ["compare", "-m", A + "tiny_mlp", "-d", A + "tiny_data", "--epochs", "1",
                                  "--samples", "2", "--arms", "adamlr", "--out", str(tmp_path / "compare")])
    assert compare.exit_code == 0
    assert "adamlr arm: recommended rate (search) seed 0:" in " ".join(compare.stdout.split())
