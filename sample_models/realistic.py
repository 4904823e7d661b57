"""The cost benchmark's realistic setups: an epoch takes ~10 s or more on one CPU thread, so fixed costs don't decide.

* an MLP 784-1024-1024-10 on all 60,000 Fashion-MNIST training images, shuffled batches of 128;
* torchvision's ResNet-18 (10 classes, random weights) on 10,000 synthetic 32×32 images, batches of 128;
* a character-level causal transformer LM (:mod:`sample_models.language`) on 16,384 windows, batches of 64.

Every loader shuffles with a seeded generator and is rebuilt by its factory, so every process sees the
same batches. Nothing is downloaded (Fashion-MNIST from Debian's ``dataset-fashion-mnist``).
"""

from __future__ import annotations

import functools

import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from adamlr.zoo import data, nets

BATCH = 128
IMAGES, CLASSES, IMAGE_SEED = 10_000, 10, 2024


def _loader(x: torch.Tensor, y: torch.Tensor, batch: int = BATCH) -> DataLoader:
    return DataLoader(TensorDataset(x, y), batch_size=batch, shuffle=True, generator=torch.Generator().manual_seed(0))


def fashion_mlp() -> nn.Module:
    """MLP 784 → 1024 → 1024 → 10, ReLU (PyTorch's default init), about 1.9 M parameters."""
    return nets.mlp(784, width=1024, depth=2)


@functools.cache
def _fashion() -> tuple[torch.Tensor, torch.Tensor]:
    return data.fashion_train()


def fashion_loader() -> DataLoader:
    """All 60,000 Fashion-MNIST training images, standardised, shuffled batches of 128."""
    return _loader(*_fashion())


def resnet18() -> nn.Module:
    """torchvision's ResNet-18, random weights, 10 classes (BatchNorm with batch statistics in training)."""
    from torchvision.models import resnet18 as make

    return make(weights=None, num_classes=CLASSES)


@functools.cache
def _images() -> tuple[torch.Tensor, torch.Tensor]:
    """10,000 images: one smooth random template per class plus noise per image (learnable, seeded)."""
    g = torch.Generator().manual_seed(IMAGE_SEED)
    templates = torch.nn.functional.avg_pool2d(torch.randn(CLASSES, 3, 36, 36, generator=g), 5, stride=1)
    y = torch.randint(0, CLASSES, (IMAGES,), generator=g)
    return templates[y] + 1.5 * torch.randn(IMAGES, 3, 32, 32, generator=g), y


def images_loader() -> DataLoader:
    """10,000 synthetic 32×32 RGB images of 10 classes, shuffled batches of 128."""
    return _loader(*_images())
