"""Benchmark problems whose best Adam rate is set by scale: raw inputs, large targets, a far-off initialisation.

A fixed constant rate cannot serve these: the weights have to travel distances set by the size
of the inputs and targets. Data are scikit-learn's bundled sets (no download) or seeded synthetic.
"""

from __future__ import annotations

import torch
from torch import nn

from sample_models import setups

Pair = tuple[torch.Tensor, torch.Tensor]


def _bunch(name: str) -> tuple[torch.Tensor, torch.Tensor]:
    import sklearn.datasets

    bunch = getattr(sklearn.datasets, f"load_{name}")()
    return torch.as_tensor(bunch.data, dtype=torch.float32), torch.as_tensor(bunch.target)


def digits_raw_data() -> Pair:
    """The 1,797 digits as raw pixel counts 0–16 (not standardised), flattened to 64 features."""
    x, y = _bunch("digits")
    return x, y.long()


def breast_cancer_raw_data() -> Pair:
    """Breast cancer (569 × 30) with raw features (areas up to 2,500); target 1.0 for benign, shape (n, 1)."""
    x, y = _bunch("breast_cancer")
    return x, y.float().unsqueeze(1)


def wine_raw_data() -> Pair:
    """Wine (178 × 13) with raw features (proline up to 1,680), three classes."""
    x, y = _bunch("wine")
    return x, y.long()


def diabetes_raw_target_data() -> Pair:
    """Diabetes (442 × 10): standardised features, raw targets (25–346, mean 152), shape (n, 1)."""
    x, y = _bunch("diabetes")
    return (x - x.mean(0)) / x.std(0), y.float().unsqueeze(1)


def lsq_large_target_data() -> Pair:
    """The least-squares set of :func:`sample_models.setups.lsq_data` with targets ×1000."""
    x, y = setups.lsq_data()
    return x, 1000.0 * y


def logistic_raw_model() -> nn.Module:
    """Logistic regression on the 30 raw breast-cancer features (one logit)."""
    return nn.Linear(30, 1)


def wine_raw_model() -> nn.Module:
    """ReLU MLP 13 → 32 → 3 on raw wine features."""
    return nn.Sequential(nn.Linear(13, 32), nn.ReLU(), nn.Linear(32, 3))


def digits_raw_model() -> nn.Module:
    """ReLU MLP 64 → 64 → 64 → 10 on raw digit pixels."""
    return nn.Sequential(nn.Linear(64, 64), nn.ReLU(), nn.Linear(64, 64), nn.ReLU(), nn.Linear(64, 10))


def diabetes_raw_target_model() -> nn.Module:
    """ReLU MLP regression 10 → 64 → 64 → 1 for raw diabetes targets."""
    return setups.mlp_regression_model()


def lsq_large_target_model() -> nn.Module:
    """Linear least squares without bias (20 → 1)."""
    return setups.lsq_model()


def large_init_model() -> nn.Module:
    """ReLU MLP 64 → 64 → 64 → 10 on standardised digits with every weight ~ N(0, 1), biases 0 (far from
    PyTorch's default fan-in scale)."""
    net = nn.Sequential(nn.Flatten(), nn.Linear(64, 64), nn.ReLU(), nn.Linear(64, 64), nn.ReLU(), nn.Linear(64, 10))
    with torch.no_grad():
        for layer in net:
            if isinstance(layer, nn.Linear):
                layer.weight.normal_(0.0, 1.0)
                layer.bias.zero_()
    return net
