"""The Python API mirrors the CLI (issue 10, item 4): adamlr.estimate, adamlr.check, adamlr.compare."""

import dataclasses
import json
import re
from pathlib import Path

import pytest
import torch
from typer.testing import CliRunner

import adamlr
from adamlr.cli import app
from tests.assets import factories as f

A = "tests.assets.factories:"
ROOT = Path(__file__).resolve().parents[1]


def test_compare_without_out_writes_nothing(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    res = adamlr.compare(f.tiny_mlp, f.tiny_data(), epochs=2, samples=1, arms="adamlr,const_0.001")
    assert list(tmp_path.iterdir()) == []
    assert isinstance(res, adamlr.CompareResult) and res.comparisons[0].out is None
    assert set(res.summary) == {"adamlr", "const_0.001"} and res.results["adamlr_lr"]["0"] > 0
    with pytest.raises(dataclasses.FrozenInstanceError):
        res.warnings = ()  # type: ignore[misc]


def test_compare_api_equals_the_cli(tmp_path):
    args = dict(epochs=2, lr=0.01, arms="adamlr,const_0.01")
    api = adamlr.compare(A + "tiny_mlp", A + "tiny_data", out=tmp_path / "api", **args)
    r = CliRunner().invoke(app, ["compare", "-m", A + "tiny_mlp", "-d", A + "tiny_data", "--epochs", "2", "--lr",
                                 "0.01", "--arms", "adamlr,const_0.01", "--out", str(tmp_path / "cli"), "--json"])
    assert r.exit_code == 0, r.stderr
    cli = json.loads(r.stdout)

    def curves(d):
        return {run["arm"]: [e["train_loss"] for e in run["records"]] for run in d["runs"]}

    assert curves(cli) == curves(api.to_dict())
    assert (tmp_path / "api" / "results.json").is_file() and api.comparisons[0].figures


def test_check_api_returns_the_verdict_and_leaves_the_file(tmp_path):
    path = tmp_path / "train.yaml"
    text = f"adamlr:\n  model: {A}tiny_mlp\n  data: {A}tiny_data\n  epochs: 5\n  samples: 2\noptimizer:\n  lr: 1.0\n"
    path.write_text(text)
    result = adamlr.check(path, "optimizer.lr", band=(0.5, 2))
    assert isinstance(result, adamlr.CheckResult) and not result.written
    assert result.configured_lr == 1.0 and result.ratio == pytest.approx(1.0 / result.recommended_lr)
    assert result.within == (0.5 <= result.ratio <= 2)
    assert path.read_text() == text  # write=False: not a byte changed
    written = adamlr.check(path, "optimizer.lr", write=True, samples=3)  # options win over the section
    assert written.written and written.estimate.settings["samples"] == 3
    assert written.configured_lr == pytest.approx(written.recommended_lr, rel=1e-5)


def test_estimate_api_with_objects():
    x, y = f.tiny_data()
    result = adamlr.estimate(f.tiny_mlp, (x, y), epochs=5, samples=2)
    assert isinstance(result, adamlr.EstimateResult) and result.lr > 0
    with pytest.raises(dataclasses.FrozenInstanceError):
        result.lr = 1.0  # type: ignore[misc]


def _pycon(path: str, heading: str) -> str:
    """The ```pycon blocks of the section of ``path`` under ``heading`` (up to the next heading of its level)."""
    text = (ROOT / path).read_text()
    level = heading.split(" ", 1)[0]
    section = text.split(heading + "\n", 1)[1].split(f"\n{level} ", 1)[0]
    blocks = re.findall(r"```pycon\n(.*?)```", section, flags=re.S)
    assert blocks, f"{path}'s section {heading!r} has a ```pycon block"
    return "".join(blocks)


@pytest.mark.parametrize(("path", "heading", "examples"), [
    ("docs/python.md", "# Use from Python / a notebook", 10),  # estimate, compare and check
    ("README.md", "### Python", 5),  # the quick start
])
def test_the_python_examples_run(path, heading, examples, tmp_path, monkeypatch):
    """The documented Python examples, run as a doctest (no files left behind)."""
    import doctest

    monkeypatch.chdir(tmp_path)
    torch.manual_seed(0)
    test = doctest.DocTestParser().get_doctest(_pycon(path, heading), {}, path, path, 0)
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    runner.run(test)
    assert runner.summarize(verbose=False).failed == 0
    assert runner.summarize(verbose=False).attempted >= examples
