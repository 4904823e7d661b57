"""Settings of an estimate: defaults < YAML file < command line, validated in one place.

Every problem is collected before raising, so a user fixes a config file in one go.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

import yaml

from adamlr.choices import (
    DEVICE_NAMES,
    DTYPE_NAMES,
    HVP_REQUESTS,
    METHODS,
    NORM_MODES,
    PARALLEL_MODES,
    RULE_NAMES,
    SUBSET_CHOICES,
    WEIGHT_DISTRIBUTIONS,
    DtypeName,
    HorizonUnit,
    HvpRequest,
    Method,
    NormMode,
    Parallel,
    Rule,
    SubsetChoice,
    WeightDistribution,
)
from adamlr.errors import ConfigError, did_you_mean

DEFAULT_SAMPLES = 10
EXACT_TOL = 1e-3
FAST_TOL = 0.2


@dataclass(frozen=True)
class Settings:
    """How to run an estimate. See ``adamlr estimate --help`` (or docs/cli.md) for each field.

    ``samples``, ``tol`` and ``subset`` left at None/``auto`` are sized to the answer (the rate
    matters to about 1.5×): an adaptive number of samples up to 10, a solver tolerance of
    ``FAST_TOL`` and a random subset of the data grown until ‖H‖ settles. ``exact`` runs the
    paper's procedure instead: 10 samples, the whole data, tolerance ``EXACT_TOL``, full-batch probes.
    """

    epochs: int | None = None
    steps: int | None = None
    loss: Any = "cross_entropy"
    samples: int | None = None
    weights: WeightDistribution = "gaussian"
    scale: float = 1.0
    method: Method = "lanczos"
    tol: float | None = None
    max_iter: int = 100
    seed: int = 0
    device: str = "auto"
    dtype: DtypeName = "float32"
    loss_floor: float = 0.0
    hvp: HvpRequest = "auto"
    chunk_size: int | None = None
    batch_size: int | None = None
    batches_per_sample: int = 1
    norm_mode: NormMode = "train"
    probe_steps: int | None = None
    rule: Rule = "search"
    strict: bool = False
    exact: bool = False
    subset: int | SubsetChoice = "auto"
    stability: bool = False
    parallel: Parallel = "data"
    inputs: Any = None
    targets: Any = None
    output: str | None = None

    def __post_init__(self) -> None:
        invalid = _invalid_fields(self)
        if invalid:
            raise ConfigError("invalid settings", invalid)

    @property
    def sample_count(self) -> int:
        """N, the most weight samples (``samples``, else 10)."""
        return self.samples if self.samples is not None else DEFAULT_SAMPLES

    @property
    def solver_tol(self) -> float:
        """The eigen-solver's relative tolerance: ``tol``, else ``EXACT_TOL`` with ``exact``, else ``FAST_TOL``."""
        return self.tol if self.tol is not None else (EXACT_TOL if self.exact else FAST_TOL)

    @property
    def data_subset(self) -> int | SubsetChoice:
        """``all`` with ``exact``, else ``subset``."""
        return "all" if self.exact else self.subset

    @property
    def horizon(self) -> tuple[int, HorizonUnit]:
        """T and its unit: ``(epochs, "epochs")`` or ``(steps, "steps")`` (validation ensures one is set)."""
        if self.epochs is not None:
            return self.epochs, "epochs"
        assert self.steps is not None
        return self.steps, "steps"

    def to_dict(self) -> dict[str, Any]:
        out = {f.name: getattr(self, f.name) for f in fields(self)}
        if callable(out["loss"]):
            out["loss"] = getattr(out["loss"], "__name__", "custom")
        return out


FIELD_NAMES = tuple(f.name for f in fields(Settings))
INT_FIELDS = ("epochs", "steps", "samples", "max_iter", "seed", "chunk_size", "batch_size", "batches_per_sample",
              "probe_steps")
OPTIONAL_FIELDS = ("epochs", "steps", "samples", "tol", "chunk_size", "batch_size", "probe_steps")
FLOAT_FIELDS = ("scale", "tol", "loss_floor")
CHOICES: dict[str, tuple[str, ...]] = {
    "weights": WEIGHT_DISTRIBUTIONS,
    "method": METHODS,
    "device": DEVICE_NAMES,
    "dtype": DTYPE_NAMES,
    "hvp": HVP_REQUESTS,
    "norm_mode": NORM_MODES,
    "rule": RULE_NAMES,
    "parallel": PARALLEL_MODES,
}


def _type_mismatch(name: str, value: Any) -> str | None:
    if value is None and name in OPTIONAL_FIELDS:
        return None
    if name in INT_FIELDS and (isinstance(value, bool) or not isinstance(value, int)):
        return f"{name}: expected an integer, found {type(value).__name__} {value!r}"
    if name in FLOAT_FIELDS and (isinstance(value, bool) or not isinstance(value, (int, float))):
        return f"{name}: expected a number, found {type(value).__name__} {value!r}"
    if name in ("strict", "exact", "stability") and not isinstance(value, bool):
        return f"{name}: expected true or false, found {type(value).__name__} {value!r}"
    if name == "subset" and not (value in SUBSET_CHOICES or (isinstance(value, int) and not isinstance(value, bool))):
        return f"subset: expected auto, all or a number of examples, found {type(value).__name__} {value!r}"
    if name in ("inputs", "targets", "output") and value is not None:
        return _layout_mismatch(name, value)
    if name == "loss" and not (isinstance(value, str) or callable(value)):
        return f"loss: expected a loss name or import path, found {type(value).__name__} {value!r}"
    if name in CHOICES:
        ok = isinstance(value, str) and (value in CHOICES[name] or (name == "device" and value.startswith("cuda:")))
        if not ok:
            return f"{name}: expected one of {', '.join(CHOICES[name])}, found {value!r}"
    return None


def _layout_mismatch(name: str, value: Any) -> str | None:
    """``inputs``: keys or indices (a comma-separated string or a list); ``targets``: one; ``output``: a key."""
    def key(v: Any) -> bool:
        return (isinstance(v, str) and bool(v.strip())) or (isinstance(v, int) and not isinstance(v, bool) and v >= 0)
    if name == "inputs" and isinstance(value, list):
        ok = bool(value) and all(key(v) for v in value)
    else:
        ok = isinstance(value, str) and bool(value.strip()) if name == "output" else key(value)
    what = {"inputs": "batch keys or indices, comma-separated (e.g. input_ids,attention_mask or 0,2)",
            "targets": "one batch key or index (e.g. labels or 1)",
            "output": "a key of the model's output (e.g. logits)"}
    return None if ok else f"{name}: expected {what[name]}, found {type(value).__name__} {value!r}"


def _out_of_range(s: Settings) -> list[str]:
    out = []
    if s.epochs is not None and s.steps is not None:
        out.append(f"epochs/steps: expected exactly one of them, found both (epochs={s.epochs}, steps={s.steps})")
    elif s.epochs is None and s.steps is None:
        out.append("epochs/steps: expected exactly one of them (the training horizon T), found neither")
    for name in ("epochs", "steps"):
        value = getattr(s, name)
        if value is not None and value <= 0:
            out.append(f"{name}: expected T > 0, found {value}")
    checks = [
        ("samples", s.samples is None or s.samples >= 1, "at least 1"),
        ("subset", not isinstance(s.subset, int) or s.subset >= 1, "auto, all or at least 1 example"),
        ("max_iter", s.max_iter >= 1, "at least 1"),
        ("seed", s.seed >= 0, "a non-negative integer"),
        ("scale", s.scale > 0 and math.isfinite(s.scale), "a positive finite number"),
        ("tol", s.tol is None or 0 < s.tol < 1, "a relative tolerance in (0, 1)"),
        ("loss_floor", math.isfinite(s.loss_floor), "a finite number"),
        ("chunk_size", s.chunk_size is None or s.chunk_size >= 1, "at least 1"),
        ("batch_size", s.batch_size is None or s.batch_size >= 1, "at least 1"),
        ("batches_per_sample", s.batches_per_sample >= 1, "at least 1"),
        ("probe_steps", s.probe_steps is None or s.probe_steps >= 0, "0 (no probe) or more Adam steps"),
    ]
    out += [f"{name}: expected {what}, found {getattr(s, name)!r}" for name, ok, what in checks if not ok]
    if s.exact and s.subset != "auto":
        out.append("exact/subset: expected at most one of them (exact takes the whole data), found "
                   f"subset={s.subset!r}")
    return out


def _invalid_fields(s: Settings) -> list[str]:
    """One line per invalid field: wrong types first; ranges only once the types are right."""
    typed = [p for name in FIELD_NAMES if (p := _type_mismatch(name, getattr(s, name)))]
    return typed or _out_of_range(s)


def parse_yaml_file(path: str | Path, parse: Callable[[str], Any] = yaml.safe_load) -> tuple[str, Any]:
    """Read ``path`` and parse it with ``parse``; returns (text, parsed).

    Raises:
        ConfigError: the file is missing, unreadable or not YAML (with the line, when known).
    """
    p = Path(path)
    try:
        text = p.read_text()
    except OSError as exc:
        raise ConfigError(
            f"expected a readable YAML file at {str(p)!r}, found {type(exc).__name__}: {exc.strerror or exc}"
        ) from exc
    try:
        return text, parse(text)
    except yaml.YAMLError as exc:
        where = getattr(exc, "problem_mark", None)
        line = f" at line {where.line + 1}" if where is not None else ""
        raise ConfigError(f"expected valid YAML in {str(p)!r}, found a syntax error{line}") from exc


def read_yaml(path: str | Path) -> dict[str, Any]:
    """Read a YAML mapping with ``yaml.safe_load``.

    Raises:
        ConfigError: the file is missing, unreadable, not YAML, or not a mapping.
    """
    p = Path(path)
    _, data = parse_yaml_file(p)
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"expected a mapping of option names to values in {str(p)!r}, found {type(data).__name__}")
    return data


def merge_settings(
    file_values: dict[str, Any], cli_values: dict[str, Any], extra_keys: tuple[str, ...] = ()
) -> tuple[Settings, dict[str, Any]]:
    """Combine defaults < file < command line into validated :class:`Settings`.

    Args:
        file_values: the YAML mapping (dashes in keys are accepted as underscores).
        cli_values: options given on the command line (``None`` means not given).
        extra_keys: keys allowed besides the settings (e.g. ``model``, ``data``), returned apart.

    Returns:
        The settings and the extra values (command line over file).

    Raises:
        ConfigError: unknown keys, wrong types or out-of-range values, every one listed.
    """
    normalized = {str(k).replace("-", "_"): v for k, v in file_values.items()}
    unknown = [k for k in normalized if k not in FIELD_NAMES and k not in extra_keys]
    merged = {k: v for k, v in normalized.items() if k in FIELD_NAMES}
    extras = {k: v for k, v in normalized.items() if k in extra_keys}
    if cli_values.get("epochs") is not None or cli_values.get("steps") is not None:
        merged.pop("epochs", None)  # a horizon on the command line replaces the file's
        merged.pop("steps", None)
    for key, value in cli_values.items():
        if value is not None:
            (extras if key in extra_keys else merged)[key] = value
    invalid = [f"{k}: unknown option (expected one of {', '.join(FIELD_NAMES + extra_keys)})"
               f"{did_you_mean(k, FIELD_NAMES + extra_keys)}" for k in unknown]
    try:
        settings = Settings(**merged)
    except ConfigError as exc:
        raise ConfigError("invalid configuration", invalid + exc.problems) from None
    if invalid:
        raise ConfigError("invalid configuration", invalid)
    return settings, extras


def settings_and_inputs(file_values: dict[str, Any], options: dict[str, Any]) -> tuple[Settings, dict[str, Any]]:
    """:func:`merge_settings` with ``model`` and ``data`` required; returns (settings, {model, data}).

    Raises:
        ConfigError: as :func:`merge_settings`, or model/data given neither as options nor in the file.
    """
    settings, extras = merge_settings(file_values, options, extra_keys=("model", "data"))
    optional = ("data",) if settings.loss == "training_step" else ()  # a LightningModule's train_dataloader()
    missing = [k for k in ("model", "data") if (extras.get(k) is None or extras.get(k) == "") and k not in optional]
    if missing:
        raise ConfigError(
            "missing inputs", [f"{k}: expected --{k} or '{k}:' in the config file, found none" for k in missing]
        )
    return settings, extras
