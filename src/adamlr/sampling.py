"""Weight samples w_j ~ W for Algorithm 2.

Two distributions:

* ``gaussian`` (default): each tensor drawn i.i.d. from N(0, (s·σ)²), σ the RMS of that
  tensor at initialisation (tensors initialised to zero take the median σ of the
  others). Its support is all of R^d, as Theorem 4 of the paper asks ("W needs to be
  full domain"), and its scale matches the region where training starts.
* ``init``: the model's own initializer re-run under a new seed (the factory called
  again, or ``reset_parameters()`` on a copy), times s. Kaiming-uniform, PyTorch's
  default, has bounded support: not full domain.

s is ``scale``. K̂ depends strongly on it (weights ×4 moved K̂ from ≈3.5 to ≈99 on a
small MLP here), so every result reports the distribution and the scale.
"""

from __future__ import annotations

import copy
import statistics
from collections.abc import Callable

import torch
from torch import nn

from adamlr.choices import WEIGHT_DISTRIBUTIONS, WeightDistribution
from adamlr.errors import ModelError, UsageError
from adamlr.objective import Params, trainable_parameters


def sample_seed(seed: int, index: int, stream: int = 0) -> int:
    """A reproducible 63-bit seed for sample ``index`` of run ``seed``."""
    return (seed * 1_000_003 + index * 7919 + stream * 104_729 + 1) % (2**63 - 1)


def _rms(t: torch.Tensor) -> float:
    return float(t.detach().double().pow(2).mean().sqrt()) if t.numel() else 0.0


def gaussian_weights(reference: Params, scale: float, seed: int) -> Params:
    """Each tensor from N(0, (scale·RMS(reference tensor))²), drawn on the CPU for reproducibility."""
    sigmas = {k: _rms(v) for k, v in reference.items()}
    nonzero = [s for s in sigmas.values() if s > 0]
    fallback = statistics.median(nonzero) if nonzero else 1.0
    gen = torch.Generator().manual_seed(seed)
    out = {}
    for name, ref in reference.items():
        sigma = sigmas[name] or fallback
        draw = torch.randn(ref.shape, generator=gen, dtype=torch.float64) * (scale * sigma)
        out[name] = draw.to(device=ref.device, dtype=ref.dtype)
    return out


def _reset_all(module: nn.Module) -> bool:
    found = False
    for sub in module.modules():
        reset = getattr(sub, "reset_parameters", None)
        if callable(reset):
            reset()
            found = True
    return found


def init_weights(reference: Params, make_model: Callable[[], nn.Module], scale: float, seed: int) -> Params:
    """Re-run the initializer under ``seed`` (global RNG forked, so the caller's is untouched)."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = make_model()
    fresh = trainable_parameters(model)
    if list(fresh) != list(reference) or any(fresh[k].shape != reference[k].shape for k in reference):
        raise ModelError(
            "expected the model factory to build the same architecture on every call, found different parameters"
        )
    return {k: (fresh[k].detach() * scale).to(device=reference[k].device, dtype=reference[k].dtype) for k in reference}


def reinitializer(factory: Callable[[], nn.Module] | None, instance: nn.Module) -> Callable[[], nn.Module]:
    """How ``init`` sampling builds a fresh model: the factory, or reset_parameters() on a copy."""
    if factory is not None:
        return factory

    def reset_copy() -> nn.Module:
        model = copy.deepcopy(instance)
        if not _reset_all(model):
            raise ModelError(
                "expected --weights init to find a model factory or modules with reset_parameters(), found neither"
            )
        return model

    return reset_copy


def sample_weights(distribution: WeightDistribution, reference: Params, *, scale: float, seed: int,
                   make_model: Callable[[], nn.Module] | None = None) -> Params:
    """Draw one weight sample.

    Args:
        distribution: ``"gaussian"`` or ``"init"``.
        reference: the initial weights (names, shapes, device, dtype, and the σ for gaussian).
        scale: multiplier s on the standard deviation (gaussian) or the weights (init).
        seed: this sample's seed.
        make_model: builds a fresh model (needed for ``init``).
    """
    if distribution == "gaussian":
        return gaussian_weights(reference, scale, seed)
    if distribution == "init":
        if make_model is None:
            raise UsageError("expected a model factory for --weights init, found none")
        return init_weights(reference, make_model, scale, seed)
    raise UsageError(f"expected --weights to be one of {', '.join(WEIGHT_DISTRIBUTIONS)}, found {distribution!r}")
