"""Factories for the distributed tests: data that fails, hangs or turns NaN on one rank only."""

from __future__ import annotations

import os
import time

import torch
from torch import nn


def _rank() -> int:
    return int(os.environ.get("RANK", "0"))


def lsq_odd() -> tuple[torch.Tensor, torch.Tensor]:
    """41 rows for least squares: two ranks get unequal shards (21 and 20)."""
    g = torch.Generator().manual_seed(5)
    x = torch.randn(41, 6, generator=g) * torch.tensor([3.0, 1.0, 0.5, 2.0, 1.0, 0.2])
    return x, torch.randn(41, 1, generator=g)


def fails_on_rank_1() -> tuple[torch.Tensor, torch.Tensor]:
    """Good data on rank 0; on rank 1 the factory raises."""
    if _rank() == 1:
        raise ValueError("shard loader broke on this rank")
    return lsq_odd()


def hangs_on_rank_1() -> tuple[torch.Tensor, torch.Tensor]:
    """Rank 1 never comes back (within the test's process-group timeout)."""
    if _rank() == 1:
        time.sleep(float(os.environ.get("ADAMLR_TEST_HANG", "120")))
    return lsq_odd()


def nan_in_second_half() -> tuple[torch.Tensor, torch.Tensor]:
    """NaN inputs in the rows rank 1 holds: the summed loss is NaN on every rank."""
    x, y = lsq_odd()
    x[30] = float("nan")
    return x, y


def small_mlp() -> nn.Module:
    return nn.Sequential(nn.Linear(6, 8), nn.Tanh(), nn.Linear(8, 1))


def killed_on_rank_1() -> tuple[torch.Tensor, torch.Tensor]:
    """Rank 1 dies at once (SIGKILL: no message, no clean-up)."""
    if _rank() == 1:
        os.kill(os.getpid(), 9)
    return lsq_odd()
