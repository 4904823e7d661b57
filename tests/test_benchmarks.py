"""CI's smoke run of the benchmark scripts: they run, and print the ratios they promise."""

import json
import re
import subprocess
import sys

import pytest


def run(*args: str) -> str:
    out = subprocess.run([sys.executable, *args], capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr[-2000:]
    return out.stdout


@pytest.mark.slow
def test_spectral_benchmark_quick():
    text = run("benchmarks/spectral.py", "--quick")
    assert re.search(r"one HVP \(cached graph\) = [\d.]+ × one gradient", text)
    assert re.search(r"PyHessian / adamlr: HVPs [\d.]+×, wall time [\d.]+×", text)
    errors = dict(re.findall(r"^\s+(adamlr|pyhessian)\s+\d+\s+[\d.]+\s+[\d.]+\s+[\d.]+\s+([\d.e+-]+)$", text, re.M))
    assert float(errors["adamlr"]) < 1e-3  # within the default tolerance of the reference


@pytest.mark.slow
def test_hvp_cost_benchmark_small():
    text = run(
        "benchmarks/hvp_cost.py",
        "--model",
        "adamlr.zoo.nets:mlp_digits",
        "--data",
        "adamlr.zoo.data:digits",
        "--repeats",
        "2",
    )
    assert re.search(r"hvp cached\s+[\d.]+ ms\s+[\d.]+ × gradient", text)


@pytest.mark.slow
def test_recommend_benchmark_quick(tmp_path):
    out, figure = tmp_path / "recommend.json", tmp_path / "recommend.png"
    text = run("benchmarks/recommend.py", "--quick", "--out", str(out), "--figure", str(figure))
    assert "### Rate ÷ α* per setup" in text and "### Summary: holdout setups" in text
    rule = r"(search|paper|torch_lr_finder|best constant \(tune\))"
    rows = dict(re.findall(rf"^\| {rule} \| (\d+/4) \| \d+/4 \|", text, re.M))
    assert set(rows) == {"search", "paper", "torch_lr_finder", "best constant (tune)"}  # each summarised over all 4
    data = json.loads(out.read_text())
    assert len(data["setups"]) == 4 and {s["setup"]["split"] for s in data["setups"]} == {"tune", "holdout"}
    assert all({"search", "paper", "paper_exact", "torch_lr_finder", "lightning_lr_find"} <= set(s["rates"])
               for s in data["setups"])
    assert out.is_file() and (figure.is_file() or "no figure: matplotlib" in text)


@pytest.mark.slow
def test_cost_benchmark_quick():
    """benchmarks/cost.py prints the estimate against one epoch and one run, and the memory ratio, side by side."""
    text = run("benchmarks/cost.py", "--quick")
    assert re.search(r"default estimate [\d.]+ s = [\d.]+ epochs = [\d.]+ runs", text)
    assert re.search(r"peak memory above imports: default \d+ MiB, whole-data procedure \(2 products\) \d+ MiB", text)


@pytest.mark.slow
def test_distributed_benchmark_quick():
    text = run("benchmarks/distributed.py", "--quick")
    assert re.search(r"hvp \(cached graph\)\s+[\d.]+ms\s+[\d.]+ms\s+[\d.]+×", text)
    assert re.search(r"all-reduce alone .* share [\d.]+%", text)
    assert "(equal within 1e-4)" in text


@pytest.mark.slow
def test_stop_replay_matches_the_real_kernel():
    """Replaying the default rule on recorded coefficients gives the kernel's own products and K̂."""
    text = run("benchmarks/stop_replay.py", "--samples", "3")
    rows = dict(re.findall(r"^\s+(before|after|racing|oracle)\s+(\d+)\s", text, re.M))
    assert set(rows) == {"before", "after", "racing", "oracle"}
    real, k_real, replayed, k_replayed = re.search(
        r"real kernel at defaults used (\d+) products, K̂ ([\d.e+-]+) \(replayed 'after': (\d+), ([\d.e+-]+)\)", text
    ).groups()
    assert real == replayed == rows["after"] and k_real == k_replayed
    assert int(rows["after"]) <= int(rows["before"])


@pytest.mark.slow
def test_adversarial_spectra_replays_the_rules():
    """The replayed default agrees with the solver's own count of wrong converged answers (none)."""
    text = run("benchmarks/adversarial_spectra.py", "--seeds", "8", "--rules")
    solver = re.findall(r"converged but farther than tol from the truth (\d+)/8", text)
    replayed = re.findall(r"replayed, tol [\de.+-]+: converged but farther than tol default (\d+)/8, margin 1 \d+/8, "
                          r"gap \d+/8; wrongly bounded margin 10 (\d+)/40, margin 3 \d+/40, margin 1 \d+/40", text)
    assert len(solver) == len(replayed) == 3
    assert solver == [d for d, _ in replayed] == ["0", "0", "0"]
    assert [b for _, b in replayed] == ["0", "0", "0"]


@pytest.mark.slow
def test_mixed_precision_benchmark_small():
    """The bfloat16-then-float32 arm converges to within tol of the float32 solve and prints the time ratio."""
    text = run("benchmarks/mixed_precision.py", "--cases", "small", "--samples", "1")
    relative, converged = re.search(r"\|θ\| [\d.]+ \(([+-][\d.e+-]+)\), converged (True|False)", text).groups()
    assert converged == "True" and abs(float(relative)) < 1e-3
    assert re.search(r"float32 / mixed time: [\d.]+ s / [\d.]+ s = [\d.]+×", text)
