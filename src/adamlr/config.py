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
    LOSS_NAMES,
    METHODS,
    NORM_MODES,
    OWN_LOSSES,
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
from adamlr.errors import ConfigError, did_you_mean, name_of, not_one_of, one_line, shorten
from adamlr.losses import unknown_loss

MAX_SEED = 2**64  # torch.manual_seed's range

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


def field_problem(name: str, value: Any) -> str | None:
    """What is wrong with ``value`` for the setting ``name`` (its type or choice; ranges aside), or None."""
    if value is None and name in OPTIONAL_FIELDS:
        return None
    if name in INT_FIELDS and (isinstance(value, bool) or not isinstance(value, int)):
        return f"{name}: expected an integer, found {type(value).__name__} {shorten(value)}"
    if name in FLOAT_FIELDS and (isinstance(value, bool) or not isinstance(value, (int, float))):
        return f"{name}: expected a number, found {type(value).__name__} {shorten(value)}"
    if name in ("strict", "exact", "stability") and not isinstance(value, bool):
        return f"{name}: expected true or false, found {type(value).__name__} {shorten(value)}"
    if name == "subset" and not (value in SUBSET_CHOICES or (isinstance(value, int) and not isinstance(value, bool))):
        return f"subset: expected auto, all or a number of examples, found {type(value).__name__} {shorten(value)}"
    if name in ("inputs", "targets", "output") and value is not None:
        return _layout_mismatch(name, value)
    if name == "loss" and not (isinstance(value, str) or callable(value)):
        return f"loss: expected a loss name or import path, found {type(value).__name__} {shorten(value)}"
    if name == "loss" and isinstance(value, str) and ":" not in value and value not in LOSS_NAMES + OWN_LOSSES:
        return unknown_loss(value)
    if name in CHOICES:
        ok = isinstance(value, str) and (value in CHOICES[name] or (name == "device" and value.startswith("cuda:")))
        if not ok:
            return f"{name}: {not_one_of(value, CHOICES[name])}"
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
    return None if ok else f"{name}: expected {what[name]}, found {type(value).__name__} {shorten(value)}"


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
        ("seed", 0 <= s.seed < MAX_SEED, "a non-negative integer below 2**64"),
        ("scale", s.scale > 0 and math.isfinite(s.scale), "a positive finite number"),
        ("tol", s.tol is None or 0 < s.tol < 1, "a relative tolerance in (0, 1)"),
        ("loss_floor", math.isfinite(s.loss_floor), "a finite number"),
        ("chunk_size", s.chunk_size is None or s.chunk_size >= 1, "at least 1"),
        ("batch_size", s.batch_size is None or s.batch_size >= 1, "at least 1"),
        ("batches_per_sample", s.batches_per_sample >= 1, "at least 1"),
        ("probe_steps", s.probe_steps is None or s.probe_steps >= 0, "0 (no probe) or more Adam steps"),
    ]
    out += [f"{name}: expected {what}, found {shorten(getattr(s, name))}" for name, ok, what in checks if not ok]
    if s.exact and s.subset != "auto":
        out.append("exact/subset: expected at most one of them (exact takes the whole data), found "
                   f"subset={shorten(s.subset)}")
    return out


def _invalid_fields(s: Settings) -> list[str]:
    """One line per invalid field: wrong types first; ranges only once the types are right."""
    typed = [p for name in FIELD_NAMES if (p := field_problem(name, getattr(s, name)))]
    return typed or _out_of_range(s)


MAX_YAML_BYTES = 1 << 20  # a config file is a few hundred bytes; anything this large is not one
MAX_YAML_DEPTH = 64  # nesting, counted after aliases are expanded
MAX_YAML_NODES = 100_000  # values, counted after aliases are expanded


class _NotPlain(yaml.YAMLError):
    """What :class:`PlainLoader` refuses, said as the end of an ``expected plain YAML …, found …`` line."""


class PlainLoader(yaml.SafeLoader):
    """``yaml.SafeLoader`` that refuses what a config never needs and what would make it huge.

    Tags it cannot construct (``!!python/object/apply:os.system``, ``!custom``) are refused,
    never executed; so are nesting deeper than :data:`MAX_YAML_DEPTH`, aliases that expand to
    more than :data:`MAX_YAML_NODES` values (a "billion laughs") and an alias inside itself.
    """

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self._depth = 0

    def compose_node(self, parent: yaml.Node | None, index: int) -> yaml.Node | None:
        self._depth += 1
        try:
            if self._depth > MAX_YAML_DEPTH:
                line = self.peek_event().start_mark.line + 1  # type: ignore[no-untyped-call]
                raise _NotPlain(f"values nested deeper than {MAX_YAML_DEPTH} levels at line {line}")
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1

    def compose_document(self) -> yaml.Node | None:
        node = super().compose_document()
        if node is not None:
            _expanded(node, {}, set())
        return node

    def refuse_tag(self, node: yaml.Node) -> Any:
        raise _NotPlain(_tag_found(node))


PlainLoader.add_constructor(None, PlainLoader.refuse_tag)


_KEY_TAGS = ("tag:yaml.org,2002:merge", "tag:yaml.org,2002:value")  # ``<<: *base`` and ``=``: the loader's own


def _tag_found(node: yaml.Node) -> str:
    prefix = "tag:yaml.org,2002:"
    tag = "!!" + node.tag[len(prefix):] if node.tag.startswith(prefix) else node.tag
    return f"the tag {shorten(tag, 60)[1:-1]} at line {node.start_mark.line + 1}; tags are not allowed"


def _expanded(node: yaml.Node, seen: dict[int, tuple[int, int]], open_: set[int]) -> tuple[int, int]:
    """(values, depth) of ``node`` with every alias expanded; refuses a blow-up, a cycle or a tag (linear time)."""
    if id(node) in seen:
        return seen[id(node)]
    if node.tag not in PlainLoader.yaml_constructors and node.tag not in _KEY_TAGS:  # refused before constructing
        raise _NotPlain(_tag_found(node))
    if id(node) in open_:
        raise _NotPlain(f"an alias inside its own anchor at line {node.start_mark.line + 1}")
    open_.add(id(node))
    children = [c for pair in node.value for c in pair] if isinstance(node, yaml.MappingNode) else \
        node.value if isinstance(node, yaml.SequenceNode) else []
    parts = [_expanded(child, seen, open_) for child in children]
    size, depth = 1 + sum(p[0] for p in parts), 1 + max((p[1] for p in parts), default=0)
    if size > MAX_YAML_NODES or depth > MAX_YAML_DEPTH:
        what = f"more than {MAX_YAML_NODES} values" if size > MAX_YAML_NODES else f"{MAX_YAML_DEPTH}+ levels"
        raise _NotPlain(f"aliases that expand to {what} (at line {node.start_mark.line + 1})")
    open_.discard(id(node))
    seen[id(node)] = (size, depth)
    return size, depth


def _read_text(p: Path) -> str:
    """The file's text, if it is at most :data:`MAX_YAML_BYTES` of UTF-8.

    Raises:
        ConfigError: missing, unreadable, too large, or not UTF-8 text.
    """
    try:
        with p.open("rb") as f:
            raw = f.read(MAX_YAML_BYTES + 1)
    except OSError as exc:
        raise ConfigError(
            f"expected a readable YAML file at {str(p)!r}, found {type(exc).__name__}: {exc.strerror or exc}"
        ) from exc
    if len(raw) > MAX_YAML_BYTES:
        raise ConfigError(f"expected a YAML config of at most {MAX_YAML_BYTES >> 20} MiB at {str(p)!r}, "
                          "found a larger file")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(f"expected a UTF-8 text file at {str(p)!r}, found a byte that is not UTF-8 text at "
                          f"offset {exc.start}") from None


def load_plain(text: str) -> Any:
    """``yaml.load`` with :class:`PlainLoader` (raises ``yaml.YAMLError`` on what it refuses)."""
    return yaml.load(text, Loader=PlainLoader)  # noqa: S506 (a SafeLoader)


def compose_plain(text: str) -> yaml.Node | None:
    """``yaml.compose`` with :class:`PlainLoader`: the node tree, with its marks, for editing in place."""
    return yaml.compose(text, Loader=PlainLoader)


def parse_yaml_file(path: str | Path, parse: Callable[[str], Any] = load_plain) -> tuple[str, Any]:
    """Read ``path`` (at most :data:`MAX_YAML_BYTES` of UTF-8) and parse it with ``parse``; returns (text, parsed).

    Raises:
        ConfigError: the file is missing, unreadable, too large, not YAML (with the line, when known), or
            not plain YAML (:class:`PlainLoader`); one line whatever the size of the file.
    """
    p = Path(path)
    text = _read_text(p)
    try:
        return text, parse(text)
    except _NotPlain as exc:
        raise ConfigError(f"expected plain YAML in {str(p)!r}, found {exc}") from exc
    except yaml.YAMLError as exc:
        where = getattr(exc, "problem_mark", None)
        line = f" at line {where.line + 1}" if where is not None else ""
        raise ConfigError(f"expected valid YAML in {str(p)!r}, found a syntax error{line}") from exc
    except (ValueError, OverflowError, RecursionError) as exc:  # e.g. an integer of 5000 digits, a date 2024-13-45
        raise ConfigError(f"expected valid YAML in {str(p)!r}, found a value it cannot hold "
                          f"({one_line(str(exc), 120)})") from exc


def read_yaml(path: str | Path) -> dict[str, Any]:
    """Read a YAML mapping of plain YAML (:class:`PlainLoader`: ``yaml.safe_load``, bounded).

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


def unknown_keys(unknown: list[Any], valid: tuple[str, ...], what: str = "option") -> list[str]:
    """One problem per unknown key (the first ten), each with its did-you-mean, then the valid names once.

    >>> unknown_keys(["epoch", "colour"], ("epochs", "samples"))
    ["epoch: unknown option; did you mean 'epochs'?", 'colour: unknown option', 'expected options: epochs, samples']
    """
    if not unknown:
        return []
    shown = [f"{name_of(k)}: unknown {what}{did_you_mean(k, valid)}" for k in unknown[:10]]
    more = [f"and {len(unknown) - 10} more unknown {what}s"] if len(unknown) > 10 else []
    return [*shown, *more, f"expected {what}s: {', '.join(valid)}"]


DEFAULT_SECTION = "adamlr"  # the mapping a training YAML gives adamlr (what ``adamlr check`` reads too)


def file_settings(path: str | Path | None, section: str | None = None) -> dict[str, Any]:
    """The settings a config file gives: its ``section:`` mapping, else the whole file.

    With ``section`` None, the file's ``adamlr:`` mapping when it has one (so one training YAML
    serves ``estimate`` and ``check``), else its top level; a named section must be there.

    Raises:
        ConfigError: as :func:`read_yaml`; a named section missing, one that is not a mapping, or a
            section without a file.
    """
    if path is None:
        if section is not None:
            raise ConfigError(f"expected --config with --section {shorten(section)}, found no --config")
        return {}
    data = read_yaml(path)
    name = DEFAULT_SECTION if section is None else section
    if name not in data:
        if section is None:
            return data
        raise ConfigError(f"expected a {shorten(name)} section in {str(path)!r}, found no such key at the top level"
                          f"{did_you_mean(name, list(data))}")
    value = data[name]
    if value is not None and not isinstance(value, dict):
        raise ConfigError(f"expected a mapping under {shorten(name)} in {str(path)!r}, found {type(value).__name__}")
    return value or {}


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
    normalized = {k.replace("-", "_") if isinstance(k, str) else k: v for k, v in file_values.items()}
    unknown = [k for k in normalized if k not in FIELD_NAMES and k not in extra_keys]
    merged = {k: v for k, v in normalized.items() if k in FIELD_NAMES}
    extras = {k: v for k, v in normalized.items() if k in extra_keys}
    if cli_values.get("epochs") is not None or cli_values.get("steps") is not None:
        merged.pop("epochs", None)  # a horizon on the command line replaces the file's
        merged.pop("steps", None)
    for key, value in cli_values.items():
        if value is not None:
            (extras if key in extra_keys else merged)[key] = value
    invalid = unknown_keys(unknown, FIELD_NAMES + extra_keys)
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
        ConfigError: as :func:`merge_settings`, and model/data given neither as options nor in the file:
            every missing input and every other problem in one error.
    """
    given = {**{k.replace("-", "_") if isinstance(k, str) else k: v for k, v in file_values.items()},
             **{k: v for k, v in options.items() if v is not None}}
    optional = ("data",) if given.get("loss") == "training_step" else ()  # a LightningModule's train_dataloader()
    missing = [f"{k}: expected --{k} or '{k}:' in the config file, found none" for k in ("model", "data")
               if (given.get(k) is None or given.get(k) == "") and k not in optional]
    try:
        settings, extras = merge_settings(file_values, options, extra_keys=("model", "data"))
    except ConfigError as exc:
        if not missing:
            raise
        raise ConfigError("invalid configuration", missing + exc.problems) from None
    if missing:
        raise ConfigError("missing inputs", missing)
    return settings, extras
