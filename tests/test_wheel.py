"""Issue 20: the presets and the demo run from a wheel installed outside the clone (adamlr.zoo ships with it)."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
FASHION = Path("/usr/share/datasets/fashion-mnist")


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    """The wheel built from this clone, unpacked into a directory of its own (not the clone, not its src/)."""
    where = tmp_path_factory.mktemp("wheel")
    subprocess.run([sys.executable, "-m", "pip", "wheel", str(ROOT), "--no-deps", "--no-build-isolation", "-q",
                    "-w", str(where / "dist")], check=True, capture_output=True, timeout=600)
    wheel = next((where / "dist").glob("adamlr-*.whl"))
    subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps", "-q", "--target", str(where / "site"),
                    str(wheel)], check=True, capture_output=True, timeout=600)
    return where


def run_outside(installed, *args):
    env = {**os.environ, "PYTHONPATH": str(installed / "site"), "ADAMLR_CACHE_DIR": str(installed / "cache")}
    return subprocess.run([sys.executable, *args], capture_output=True, text=True, timeout=600, env=env,
                          cwd=installed)  # away from the clone: sample_models and src/ are not importable here


@pytest.mark.slow
def test_the_wheel_holds_the_zoo_and_not_the_benchmark_harness(installed):
    out = run_outside(installed, "-c", "import adamlr, adamlr.zoo.nets, importlib.util as u; print(adamlr.__file__); "
                      "print(u.find_spec('sample_models'), u.find_spec('lrbench'))")
    assert out.returncode == 0, out.stderr
    path, missing = out.stdout.splitlines()
    assert path.startswith(str(installed / "site")) and missing == "None None"


@pytest.mark.slow
def test_the_demo_runs_from_the_wheel(installed):
    out = run_outside(installed, "-m", "adamlr", "estimate", "--model", "adamlr.zoo.nets:mlp_digits", "--data",
                      "adamlr.zoo.data:digits", "--epochs", "100", "--samples", "2", "--json")
    assert out.returncode == 0, out.stderr[-2000:]
    assert '"rule": "search"' in out.stdout


@pytest.mark.slow
@pytest.mark.skipif(not FASHION.is_dir(), reason="Debian's dataset-fashion-mnist is not installed (.ci/run has it)")
def test_a_preset_runs_from_the_wheel(installed):
    out = run_outside(installed, "-m", "adamlr", "compare", "--preset", "lenet_full", "--quick", "--arms", "adamlr",
                      "--out", str(installed / "runs"), "--quiet")
    assert out.returncode == 0, out.stderr[-2000:]
    assert (installed / "runs" / "results.json").is_file()
