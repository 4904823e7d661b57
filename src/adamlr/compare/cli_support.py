"""Glue between ``adamlr compare``'s options, its YAML file, presets and the runner."""

from __future__ import annotations

import dataclasses
import inspect
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn, TimeElapsedColumn

from adamlr.compare.plots import figures
from adamlr.compare.presets import preset as load_preset
from adamlr.compare.runner import CompareProgress, CompareSettings, run_compare
from adamlr.compare.schedules import SCHEDULER_SETS
from adamlr.config import FIELD_NAMES, read_yaml
from adamlr.errors import ConfigError
from adamlr.rich_progress import RichProgress

KEYS = ("model", "data", "test_data", "epochs", "batch_size", "seeds", "lr", "arms", "samples", "loss", "device",
        "dtype", "schedulers", "scheduler_set", "estimate", "inputs", "targets", "output")


def _seeds(value: Any) -> tuple[int, ...]:
    if isinstance(value, int) and not isinstance(value, bool):
        return (value,)
    parts = value if isinstance(value, list) else str(value).split(",")
    try:
        return tuple(int(str(p).strip()) for p in parts)
    except ValueError as exc:
        raise ConfigError("invalid settings", [f"seeds: expected integers like 0,1,2, found {value!r}"]) from exc


def _problems(values: dict[str, Any], scheduler_set: str = "default") -> list[str]:
    out = [f"{k}: unknown option (expected one of {', '.join(KEYS)})" for k in values if k not in KEYS]
    if not isinstance(scheduler_set, str) or scheduler_set not in SCHEDULER_SETS:
        out.append(f"scheduler_set: expected one of {', '.join(SCHEDULER_SETS)}, found {scheduler_set!r}")
        scheduler_set = "default"
    schedulers = SCHEDULER_SETS[scheduler_set].schedulers
    for name, opts in (values.get("schedulers") or {}).items():
        if name not in schedulers:
            out.append(f"schedulers.{name}: expected one of {', '.join(schedulers)}")
            continue
        allowed = list(inspect.signature(schedulers[name]).parameters)[3:]
        out += [
            f"schedulers.{name}.{k}: expected one of {', '.join(allowed) or '(none)'}" for k in opts if k not in allowed
        ]
    out += [f"estimate.{k}: unknown estimate setting" for k in (values.get("estimate") or {}) if k not in FIELD_NAMES]
    for key in ("epochs", "batch_size", "samples"):
        v = values.get(key)
        if v is not None and (isinstance(v, bool) or not isinstance(v, int) or v < 1):
            out.append(f"{key}: expected a positive integer, found {v!r}")
    if values.get("lr") is not None and not (isinstance(values["lr"], (int, float)) and values["lr"] > 0):
        out.append(f"lr: expected a positive number, found {values['lr']!r}")
    return out


def settings_list(
    cli: dict[str, Any], preset: str | None, quick: bool, config: Path | None
) -> list[tuple[str, CompareSettings]]:
    """Defaults < preset < YAML < flags, validated (every problem listed)."""
    values = {str(k).replace("-", "_"): v for k, v in (read_yaml(config) if config else {}).items()}
    values.update({k: v for k, v in cli.items() if v is not None})
    runs = load_preset(preset) if preset else [("", None)]
    preset_set = runs[0][1].scheduler_set if runs[0][1] is not None else "default"
    problems = _problems(values, values.get("scheduler_set", preset_set))
    if problems:
        raise ConfigError("invalid compare configuration", problems)
    if "seeds" in values:
        values["seeds"] = _seeds(values["seeds"])
    if "estimate" in values:
        values["estimate_options"] = values.pop("estimate") or {}
    out = []
    for sub, base in runs:
        if base is None:
            optional = ("data",) if values.get("loss") == "training_step" else ()  # its train_dataloader()
            missing = [k for k in ("model", "data") if not values.get(k) and k not in optional]
            if missing:
                raise ConfigError(
                    "missing inputs",
                    [f"{k}: expected --{k.replace('_', '-')} or a --preset, found none" for k in missing],
                )
            cs = CompareSettings(**values)
        else:
            cs = dataclasses.replace(base, **values)
        out.append((sub, cs))
    if quick:
        from adamlr.compare.presets import quick as shrink

        out = [(sub, shrink(cs)) for sub, cs in out]
    return out


class RichCompareProgress(CompareProgress):
    """One bar over arms, one over the current arm's epochs (stderr, terminals only)."""

    def __init__(self, console: Console, enabled: bool) -> None:
        self.console = console
        self.enabled = enabled and console.is_terminal
        self.bars = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                             console=console, transient=True, disable=not self.enabled)
        self.total = self.bars.add_task("arms", total=0)
        self.planned = 0
        self.current: TaskID | None = None

    def arms_planned(self, count: int) -> None:
        self.planned += count
        self.bars.update(self.total, total=self.planned)

    def arm_started(self, arm: str, seed: int, epochs: int) -> None:
        self.current = self.bars.add_task(f"{arm} (seed {seed})", total=epochs + 1)

    def epoch_done(self, arm: str, seed: int, epoch: int) -> None:
        if self.current is not None:
            self.bars.update(self.current, completed=epoch + 1)

    def arm_finished(self, run: Any, skipped: bool) -> None:
        if self.current is not None:
            self.bars.remove_task(self.current)
            self.current = None
        self.bars.advance(self.total)
        if skipped:
            self.bars.console.print(f"{run.arm} (seed {run.seed}): finished earlier, skipped (--force to redo)",
                                    highlight=False)

    def estimating(self) -> RichProgress:
        return RichProgress(self.console, bars=self.bars)


def run_compare_command(cli: dict[str, Any], *, out: Path, preset: str | None, quick: bool, force: bool,
                        config: Path | None, quiet: bool, console: Console) -> dict[str, dict[str, Any]]:
    """Run every sub-comparison; returns {sub-directory: results}."""
    results = {}
    for sub, cs in settings_list(cli, preset, quick, config):
        target = out / sub if sub else out
        progress = RichCompareProgress(console, not quiet)
        with progress.bars:
            res = run_compare(cs, target, force=force, progress=progress)
        res["figures"] = [str(p) for p in figures(res, target)]
        results[sub] = res
    return results
