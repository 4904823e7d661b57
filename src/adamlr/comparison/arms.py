"""The arms of a comparison: one small object each; adding an arm is adding one entry.

Every arm trains Adam with PyTorch's defaults (betas 0.9/0.999, eps 1e-8, no weight decay)
unless it is one of the optional optimizers, which come from their own packages when
installed (never a hard dependency).
"""

from __future__ import annotations

import importlib.util
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import torch

from adamlr.comparison.schedules import SCHEDULER_SETS, schedule_values

BASE_LR = 1e-3
CONSTANT_LRS = (1e-2, 1e-3, 1e-4, 1e-5)


@dataclass
class Arm:
    """Adam with a step size per epoch (``lrs``), or another optimizer via ``build``.

    Attributes:
        name: short id, used in file names and tables.
        family: ``adamlr``, ``scheduler``, ``constant`` or ``optional``.
        lrs: the step size of each epoch (None when the optimizer sets its own).
        build: optimizer factory; Adam by default.
    """

    name: str
    family: str
    lrs: list[float] | None = None
    build: Callable[[Iterable[torch.nn.Parameter]], torch.optim.Optimizer] | None = None
    options: dict[str, Any] = field(default_factory=dict)

    def optimizer(self, params: list[torch.nn.Parameter]) -> torch.optim.Optimizer:
        if self.build is not None:
            return self.build(params)
        return torch.optim.Adam(params, lr=self.lrs[0] if self.lrs else BASE_LR)

    def set_epoch(self, optimizer: torch.optim.Optimizer, epoch: int) -> float | None:
        """Set this epoch's step size; return the step size in effect (for the record)."""
        if self.lrs is not None:
            for group in optimizer.param_groups:
                group["lr"] = self.lrs[epoch]
            return self.lrs[epoch]
        group = optimizer.param_groups[0]
        return float(group.get("d", 1.0) * group["lr"]) if "d" in group else float(group["lr"])

    def before_eval(self, optimizer: torch.optim.Optimizer) -> None:
        if hasattr(optimizer, "eval") and callable(optimizer.eval):  # schedule-free: evaluate at x, not y
            optimizer.eval()

    def after_eval(self, optimizer: torch.optim.Optimizer) -> None:
        if hasattr(optimizer, "train") and callable(optimizer.train):
            optimizer.train()


def installed(module: str) -> bool:
    return importlib.util.find_spec(module) is not None


def _dadapt(params: Iterable[torch.nn.Parameter]) -> torch.optim.Optimizer:
    import dadaptation

    optimizer: torch.optim.Optimizer = dadaptation.DAdaptAdam(params, lr=1.0)
    return optimizer


def _prodigy(params: Iterable[torch.nn.Parameter]) -> torch.optim.Optimizer:
    import prodigyopt

    optimizer: torch.optim.Optimizer = prodigyopt.Prodigy(params, lr=1.0)
    return optimizer


def _schedulefree(params: Iterable[torch.nn.Parameter]) -> torch.optim.Optimizer:
    import schedulefree

    optimizer: torch.optim.Optimizer = schedulefree.AdamWScheduleFree(params, lr=BASE_LR, weight_decay=0.0)
    return optimizer


OPTIONAL = {
    "dadapt_adam": ("dadaptation", _dadapt),
    "prodigy": ("prodigyopt", _prodigy),
    "schedulefree_adamw": ("schedulefree", _schedulefree),
}


def paper_arms(alpha: float, T: int, scheduler_options: dict[str, dict[str, Any]] | None = None,
               base_lr: float | None = None, scheduler_set: str = "default", paper_alpha: float | None = None
               ) -> list[Arm]:
    """adamlr's recommended constant rate, the paper's α (when it differs), the schedulers of ``scheduler_set``
    from ``base_lr``, and the four constants.

    ``base_lr`` defaults to the set's own: 1e-3 for the seven default schedulers, 1e-2 for the
    authors' eight (``paper-code``).
    """
    opts = scheduler_options or {}
    chosen = SCHEDULER_SETS[scheduler_set]
    start = chosen.base_lr if base_lr is None else base_lr
    arms = [Arm("adamlr", "adamlr", [alpha] * T)]
    if paper_alpha is not None and paper_alpha != alpha:
        arms.append(Arm("paper_alpha", "adamlr", [paper_alpha] * T))
    arms += [Arm(name, "scheduler", schedule_values(name, T, start, opts.get(name), scheduler_set),
                 options=opts.get(name, {})) for name in chosen.schedulers]
    arms += [Arm(f"const_{lr:g}", "constant", [lr] * T) for lr in CONSTANT_LRS]
    return arms


def optional_arms(range_test_lr: float | None, T: int) -> list[Arm]:
    """Optional arms: the LR range test's suggestion (when computed) and installed optimizers."""
    arms = [Arm("lr_range_test", "optional", [range_test_lr] * T)] if range_test_lr else []
    arms += [Arm(name, "optional", None, build) for name, (module, build) in OPTIONAL.items() if installed(module)]
    return arms
