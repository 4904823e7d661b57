"""``adamlr.estimate``: the public entry point; one process or, under torchrun, every rank (:mod:`adamlr.parallel`).

>>> from adamlr import estimate
>>> result = estimate("adamlr.zoo.nets:mlp_digits", "adamlr.zoo.data:digits", epochs=100)  # doctest: +SKIP
>>> result.recommended_lr, result.lr  # doctest: +SKIP
"""

from __future__ import annotations

import dataclasses
from typing import Any

from adamlr.cache import Cache
from adamlr.config import FIELD_NAMES, Settings
from adamlr.distributed import Communicator
from adamlr.errors import ConfigError, did_you_mean
from adamlr.parallel import estimate_distributed
from adamlr.pipeline import estimate_here
from adamlr.progress import Progress
from adamlr.result import EstimateResult


def resolve_settings(settings: Settings | None, options: dict[str, Any]) -> Settings:
    """``settings`` with ``options`` (field names) over them; unknown names listed with their near misses.

    Raises:
        ConfigError: an unknown option, or an invalid value.
    """
    unknown = sorted(set(options) - set(FIELD_NAMES))
    if unknown:
        raise ConfigError("invalid settings", [f"{k}: unknown option{did_you_mean(k, FIELD_NAMES)}" for k in unknown])
    if settings is None:
        return Settings(**options)
    return dataclasses.replace(settings, **options) if options else settings


def estimate(model: Any, data: Any, *, settings: Settings | None = None, progress: Progress | None = None,
             cache: Cache | None = None, **options: Any) -> EstimateResult:
    """Recommend a constant Adam learning rate for ``model`` on ``data``.

    The recommended rate (``result.recommended_lr``) is the ``search`` rule's by default: the best
    rate of short Adam probes on your batches, searched from the paper's α (Algorithm 2 and
    section 4.2 of the paper), which is always computed too (``result.lr``).

    Args:
        model: an import path ``"pkg.mod:make_net"`` / ``"file.py:make_net"``, a zero-argument
            factory returning an ``nn.Module``, or a module (never modified).
        data: an import path or object: a DataLoader, an iterable of batches (``(inputs,
            targets)`` pairs, longer tuples or dicts; see :mod:`adamlr.batch`), a map-style
            Dataset, a pair of tensors, or a factory of one of those. ``None`` with
            ``loss="training_step"``: the LightningModule's ``train_dataloader()``.
        settings: a :class:`~adamlr.config.Settings`; or give its fields as keyword options
            (``epochs=100``, ``samples=10``, ``exact=True``, …), which override ``settings``.
        progress: receives progress events.
        cache: where finished results and per-sample journals live (None: neither is used).
            A hit returns the stored result; an interrupted run resumes from its journal.

    Returns:
        A frozen :class:`~adamlr.result.EstimateResult`.

    Raises:
        adamlr.errors.AdamlrError: a subclass naming what was expected and what was found;
            :class:`~adamlr.errors.Interrupted` (with the finished samples) on Ctrl-C.
    """
    settings = resolve_settings(settings, options)
    progress = progress or Progress()
    comm = Communicator.current()
    if comm.size > 1:  # under torchrun: data- or sample-parallel
        return estimate_distributed(model, data, settings, progress, cache, comm)
    return estimate_here(model, data, settings, progress, cache)
