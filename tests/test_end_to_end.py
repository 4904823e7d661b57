"""The README's demo command, run as a user would (a subprocess, the installed console script)."""

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
    assert result["data"]["examples"] == 1797 and len(result["samples"]) == 10
    assert result["all_converged"]
    assert 1e-4 < result["lr"] < 10


@pytest.mark.slow
def test_readme_demo_human_report():
    out = subprocess.run(
        [sys.executable, "-m", "adamlr", *DEMO, "--samples", "2"], capture_output=True, text=True, timeout=600
    )
    assert out.returncode == 0, out.stderr
    assert "Recommended Adam learning rate" in out.stdout
