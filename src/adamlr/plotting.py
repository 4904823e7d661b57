"""``adamlr estimate --plot FILE``: the evidence behind a recommendation, as range-test users expect to see it.

Three panels: the loss each probe ended with against its rate (log–log, as torch-lr-finder's and
Lightning's range-test plots put loss against rate), with the recommended rate and the paper's α
marked; every probe's loss curve against the step; and the weight samples' spectral norms with
K̂. matplotlib is optional: without it :func:`plot_estimate` raises :class:`MatplotlibMissing`
and the caller says so in one line.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from adamlr.diagnostics import ProbeResult
from adamlr.errors import AdamlrError
from adamlr.result import EstimateResult


class MatplotlibMissing(AdamlrError):
    """matplotlib is not installed: no figure (everything else works)."""


def _probes(result: EstimateResult) -> list[ProbeResult]:
    found = list(result.search.probes) if result.search is not None else []
    if result.probe is not None and all(p is not result.probe for p in found):
        found.append(result.probe)
    return sorted(found, key=lambda p: p.lr)


def _rate_panel(ax: Any, result: EstimateResult, probes: list[ProbeResult]) -> None:
    finite = [p for p in probes if math.isfinite(p.final_loss) and p.final_loss > 0]
    ax.plot([p.lr for p in finite], [p.final_loss for p in finite], "o-", color="0.3", ms=4, label="probe: L(w_k)")
    blown = [p.lr for p in probes if not math.isfinite(p.final_loss)]
    if blown:
        top = max((p.final_loss for p in finite), default=1.0)
        ax.plot(blown, [top] * len(blown), "x", color="red", ms=8, label="blew up")
    initial = probes[0].initial_loss if probes else result.initial_loss
    ax.axhline(initial, color="0.6", lw=0.8, ls=":", label="L(w0)")
    ax.axvline(result.recommended_lr, color="green", lw=1.5,
               label=f"recommended rate ({result.rule}) {result.recommended_lr:.3g}")
    ax.axvline(result.lr, color="purple", lw=1.2, ls="--", label=f"paper's α {result.lr:.3g}")
    ax.set(xscale="log", yscale="log", xlabel="learning rate", ylabel="loss after the probe",
           title="probes: loss against rate")
    ax.legend(fontsize=7)


def _curves_panel(ax: Any, probes: list[ProbeResult], cmap: Any) -> None:
    for i, p in enumerate(probes):
        values = [x if math.isfinite(x) else float("nan") for x in (p.initial_loss, *p.losses)]
        ax.plot(range(len(values)), values, color=cmap(i / max(len(probes) - 1, 1)), lw=1.2, label=f"{p.lr:.3g}")
    ax.set(yscale="log", xlabel="Adam step", ylabel="loss", title="probes: loss against step")
    ax.legend(fontsize=7, title="rate", title_fontsize=7)


def _samples_panel(ax: Any, result: EstimateResult) -> None:
    indices = [s.index for s in result.samples]
    ax.bar(indices, [s.spectral_norm for s in result.samples], color="steelblue")
    ax.axhline(result.k_hat, color="k", lw=1, ls="--", label=f"K̂ = {result.k_hat:.4g}")
    ax.set(xlabel="weight sample", ylabel="‖∇²L(w)‖₂", title="Algorithm 2: samples")
    ax.legend(fontsize=7)


def plot_estimate(result: EstimateResult, path: str | Path) -> Path:
    """Draw the figure of ``result`` into ``path`` (its suffix picks the format) and return the path.

    Raises:
        MatplotlibMissing: matplotlib is not installed.
    """
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        raise MatplotlibMissing("no figure: matplotlib is not installed (pip install 'adamlr[plots]'); "
                                "the estimate itself is unaffected") from None
    probes = _probes(result)
    fig, axes = plt.subplots(1, 3, figsize=(15, 4.2))
    if probes:
        _rate_panel(axes[0], result, probes)
        _curves_panel(axes[1], probes, plt.get_cmap("viridis"))
    else:
        for ax in axes[:2]:
            ax.text(0.5, 0.5, "no probes ran (--probe-steps 0)", ha="center", va="center", transform=ax.transAxes)
    _samples_panel(axes[2], result)
    fig.suptitle(f"{result.model['name']} on {result.data['name']}: recommended rate ({result.rule}) "
                 f"{result.recommended_lr:.3g}, paper's α {result.lr:.3g}", fontsize=10)
    fig.tight_layout()
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=110)
    plt.close(fig)
    return out
