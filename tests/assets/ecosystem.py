"""Smaller data for the ecosystem tests (the models are sample_models.ecosystem's, importable from a clone)."""

from __future__ import annotations

from typing import Any

import torch
from torch.utils.data import DataLoader, TensorDataset

from sample_models.ecosystem import (  # noqa: F401  (re-exported: the tests' import paths)
    TokenDataset,
    bert_tiny,
    gpt2_tiny,
    lit_classifier,
    lm_batches,
    resnet18_cifar,
    timm_vit,
)


def images8() -> DataLoader[Any]:
    """8 random 32×32 RGB images, 10 classes, in 2 batches of 4 (BatchNorm normalises each batch by itself)."""
    g = torch.Generator().manual_seed(4)
    return DataLoader(TensorDataset(torch.randn(8, 3, 32, 32, generator=g), torch.randint(0, 10, (8,), generator=g)),
                      batch_size=4, shuffle=False)


def tokens16() -> DataLoader[Any]:
    """16 synthetic token sequences as dict batches of 8 (``input_ids``, ``attention_mask``, ``labels``)."""
    return DataLoader(TokenDataset(n=16), batch_size=8, shuffle=False)
