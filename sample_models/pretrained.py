"""Fine-tuning problems: the factory returns a model already trained on the task, to be adapted to shifted data.

Pretraining runs once per process (cached), from a fixed seed, with full-batch Adam at a fixed
rate on clean data; the factory returns a fresh copy of the pretrained weights each call. The
fine-tuning data are the same images under seeded Gaussian noise (a domain shift), so training
starts near a good solution, where the best rate is typically far below a from-scratch one.
"""

from __future__ import annotations

import functools
from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import nn

from sample_models import setups

PRETRAIN_SEED, PRETRAIN_STEPS, PRETRAIN_LR = 99, 300, 3e-3
NOISE_SEED, NOISE = 7, 0.75
Pair = tuple[torch.Tensor, torch.Tensor]


def _pretrained(make: Callable[[], nn.Module], data: Pair) -> dict[str, torch.Tensor]:
    with torch.random.fork_rng():
        torch.manual_seed(PRETRAIN_SEED)
        model = make()
        optimizer = torch.optim.Adam(model.parameters(), lr=PRETRAIN_LR)
        x, y = data
        for _ in range(PRETRAIN_STEPS):
            optimizer.zero_grad()
            F.cross_entropy(model(x), y).backward()
            optimizer.step()
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


def _noisy(pair: Pair) -> Pair:
    """The images plus N(0, NOISE²) noise from a fixed seed (the shifted domain), same labels."""
    x, y = pair
    noise = torch.randn(x.shape, generator=torch.Generator().manual_seed(NOISE_SEED))
    return x + NOISE * noise, y.clone()


def _mlp() -> nn.Module:
    return setups.relu_mlp_model()


@functools.cache
def _mlp_state() -> dict[str, torch.Tensor]:
    return _pretrained(_mlp, setups.digits_data())


def finetune_mlp_model() -> nn.Module:
    """The digits ReLU MLP pretrained on clean standardised digits, to be fine-tuned on noisy ones."""
    model = _mlp()
    model.load_state_dict(_mlp_state())
    return model


def finetune_mlp_data() -> Pair:
    """All 1,797 standardised digits with Gaussian noise of σ = 0.75."""
    return _noisy(setups.digits_data())


def _cnn() -> nn.Module:
    return setups.cnn_model()


@functools.cache
def _cnn_state() -> dict[str, torch.Tensor]:
    return _pretrained(_cnn, setups.fashion_cnn_data())


def finetune_cnn_model() -> nn.Module:
    """The small CNN pretrained on 2,048 clean Fashion-MNIST images (14×14), to be fine-tuned on 1,024 noisy ones."""
    model = _cnn()
    model.load_state_dict(_cnn_state())
    return model


def finetune_cnn_data() -> Pair:
    """The 1,024-image Fashion-MNIST subset at 14×14 with Gaussian noise of σ = 0.75."""
    return _noisy(setups.fashion_data())
