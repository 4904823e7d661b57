"""Architectures of the paper's section 5: ReLU MLPs of equal width, LeNet, VGG-9.

Every network takes image-shaped inputs ``(n, C, H, W)``; MLPs flatten them first.
Zero-argument factories at the bottom fix the input size for each sample data set.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn


def mlp(in_features: int, width: int = 1000, depth: int = 3, classes: int = 10) -> nn.Sequential:
    """Fully connected ReLU net with ``depth`` hidden layers of ``width`` units (Kaiming-uniform init)."""
    layers: list[nn.Module] = [nn.Flatten()]
    size = in_features
    for _ in range(depth):
        layers += [nn.Linear(size, width), nn.ReLU()]
        size = width
    layers.append(nn.Linear(size, classes))
    return nn.Sequential(*layers)


def lenet(in_channels: int = 1, classes: int = 10, image_size: int = 28) -> nn.Sequential:
    """LeNet-5 (LeCun et al. 1998) with ReLU and max-pooling; 28×28 inputs are padded to 32×32."""
    pad = 2 if image_size == 28 else 0
    return nn.Sequential(
        nn.Conv2d(in_channels, 6, 5, padding=pad), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(6, 16, 5), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(),
        nn.Linear(16 * 5 * 5, 120), nn.ReLU(),
        nn.Linear(120, 84), nn.ReLU(),
        nn.Linear(84, classes),
    )


VGG9_LAYOUT = (64, "M", 128, "M", 256, 256, "M", 512, 512, "M", 512, "M")


def vgg9(classes: int = 10, batch_norm: bool = False) -> nn.Sequential:
    """VGG-9 for 32×32×3 inputs: 7 convolutions (3×3) and 2 linear layers (Simonyan & Zisserman 2014)."""
    layers: list[nn.Module] = []
    channels = 3
    for item in VGG9_LAYOUT:
        if item == "M":
            layers.append(nn.MaxPool2d(2))
            continue
        layers.append(nn.Conv2d(channels, int(item), 3, padding=1))
        if batch_norm:
            layers.append(nn.BatchNorm2d(int(item)))
        layers.append(nn.ReLU())
        channels = int(item)
    layers += [nn.Flatten(), nn.Linear(512, 512), nn.ReLU(), nn.Linear(512, classes)]
    return nn.Sequential(*layers)


# Zero-argument factories. Digits are 8×8 (64 features); (Fashion-)MNIST 28×28 (784).
def mlp_digits() -> nn.Module:
    """3 hidden layers of 128 on digits: the README's demo (seconds on a laptop CPU)."""
    return mlp(64, width=128, depth=3)


def mlp1_digits() -> nn.Module:
    return mlp(64, width=1000, depth=1)


def mlp3_digits() -> nn.Module:
    return mlp(64, width=1000, depth=3)


def mlp1_fashion() -> nn.Module:
    return mlp(784, width=1000, depth=1)


def mlp3_fashion() -> nn.Module:
    return mlp(784, width=1000, depth=3)


def mlp5_fashion() -> nn.Module:
    return mlp(784, width=1000, depth=5)


def lenet_fashion() -> nn.Module:
    return lenet(1, 10, 28)


mlp1_mnist, mlp3_mnist, mlp5_mnist, lenet_mnist = mlp1_fashion, mlp3_fashion, mlp5_fashion, lenet_fashion


def vgg9_cifar10() -> nn.Module:
    return vgg9(10)


INITS = ("kaiming_uniform", "kaiming_normal", "xavier_uniform", "orthogonal")


def with_init(model: nn.Module, scheme: str) -> nn.Module:
    """Re-initialise every Linear/Conv weight with ``scheme`` (biases zero), for the init study."""
    schemes: dict[str, Callable[[torch.Tensor], object]] = {
        "kaiming_uniform": lambda w: nn.init.kaiming_uniform_(w, nonlinearity="relu"),
        "kaiming_normal": lambda w: nn.init.kaiming_normal_(w, nonlinearity="relu"),
        "xavier_uniform": lambda w: nn.init.xavier_uniform_(w),
        "orthogonal": lambda w: nn.init.orthogonal_(w),
    }
    init = schemes[scheme]
    for m in model.modules():
        if isinstance(m, (nn.Linear, nn.Conv2d)):
            init(m.weight)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
    return model


def mlp3_fashion_kaiming_uniform() -> nn.Module:
    return with_init(mlp3_fashion(), "kaiming_uniform")


def mlp3_fashion_kaiming_normal() -> nn.Module:
    return with_init(mlp3_fashion(), "kaiming_normal")


def mlp3_fashion_xavier_uniform() -> nn.Module:
    return with_init(mlp3_fashion(), "xavier_uniform")


def mlp3_fashion_orthogonal() -> nn.Module:
    return with_init(mlp3_fashion(), "orthogonal")
