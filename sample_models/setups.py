"""Small models and data sets for the recommendation benchmark, as zero-argument factories.

Each setup is a model factory and a data factory, runnable by import path, e.g.
``adamlr estimate sample_models.setups:lsq_model sample_models.setups:lsq_data --loss mse``.
Real data where it is on disk (scikit-learn's digits and diabetes, Fashion-MNIST from
``/usr/share/datasets/fashion-mnist``); synthetic data is drawn from a fixed seed.
Every set is small, so that a grid of 11 learning rates trains in seconds on a CPU.

The registry in :mod:`lrbench.setups` says which loss, horizon and batch size
belongs to each pair.
"""

from __future__ import annotations

import functools
import itertools

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.attention import SDPBackend, sdpa_kernel

from adamlr.zoo import data, nets

Pair = tuple[torch.Tensor, torch.Tensor]
SYNTHETIC_SEED = 1234
FASHION_SUBSET = 1024  # full-batch Fashion-MNIST setup (at 14×14)
FASHION_MINIBATCH_SUBSET = 2048
DIGITS16_SUBSET = 1000  # LeNet's convolutions dominate the suite's time: a fixed subset keeps it in budget
SEQUENCES = 512


def _generator() -> torch.Generator:
    return torch.Generator().manual_seed(SYNTHETIC_SEED)


@functools.cache
def _fashion(size: int) -> Pair:
    return data.subset(data.fashion_train(), size)


def _clone(pair: Pair) -> Pair:
    return pair[0].clone(), pair[1].clone()


# --- data -----------------------------------------------------------------------------------


def digits_data() -> Pair:
    """scikit-learn's 1,797 digits, standardised, as images ``(n, 1, 8, 8)`` and class labels."""
    return data.digits()


def digits16_data() -> Pair:
    """A fixed subset of 1,000 digits upsampled (bilinear) to 16×16, so that LeNet's two 5×5 convolutions fit."""
    x, y = data.subset(data.digits(), DIGITS16_SUBSET)
    return F.interpolate(x, size=(16, 16), mode="bilinear", align_corners=False), y


def fashion_data() -> Pair:
    """A fixed subset of 1,024 Fashion-MNIST training images, 2×2-average-pooled to ``(n, 1, 14, 14)``."""
    x, y = _fashion(FASHION_SUBSET)
    return F.avg_pool2d(x, 2), y.clone()


def fashion_minibatch_data() -> Pair:
    """A fixed subset of 2,048 Fashion-MNIST training images, for the mini-batch setup."""
    return _clone(_fashion(FASHION_MINIBATCH_SUBSET))


def digits_binary_data() -> Pair:
    """Digits flattened to 64 features; target 1.0 for digits 5–9, 0.0 otherwise, shape ``(n, 1)``."""
    x, y = data.digits()
    return x.flatten(1), (y >= 5).to(torch.float32).unsqueeze(1)


def digits_autoencoder_data() -> Pair:
    """Digits flattened to 64 features, with the inputs as targets (reconstruction)."""
    x = data.digits()[0].flatten(1)
    return x, x.clone()


def lsq_data() -> Pair:
    """Least squares: 512 rows of 20 correlated Gaussian features, y = X w* + 0.1 noise, shape ``(n, 1)``."""
    gen = _generator()
    n, d = 512, 20
    mixing = torch.randn(d, d, generator=gen) / d**0.5 + torch.eye(d)
    x = torch.randn(n, d, generator=gen) @ mixing
    w_star = torch.randn(d, 1, generator=gen)
    return x, x @ w_star + 0.1 * torch.randn(n, 1, generator=gen)


def diabetes_data() -> Pair:
    """scikit-learn's diabetes regression set (442 × 10, bundled), features and target standardised."""
    from sklearn.datasets import load_diabetes

    bunch = load_diabetes()
    x = torch.as_tensor(bunch.data, dtype=torch.float32)
    y = torch.as_tensor(bunch.target, dtype=torch.float32).unsqueeze(1)
    return (x - x.mean(0)) / x.std(0), (y - y.mean()) / y.std()


SEQUENCE_LENGTH, VOCABULARY = 8, 10


def sequence_sum_data() -> Pair:
    """512 sequences of 8 tokens in 0–9; label 1 when the sum exceeds its mean (36), else 0."""
    tokens = torch.randint(0, VOCABULARY, (SEQUENCES, SEQUENCE_LENGTH), generator=_generator())
    return tokens, (tokens.sum(1) > SEQUENCE_LENGTH * (VOCABULARY - 1) / 2).long()


# --- models ---------------------------------------------------------------------------------


def relu_mlp_model() -> nn.Module:
    """ReLU MLP on digits: 64 → 64 → 64 → 10."""
    return nets.mlp(64, width=64, depth=2)


def bn_mlp_model() -> nn.Module:
    """The authors' architecture: Linear → BatchNorm1d(batch statistics) → ReLU on every layer, output included."""
    sizes = (64, 32, 32, 10)
    layers: list[nn.Module] = [nn.Flatten()]
    for fan_in, fan_out in itertools.pairwise(sizes):
        layers += [nn.Linear(fan_in, fan_out), nn.BatchNorm1d(fan_out, track_running_stats=False), nn.ReLU()]
    return nn.Sequential(*layers)


def _lenet16(batch_norm: bool) -> nn.Sequential:
    def norm(kind: type[nn.Module], size: int) -> list[nn.Module]:
        return [kind(size, track_running_stats=False)] if batch_norm else []

    return nn.Sequential(
        nn.Conv2d(1, 6, 5), *norm(nn.BatchNorm2d, 6), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(6, 16, 5), *norm(nn.BatchNorm2d, 16), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(),
        nn.Linear(16, 120), *norm(nn.BatchNorm1d, 120), nn.ReLU(),
        nn.Linear(120, 84), *norm(nn.BatchNorm1d, 84), nn.ReLU(),
        nn.Linear(84, 10),
    )


def lenet_model() -> nn.Module:
    """LeNet-5 (ReLU, max-pooling) on 16×16 digits."""
    return _lenet16(batch_norm=False)


def lenet_bn_model() -> nn.Module:
    """LeNet-5 with BatchNorm (batch statistics, no running averages) after every hidden layer, on 16×16 digits."""
    return _lenet16(batch_norm=True)


def cnn_bn_model() -> nn.Module:
    """A small CNN for 14×14 images with standard BatchNorm: batch statistics in train mode, running ones in eval."""
    return nn.Sequential(
        nn.Conv2d(1, 8, 3, stride=2, padding=1), nn.BatchNorm2d(8), nn.ReLU(),
        nn.Conv2d(8, 16, 3, stride=2, padding=1), nn.BatchNorm2d(16), nn.ReLU(),
        nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(16, 10),
    )


def logistic_model() -> nn.Module:
    """Binary logistic regression on 64 features (one logit; use the bce_with_logits loss)."""
    return nn.Linear(64, 1)


def lsq_model() -> nn.Module:
    """Linear least squares without bias, so that the Hessian of the mse loss is exactly 2/n XᵀX."""
    return nn.Linear(20, 1, bias=False)


def mlp_regression_model() -> nn.Module:
    """ReLU MLP regression for the diabetes set: 10 → 64 → 64 → 1."""
    return nn.Sequential(nn.Linear(10, 64), nn.ReLU(), nn.Linear(64, 64), nn.ReLU(), nn.Linear(64, 1))


def autoencoder_model() -> nn.Module:
    """Autoencoder for flattened digits: 64 → 32 → 8 → 32 → 64 (ReLU inside, linear output)."""
    return nn.Sequential(nn.Linear(64, 32), nn.ReLU(), nn.Linear(32, 8), nn.ReLU(),
                         nn.Linear(8, 32), nn.ReLU(), nn.Linear(32, 64))


class TinyTransformer(nn.Module):
    """Token and position embeddings, one ``nn.TransformerEncoderLayer``, mean pooling, a linear head.

    Attention runs on PyTorch's plain ("math") kernel: the fused CPU kernel has no second
    derivative, which the Hessian-vector products need.
    """

    def __init__(self, width: int = 16, heads: int = 2, hidden: int = 32, classes: int = 2) -> None:
        super().__init__()
        self.tokens = nn.Embedding(VOCABULARY, width)
        self.positions = nn.Parameter(0.02 * torch.randn(SEQUENCE_LENGTH, width))
        self.encoder = nn.TransformerEncoderLayer(width, heads, hidden, dropout=0.0, batch_first=True)
        self.head = nn.Linear(width, classes)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        """Class logits ``(n, classes)`` for token ids ``(n, length)``."""
        with sdpa_kernel(SDPBackend.MATH):
            hidden = self.encoder(self.tokens(tokens) + self.positions)
        return self.head(hidden.mean(1))


def tiny_transformer_model() -> nn.Module:
    """A tiny transformer encoder (about 2,800 parameters) for the sequence-sum task."""
    return TinyTransformer()


def tanh_deep_model() -> nn.Module:
    """A deep tanh MLP on digits: 64 → 8 hidden layers of 64 → 10 (PyTorch's default init)."""
    layers: list[nn.Module] = [nn.Flatten()]
    for fan_in in (64,) * 8:
        layers += [nn.Linear(fan_in, 64), nn.Tanh()]
    return nn.Sequential(*layers, nn.Linear(64, 10))


def cnn_model() -> nn.Module:
    """A small CNN without normalisation for 14×14 images: two strided 3×3 convolutions, pooling, a linear head."""
    return nn.Sequential(
        nn.Conv2d(1, 16, 3, stride=2, padding=1), nn.ReLU(),
        nn.Conv2d(16, 32, 3, stride=2, padding=1), nn.ReLU(),
        nn.AdaptiveAvgPool2d(2), nn.Flatten(), nn.Linear(128, 10),
    )


def fashion_cnn_data() -> Pair:
    """A fixed subset of 2,048 Fashion-MNIST training images, 2×2-average-pooled to ``(n, 1, 14, 14)``."""
    x, y = _fashion(FASHION_MINIBATCH_SUBSET)
    return F.avg_pool2d(x, 2), y.clone()


def fashion_large_minibatch_data() -> Pair:
    """A fixed subset of 8,192 Fashion-MNIST training images, for the large-batch setup."""
    return _clone(_fashion(8192))


def minibatch_mlp_model() -> nn.Module:
    """ReLU MLP on Fashion-MNIST, trained with mini-batches: 784 → 64 → 10."""
    return nets.mlp(784, width=64, depth=1)
