"""The benchmark's setups: which model, data, loss, horizon and batching, by import path; and the tune/holdout split.

Each :class:`Setup` names a model factory and a data factory (a pair of tensors) in
``sample_models``. The suite varies one dimension at a time (``dimension``): scale (raw inputs,
large targets, a far-off initialisation), horizon (the same model at T = 10, 100 and 1,000
steps), batching (small and large mini-batches, a CNN and a transformer LM on mini-batches),
starting point (fine-tuning), depth and activation (deep tanh, plain ReLU, BatchNorm, LayerNorm
transformer) and convex models.

The split into ``tune`` and ``holdout`` is declared here, before the first full run: anything a
rule fits (a constant, the horizon exponent) comes from ``tune`` setups only, and the rule is
judged on ``holdout``.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
from dataclasses import dataclass
from typing import Literal

SplitName = Literal["tune", "holdout"]
LossName = Literal["cross_entropy", "bce_with_logits", "mse"]


@dataclass(frozen=True)
class Setup:
    """One benchmark problem.

    Attributes:
        name: short id used in tables and file names.
        kind: what it is, in a few words.
        dimension: which dimension of the suite it varies.
        model: import path of the zero-argument model factory.
        data: import path of the zero-argument data factory (a pair of tensors).
        loss: the loss name.
        horizon: T, in ``unit``s.
        unit: ``steps`` (optimizer steps) or ``epochs`` (passes over the data), as a user would give it.
        batch_size: examples per mini-batch; None for full-batch training (one step per epoch).
        split: which half the setup belongs to.
    """

    name: str
    kind: str
    dimension: str
    model: str
    data: str
    loss: LossName
    horizon: int
    unit: Literal["steps", "epochs"]
    batch_size: int | None
    split: SplitName

    def steps(self, n_examples: int) -> int:
        """The number of Adam steps the horizon means for ``n_examples`` training examples."""
        if self.unit == "steps" or self.batch_size is None:
            return self.horizon
        return self.horizon * math.ceil(n_examples / self.batch_size)

    def digest(self) -> str:
        """A short hash of the definition, so stored grid runs are reused only for the same setup."""
        return hashlib.sha256(json.dumps(dataclasses.asdict(self), sort_keys=True).encode()).hexdigest()[:12]


S, SC, PT, LM = "sample_models.setups:", "sample_models.scaled:", "sample_models.pretrained:", "sample_models.language:"


def _full(name: str, kind: str, dimension: str, model: str, data: str, loss: LossName, split: SplitName,
          steps: int = 100) -> Setup:
    return Setup(name, kind, dimension, model, data, loss, steps, "steps", None, split)


SETUPS: tuple[Setup, ...] = (
    # --- tune ---------------------------------------------------------------------------------------------
    _full("relu_mlp_t10", "ReLU MLP, digits, T = 10", "horizon", S + "relu_mlp_model", S + "digits_data",
          "cross_entropy", "tune", steps=10),
    _full("relu_mlp_t1000", "ReLU MLP, digits, T = 1000", "horizon", S + "relu_mlp_model", S + "digits_data",
          "cross_entropy", "tune", steps=1000),
    _full("tanh_deep", "deep tanh MLP (8 × 64), digits", "depth", S + "tanh_deep_model", S + "digits_data",
          "cross_entropy", "tune"),
    _full("lenet_bn", "LeNet-5 + BatchNorm, 1k digits 16×16", "normalisation", S + "lenet_bn_model",
          S + "digits16_data", "cross_entropy", "tune"),
    _full("logistic_raw", "logistic regression, raw breast-cancer features", "scale", SC + "logistic_raw_model",
          SC + "breast_cancer_raw_data", "bce_with_logits", "tune"),
    _full("diabetes_raw_targets", "MLP regression, raw diabetes targets (25–346)", "scale",
          SC + "diabetes_raw_target_model", SC + "diabetes_raw_target_data", "mse", "tune"),
    _full("large_init", "ReLU MLP with N(0, 1) weights, digits", "scale", SC + "large_init_model", S + "digits_data",
          "cross_entropy", "tune"),
    Setup("minibatch_b16", "MLP 784-64-10, Fashion-MNIST 2k, batches of 16, 2 epochs", "batching",
          S + "minibatch_mlp_model", S + "fashion_minibatch_data", "cross_entropy", 2, "epochs", 16, "tune"),
    Setup("cnn_minibatch", "CNN, Fashion-MNIST 2k at 14×14, batches of 64, 5 epochs", "batching", S + "cnn_model",
          S + "fashion_cnn_data", "cross_entropy", 5, "epochs", 64, "tune"),
    _full("finetune_mlp", "ReLU MLP pretrained on digits, fine-tuned on noisy digits", "starting point",
          PT + "finetune_mlp_model", PT + "finetune_mlp_data", "cross_entropy", "tune"),
    _full("tiny_transformer", "transformer encoder (LayerNorm), sequence sums", "depth", S + "tiny_transformer_model",
          S + "sequence_sum_data", "cross_entropy", "tune"),
    _full("autoencoder", "autoencoder (MSE), digits", "depth", S + "autoencoder_model", S + "digits_autoencoder_data",
          "mse", "tune"),
    # --- holdout ------------------------------------------------------------------------------------------
    _full("relu_mlp", "ReLU MLP, digits, T = 100", "horizon", S + "relu_mlp_model", S + "digits_data",
          "cross_entropy", "holdout"),
    _full("tanh_deep_t10", "deep tanh MLP, digits, T = 10", "horizon", S + "tanh_deep_model", S + "digits_data",
          "cross_entropy", "holdout", steps=10),
    _full("tanh_deep_t1000", "deep tanh MLP, digits, T = 1000", "horizon", S + "tanh_deep_model",
          S + "digits_data", "cross_entropy", "holdout", steps=1000),
    _full("bn_mlp", "BN-everywhere MLP (authors'), digits", "normalisation", S + "bn_mlp_model", S + "digits_data",
          "cross_entropy", "holdout"),
    _full("lsq_large_targets", "least squares, targets ×1000 (convex)", "scale", SC + "lsq_large_target_model",
          SC + "lsq_large_target_data", "mse", "holdout"),
    _full("wine_raw", "ReLU MLP, raw wine features (up to 1,680)", "scale", SC + "wine_raw_model",
          SC + "wine_raw_data", "cross_entropy", "holdout"),
    _full("digits_raw", "ReLU MLP, raw digit pixels 0–16", "scale", SC + "digits_raw_model", SC + "digits_raw_data",
          "cross_entropy", "holdout"),
    Setup("minibatch_b512", "MLP 784-64-10, Fashion-MNIST 8k, batches of 512, 10 epochs", "batching",
          S + "minibatch_mlp_model", S + "fashion_large_minibatch_data", "cross_entropy", 10, "epochs", 512,
          "holdout"),
    Setup("char_lm", "causal transformer LM (2 layers), batches of 32, T = 1000 steps", "batching",
          LM + "char_lm_model", LM + "char_lm_data", "cross_entropy", 1000, "steps", 32, "holdout"),
    _full("finetune_cnn", "CNN pretrained on Fashion-MNIST, fine-tuned on noisy images", "starting point",
          PT + "finetune_cnn_model", PT + "finetune_cnn_data", "cross_entropy", "holdout"),
    _full("cnn_bn", "small CNN + BatchNorm (running stats), Fashion-MNIST 1k at 14×14", "normalisation",
          S + "cnn_bn_model", S + "fashion_data", "cross_entropy", "holdout"),
    _full("logistic", "logistic regression (convex), standardised digits ≥ 5", "convex", S + "logistic_model",
          S + "digits_binary_data", "bce_with_logits", "holdout"),
)

QUICK_SETUPS = ("logistic_raw", "relu_mlp_t10", "bn_mlp", "lsq_large_targets")


def select_setups(names: list[str] | None = None) -> list[Setup]:
    """The registered setups named in ``names`` (all when None).

    Raises:
        ValueError: a name that is not registered.
    """
    known = {s.name: s for s in SETUPS}
    chosen = list(known) if names is None else names
    unknown = [n for n in chosen if n not in known]
    if unknown:
        raise ValueError(f"expected setup names among {', '.join(known)}, found {', '.join(unknown)}")
    return [known[n] for n in chosen]
