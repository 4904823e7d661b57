"""``adamlr.compare``: the library function behind ``adamlr compare`` (the CLI only parses and prints)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from adamlr.comparison.plots import figures, matplotlib_missing
from adamlr.comparison.runner import CompareProgress, run_compare
from adamlr.comparison.setup import settings_list


@dataclass(frozen=True)
class Comparison:
    """One comparison's outcome.

    Attributes:
        name: its sub-directory under ``out`` ("" for a single comparison; a preset may run several).
        out: where its files are, or None when nothing was written.
        results: the aggregated results, as in ``results.json`` (``summary``, ``runs``, ``adamlr_lr``, …).
        figures: the PNG files written.
    """

    name: str
    out: Path | None
    results: dict[str, Any]
    figures: tuple[Path, ...] = ()


@dataclass(frozen=True)
class CompareResult:
    """What :func:`compare` returns.

    Attributes:
        comparisons: one per sub-comparison (one unless a preset defines several).
        warnings: what the caller should know (e.g. figures skipped without matplotlib).
    """

    comparisons: tuple[Comparison, ...]
    warnings: tuple[str, ...] = ()

    @property
    def results(self) -> dict[str, Any]:
        """The first (usually only) comparison's results."""
        return self.comparisons[0].results

    @property
    def summary(self) -> dict[str, Any]:
        """Per arm: final and best gradient norm, final loss and test accuracy (mean, std over seeds)."""
        return dict(self.results["summary"])

    def to_dict(self) -> dict[str, Any]:
        """The results of a single comparison; ``{name: results}`` for several (what ``--json`` prints)."""
        if len(self.comparisons) == 1:
            return {**self.results, "figures": [str(p) for p in self.comparisons[0].figures],
                    "warnings": list(self.warnings)}
        return {c.name: {**c.results, "figures": [str(p) for p in c.figures]} for c in self.comparisons}


def compare(model: Any = None, data: Any = None, *, out: str | Path | None = None, preset: str | None = None,
            quick: bool = False, force: bool = False, config: str | Path | None = None,
            progress: CompareProgress | None = None, **options: Any) -> CompareResult:
    """Train Adam from the same initial weights with adamlr's α, the paper's schedulers and constant steps.

    Args:
        model: import path, factory or module, as for :func:`adamlr.estimate`.
        data: training data (any form :func:`adamlr.estimate` takes).
        out: directory for results, figures and per-arm files (finished arms there are skipped
            on a rerun); None writes no file.
        preset: one of the paper's setups (``mlp3_full``, …); other options override it.
        quick: shrink to a smoke run: the first 512/256 examples; 3 epochs, 2 weight samples, one seed and
            batches of at most 128 unless ``epochs``, ``samples``, ``seeds`` or ``batch_size`` is given.
        force: redo finished arms (and a saved range test) instead of reusing them.
        config: a YAML file with any of the options.
        progress: receives progress events and warnings.
        **options: ``test_data``, ``epochs``, ``batch_size`` (an int, or ``"full"``), ``seeds``, ``lr``,
            ``arms``, ``samples``, ``loss``, ``device``, ``dtype``, ``schedulers``, ``scheduler_set``,
            ``estimate`` (estimate settings), ``inputs``, ``targets``, ``output`` (how batches and
            outputs split; see :mod:`adamlr.batch`).

    Returns:
        A frozen :class:`CompareResult`.

    Raises:
        adamlr.errors.AdamlrError: bad options, data or model (nothing trained then), or a failure while training.
    """
    progress = progress or CompareProgress()
    runs = settings_list({"model": model, "data": data, **options}, preset, quick, config)
    warnings: list[str] = []
    missing = matplotlib_missing() if out is not None else None
    if missing:
        warnings.append(missing)
        progress.warning(missing)  # before any training, so it is seen in time
    done = []
    for name, cs in runs:
        target = (Path(out) / name if name else Path(out)) if out is not None else None
        results = run_compare(cs, target, force=force, progress=progress)
        paths = tuple(figures(results, target)) if target is not None and not missing else ()
        done.append(Comparison(name, target, results, paths))
    return CompareResult(tuple(done), tuple(warnings))
