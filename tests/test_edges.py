"""The rough edges a new user hits (issue 10, item 3), each pinned: --quick on any data form, missing
matplotlib, compare's batching, the saved range test, hints, --help, completion, the time left."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from torch.utils.data import DataLoader, TensorDataset
from typer.testing import CliRunner

import adamlr
from adamlr.cli import app
from adamlr.comparison import runner as compare_runner
from adamlr.comparison.runner import CompareProgress, CompareSettings, run_compare
from adamlr.comparison.subset import Subset, first_examples
from adamlr.data import as_batches
from adamlr.errors import ConfigError, LoadError, NumericalError, UserCodeError
from adamlr.loading import load_object
from adamlr.problem import build_model
from adamlr.rng import preserved_rng
from tests.assets import factories as f

A = "tests.assets.factories:"
CPU = torch.device("cpu")
runner = CliRunner()


def rows(data):
    return as_batches(data, name="d", device=CPU, dtype=torch.float32).n_examples


# --- --quick: any data form, and the user's factory blamed only for the user's errors -------------------------

@pytest.mark.parametrize("spec", ["tiny_data", "tiny_loader", "tiny_dataset", "tiny_generator", "tiny_batch_list"])
def test_quick_subset_of_every_data_form(spec):
    full = rows(load_object(A + spec))
    small = Subset(A + spec, 12)
    assert small.adamlr_name == f"{A}{spec}[:12]"
    n = rows(small)
    assert 12 <= n < full  # batches are kept whole: at least 12, never the whole 23
    if spec in ("tiny_data", "tiny_dataset"):
        assert n == 12


def test_quick_subset_keeps_the_loaders_batches_and_shuffling():
    loader = DataLoader(TensorDataset(*f.tiny_data()), batch_size=5, shuffle=True)
    small = first_examples(loader, 12)
    assert isinstance(small, DataLoader) and small.batch_size == 5 and len(small.dataset) == 12
    assert isinstance(small.sampler, torch.utils.data.RandomSampler)
    assert first_examples(TensorDataset(*f.tiny_data()), 30).__len__() == 23  # fewer than n: all of them


def test_quick_blames_the_users_factory_only_for_its_own_error():
    with pytest.raises(UserCodeError) as caught:
        as_batches(Subset(A + "raising_factory", 512), name="d", device=CPU, dtype=torch.float32)
    message = str(caught.value)
    assert message == f"data factory {A}raising_factory raised ValueError: width must be positive"


@pytest.mark.parametrize("data", ["tiny_loader", "tiny_dataset"])
def test_cli_quick_on_a_loader_and_a_dataset(tmp_path, data):
    r = runner.invoke(app, ["compare", "-m", A + "tiny_mlp", "-d", A + data, "--quick", "--lr", "0.01",
                            "--arms", "adamlr", "--out", str(tmp_path), "--json"])
    assert r.exit_code == 0, r.stderr
    d = json.loads(r.stdout)
    assert d["data"] == f"{A}{data}[:512]" and d["epochs"] == 3


# --- matplotlib missing: warned before training, everything else written, exit 0 --------------------------------

class Events(CompareProgress):
    def __init__(self):
        self.events = []

    def warning(self, message):
        self.events.append(("warning", message))

    def arm_started(self, arm, seed, epochs):
        self.events.append(("arm", arm))


def test_missing_matplotlib_is_warned_before_training(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # `import matplotlib` now raises ImportError
    events = Events()
    out = adamlr.compare(A + "tiny_mlp", A + "tiny_data", out=tmp_path, epochs=2, lr=0.01, arms="adamlr",
                         progress=events)
    assert events.events[0][0] == "warning" and "matplotlib" in events.events[0][1]
    assert ("arm", "adamlr") in events.events[1:]
    assert out.warnings and out.comparisons[0].figures == ()
    assert (tmp_path / "results.json").is_file() and (tmp_path / "results.csv").is_file()
    assert not list(tmp_path.glob("*.png"))


def test_cli_missing_matplotlib_exits_0_with_one_warning_line(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    r = runner.invoke(app, ["compare", "-m", A + "tiny_mlp", "-d", A + "tiny_data", "--epochs", "2", "--lr", "0.01",
                            "--arms", "adamlr", "--out", str(tmp_path)])
    assert r.exit_code == 0, r.stderr
    lines = [line for line in r.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("adamlr: warning: matplotlib")
    assert (tmp_path / "results.json").is_file() and not list(tmp_path.glob("*.png"))


# --- compare trains on the loader's own batches ---------------------------------------------------------------

def _by_hand(lr, batches, epochs=1):
    """Adam over ``batches`` (a list per epoch) from the factory's weights under seed 0: the oracle."""
    with preserved_rng():
        model, _, _ = build_model(A + "tiny_mlp", 0)
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    for _ in range(epochs):
        for x, y in batches:
            optimizer.zero_grad()
            torch.nn.functional.cross_entropy(model(x), y).backward()
            optimizer.step()
    x, y = f.tiny_data()
    with torch.no_grad():
        return float(torch.nn.functional.cross_entropy(model(x), y))


def test_compare_trains_on_the_loaders_batches(tmp_path):
    cs = CompareSettings(model=A + "tiny_mlp", data=A + "tiny_loader", epochs=1, lr=0.05, arms="adamlr")
    res = run_compare(cs, tmp_path / "loader")
    assert res["batching"] == "the data's own 5 batches per epoch"
    loss = res["runs"][0]["records"][1]["train_loss"]
    assert loss == pytest.approx(_by_hand(0.05, list(f.tiny_loader())), rel=1e-5)
    assert loss != pytest.approx(_by_hand(0.05, [f.tiny_data()]), rel=1e-3)  # not one full-batch step
    full = run_compare(CompareSettings(**{**cs.__dict__, "batch_size": "full"}), tmp_path / "full")
    assert full["batching"] == "full batch"
    assert full["runs"][0]["records"][1]["train_loss"] == pytest.approx(_by_hand(0.05, [f.tiny_data()]), rel=1e-5)
    tensors = run_compare(CompareSettings(**{**cs.__dict__, "data": A + "tiny_data"}), tmp_path / "tensors")
    assert tensors["batching"] == "full batch"


def test_compare_header_states_the_batching(tmp_path):
    r = runner.invoke(app, ["compare", "-m", A + "tiny_mlp", "-d", A + "tiny_loader", "--epochs", "1", "--lr",
                            "0.01", "--arms", "adamlr", "--out", str(tmp_path)])
    assert r.exit_code == 0, r.stderr
    assert "own 5 batches per epoch" in " ".join(r.stdout.split())
    bad = runner.invoke(app, ["compare", "-m", A + "tiny_mlp", "-d", A + "tiny_data", "--batch-size", "half",
                              "--out", str(tmp_path / "x")])
    assert bad.exit_code == 2 and "batch_size: expected a positive integer or 'full', found 'half'" in bad.stderr


# --- a rerun reuses the saved range-test suggestion --------------------------------------------------------------

def test_rerun_reuses_the_saved_range_test(tmp_path, monkeypatch):
    cs = CompareSettings(model=A + "tiny_mlp", data=A + "tiny_data", epochs=1, lr=0.01, arms="lr_range_test")
    first = run_compare(cs, tmp_path)
    saved = json.loads((tmp_path / "range-test-seed0.json").read_text())["lr"]

    def fail(*args, **kwargs):
        raise AssertionError("the range test ran again")

    monkeypatch.setattr(compare_runner, "lr_range_test", fail)
    again = run_compare(cs, tmp_path)
    lrs = {r["arm"]: r["records"][0]["lr"] for r in again["runs"]}
    assert lrs["lr_range_test"] == saved == {r["arm"]: r for r in first["runs"]}["lr_range_test"]["records"][0]["lr"]
    with pytest.raises(AssertionError, match="ran again"):
        run_compare(cs, tmp_path, force=True)


# --- hints -------------------------------------------------------------------------------------------------------

def test_one_output_cross_entropy_gets_a_hint_before_sampling():
    with pytest.raises(NumericalError, match=r"cross_entropy over 1 output .* did you mean --loss mse"):
        adamlr.estimate(A + "linear_model", A + "lsq_data", epochs=5, samples=2)
    assert adamlr.estimate(A + "linear_model", A + "lsq_data", epochs=5, samples=1, loss="mse").k_hat > 0


def test_import_error_names_the_working_directory_and_pythonpath():
    with pytest.raises(LoadError) as caught:
        load_object("nopkg_edges.nets:make")
    assert f"working directory {os.getcwd()}" in str(caught.value) and "PYTHONPATH" in str(caught.value)


def test_attribute_typo_did_you_mean():
    with pytest.raises(LoadError, match=r"did you mean 'tiny_mlp'\?"):
        load_object(A + "tiny_mpl")


def test_yaml_key_typo_did_you_mean(tmp_path):
    cfg = tmp_path / "a.yaml"
    cfg.write_text(f"model: {A}tiny_mlp\ndata: {A}tiny_data\nepoch: 5\n")
    r = runner.invoke(app, ["estimate", "--config", str(cfg)])
    assert r.exit_code == 2 and "epoch: unknown option" in r.stderr and "did you mean 'epochs'?" in r.stderr
    cfg.write_text("model: a:b\ndata: c:d\nschedulers:\n  step: {step_sise: 3}\nseed: [1]\n")
    r = runner.invoke(app, ["compare", "--config", str(cfg), "--out", str(tmp_path / "o")])
    assert r.exit_code == 2 and "did you mean 'step_size'?" in r.stderr and "did you mean 'seeds'?" in r.stderr


def test_api_option_typo_did_you_mean():
    with pytest.raises(ConfigError, match=r"epoch: unknown option; did you mean 'epochs'\?"):
        adamlr.estimate(A + "tiny_mlp", A + "tiny_data", epoch=5)


def test_check_without_the_section_says_so(tmp_path):
    path = tmp_path / "train.yaml"
    path.write_text("adamLR:\n  epochs: 3\noptimizer:\n  lr: 0.001\n")
    r = runner.invoke(app, ["check", "--config", str(path), "--lr-key", "optimizer.lr"])
    assert r.exit_code == 2, r.stderr
    text = " ".join(r.stderr.split())
    assert "expected an 'adamlr' section" in text and "did you mean 'adamLR'?" in text and "--epochs" in text
    with pytest.raises(ConfigError, match="did you mean 'lr'"):
        adamlr.check(path, "optimizer.lrr", model=A + "tiny_mlp", data=A + "tiny_data", epochs=3)


# --- --help, completion, the time left ---------------------------------------------------------------------------

@pytest.mark.parametrize("command", [[], ["estimate"], ["compare"], ["check"]])
def test_help_has_no_bool_placeholder_and_lists_exit_codes(command):
    r = runner.invoke(app, [*command, "--help"], env={"COLUMNS": "200"})
    assert r.exit_code == 0
    assert "<bool>" not in r.stdout and ("--quiet" in r.stdout or not command)
    assert "Exit codes: 0 success" in r.stdout and "4 check" in r.stdout and "130 interrupted" in r.stdout


def _adamlr(env, *args):
    src = str(Path(adamlr.__file__).resolve().parents[1])
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([src, os.environ.get("PYTHONPATH", "")]), **env}
    return subprocess.run([sys.executable, "-m", "adamlr", *args], env=env, capture_output=True, text=True,
                          timeout=120)


def test_shell_completion_is_on():
    words = _adamlr({"_ADAMLR_COMPLETE": "complete_bash", "COMP_WORDS": "adamlr compare --qu", "COMP_CWORD": "2"})
    assert words.returncode == 0 and words.stdout.split() == ["--quick", "--quiet"]
    script = _adamlr({}, "--show-completion", "bash")
    assert script.returncode == 0 and "_adamlr_completion" in script.stdout
    assert "--install-completion" in runner.invoke(app, ["--help"]).stdout


def test_overall_bars_show_the_time_left():
    from rich.console import Console

    from adamlr.rich_progress import TimeLeft, make_bars

    bars = make_bars(Console(), enabled=False)
    overall = bars.add_task("samples", total=4, info="", overall=True)
    inner = bars.add_task("sample 0", total=100, info="", overall=False)
    column = TimeLeft()
    assert column.render(bars.tasks[overall]).plain == "eta -:--:--"
    assert column.render(bars.tasks[inner]).plain == ""
    assert any(isinstance(c, TimeLeft) for c in bars.columns)
