"""Models and data a new user might hand in that sit at the edge of what an estimate can do (issue 28)."""

from __future__ import annotations

import torch
from torch import nn


def breast_cancer_linear() -> nn.Module:
    """Logistic regression over the 30 breast-cancer features."""
    return nn.Linear(30, 2)


def breast_cancer_raw() -> tuple[torch.Tensor, torch.Tensor]:
    """scikit-learn's breast-cancer features left raw (scales up to 2,500): the softmax saturates at w0."""
    from sklearn.datasets import load_breast_cancer

    x, y = load_breast_cancer(return_X_y=True)
    return torch.tensor(x, dtype=torch.float32), torch.tensor(y)
