"""``adamlr check``: is the learning rate in a training config within a band around the recommended rate?

The learning rate is found at a dotted key path (``optimizer.lr``; list items by index,
``optimizers.0.lr``) in the user's YAML. ``write_lr`` replaces just that scalar's text,
located with PyYAML's node marks, so comments, order and formatting of the rest of the
file are kept byte for byte (no round-trip YAML library needed).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from adamlr.cache import Cache
from adamlr.config import compose_plain, parse_yaml_file, read_yaml, settings_and_inputs
from adamlr.distributed import Communicator
from adamlr.errors import ConfigError, InputError, NotConvergedError, ProbeRoseError, did_you_mean, shorten
from adamlr.estimation import estimate
from adamlr.files import write_atomic
from adamlr.progress import Progress
from adamlr.result import EstimateResult

EXIT_OUTSIDE_BAND = 4


@dataclass(frozen=True)
class CheckResult:
    """The verdict of a check.

    Attributes:
        configured_lr: the rate found in the config.
        recommended_lr: the estimate's recommended rate (its rule's, ``estimate.rule``; the paper's α under
            ``--rule paper``).
        ratio: configured / recommended.
        band: (low, high) multipliers of the recommended rate that pass.
        within: low·rate ≤ configured ≤ high·rate.
        written: whether ``--write`` set the key to the recommended rate.
    """

    config: str
    lr_key: str
    configured_lr: float
    recommended_lr: float
    ratio: float
    band: tuple[float, float]
    within: bool
    written: bool
    estimate: EstimateResult

    def to_dict(self) -> dict[str, Any]:
        return {"schema_version": 1, "config": self.config, "lr_key": self.lr_key, "configured_lr": self.configured_lr,
                "recommended_lr": self.recommended_lr, "ratio": self.ratio, "band": list(self.band),
                "within_band": self.within, "written": self.written, "rule": self.estimate.rule,
                "estimate": self.estimate.to_dict()}


def _node_at(root: yaml.Node, key_path: str, path: Path) -> yaml.ScalarNode:
    node = root
    walked: list[str] = []
    for part in key_path.split("."):
        if isinstance(node, yaml.MappingNode):
            match = [v for k, v in node.value if isinstance(k, yaml.ScalarNode) and k.value == part]
        elif isinstance(node, yaml.SequenceNode) and part.isdigit() and int(part) < len(node.value):
            match = [node.value[int(part)]]
        else:
            match = []
        if not match:
            where = ".".join(walked) or "the top level"
            keys = [k.value for k, _ in node.value if isinstance(k, yaml.ScalarNode)] \
                if isinstance(node, yaml.MappingNode) else []
            raise ConfigError(f"expected a key {key_path!r} in {path}, found no {part!r} under {where}"
                              f"{did_you_mean(part, keys)}")
        node = match[-1]
        walked.append(part)
    if not isinstance(node, yaml.ScalarNode):
        raise ConfigError(f"expected a number at {key_path!r} in {path}, found a {type(node).__name__[:-4].lower()}")
    return node


def _compose(path: Path) -> tuple[str, yaml.Node]:
    text, root = parse_yaml_file(path, compose_plain)
    if root is None:
        raise ConfigError(f"expected a YAML mapping in {str(path)!r}, found an empty file")
    return text, root


def read_lr(path: str | Path, key_path: str) -> float:
    """The learning rate at ``key_path`` (numbers, and strings like ``"1e-3"``, are accepted)."""
    p = Path(path)
    _, root = _compose(p)
    node = _node_at(root, key_path, p)
    try:
        value = float(node.value)
    except ValueError:
        raise ConfigError(f"expected a number at {key_path!r} in {p}, found {shorten(node.value)}") from None
    if not (math.isfinite(value) and value > 0):
        raise ConfigError(f"expected a positive learning rate at {key_path!r} in {p}, found {shorten(node.value)}")
    return value


def write_lr(path: str | Path, key_path: str, value: float) -> None:
    """Set the scalar at ``key_path`` to ``value``, leaving every other byte of the file as it was.

    Raises:
        InputError: the file cannot be written (it is left unchanged).
    """
    p = Path(path)
    text, root = _compose(p)
    node = _node_at(root, key_path, p)
    start, end = node.start_mark.index, node.end_mark.index
    try:
        write_atomic(p, text[:start] + f"{value:.6g}" + text[end:])
    except OSError as exc:  # the file is left as it was (write_atomic)
        raise InputError(f"expected to write the learning rate into {str(p)!r} (--write), found "
                         f"{type(exc).__name__}: {exc.strerror or exc}; the file is unchanged") from exc


def section(path: str | Path, name: str) -> dict[str, Any]:
    """The ``name:`` mapping of the config (model, data and estimate settings), or {}."""
    p = Path(path)
    data = read_yaml(p)
    value = data.get(name)
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ConfigError(f"expected a mapping under {name!r} in {p}, found {type(value).__name__}")
    return value


def _section_or_hint(path: Path, name: str, options: dict[str, Any]) -> dict[str, Any]:
    """The ``name:`` section; when it is absent and the options lack what it would give, say so first."""
    data = read_yaml(path)
    needed = [k for k in ("model", "data") if options.get(k) is None]
    if options.get("epochs") is None and options.get("steps") is None:
        needed.append("epochs")
    if name not in data and needed:
        raise ConfigError(f"expected an {name!r} section in {path} with {', '.join(needed)} (or the options "
                          f"{', '.join('--' + k for k in needed)}), found no {name!r} key at the top level"
                          f"{did_you_mean(name, list(data))}")
    return section(path, name)


def check(config: str | Path, lr_key: str, *, band: str | tuple[float, float] = (0.1, 10.0), write: bool = False,
          section_name: str = "adamlr", progress: Progress | None = None, cache: Cache | None = None,
          **options: Any) -> CheckResult:
    """Is the learning rate at ``lr_key`` in ``config`` within ``band`` around the recommended rate?

    Args:
        config: the training YAML that holds the learning rate.
        lr_key: its dotted key path, e.g. ``optimizer.lr`` (list items by index).
        band: ``(low, high)`` multipliers of the recommended rate that pass, or ``"low,high"``.
        write: set the key to the recommended rate in place (every other byte of the file kept).
        section_name: the section of the same YAML with model, data and estimate settings.
        progress: receives the estimate's progress events.
        cache: where finished estimates live (None: no cache).
        **options: ``model``, ``data`` and any estimate setting (``epochs=…``); they win over the section.

    Returns:
        A frozen :class:`CheckResult`; ``within`` is the verdict (the CLI exits 4 when false).

    Raises:
        adamlr.errors.AdamlrError: as :func:`adamlr.estimate`, or an unreadable config, key or band. Under
            ``strict``, NotConvergedError or ProbeRoseError carry this check's :class:`CheckResult` (nothing
            written).
    """
    limits = parse_band(band) if isinstance(band, str) else _valid_band(band)
    path = Path(config)
    configured = read_lr(path, lr_key)
    settings, inputs = settings_and_inputs(_section_or_hint(path, section_name, options), options)
    try:
        result = estimate(inputs["model"], inputs.get("data"), settings=settings, progress=progress, cache=cache)
    except (NotConvergedError, ProbeRoseError) as exc:  # strict: the verdict still goes with the error (no write)
        if not isinstance(exc.result, EstimateResult):
            raise
        raise type(exc)(str(exc), verdict(str(config), lr_key, configured, exc.result, limits, False)) from exc
    if write and Communicator.current().is_main:  # under torchrun only rank 0 writes
        write_lr(path, lr_key, result.recommended_lr)
        configured = read_lr(path, lr_key)
    return verdict(str(config), lr_key, configured, result, limits, write)


def verdict(config: str, lr_key: str, configured: float, result: EstimateResult, band: tuple[float, float],
            written: bool) -> CheckResult:
    low, high = band
    rate = result.recommended_lr  # the rule's (search by default); the paper's α only under --rule paper
    return CheckResult(config, lr_key, configured, rate, configured / rate, band,
                       low * rate <= configured <= high * rate, written, result)


def parse_band(text: str) -> tuple[float, float]:
    """``"0.1,10"`` → (0.1, 10.0), with 0 < low ≤ 1 ≤ high."""
    try:
        low, high = (float(x) for x in text.split(","))
    except ValueError:
        raise ConfigError(f"expected --band as two numbers low,high (e.g. 0.1,10), found {text!r}") from None
    return _valid_band((low, high), text)


def _valid_band(band: tuple[float, float], text: str | None = None) -> tuple[float, float]:
    low, high = (float(x) for x in band)
    if not (0 < low <= 1 <= high and math.isfinite(high)):
        raise ConfigError(f"expected --band with 0 < low ≤ 1 ≤ high, found {text or band!r}")
    return low, high
