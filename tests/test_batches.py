"""Batches and outputs of other shapes give the same loss and K̂ as the plain (inputs, targets) form they encode."""

import json

import pytest
import torch
from typer.testing import CliRunner

from adamlr import estimate
from adamlr.batch import BatchLayout, split
from adamlr.cli import app
from adamlr.data import as_batches
from adamlr.errors import ConfigError, DataError, InputError, UsageError
from tests.assets import factories as f
from tests.assets import shapes as s

CPU = torch.device("cpu")
A = "tests.assets.shapes:"
F = "tests.assets.factories:"


def run(model, data, **kw):
    options = dict(epochs=10, samples=2, dtype="float64", device="cpu", probe_steps=2) | kw
    return estimate(model, data, **options)


@pytest.fixture(scope="module")
def oracle():
    """The plain form: tiny_mlp on (inputs, targets) batches of 5."""
    return run(f.tiny_mlp, s.pair_batches)


def same(result, oracle):
    assert result.initial_loss == pytest.approx(oracle.initial_loss, rel=1e-12)
    assert result.k_hat == pytest.approx(oracle.k_hat, rel=1e-9)
    assert result.lr == pytest.approx(oracle.lr, rel=1e-9)


def test_full_data_loss_is_the_size_weighted_mean(oracle):
    x, y = f.tiny_data()
    torch.manual_seed(0)  # the factory is called under --seed 0
    with torch.no_grad():
        expected = float(torch.nn.functional.cross_entropy(f.tiny_mlp().double()(x.double()), y))
    assert oracle.initial_loss == pytest.approx(expected, rel=1e-12)  # batches of 5, 5, 5, 5, 3


@pytest.mark.parametrize(
    "model, data, options",
    [
        (f.tiny_mlp, s.dict_batches, {}),  # targets under "label", the one other key positional
        (f.tiny_mlp, s.dict_loader, {}),  # a DataLoader over a Dataset of dict items ("labels")
        (f.tiny_mlp, s.odd_key_batches, {"inputs": "features", "targets": "cls"}),
        (f.tiny_mlp, s.triple_batches_reordered, {"inputs": "2", "targets": "1"}),
        (s.two_inputs, s.two_input_batches, {}),  # two keys → keyword arguments a=, b=; targets under "y"
        (s.dict_output, s.pair_batches, {}),  # a dict output: its logits
        (s.tuple_output, s.pair_batches, {}),  # a tuple output: its first element
        (s.own_loss, s.dict_batches, {"loss": "model"}),  # the model's own loss, on the whole batch
    ],
)
def test_shapes_match_the_plain_form(model, data, options, oracle):
    same(run(model, data, **options), oracle)


def test_longer_tuples_default_to_inputs_then_targets(oracle):
    same(run(f.tiny_mlp, f.triple_batches), run(f.tiny_mlp, f.tiny_data))


def test_output_key_overrides_the_default():
    scores = run(s.dict_output, s.pair_batches, output="scores")  # logits · 2: four times the curvature at w0
    logits = run(s.dict_output, s.pair_batches, output="logits")
    assert scores.initial_loss != pytest.approx(logits.initial_loss)
    assert scores.settings["output"] == "scores"


def test_dataset_of_dicts_allows_mini_batches():
    result = run(f.tiny_mlp, s.dict_dataset, batch_size=8, batches_per_sample=2)
    assert result.k_hat > 0 and result.settings["batch_size"] == 8


@pytest.mark.parametrize(
    "data, options, error, message",
    [
        (s.odd_key_batches, {}, DataError, r"one of labels, label, targets, target, y, found keys features, cls, idx; "
                                           r"name them with --targets KEY"),
        (s.odd_key_batches, {"targets": "cls", "inputs": "feature"}, DataError, r"key 'feature' \(--inputs\)"),
        (s.pair_batches, {"inputs": "x"}, DataError, r"integer index for --inputs .* found 'x'"),
        (s.pair_batches, {"targets": "3"}, DataError, r"index 3 \(--targets\) within batch 0"),
        (s.dict_batches, {"output": "scores"}, DataError, r"'scores' \(--output\), found Tensor"),
        (s.dict_batches, {"loss": "model"}, DataError, r"accept inputs of shape|accept arguments"),
    ],
)
def test_clear_errors(data, options, error, message):
    with pytest.raises(error, match=message):
        run(f.tiny_mlp, data, **options)


def test_own_loss_missing_is_named():
    with pytest.raises(InputError, match=r"to return its loss .* found dict with keys logits whose loss is NoneType; "
                                         r"does each batch hold the labels"):
        run(s.own_loss, s.dict_batches, loss="model", inputs="input")


def test_settings_validate_layout_types():
    with pytest.raises(ConfigError) as info:
        run(f.tiny_mlp, s.dict_batches, inputs=[], targets=1.5, output=3)
    assert len(info.value.problems) == 3


def test_training_step_needs_a_train_dataloader():
    with pytest.raises(UsageError, match="expected --data, found none"):
        run(f.tiny_mlp, None)


def test_split_sizes_and_targets():
    b = split({"input_ids": torch.ones(4, 7, dtype=torch.long), "attention_mask": torch.ones(4, 7), "labels":
               torch.zeros(4, dtype=torch.long)}, BatchLayout(), 3, CPU, torch.float64)
    assert b.args == () and set(b.kwargs) == {"input_ids", "attention_mask"} and b.size == 4 and b.index == 3
    assert b.kwargs["attention_mask"].dtype == torch.float64 and b.kwargs["input_ids"].dtype == torch.long
    whole = split({"input_ids": torch.ones(4, 7), "labels": torch.zeros(4)}, BatchLayout(whole=True), 0)
    assert set(whole.kwargs) == {"input_ids", "labels"} and whole.size == 4
    no_targets = split((torch.ones(6, 2),), BatchLayout(whole=True), 0)
    assert no_targets.targets is None and no_targets.size == 6
    with pytest.raises(DataError, match=r"same batch size at batch 0, found inputs \(4, 7\) and targets \(5,\)"):
        split({"x": torch.ones(4, 7), "y": torch.zeros(5)}, BatchLayout(), 0)


def test_dict_batches_hash_into_the_cache_key(tmp_path):
    source = as_batches(s.dict_batches, name="d", device=CPU, dtype=torch.float64)
    assert source.n_examples == 23 and source.n_batches == 5
    runner = CliRunner()
    args = ["estimate", "-m", F + "tiny_mlp", "-d", A + "dict_batches", "--epochs", "5", "--samples", "1",
            "--cache-dir", str(tmp_path), "--json"]
    first = json.loads(runner.invoke(app, args).stdout)
    again = json.loads(runner.invoke(app, args).stdout)
    other = runner.invoke(app, [*args, "--targets", "label", "--inputs", "input"])
    assert other.exit_code == 0, other.stderr
    assert again["cache"]["hit"] and not json.loads(other.stdout)["cache"]["hit"]  # the layout is in the key
    assert first["k_hat"] == again["k_hat"] == json.loads(other.stdout)["k_hat"]


def test_cli_options_reach_the_estimate():
    r = CliRunner().invoke(app, ["estimate", "-m", A + "dict_output", "-d", A + "odd_key_batches", "--inputs",
                                 "features", "--targets", "cls", "--output", "logits", "--epochs", "5", "--samples",
                                 "1", "--no-cache", "--json"])
    assert r.exit_code == 0, r.stderr
    settings = json.loads(r.stdout)["settings"]
    assert (settings["inputs"], settings["targets"], settings["output"]) == ("features", "cls", "logits")


def test_check_reads_the_layout_from_its_section(tmp_path, oracle):
    config = tmp_path / "train.yaml"
    config.write_text("adamlr:\n  model: tests.assets.shapes:own_loss\n  data: tests.assets.shapes:dict_batches\n"
                      "  loss: model\n  inputs: [input, label]\n  targets: label\n  epochs: 10\n  samples: 2\n"
                      "  dtype: float64\n  probe_steps: 2\noptimizer:\n  lr: 0.001\n")
    r = CliRunner().invoke(app, ["check", "-c", str(config), "--lr-key", "optimizer.lr", "--format", "json",
                                 "--no-cache"])
    assert r.exit_code in (0, 4), r.stderr
    assert json.loads(r.stdout)["estimate"]["lr"] == pytest.approx(oracle.lr, rel=1e-9)


def test_non_tensor_inputs_point_to_inputs_option():
    batches = [{"text": ["a", "b"], "x": torch.ones(2, 4), "label": torch.zeros(2, dtype=torch.long)}]
    with pytest.raises(DataError, match=r"input 'text' to be a tensor, found list; name the model's inputs with "
                                        r"--inputs"):
        run(f.tiny_mlp, lambda: batches)
    assert run(f.tiny_mlp, lambda: batches, inputs="x").k_hat > 0
