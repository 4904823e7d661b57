"""Arms × seeds, written as they finish, resumable; then results.json, a CSV and a ranking.

How each arm trains (``batching`` in the results, stated in the report's header):
the data's own batches when it comes in several (a DataLoader, an iterable of batches),
each epoch one pass over them; seeded shuffled mini-batches with ``batch_size=B``; full
batch for tensors and Datasets, or with ``batch_size="full"``.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import torch
from torch import nn

from adamlr.choices import Batching, DtypeName
from adamlr.comparison.arms import Arm, optional_arms, paper_arms
from adamlr.comparison.range_test import lr_range_test
from adamlr.comparison.store import Store
from adamlr.comparison.summary import aggregate
from adamlr.comparison.training import RunResult, TrainSpec, train
from adamlr.config import Settings
from adamlr.data import BatchSource, as_batches
from adamlr.errors import DataError, UsageError
from adamlr.estimation import estimate
from adamlr.loading import describe, load_loss, load_object
from adamlr.problem import TORCH_DTYPES, build_model, layout_for, load_batches, resolve_device, training_data
from adamlr.progress import Progress
from adamlr.rng import preserved_rng


class CompareProgress:
    """Receives progress events (the CLI draws bars). Methods do nothing here."""

    def warning(self, message: str) -> None: ...

    def arms_planned(self, count: int) -> None: ...

    def arm_started(self, arm: str, seed: int, epochs: int) -> None: ...

    def epoch_done(self, arm: str, seed: int, epoch: int) -> None: ...

    def arm_finished(self, run: RunResult, skipped: bool) -> None: ...

    def estimating(self) -> Progress:
        return Progress()


@dataclass
class CompareSettings:
    """Everything that defines a comparison (what a rerun with the same --out must match)."""

    model: Any
    data: Any = None  # None: a LightningModule's train_dataloader() (with loss="training_step")
    test_data: Any = None
    epochs: int = 100
    batch_size: int | Literal["full"] | None = None
    seeds: tuple[int, ...] = (0,)
    loss: Any = "cross_entropy"
    lr: float | None = None
    arms: str = "all"
    samples: int = 10
    device: str = "auto"
    dtype: DtypeName = "float32"
    schedulers: dict[str, dict[str, Any]] = field(default_factory=dict)
    scheduler_set: Literal["default", "paper-code"] = "default"
    estimate_options: dict[str, Any] = field(default_factory=dict)
    inputs: Any = None
    targets: Any = None
    output: str | None = None


def _fingerprint(cs: CompareSettings) -> dict[str, Any]:
    keys = ("model", "data", "test_data", "epochs", "batch_size", "loss", "lr", "samples", "dtype", "schedulers",
            "estimate_options")
    fields = {k: describe(getattr(cs, k)) if k in ("model", "data", "test_data", "loss") and getattr(cs, k) is not None
              else getattr(cs, k) for k in keys}
    if cs.scheduler_set != "default":  # only when set, so config.json of earlier runs still matches
        fields["scheduler_set"] = cs.scheduler_set
    fields.update({k: getattr(cs, k) for k in ("inputs", "targets", "output") if getattr(cs, k) is not None})
    return fields


def _select(arms: list[Arm], spec: str) -> list[Arm]:
    if spec == "all":
        return arms
    groups = {"paper": {"adamlr", "scheduler", "constant"}, "schedulers": {"adamlr", "scheduler"},
              "constants": {"adamlr", "constant"}, "optional": {"adamlr", "optional"}}
    wanted = set(spec.split(","))
    families = set().union(*(groups[w] for w in wanted if w in groups))
    names = {w for w in wanted if w not in groups}
    unknown = names - {a.name for a in arms}
    if unknown:
        raise UsageError(f"expected arm names or groups (all, paper, schedulers, constants, optional, "
                         f"{', '.join(a.name for a in arms)}), found {', '.join(sorted(unknown))}")
    return [a for a in arms if a.family in families or a.name in names]


def _is_rate(value: Any) -> bool:
    """A saved learning rate worth reusing: a positive finite number (a damaged file's value is not)."""
    return isinstance(value, (int, float)) and not isinstance(value, bool) and 0 < value < math.inf


def _alpha(cs: CompareSettings, seed: int, store: Store, force: bool, progress: CompareProgress
           ) -> tuple[float, float, dict[str, Any]]:
    """adamlr's recommended rate and the paper's α for this seed: --lr (both), the saved estimate, or a fresh one."""
    if cs.lr is not None:
        return cs.lr, cs.lr, {"lr": cs.lr, "source": "--lr"}
    name = f"estimate-seed{seed}.json"
    saved = None if force else store.read_json(name)
    if isinstance(saved, dict) and _is_rate(saved.get("lr")):  # anything else there is estimated again
        recommended = saved["recommended_lr"] if _is_rate(saved.get("recommended_lr")) else saved["lr"]
        return float(recommended), float(saved["lr"]), saved
    settings = Settings(epochs=cs.epochs, samples=cs.samples, seed=seed, loss=cs.loss, device=cs.device,
                        dtype=cs.dtype, inputs=cs.inputs, targets=cs.targets, output=cs.output, **cs.estimate_options)
    result = estimate(cs.model, cs.data, settings=settings, progress=progress.estimating()).to_dict()
    store.write_json(name, result)
    return result["recommended_lr"], result["lr"], result


def _range_suggestion(spec: TrainSpec, seed: int, store: Store, force: bool) -> float | None:
    """The LR range test's rate for this seed: the saved one, or a fresh test (saved); None without random access."""
    name = f"range-test-seed{seed}.json"
    saved = None if force else store.read_json(name)
    if isinstance(saved, dict) and _is_rate(saved.get("lr")):
        return float(saved["lr"])
    if spec.train.random_access is None:
        return None
    with preserved_rng():
        suggestion = lr_range_test(spec.make_model, spec.initial_state, spec.train, spec.loss_fn, spec.device,
                                   spec.dtype, seed=seed, loss_name=spec.loss_name, output=spec.output)
    store.write_json(name, {"lr": suggestion})
    return suggestion


def _copier(module: nn.Module) -> Callable[[], nn.Module]:
    """A factory of fresh copies of a module instance (when the user gave one, not a factory)."""
    return lambda: copy.deepcopy(module)


def batching_of(cs: CompareSettings, train_data: BatchSource) -> tuple[Batching, str]:
    """How the arms train on this data, and how to say so in the report's header."""
    if isinstance(cs.batch_size, int):
        return "mini-batch", f"shuffled mini-batches of {cs.batch_size}"
    if cs.batch_size != "full" and train_data.n_batches > 1:
        return "loader", f"the data's own {train_data.n_batches} batches per epoch"
    return "full", "full batch"


def run_compare(
    cs: CompareSettings, out: Path | None, force: bool = False, progress: CompareProgress | None = None
) -> dict[str, Any]:
    """Train every selected arm for every seed; returns the aggregated results (also written to ``out``).

    With ``out=None`` nothing is written (and nothing resumed). The caller's global RNG states
    are restored afterwards (see :func:`adamlr.rng.preserved_rng`).
    """
    with preserved_rng():
        return _run_compare(cs, Store(out), force, progress or CompareProgress())


def _sources(cs: CompareSettings, device: torch.device, dtype: torch.dtype
             ) -> tuple[BatchSource, BatchSource | None, Batching, str]:
    """Training data (for metrics), the stream the arms train on in ``loader`` batching, and the batching."""
    data = cs.data if cs.data is not None else training_data(cs.model, cs.loss, cs.seeds[0])
    obj = load_object(data) if isinstance(data, str) else data
    layout = layout_for(cs.loss, cs.inputs, cs.targets)
    train_data = as_batches(obj, name=describe(data), device=device, dtype=dtype, layout=layout)
    if isinstance(cs.batch_size, int) and train_data.random_access is None:
        raise DataError("expected training data with random access for --batch-size (tensors or a map-style Dataset)")
    batching, text = batching_of(cs, train_data)
    stream = None
    if batching == "loader":  # through the user's loader each epoch, so its shuffling is kept
        stream = train_data if not train_data.kept_in_memory else as_batches(
            obj, name=describe(data), device=device, dtype=dtype, keep_bytes=0, layout=layout)
    return train_data, stream, batching, text


def _run_compare(cs: CompareSettings, store: Store, force: bool, progress: CompareProgress) -> dict[str, Any]:
    device, dtype = resolve_device(cs.device), TORCH_DTYPES[cs.dtype]
    store.check_same(_fingerprint(cs), force)
    loss_fn, loss_name = load_loss(cs.loss)
    train_data, stream, batching, text = _sources(cs, device, dtype)
    test_data = load_batches(cs.test_data, device=device, dtype=dtype, layout=train_data.layout) \
        if cs.test_data is not None else None
    runs: list[RunResult] = []
    estimates = {}
    recommended_lrs: dict[int, float] = {}
    for seed in cs.seeds:
        with preserved_rng():
            module, factory, _ = build_model(cs.model, seed)
        state = {k: v.detach().clone() for k, v in module.state_dict().items()}
        make = factory or _copier(module)
        recommended, alpha, estimates[seed] = _alpha(cs, seed, store, force, progress)
        recommended_lrs[seed] = recommended
        spec = TrainSpec(make, state, train_data, test_data, loss_fn, loss_name, cs.epochs,
                         cs.batch_size if isinstance(cs.batch_size, int) else None, device, dtype, batching, stream,
                         cs.output)
        arms = paper_arms(recommended, cs.epochs, cs.schedulers, scheduler_set=cs.scheduler_set, paper_alpha=alpha)
        if cs.arms in ("all", "optional") or "lr_range_test" in cs.arms:
            arms += optional_arms(_range_suggestion(spec, seed, store, force), cs.epochs)
        selected = _select(arms, cs.arms)
        progress.arms_planned(len(selected))
        for arm in selected:
            runs.append(_run_arm(arm, spec, seed, store, force, progress))
    header = {"model": describe(cs.model), "data": describe(cs.data) if cs.data is not None else train_data.description,
              "test_data": describe(cs.test_data) if cs.test_data is not None else None, "loss": loss_name,
              "epochs": cs.epochs, "batch_size": cs.batch_size, "batching": text, "seeds": list(cs.seeds),
              "adamlr_lr": {str(s): e["lr"] for s, e in estimates.items()},
              "adamlr_recommended_lr": {str(s): rate for s, rate in recommended_lrs.items()},
              "adamlr_rule": "--lr" if cs.lr is not None else next(
                  (str(e["rule"]) for e in estimates.values() if isinstance(e.get("rule"), str)), "search")}
    return aggregate(header, runs, store)


def _run_arm(arm: Arm, spec: TrainSpec, seed: int, store: Store, force: bool, progress: CompareProgress) -> RunResult:
    name = f"arms/{arm.name}__seed{seed}.json"
    saved_dict = None if force else store.read_json(name)
    if saved_dict is not None:
        try:
            saved = RunResult.from_dict(saved_dict)
            same_lrs = arm.lrs is None or [e.lr for e in saved.records[:-1]] == arm.lrs[: len(saved.records) - 1]
            if same_lrs and (len(saved.records) == spec.epochs + 1 or saved.diverged):
                progress.arm_finished(saved, skipped=True)
                return saved
        except (ValueError, KeyError, TypeError):
            pass  # unreadable: train again
    progress.arm_started(arm.name, seed, spec.epochs)
    with preserved_rng():
        torch.manual_seed(seed)
        run = train(arm, spec, seed, on_epoch=lambda e: progress.epoch_done(arm.name, seed, e))
    store.write_json(name, run.to_dict(), indent=None)
    progress.arm_finished(run, skipped=False)
    return run
