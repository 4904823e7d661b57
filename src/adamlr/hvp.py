"""Hessian-vector products of the full-data loss, v ↦ ∇²L(w) v, by double backward.

Two ways to compute the same product (Pearlmutter 1994, "Fast exact multiplication by
the Hessian"):

* ``cached``: build the graph of g(w) = ∇L(w) over all batches once per weight sample
  (``create_graph=True``), then each product is one backward pass through it,
  ``∂(gᵀv)/∂w``. Cheapest per product; holds every batch's graph in memory.
* ``stream``: for each product and each batch, forward, gradient with graph, and a
  second backward; weighted by batch size. Memory of one batch at a time.

Double backward is used rather than ``torch.func.jvp(grad(...))``: it was faster in our
measurement (benchmarks/hvp_cost.py) and the forward-over-reverse form fails with
"ZeroTensors are immutable" on a plain linear model with mse loss (torch 2.13, CPU).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from adamlr.choices import HVP_MODES, HvpMode, HvpRequest
from adamlr.objective import Objective, Params


class ParamLayout:
    """Maps between a parameter dictionary and one flat vector."""

    def __init__(self, params: Params) -> None:
        self.names = list(params)
        self.shapes = [params[k].shape for k in self.names]
        self.numels = [params[k].numel() for k in self.names]
        self.size = sum(self.numels)

    def flatten(self, tensors: Sequence[torch.Tensor]) -> torch.Tensor:
        return torch.cat([t.reshape(-1) for t in tensors])

    def split(self, vector: torch.Tensor) -> list[torch.Tensor]:
        return [c.view(s) for c, s in zip(torch.split(vector, self.numels), self.shapes)]


def _leaves(params: Params) -> Params:
    return {k: v.detach().requires_grad_(True) for k, v in params.items()}


def _grad(
    outputs: Sequence[torch.Tensor],
    inputs: list[torch.Tensor],
    grad_outputs: Sequence[torch.Tensor] | None = None,
    *,
    create_graph: bool = False,
    retain_graph: bool | None = None,
) -> list[torch.Tensor]:
    """``torch.autograd.grad`` that treats unused inputs and constant outputs as zero."""
    keep = [i for i, o in enumerate(outputs) if o.requires_grad]
    if not keep:
        return [torch.zeros_like(x) for x in inputs]
    outs = [outputs[i] for i in keep]
    gos = None if grad_outputs is None else [grad_outputs[i] for i in keep]
    grads = torch.autograd.grad(
        outs, inputs, gos, create_graph=create_graph, retain_graph=retain_graph, allow_unused=True
    )
    return [torch.zeros_like(x) if g is None else g for g, x in zip(grads, inputs)]


class HessianOperator:
    """The operator v ↦ ∇²L(w) v at fixed weights w, on flat vectors.

    Args:
        objective: the full-data loss.
        params: the weights w.
        mode: ``"cached"`` or ``"stream"`` (see the module docstring).

    Attributes:
        matvecs: how many products have been computed.
        loss: L(w), computed along the way.
        gradient_norm: ‖∇L(w)‖₂, computed along the way.
    """

    def __init__(self, objective: Objective, params: Params, mode: HvpMode = "cached") -> None:
        if mode not in HVP_MODES:
            raise ValueError(f"mode must be one of {', '.join(HVP_MODES)}, not {mode!r}")
        self.objective = objective
        self.params = params
        self.layout = ParamLayout(params)
        self.mode = mode
        self.matvecs = 0
        self._graph: tuple[list[torch.Tensor], list[torch.Tensor]] | None = None
        self.loss, self.gradient_norm = self._prepare()

    @property
    def size(self) -> int:
        return self.layout.size

    def _prepare(self) -> tuple[float, float]:
        leaves = _leaves(self.params)
        inputs = list(leaves.values())
        if self.mode == "cached":  # one graph of the whole sum, kept for every product
            parts = list(self.objective.weighted_losses(leaves))
            total = sum(parts[1:], parts[0])
            grads = _grad([total], inputs, create_graph=True)
            self._graph = (inputs, grads)
        else:  # stream: each batch's graph is freed as soon as its gradient is added
            streamed = iter(self.objective.weighted_losses(leaves))
            first = next(streamed)
            grads, total = _grad([first], inputs), first.detach()
            for part in streamed:
                grads = [a + b for a, b in zip(grads, _grad([part], inputs))]
                total = total + part.detach()
        loss, summed = self.objective.summed(float(total.detach()), [g.detach() for g in grads])
        return loss, float(self.layout.flatten(summed).double().norm())

    def matvec(self, vector: torch.Tensor) -> torch.Tensor:
        """Return ∇²L(w) v for a flat vector v of length :attr:`size`."""
        self.matvecs += 1
        pieces = self.layout.split(vector.to(self.params[self.layout.names[0]].dtype))
        if self._graph is not None:
            inputs, grads = self._graph
            return self.objective.reduce(self.layout.flatten(_grad(grads, inputs, pieces, retain_graph=True)))
        return self.objective.reduce(self._streamed(pieces))

    def _streamed(self, pieces: list[torch.Tensor]) -> torch.Tensor:
        leaves = _leaves(self.params)
        inputs = list(leaves.values())
        out: list[torch.Tensor] | None = None
        for part in self.objective.weighted_losses(leaves):
            grads = _grad([part], inputs, create_graph=True)
            hv = _grad(grads, inputs, pieces)
            out = hv if out is None else [a + b for a, b in zip(out, hv)]
        assert out is not None
        return self.layout.flatten(out)

    def release(self) -> None:
        """Drop the cached graph (frees its memory)."""
        self._graph = None


def graph_bytes_per_example(objective: Objective, params: Params) -> float:
    """Bytes that autograd saves per example for a gradient-with-graph on the first batch.

    Counted with :func:`torch.autograd.graph.saved_tensors_hooks`, so it measures the
    graph that ``cached`` mode keeps, on any device, without a memory profiler.
    """
    seen: dict[int, int] = {}

    def pack(t: torch.Tensor) -> torch.Tensor:
        seen.setdefault(t.untyped_storage().data_ptr(), t.untyped_storage().nbytes())
        return t

    batch = next(iter(objective.batches))
    leaves = _leaves(params)
    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        loss = objective.batch_loss(leaves, batch)
        _grad([loss], list(leaves.values()), create_graph=True)
    return sum(seen.values()) / max(batch.size, 1)


def memory_budget(device: torch.device) -> int:
    """A third of the free memory on ``device`` (for deciding whether to cache graphs)."""
    if device.type == "cuda":
        free, _ = torch.cuda.mem_get_info(device)
        return free // 3
    try:
        with open("/proc/meminfo") as f:
            info = {line.split(":")[0]: int(line.split()[1]) * 1024 for line in f}
        return info.get("MemAvailable", 8 * 1024**3) // 3
    except OSError:
        return 4 * 1024**3


def choose_mode(requested: HvpRequest, objective: Objective, per_example: float, examples: int | None = None
                ) -> HvpMode:
    """``cached`` when the data is held in memory and the full graph fits the budget, else ``stream``.

    An explicit mode is taken as given; ``auto`` scales the graph of one example (``per_example``
    bytes, :func:`graph_bytes_per_example`) to the examples a solve takes: ``examples`` (a subset,
    held in memory) or the whole data.
    """
    if requested != "auto":
        return requested
    count = objective.local_examples if examples is None else min(examples, objective.local_examples)
    graph_bytes = per_example * count
    held = objective.batches.kept_in_memory or count < objective.local_examples
    fits = held and graph_bytes <= memory_budget(objective.batches.device)
    return "cached" if fits else "stream"
