"""Tiny factories for batches and outputs of other shapes: dicts, longer tuples, dict outputs, own losses.

Each gives the same data (tests.assets.factories.tiny_data: 23 examples) or the same network
(tiny_mlp) in another shape, so a test can compare against the plain (inputs, targets) form.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset

from tests.assets.factories import tiny_data, tiny_mlp


def _chunks(n: int, size: int) -> list[slice]:
    return [slice(i, i + size) for i in range(0, n, size)]


def dict_batches() -> list[dict[str, torch.Tensor]]:
    """tiny_data as dict batches of 5 (the last one short): ``{"input", "label"}``."""
    x, y = tiny_data()
    return [{"input": x[s], "label": y[s]} for s in _chunks(23, 5)]


def pair_batches() -> list[tuple[torch.Tensor, torch.Tensor]]:
    """tiny_data as (inputs, targets) batches of 5, the oracle of the other shapes."""
    x, y = tiny_data()
    return [(x[s], y[s]) for s in _chunks(23, 5)]


def odd_key_batches() -> list[dict[str, torch.Tensor]]:
    """Dict batches whose targets are under a key adamlr does not guess (``cls``), plus an unused ``idx``."""
    x, y = tiny_data()
    return [{"features": x[s], "cls": y[s], "idx": torch.arange(23)[s]} for s in _chunks(23, 5)]


def triple_batches_reordered() -> list[tuple[torch.Tensor, torch.Tensor, torch.Tensor]]:
    """(index, targets, inputs): needs ``--inputs 2 --targets 1``."""
    x, y = tiny_data()
    return [(torch.arange(23)[s], y[s], x[s]) for s in _chunks(23, 5)]


class DictDataset(Dataset[dict[str, torch.Tensor]]):
    """tiny_data as a map-style Dataset of dict items (collated into dict batches)."""

    def __init__(self) -> None:
        self.x, self.y = tiny_data()

    def __len__(self) -> int:
        return 23

    def __getitem__(self, i: int) -> dict[str, torch.Tensor]:
        return {"x": self.x[i], "labels": self.y[i]}


def dict_loader() -> DataLoader:
    return DataLoader(DictDataset(), batch_size=5, shuffle=False)


def dict_dataset() -> Dataset:
    return DictDataset()


class TwoInputs(nn.Module):
    """tiny_mlp on inputs split in two keyword arguments ``a`` (2 features) and ``b`` (2 features)."""

    def __init__(self) -> None:
        super().__init__()
        self.net = tiny_mlp()

    def forward(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        out: torch.Tensor = self.net(torch.cat([a, b], dim=1))
        return out


def two_inputs() -> nn.Module:
    return TwoInputs()


def two_input_batches() -> list[dict[str, torch.Tensor]]:
    x, y = tiny_data()
    return [{"a": x[s, :2], "b": x[s, 2:], "y": y[s]} for s in _chunks(23, 5)]


class DictOutput(nn.Module):
    """tiny_mlp returning ``{"hidden": …, "logits": …, "scores": …}`` (scores = logits · 2)."""

    def __init__(self) -> None:
        super().__init__()
        self.net = tiny_mlp()

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        logits = self.net(x)
        return {"hidden": self.net[1](self.net[0](x)), "logits": logits, "scores": 2 * logits}


def dict_output() -> nn.Module:
    return DictOutput()


class TupleOutput(nn.Module):
    """tiny_mlp returning ``(logits, hidden)``."""

    def __init__(self) -> None:
        super().__init__()
        self.net = tiny_mlp()

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self.net(x), self.net[0](x)


def tuple_output() -> nn.Module:
    return TupleOutput()


class OwnLoss(nn.Module):
    """tiny_mlp that computes its own cross-entropy when given labels (Hugging Face style)."""

    def __init__(self) -> None:
        super().__init__()
        self.net = tiny_mlp()

    def forward(self, input: torch.Tensor, label: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
        logits = self.net(input)
        out = {"logits": logits}
        if label is not None:
            out["loss"] = nn.functional.cross_entropy(logits, label)
        return out


def own_loss() -> nn.Module:
    return OwnLoss()
