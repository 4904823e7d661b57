"""A comparison's settings: defaults < preset < YAML < options, validated with every problem listed."""

from __future__ import annotations

import dataclasses
import inspect
from pathlib import Path
from typing import Any

from adamlr.comparison.presets import preset as load_preset
from adamlr.comparison.presets import quick as shrink
from adamlr.comparison.runner import CompareSettings
from adamlr.comparison.schedules import SCHEDULER_SETS
from adamlr.config import FIELD_NAMES, MAX_SEED, field_problem, read_yaml, unknown_keys
from adamlr.errors import ConfigError, did_you_mean, name_of, shorten

SHARED = ("loss", "device", "dtype", "inputs", "targets", "output")  # checked as estimate checks them
KEYS = ("model", "data", "test_data", "epochs", "batch_size", "seeds", "lr", "arms", "samples", "loss", "device",
        "dtype", "schedulers", "scheduler_set", "estimate", "inputs", "targets", "output")


def _seeds(value: Any) -> tuple[int, ...]:
    if isinstance(value, int) and not isinstance(value, bool):
        return (value,)
    parts = value if isinstance(value, (list, tuple)) else str(value).split(",")
    try:
        seeds = tuple(int(str(p).strip()) for p in parts)
    except ValueError as exc:
        raise ConfigError("invalid settings", [f"seeds: expected integers like 0,1,2, found {shorten(value)}"]) from exc
    if not seeds or not all(0 <= s < MAX_SEED for s in seeds):
        raise ConfigError("invalid settings", [f"seeds: expected non-negative integers below 2**64, found "
                                               f"{shorten(value)}"])
    return seeds


def _batch_size(value: Any) -> Any:
    """``"64"`` → 64 (as the command line gives it); ``"full"`` and anything else as it is (validated later)."""
    if isinstance(value, str) and value.strip().isdigit():
        return int(value)
    return value


def _scheduler_problems(values: dict[str, Any], scheduler_set: str) -> list[str]:
    out = []
    if not isinstance(scheduler_set, str) or scheduler_set not in SCHEDULER_SETS:
        out.append(f"scheduler_set: expected one of {', '.join(SCHEDULER_SETS)}, found {shorten(scheduler_set)}")
        scheduler_set = "default"
    schedulers = SCHEDULER_SETS[scheduler_set].schedulers
    given = values.get("schedulers") or {}
    if not isinstance(given, dict):
        return [*out, f"schedulers: expected a mapping of scheduler names to options, found {type(given).__name__}"]
    for name, opts in given.items():
        if name not in schedulers:
            out.append(f"schedulers.{name_of(name)}: expected one of {', '.join(schedulers)}"
                       f"{did_you_mean(name, schedulers)}")
            continue
        allowed = list(inspect.signature(schedulers[name]).parameters)[3:]
        if not isinstance(opts, dict):
            out.append(f"schedulers.{name}: expected a mapping of options, found {type(opts).__name__}")
            continue
        out += [f"schedulers.{name}.{name_of(k)}: expected one of {', '.join(allowed) or '(none)'}"
                f"{did_you_mean(k, allowed)}" for k in opts if k not in allowed]
    return out


def _problems(values: dict[str, Any], scheduler_set: str = "default") -> list[str]:
    out = unknown_keys([k for k in values if k not in KEYS], KEYS)
    out += _scheduler_problems(values, scheduler_set)
    settings = values.get("estimate") or {}
    if isinstance(settings, dict):
        out += [f"estimate.{name_of(k)}: unknown estimate setting{did_you_mean(k, FIELD_NAMES)}"
                for k in settings if k not in FIELD_NAMES]
    else:
        out.append(f"estimate: expected a mapping of estimate settings, found {type(settings).__name__}")
    out += [p for key in SHARED if key in values and (p := field_problem(key, values[key]))]
    if not isinstance(values.get("arms", ""), str):
        out.append(f"arms: expected all, paper, schedulers, constants, optional or arm names, comma-separated, found "
                   f"{shorten(values['arms'])}")
    for key in ("epochs", "batch_size", "samples"):
        v = values.get(key)
        if key == "batch_size" and v == "full":
            continue
        if v is not None and (isinstance(v, bool) or not isinstance(v, int) or v < 1):
            extra = " or 'full'" if key == "batch_size" else ""
            out.append(f"{key}: expected a positive integer{extra}, found {shorten(v)}")
    if values.get("lr") is not None and not (isinstance(values["lr"], (int, float)) and values["lr"] > 0):
        out.append(f"lr: expected a positive number, found {shorten(values['lr'])}")
    return out


def settings_list(
    options: dict[str, Any], preset: str | None, quick: bool, config: str | Path | None
) -> list[tuple[str, CompareSettings]]:
    """The (sub-directory, settings) of each comparison to run: defaults < preset < YAML < ``options``.

    Raises:
        ConfigError: unknown keys, wrong values or missing model/data, every problem listed.
    """
    values = {str(k).replace("-", "_"): v for k, v in (read_yaml(config) if config else {}).items()}
    values.update({k: v for k, v in options.items() if v is not None})
    if "batch_size" in values:
        values["batch_size"] = _batch_size(values["batch_size"])
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
            missing = [k for k in ("model", "data") if values.get(k) is None and k not in optional]
            if missing:
                raise ConfigError(
                    "missing inputs",
                    [f"{k}: expected --{k.replace('_', '-')} or a --preset, found none" for k in missing],
                )
            cs = CompareSettings(**values)
        else:
            cs = dataclasses.replace(base, **values)
        out.append((sub, shrink(cs, keep=values) if quick else cs))  # explicit options win over --quick
    return out
