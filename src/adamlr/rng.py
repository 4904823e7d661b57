"""Leave the caller's random number generators exactly as they were."""

from __future__ import annotations

import random
import sys
from collections.abc import Iterator
from contextlib import contextmanager

import torch


@contextmanager
def preserved_rng() -> Iterator[None]:
    """Save and restore the global RNG states of torch (CPU and CUDA), ``random`` and NumPy.

    User factories may draw from any of them; adamlr seeds them inside this block so
    results are reproducible, and the caller's streams continue as if nothing ran.
    """
    py_state = random.getstate()
    np_module = sys.modules.get("numpy")
    np_state = np_module.random.get_state() if np_module is not None else None
    cuda_devices = list(range(torch.cuda.device_count())) if torch.cuda.is_available() else []
    with torch.random.fork_rng(devices=cuda_devices):
        try:
            yield
        finally:
            random.setstate(py_state)
            if np_module is not None and np_state is not None:
                np_module.random.set_state(np_state)


def seed_all(seed: int) -> None:
    """Seed torch, ``random`` and NumPy (call inside :func:`preserved_rng`)."""
    torch.manual_seed(seed)
    random.seed(seed)
    np_module = sys.modules.get("numpy")
    if np_module is not None:
        np_module.random.seed(seed % 2**32)
