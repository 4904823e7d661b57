"""The benchmark's setups: which model, data, loss, horizon and batching, by import path.

Each :class:`Setup` names a model factory and a data factory in
:mod:`sample_models.setups`. :func:`prepare_setup` builds what every rule and every
training run shares: the initial weights w0 (the model factory called under one seed),
the data as a :class:`~adamlr.data.BatchSource`, and a :class:`~adamlr.comparison.training.TrainSpec`.

The split into ``tune`` and ``holdout`` halves is declared here, before any result was
seen: a rule with a fitted constant takes it from the ``tune`` half only and is judged
on the ``holdout`` half.
"""

from __future__ import annotations

import copy
import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from torch import nn

from adamlr.choices import DtypeName
from adamlr.comparison.training import TrainSpec
from adamlr.data import BatchSource
from adamlr.errors import UsageError
from adamlr.problem import Problem, prepare
from adamlr.rng import preserved_rng

SplitName = Literal["tune", "holdout"]
LossName = Literal["cross_entropy", "bce_with_logits", "mse"]
MODULE = "sample_models.setups"


@dataclass(frozen=True)
class Setup:
    """One benchmark problem.

    Attributes:
        name: short id used in tables and file names.
        kind: what sort of problem it is, in a few words.
        model: import path of the zero-argument model factory.
        data: import path of the zero-argument data factory (a pair of tensors).
        loss: the loss name (see :data:`adamlr.losses.LOSSES`).
        epochs: the horizon T in epochs (full batch: one Adam step per epoch).
        batch_size: examples per mini-batch; None for full-batch training.
        split: which half the setup belongs to (fitting constants uses ``tune`` only).
    """

    name: str
    kind: str
    model: str
    data: str
    loss: LossName
    epochs: int
    batch_size: int | None
    split: SplitName


def _setup(name: str, kind: str, data: str, loss: LossName, split: SplitName, epochs: int = 100,
           batch_size: int | None = None) -> Setup:
    return Setup(name, kind, f"{MODULE}:{name}_model", f"{MODULE}:{data}", loss, epochs, batch_size, split)


SETUPS: tuple[Setup, ...] = (
    _setup("relu_mlp", "ReLU MLP, digits", "digits_data", "cross_entropy", "tune"),
    _setup("bn_mlp", "BN-everywhere MLP (authors'), digits", "digits_data", "cross_entropy", "holdout"),
    _setup("lenet", "LeNet-5, 1k digits at 16×16", "digits16_data", "cross_entropy", "holdout"),
    _setup("lenet_bn", "LeNet-5 + BatchNorm, 1k digits at 16×16", "digits16_data", "cross_entropy", "tune"),
    _setup("cnn_bn", "small CNN + BatchNorm (running stats), Fashion-MNIST 1k at 14×14", "fashion_data",
           "cross_entropy", "holdout"),
    _setup("logistic", "logistic regression (convex), digits ≥ 5", "digits_binary_data", "bce_with_logits", "tune"),
    _setup("lsq", "least squares (convex), synthetic", "lsq_data", "mse", "holdout"),
    _setup("mlp_regression", "MLP regression, diabetes", "diabetes_data", "mse", "tune"),
    _setup("autoencoder", "autoencoder (MSE), digits", "digits_autoencoder_data", "mse", "holdout"),
    _setup("tiny_transformer", "transformer encoder, synthetic sequence sums", "sequence_sum_data",
           "cross_entropy", "tune"),
    _setup("minibatch_mlp", "ReLU MLP, Fashion-MNIST 2k, batches of 128", "fashion_minibatch_data",
           "cross_entropy", "holdout", epochs=10, batch_size=128),
)

QUICK_SETUPS = ("lsq", "logistic", "relu_mlp", "bn_mlp")
QUICK_EPOCHS = 20


def select_setups(names: list[str] | None = None, *, epochs: int | None = None) -> list[Setup]:
    """The registered setups named in ``names`` (all when None), optionally with another horizon.

    Raises:
        UsageError: a name that is not registered.
    """
    known = {s.name: s for s in SETUPS}
    chosen = list(known) if names is None else names
    unknown = [n for n in chosen if n not in known]
    if unknown:
        raise UsageError(f"expected setup names among {', '.join(known)}, found {', '.join(unknown)}")
    return [dataclasses.replace(known[n], epochs=epochs) if epochs else known[n] for n in chosen]


@dataclass
class PreparedSetup:
    """What every rule and training run of one setup shares.

    Attributes:
        setup: the registry entry.
        problem: the model at w0, the data and the loss as adamlr's own analysis sees them
            (a working copy in the default --norm-mode train; see :func:`adamlr.problem.prepare`).
        spec: the training specification every run of this setup uses; its initial state
            is w0 (and buffers), from the model factory called under ``seed``.
        seed: the seed of w0, of mini-batch order, and of every rule's randomness.
    """

    setup: Setup
    problem: Problem
    spec: TrainSpec
    seed: int

    @property
    def train_data(self) -> BatchSource:
        """The training data (kept in memory)."""
        return self.spec.train

    @property
    def n_examples(self) -> int:
        """How many training examples."""
        return self.spec.train.n_examples or 0


def prepare_setup(setup: Setup, *, seed: int = 0, device: str = "cpu", dtype: DtypeName = "float32") -> PreparedSetup:
    """Build w0 and the data of ``setup`` (the caller's global RNG is left as it was)."""
    with preserved_rng():
        problem = prepare(setup.model, setup.data, setup.loss, device=device, dtype=dtype, seed=seed)
    train = problem.objective.batches
    list(train)  # one pass: counts examples and keeps the batches in memory
    user_model = problem.user_model
    state = {k: v.detach().clone() for k, v in user_model.state_dict().items()}
    make: Callable[[], nn.Module] = problem.factory or (lambda: copy.deepcopy(user_model))
    spec = TrainSpec(make, state, train, None, problem.objective.loss_fn, problem.objective.loss_name, setup.epochs,
                     setup.batch_size, problem.device, problem.dtype)
    return PreparedSetup(setup, problem, spec, seed)
