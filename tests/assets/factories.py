"""Tiny importable factories for tests: good ones and broken ones."""

from __future__ import annotations

import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset, TensorDataset


def _gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def tiny_mlp() -> nn.Module:
    return nn.Sequential(nn.Linear(4, 5), nn.Tanh(), nn.Linear(5, 3))


def tiny_relu_mlp() -> nn.Module:
    return nn.Sequential(nn.Flatten(), nn.Linear(4, 6), nn.ReLU(), nn.Linear(6, 3))


def tiny_data() -> tuple[torch.Tensor, torch.Tensor]:
    g = _gen(1)
    return torch.randn(23, 4, generator=g), torch.randint(0, 3, (23,), generator=g)


def tiny_loader() -> DataLoader:
    x, y = tiny_data()
    return DataLoader(TensorDataset(x, y), batch_size=5, shuffle=False)


def tiny_dataset() -> Dataset:
    x, y = tiny_data()
    return TensorDataset(x, y)


def tiny_batch_list() -> list:
    """A plain (re-iterable) list of (inputs, targets) batches."""
    x, y = tiny_data()
    return [(x[i : i + 7], y[i : i + 7]) for i in range(0, 23, 7)]


def tiny_generator():
    x, y = tiny_data()
    return ((x[i : i + 7], y[i : i + 7]) for i in range(0, 23, 7))


def linear_model() -> nn.Module:
    return nn.Linear(6, 1, bias=False)


def lsq_data() -> tuple[torch.Tensor, torch.Tensor]:
    g = _gen(2)
    x = torch.randn(40, 6, generator=g) * torch.tensor([3.0, 1.0, 0.5, 2.0, 1.0, 0.2])
    return x, torch.randn(40, 1, generator=g)


def bn_model() -> nn.Module:
    return nn.Sequential(nn.Linear(4, 5), nn.BatchNorm1d(5), nn.ReLU(), nn.Dropout(0.5), nn.Linear(5, 3))


def rng_model() -> nn.Module:
    """Draws from the global RNG inside the factory (as most factories do)."""
    model = tiny_mlp()
    with torch.no_grad():
        model[0].weight.add_(torch.randn(5, 4))
    return model


def raising_factory() -> nn.Module:
    raise ValueError("width must be positive")


def not_a_module() -> int:
    return 42


def nan_data() -> tuple[torch.Tensor, torch.Tensor]:
    x, y = tiny_data()
    x[3, 1] = float("nan")
    return x, y


def empty_data() -> tuple[torch.Tensor, torch.Tensor]:
    return torch.zeros(0, 4), torch.zeros(0, dtype=torch.long)


def triple_batches() -> list:
    x, y = tiny_data()
    return [(x, y, y)]


def single_batches() -> list:
    x, _ = tiny_data()
    return [(x,)]


def wrong_width_data() -> tuple[torch.Tensor, torch.Tensor]:
    g = _gen(3)
    return torch.randn(10, 7, generator=g), torch.randint(0, 3, (10,), generator=g)


def mean_output(outputs: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """A loss linear in the outputs: with a linear model its Hessian is exactly zero."""
    return outputs.mean()


not_callable_thing = 3.5


def smoothed_cross_entropy(outputs: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    return torch.nn.functional.cross_entropy(outputs, targets, label_smoothing=0.1)


def bn_tanh_model() -> nn.Module:
    """Linear → BatchNorm (running statistics) → tanh → Linear: smooth, so its Hessian is well defined everywhere."""
    return nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4), nn.Tanh(), nn.Linear(4, 2))


def bn_tanh_data() -> tuple[torch.Tensor, torch.Tensor]:
    g = _gen(5)
    return torch.randn(12, 3, generator=g), torch.randint(0, 2, (12,), generator=g)


def bn_tanh_loader() -> DataLoader:
    x, y = bn_tanh_data()
    return DataLoader(TensorDataset(x, y), batch_size=5, shuffle=False)


def no_running_stats_model() -> nn.Module:
    return nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4, track_running_stats=False), nn.Tanh(), nn.Linear(4, 2))


def bn_everywhere_digits() -> nn.Module:
    """The authors' MLP shape on digits: Linear → BatchNorm(no running stats) → ReLU on every layer, output too."""
    from adamlr.zoo.paper_code import mlp_bn, normal_init_

    return normal_init_(mlp_bn(1, in_features=64, width=256), std=0.04)


def large_lsq_data() -> tuple[torch.Tensor, torch.Tensor]:
    """Least squares with 6,000 rows of 8 features: large enough that the default Hessian subset is a subset."""
    g = _gen(5)
    x = torch.randn(6000, 8, generator=g) * torch.linspace(0.5, 2.0, 8)
    return x, x @ torch.randn(8, 1, generator=g) + 0.1 * torch.randn(6000, 1, generator=g)


def huge_lsq_data() -> tuple[torch.Tensor, torch.Tensor]:
    """20,000 rows of the same kind: more than twice the 4,096 examples L(w0) is measured on by default."""
    g = _gen(6)
    x = torch.randn(20000, 8, generator=g) * torch.linspace(0.5, 2.0, 8)
    return x, x @ torch.randn(8, 1, generator=g) + 0.1 * torch.randn(20000, 1, generator=g)


def wide_linear_model() -> nn.Module:
    """8 → 1 without bias, for :func:`large_lsq_data`."""
    return nn.Linear(8, 1, bias=False)


_FIXED = nn.Linear(4, 3)


def fixed_weights_model() -> nn.Module:
    """A factory that returns the same weights every call, whatever the seed (as a checkpoint loader does)."""
    model = nn.Linear(4, 3)
    model.load_state_dict(_FIXED.state_dict())
    model.reset_parameters = lambda: None  # type: ignore[method-assign]
    return model


tiny_data_alias = tiny_data  # the same factory under a second name: the same cache key, another name to report
