"""Real libraries' models: Hugging Face transformers, Lightning, torchvision, timm (installed by the dev extra).

Each gives a finite K̂ and α, leaves the user's module bit for bit as it was (BatchNorm
running statistics included) and restores the global RNG states.
"""

import copy
import json
import math
import random
import warnings

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from adamlr import estimate
from adamlr.cli import app
from tests.assets import ecosystem as eco

E = "tests.assets.ecosystem:"
FAST = dict(epochs=3, samples=1, max_iter=8, probe_steps=2, device="cpu")
runner = CliRunner()


def untouched(model, compute):
    """Run ``compute()``; check the module, its modes and the RNG are as before; return its result."""
    state = {k: v.clone() for k, v in model.state_dict().items()}
    modes = [m.training for m in model.modules()]
    rng = torch.get_rng_state(), random.getstate(), np.random.get_state()[1].copy()
    result = compute()
    after = model.state_dict()
    assert list(after) == list(state) and all(torch.equal(after[k], state[k]) for k in state)
    assert [m.training for m in model.modules()] == modes
    assert torch.equal(torch.get_rng_state(), rng[0]) and random.getstate() == rng[1]
    assert np.array_equal(np.random.get_state()[1], rng[2])
    assert math.isfinite(result.k_hat) and result.k_hat > 0 and math.isfinite(result.lr) and result.lr > 0
    return result


def cli(*args):
    r = runner.invoke(app, ["estimate", "--epochs", "3", "--samples", "1", "--max-iter", "8", "--probe-steps", "2",
                            "--no-cache", "--json", *args])
    assert r.exit_code == 0, r.stderr
    return json.loads(r.stdout)


def test_hugging_face_own_loss_and_logits_agree():
    """--loss model (the model's .loss on the batch with labels) = cross_entropy on its logits."""
    own = cli("-m", E + "bert_tiny", "-d", E + "tokens16", "--loss", "model")
    logits = cli("-m", E + "bert_tiny", "-d", E + "tokens16", "--loss", "cross_entropy", "--output", "logits")
    assert own["data"]["loss"] == "model" and own["data"]["examples"] == 16
    assert math.isfinite(own["k_hat"]) and own["k_hat"] > 0 and own["lr"] > 0
    assert own["initial_loss"] == pytest.approx(logits["initial_loss"], rel=1e-6)
    assert own["k_hat"] == pytest.approx(logits["k_hat"], rel=1e-4)


def test_hugging_face_module_untouched():
    model = eco.bert_tiny()
    model.train()  # as a user's module often is; dropout is on in train mode
    untouched(model, lambda: estimate(model, eco.tokens16, loss="model", **FAST))


def test_causal_language_model_own_loss():
    result = untouched(model := eco.gpt2_tiny(), lambda: estimate(model, eco.lm_batches, loss="model", **FAST))
    assert result.initial_loss == pytest.approx(math.log(64), rel=0.1)  # near-uniform over the 64 tokens at init


def test_lightning_training_step_and_train_dataloader():
    model = eco.lit_classifier()
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        result = untouched(model, lambda: estimate(model, None, loss="training_step", **FAST))
    assert not [w for w in seen if "self.log" in str(w.message)]
    assert result.data["name"].endswith("train_dataloader()") and result.data["examples"] == 40
    with warnings.catch_warnings():  # the oracle: training_step on each batch, weighted by its size
        warnings.simplefilter("ignore")
        module = copy.deepcopy(model).eval()
        with torch.no_grad():
            parts = [(float(module.training_step(b, i)["loss"]), len(b[1]))
                     for i, b in enumerate(module.train_dataloader())]
    assert result.initial_loss == pytest.approx(sum(v * n for v, n in parts) / 40, rel=1e-6)
    assert any("training_step" in w for w in result.warnings)


def test_lightning_from_the_command_line_without_data():
    d = cli("-m", E + "lit_classifier", "--loss", "training_step")
    assert d["data"]["loss"] == "training_step" and d["k_hat"] > 0


def test_torchvision_resnet18_batchnorm_train_mode():
    model = eco.resnet18_cifar()
    model.train()
    options = FAST | {"max_iter": 4}  # 11 M parameters: each product costs ~0.5 s on a 2-core CPU
    result = untouched(model, lambda: estimate(model, eco.images8, **options))
    assert result.settings["norm_mode"] == "train"
    assert any("each normalised with its own statistics" in w for w in result.warnings)


def test_timm_model():
    model = eco.timm_vit()
    untouched(model, lambda: estimate(model, eco.images8, **FAST))


def test_compare_trains_through_the_same_objective(tmp_path):
    r = runner.invoke(app, ["compare", "-m", E + "bert_tiny", "-d", E + "tokens16", "--test-data", E + "tokens16",
                            "--loss", "model", "--epochs", "1", "--arms", "constants", "--lr", "0.001",
                            "--out", str(tmp_path / "hf"), "--json"])
    assert r.exit_code == 0, r.stderr
    runs = json.loads(r.stdout)["runs"]
    assert runs and all(math.isfinite(x["records"][-1]["train_loss"]) for x in runs)
    assert all(x["records"][-1]["test_accuracy"] is not None for x in runs)  # logits (8, 3) against labels
    r = runner.invoke(app, ["compare", "-m", E + "lit_classifier", "--loss", "training_step", "--epochs", "1",
                            "--arms", "constants", "--lr", "0.01", "--out", str(tmp_path / "lit"), "--json"])
    assert r.exit_code == 0, r.stderr
    assert len(json.loads(r.stdout)["runs"]) == 5
