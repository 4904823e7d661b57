"""Arms × seeds, written as they finish, resumable; then results.json, a CSV and a ranking."""

from __future__ import annotations

import copy
import csv
import io
import json
import statistics
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import torch
from torch import nn

from adamlr.choices import DtypeName
from adamlr.compare.arms import Arm, optional_arms, paper_arms
from adamlr.compare.range_test import lr_range_test
from adamlr.compare.training import RunResult, TrainSpec, train
from adamlr.config import Settings
from adamlr.errors import DataError, UsageError
from adamlr.estimate import estimate
from adamlr.files import write_atomic
from adamlr.loading import describe
from adamlr.losses import resolve_loss
from adamlr.problem import TORCH_DTYPES, build_model, layout_for, load_batches, resolve_device, training_data
from adamlr.progress import Progress
from adamlr.rng import preserved_rng


class CompareProgress:
    """Receives progress events (the CLI draws bars). Methods do nothing here."""

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
    batch_size: int | None = None
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


def _check_same_comparison(cs: CompareSettings, out: Path, force: bool) -> None:
    """Refuse to mix runs of a different comparison into ``out`` (unless --force)."""
    path = out / "config.json"
    current = json.loads(json.dumps(_fingerprint(cs), default=str))
    if path.is_file() and not force:
        saved = json.loads(path.read_text())
        changed = sorted(k for k in current if saved.get(k) != current[k])
        if changed:
            raise UsageError(f"expected {out} to hold the same comparison to resume, found different "
                             f"{', '.join(changed)}; use --force to start again or another --out")
    write_atomic(path, json.dumps(current, indent=1))


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


def _alpha(cs: CompareSettings, seed: int, out: Path, force: bool, progress: CompareProgress
           ) -> tuple[float, dict[str, Any]]:
    """adamlr's α for this seed: --lr, the saved estimate, or a fresh estimate (saved)."""
    if cs.lr is not None:
        return cs.lr, {"lr": cs.lr, "source": "--lr"}
    path = out / f"estimate-seed{seed}.json"
    if path.is_file() and not force:
        saved = json.loads(path.read_text())
        return saved["lr"], saved
    settings = Settings(epochs=cs.epochs, samples=cs.samples, seed=seed, loss=cs.loss, device=cs.device,
                        dtype=cs.dtype, inputs=cs.inputs, targets=cs.targets, output=cs.output, **cs.estimate_options)
    result = estimate(cs.model, cs.data, settings=settings, progress=progress.estimating()).to_dict()
    write_atomic(path, json.dumps(result, indent=1))
    return result["lr"], result


def _copier(module: nn.Module) -> Callable[[], nn.Module]:
    """A factory of fresh copies of a module instance (when the user gave one, not a factory)."""
    return lambda: copy.deepcopy(module)


def run_compare(
    cs: CompareSettings, out: Path, force: bool = False, progress: CompareProgress | None = None
) -> dict[str, Any]:
    """Train every selected arm for every seed; returns the aggregated results (also written to ``out``).

    The caller's global RNG states are restored afterwards (see :func:`adamlr.rng.preserved_rng`).
    """
    with preserved_rng():
        return _run_compare(cs, out, force, progress or CompareProgress())


def _run_compare(cs: CompareSettings, out: Path, force: bool, progress: CompareProgress) -> dict[str, Any]:
    device, dtype = resolve_device(cs.device), TORCH_DTYPES[cs.dtype]
    (out / "arms").mkdir(parents=True, exist_ok=True)
    _check_same_comparison(cs, out, force)
    loss_fn, loss_name = resolve_loss(cs.loss)
    layout = layout_for(cs.loss, cs.inputs, cs.targets)
    data = cs.data if cs.data is not None else training_data(cs.model, cs.loss, cs.seeds[0])
    train_data = load_batches(data, device=device, dtype=dtype, layout=layout)
    test_data = load_batches(cs.test_data, device=device, dtype=dtype, layout=layout) \
        if cs.test_data is not None else None
    if cs.batch_size is not None and train_data.random_access is None:
        raise DataError("expected training data with random access for --batch-size (tensors or a map-style Dataset)")
    runs: list[RunResult] = []
    estimates = {}
    for seed in cs.seeds:
        with preserved_rng():
            module, factory, _ = build_model(cs.model, seed)
        state = {k: v.detach().clone() for k, v in module.state_dict().items()}
        make = factory or _copier(module)
        alpha, estimates[seed] = _alpha(cs, seed, out, force, progress)
        spec = TrainSpec(
            make, state, train_data, test_data, loss_fn, loss_name, cs.epochs, cs.batch_size, device, dtype, cs.output
        )
        arms = paper_arms(alpha, cs.epochs, cs.schedulers, scheduler_set=cs.scheduler_set)
        if cs.arms in ("all", "optional") or "lr_range_test" in cs.arms:
            with preserved_rng():
                suggestion = lr_range_test(make, state, train_data, loss_fn, device, dtype, seed=seed,
                                           loss_name=loss_name, output=cs.output) \
                    if train_data.random_access else None
            arms += optional_arms(suggestion, cs.epochs)
        selected = _select(arms, cs.arms)
        progress.arms_planned(len(selected))
        for arm in selected:
            runs.append(_run_arm(arm, spec, seed, out, force, progress))
    return aggregate(cs, runs, estimates, out, loss_name)


def _run_arm(arm: Arm, spec: TrainSpec, seed: int, out: Path, force: bool, progress: CompareProgress) -> RunResult:
    path = out / "arms" / f"{arm.name}__seed{seed}.json"
    if path.is_file() and not force:
        try:
            saved = RunResult.from_dict(json.loads(path.read_text()))
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
    write_atomic(path, json.dumps(run.to_dict()))
    progress.arm_finished(run, skipped=False)
    return run


def _summary(runs: list[RunResult]) -> dict[str, Any]:
    def stat(values: list[float | None]) -> dict[str, float | None]:
        vals = [v for v in values if v is not None]
        if not vals:
            return {"mean": None, "std": None}
        return {"mean": statistics.fmean(vals), "std": statistics.pstdev(vals) if len(vals) > 1 else 0.0}

    last = [r.records[-1] for r in runs]
    return {
        "final_grad_norm": stat([x.grad_norm for x in last]),
        "min_grad_norm": stat([min(e.grad_norm for e in r.records) for r in runs]),
        "final_train_loss": stat([x.train_loss for x in last]),
        "final_test_accuracy": stat([x.test_accuracy for x in last]),
        "diverged": sum(r.diverged for r in runs),
    }


def aggregate(cs: CompareSettings, runs: list[RunResult], estimates: dict[int, dict[str, Any]], out: Path,
              loss_name: str) -> dict[str, Any]:
    by_arm: dict[str, list[RunResult]] = {}
    for r in runs:
        by_arm.setdefault(r.arm, []).append(r)
    summary = {arm: {"family": rs[0].family, **_summary(rs)} for arm, rs in by_arm.items()}
    results = {
        "schema_version": 1, "model": describe(cs.model), "data": describe(cs.data),
        "test_data": describe(cs.test_data) if cs.test_data is not None else None, "loss": loss_name,
        "epochs": cs.epochs, "batch_size": cs.batch_size, "seeds": list(cs.seeds),
        "adamlr_lr": {str(s): e["lr"] for s, e in estimates.items()},
        "summary": summary, "runs": [r.to_dict() for r in runs],
    }
    write_atomic(out / "results.json", json.dumps(results, indent=1))
    _write_csv(out / "results.csv", runs)
    return results


def _write_csv(path: Path, runs: list[RunResult]) -> None:
    text = io.StringIO()
    w = csv.writer(text)
    w.writerow(["arm", "family", "seed", "epoch", "lr", "grad_norm", "train_loss", "test_loss", "test_accuracy",
                "seconds"])
    for r in runs:
        for e in r.records:
            w.writerow([r.arm, r.family, r.seed, e.epoch, e.lr, e.grad_norm, e.train_loss, e.test_loss,
                        e.test_accuracy, f"{e.seconds:.3f}"])
    write_atomic(path, text.getvalue())
