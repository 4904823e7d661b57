"""How much of a network feeds a normalisation layer: the regime where the paper's α held up.

In the replication runs of docs/results.md the paper's α won only where every layer, output
included, was batch-normalised (the authors' code puts BatchNorm after every Linear), and on
plain networks its first step raised the loss by orders of magnitude (a ReLU MLP from 2.3 to
3.4·10⁵, LeNet-5 from 2.3 to 1.1·10⁴). This module measures that property of a model; it
computes nothing about the loss.

Heuristic for "followed by a normalisation layer": the model is traced with
:func:`torch.fx.symbolic_trace`, and a Linear/Conv layer counts as followed when every path
forward from its output reaches a normalisation (BatchNorm*, LayerNorm, GroupNorm,
InstanceNorm*, RMSNorm, or their ``torch.nn.functional`` forms) before any other layer with
parameters or the model's output. Parameter-free steps on the way (activations, dropout,
pooling, reshapes, residual additions) are looked through, so Linear → ReLU → BatchNorm
counts, and so does a residual branch whose sum is normalised next. A layer called at several
places must be followed at each. When tracing fails (data-dependent control flow), the
fallback is module registration order, which is forward order for ``nn.Sequential`` and for
most hand-written models: a layer is followed when the next registered module that is a
normalisation or has parameters of its own is a normalisation.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from itertools import pairwise
from typing import Any, Literal

import torch.fx
import torch.nn.functional as F
from torch import nn

NORMALIZED_SHARE = 1.0
"""``normalized`` needs every weight tensor followed: our only evidence for the paper's α is on
networks normalised throughout, output layer included; a partial share is reported as it is."""

WEIGHTED_LAYERS: tuple[type[nn.Module], ...] = (
    nn.Linear, nn.Conv1d, nn.Conv2d, nn.Conv3d, nn.ConvTranspose1d, nn.ConvTranspose2d, nn.ConvTranspose3d,
)
NORM_LAYERS: tuple[type[nn.Module], ...] = (
    nn.BatchNorm1d, nn.BatchNorm2d, nn.BatchNorm3d, nn.SyncBatchNorm, nn.LayerNorm, nn.GroupNorm,
    nn.InstanceNorm1d, nn.InstanceNorm2d, nn.InstanceNorm3d,
) + tuple(getattr(nn, name) for name in ("RMSNorm",) if hasattr(nn, name))  # RMSNorm: torch ≥ 2.4
NORM_FUNCTIONS: tuple[Callable[..., Any], ...] = (F.batch_norm, F.layer_norm, F.group_norm, F.instance_norm) + tuple(
    getattr(F, name) for name in ("rms_norm",) if hasattr(F, name))

Step = Literal["norm", "stop", "through"]


@dataclass(frozen=True)
class NormalizationInfo:
    """The outcome of :func:`normalization_share`.

    Attributes:
        normalized: share ≥ :data:`NORMALIZED_SHARE` (every weight tensor followed) and at least one weight tensor.
        share: followed / weight_tensors (0 when there are none).
        weight_tensors: Linear and Conv layers with a weight (a shared layer counts once).
        followed: those whose output goes into a normalisation layer next.
        note: how "next" was decided (torch.fx trace or registration order, and why).
    """

    normalized: bool
    share: float
    weight_tensors: int
    followed: int
    note: str

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready values."""
        return asdict(self)

    @staticmethod
    def from_dict(d: dict[str, Any]) -> NormalizationInfo:
        return NormalizationInfo(**{k: d[k] for k in NormalizationInfo.__dataclass_fields__})


def normalization_share(module: nn.Module) -> NormalizationInfo:
    """The share of a model's Linear/Conv weight tensors whose output feeds a normalisation layer next.

    See the module docstring for the heuristic. The model is traced, never run or modified.
    """
    weighted = [m for m in _unique_modules(module) if isinstance(m, WEIGHTED_LAYERS) and _own_parameters(m)]
    if not weighted:
        return NormalizationInfo(False, 0.0, 0, 0, "no Linear or Conv layers with weights")
    try:
        followed_ids = _followed_by_trace(module)
        note = "traced with torch.fx: followed = every path from the output meets a normalisation before a layer " \
               "with parameters or the model's output"
    except Exception as exc:  # noqa: BLE001 — any failure to trace user code means: use the fallback
        followed_ids = _followed_by_registration(module)
        note = f"torch.fx could not trace the model ({type(exc).__name__}); used module registration order"
    followed = sum(1 for m in weighted if id(m) in followed_ids)
    share = followed / len(weighted)
    return NormalizationInfo(share >= NORMALIZED_SHARE, share, len(weighted), followed, note)


def _unique_modules(module: nn.Module) -> Iterator[nn.Module]:
    return (m for _, m in module.named_modules())


def _own_parameters(module: nn.Module) -> bool:
    return next(module.parameters(recurse=False), None) is not None


def _classify_module(module: nn.Module) -> Step:
    if isinstance(module, NORM_LAYERS):
        return "norm"
    return "stop" if next(module.parameters(), None) is not None else "through"


def _classify_node(node: torch.fx.Node, modules: dict[str, nn.Module]) -> Step:
    if node.op == "output":
        return "stop"
    if node.op == "call_module":
        return _classify_module(modules[str(node.target)])
    if node.op == "call_function" and node.target in NORM_FUNCTIONS:
        return "norm"
    return "through"


def _meets_norm_first(node: torch.fx.Node, modules: dict[str, nn.Module]) -> bool:
    """Whether every path forward from ``node`` meets a normalisation before a parameterised layer or the output."""
    frontier, seen, met = list(node.users), set(), False
    while frontier:
        user = frontier.pop()
        if user in seen:
            continue
        seen.add(user)
        step = _classify_node(user, modules)
        if step == "stop":
            return False
        met = met or step == "norm"
        if step == "through":
            frontier.extend(user.users)  # a node nobody uses is a dead end, not a path
    return met


def _followed_by_trace(module: nn.Module) -> set[int]:
    graph = torch.fx.symbolic_trace(module).graph
    modules = dict(module.named_modules(remove_duplicate=False))
    verdicts: dict[int, bool] = {}
    for node in graph.nodes:
        if node.op == "call_module" and isinstance(layer := modules[str(node.target)], WEIGHTED_LAYERS):
            verdicts[id(layer)] = verdicts.get(id(layer), True) and _meets_norm_first(node, modules)
    return {key for key, followed in verdicts.items() if followed}


def _followed_by_registration(module: nn.Module) -> set[int]:
    significant = [m for m in _unique_modules(module) if isinstance(m, NORM_LAYERS) or _own_parameters(m)]
    return {id(layer) for layer, after in pairwise(significant)
            if isinstance(layer, WEIGHTED_LAYERS) and isinstance(after, NORM_LAYERS)}
