"""What a user could pick instead of a grid search, each computed before training from the setup at w0.

* adamlr's own rules, from one call of :func:`adamlr.estimate` each:
  ``search`` (the default recommendation) and ``paper`` (the paper's α of the same call),
  ``paper_exact`` (the paper's procedure, ``exact=True``; also at :data:`EXACT_SEEDS` − 1 more seeds,
  for the spread of its own statistic, the maximum over N weight draws) and ``probe_halving``.
* range tests as the libraries suggest them (not re-implemented): torch-lr-finder's
  ``LRFinder.range_test`` with the suggestion of its ``plot(suggest_lr=True)`` (steepest descent of
  the smoothed loss against log-rate), and Lightning's ``Tuner.lr_find().suggestion()``.
* fixed constants (:data:`CONSTANTS`) and the best constant fitted on the tune half
  (:mod:`lrbench.score`) need no computation here.

Each rule returns a :class:`RuleRate` with the seconds it took; the learning-rate-free optimizers
(:data:`LR_FREE`) set their own rate while training and are scored by their final loss only.
"""

from __future__ import annotations

import contextlib
import io
import logging
import math
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import torch
from torch.utils.data import DataLoader, TensorDataset

import adamlr
from lrbench.training import OptimizerFactory, Prepared

CONSTANTS = (1e-3, 3e-3, 1e-2, 3e-2)
RANGE_TEST_STEPS = 100
EXACT_SEEDS = 5


@dataclass(frozen=True)
class RuleRate:
    """A rule's rate for one setup, what it cost, and what else it found."""

    rate: float
    seconds: float = 0.0
    details: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"rate": self.rate, "seconds": self.seconds, "details": dict(self.details)}

    @staticmethod
    def from_dict(d: dict[str, Any]) -> RuleRate:
        return RuleRate(d["rate"], d["seconds"], dict(d["details"]))


def _horizon(prepared: Prepared) -> dict[str, int]:
    setup = prepared.setup
    return {"epochs": setup.horizon} if setup.unit == "epochs" else {"steps": setup.horizon}


def estimate(prepared: Prepared, **options: Any) -> adamlr.EstimateResult:
    """:func:`adamlr.estimate` on the setup as a user would call it (the training batch size, the horizon)."""
    setup = prepared.setup
    seed = options.pop("seed", prepared.seed)
    return adamlr.estimate(setup.model, setup.data, loss=setup.loss, seed=seed, device="cpu",
                           batch_size=setup.batch_size, **_horizon(prepared), **options)


def adamlr_rules(prepared: Prepared) -> dict[str, RuleRate]:
    """``search`` and ``paper`` (one default call), ``paper_exact`` and ``probe_halving`` (a call each)."""
    out: dict[str, RuleRate] = {}
    default = estimate(prepared)
    facts = {"k_hat": default.k_hat, "initial_loss": default.initial_loss, "samples": len(default.samples),
             "hessian_examples": default.accuracy.hessian_examples if default.accuracy else None,
             "probes": len(default.search.probes) if default.search else 0,
             "probe_steps": default.cost.probe_steps if default.cost else 0,
             "epochs": default.cost.epochs if default.cost else None}
    out["search"] = RuleRate(default.recommended_lr, default.seconds, facts)
    out["paper"] = RuleRate(default.lr, default.seconds, {"k_hat": default.k_hat})
    exact = estimate(prepared, exact=True, rule="paper", probe_steps=0)
    other_seeds = [estimate(prepared, exact=True, rule="paper", probe_steps=0, seed=prepared.seed + i).lr
                   for i in range(1, EXACT_SEEDS)]  # the paper's own statistic varies with the weights drawn
    out["paper_exact"] = RuleRate(exact.lr, exact.seconds, {"k_hat": exact.k_hat, "samples": len(exact.samples),
                                                            "seed_rates": [exact.lr, *other_seeds]})
    halving = estimate(prepared, rule="probe_halving")
    out["probe_halving"] = RuleRate(halving.recommended_lr, halving.seconds,
                                    {"halvings": halving.halving.halvings if halving.halving else None})
    return out


def _loader(prepared: Prepared) -> DataLoader:
    size = prepared.setup.batch_size or prepared.n_examples
    return DataLoader(TensorDataset(prepared.x, prepared.y), batch_size=size, shuffle=size < prepared.n_examples,
                      generator=torch.Generator().manual_seed(prepared.seed))


def torch_lr_finder(prepared: Prepared) -> RuleRate:
    """torch-lr-finder: ``range_test`` at its defaults (1e-7 … 10, 100 steps, exponential) and its suggestion."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from torch_lr_finder import LRFinder

    started = time.perf_counter()
    with torch.random.fork_rng():
        torch.manual_seed(prepared.seed)
        model = prepared.fresh_model()
        optimizer = torch.optim.Adam(model.parameters(), lr=1e-7)
        finder = LRFinder(model, optimizer, prepared.loss_fn, device="cpu")
        with contextlib.redirect_stdout(io.StringIO()):  # it prints its progress and suggestion
            finder.range_test(_loader(prepared), end_lr=10, num_iter=RANGE_TEST_STEPS)
            fig, ax = plt.subplots()
            try:
                _, suggested = finder.plot(ax=ax, suggest_lr=True)
            except Exception as exc:  # too few points to suggest (the loss blew up at once)
                suggested, note = None, f"{type(exc).__name__}: {exc}"
            else:
                note = ""
        plt.close(fig)
    rate = float(suggested) if suggested else float(finder.history["lr"][0])
    return RuleRate(rate, time.perf_counter() - started, {"note": note or "steepest descent of the smoothed loss"})


def lightning_lr_find(prepared: Prepared) -> RuleRate:
    """Lightning: ``Tuner(trainer).lr_find(...)`` at its defaults (1e-8 … 1, 100 steps) and ``.suggestion()``."""
    import lightning as L
    from lightning.pytorch.tuner import Tuner

    class Module(L.LightningModule):
        def __init__(self) -> None:
            super().__init__()
            self.model = prepared.fresh_model()
            self.lr = 1e-3

        def training_step(self, batch: Any, index: int) -> torch.Tensor:
            x, y = batch
            return prepared.loss_fn(self.model(x), y)

        def configure_optimizers(self) -> torch.optim.Optimizer:
            return torch.optim.Adam(self.parameters(), lr=self.lr)

    logging.getLogger("lightning.pytorch").setLevel(logging.ERROR)  # its "Learning rate set to …" lines
    started = time.perf_counter()
    with torch.random.fork_rng(), tempfile.TemporaryDirectory() as scratch:  # lr_find checkpoints to the root dir
        torch.manual_seed(prepared.seed)
        trainer = L.Trainer(accelerator="cpu", devices=1, logger=False, enable_checkpointing=False,
                            enable_progress_bar=False, enable_model_summary=False, max_epochs=RANGE_TEST_STEPS,
                            default_root_dir=scratch)
        found = Tuner(trainer).lr_find(Module(), train_dataloaders=_loader(prepared), num_training=RANGE_TEST_STEPS)
        suggested = found.suggestion() if found is not None else None
    rate = float(suggested) if suggested and math.isfinite(suggested) else 1e-8
    return RuleRate(rate, time.perf_counter() - started, {"note": "" if suggested else "no suggestion: its minimum"})


def _lr_free() -> dict[str, Callable[[], OptimizerFactory | None]]:
    def prodigy() -> OptimizerFactory | None:
        from prodigyopt import Prodigy
        return lambda params: Prodigy(params, lr=1.0)

    def dadapt() -> OptimizerFactory | None:
        from dadaptation import DAdaptAdam
        return lambda params: DAdaptAdam(params, lr=1.0)

    def schedule_free() -> OptimizerFactory | None:
        from schedulefree import AdamWScheduleFree
        return lambda params: AdamWScheduleFree(params)

    return {"prodigy": prodigy, "dadapt_adam": dadapt, "schedule_free": schedule_free}


LR_FREE = _lr_free()
RANGE_TESTS: dict[str, Callable[[Prepared], RuleRate]] = {"torch_lr_finder": torch_lr_finder,
                                                          "lightning_lr_find": lightning_lr_find}
