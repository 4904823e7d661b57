"""The README's demo command, run as a user would (a subprocess; tests/test_docs.py checks the README runs it)."""

import json
import os
import subprocess
import sys

import pytest

DEMO = [
    "estimate",
    "--model",
    "adamlr.zoo.nets:mlp_digits",
    "--data",
    "adamlr.zoo.data:digits",
    "--epochs",
    "100",
]


@pytest.mark.slow
def test_readme_demo_on_digits():
    out = subprocess.run([sys.executable, "-m", "adamlr", *DEMO, "--json"], capture_output=True, text=True,
                         timeout=600, env={**os.environ, "PYTHONWARNINGS": "ignore"})
    assert out.returncode == 0, out.stderr
    result = json.loads(out.stdout)
    assert result["data"]["examples"] == 1797 and 128 <= result["accuracy"]["hessian_examples"] <= 1797
    samples = len(result["samples"])  # the adaptive draw (README, docs/how-it-works.md): 3 to 10
    assert 3 <= samples <= 10 and (samples == 10) == (result["accuracy"]["samples_stop"] == "all drawn")
    assert result["all_converged"]
    assert 1e-4 < result["lr"] < 10 and result["rules"]["paper"] == result["lr"]
    assert result["rule"] == "search"
    assert result["recommended_lr"] == result["rules"]["search"] == result["search"]["rate"]


@pytest.mark.slow
def test_readme_demo_human_report():
    out = subprocess.run(
        [sys.executable, "-m", "adamlr", *DEMO, "--samples", "2"], capture_output=True, text=True, timeout=600
    )
    assert out.returncode == 0, out.stderr
    assert "Recommended Adam learning rate" in out.stdout
