"""Render an :class:`EstimateResult` for people (Rich) or programs (JSON). Computes nothing."""

from __future__ import annotations

import json
import math
from typing import Any

from rich.console import Group, RenderableType
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from adamlr.result import EstimateResult


def human_bytes(n: float | None) -> str:
    if n is None:
        return "n/a"
    for unit in ("B", "KiB", "MiB", "GiB"):
        if abs(n) < 1024 or unit == "GiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} GiB"


def _facts(r: EstimateResult) -> Table:
    s = r.settings
    t = Table.grid(padding=(0, 2))
    t.add_column(style="bold")
    t.add_column()
    floor = f" − L* ({r.loss_floor:g})" if r.loss_floor else ""
    rows = [
        ("α", f"{r.lr:.6g}   = sqrt(2·(L(w0){floor}) / (K̂·T))"),
        ("K̂", f"{r.k_hat:.6g}   max over {len(r.samples)} samples of ‖∇²L(w)‖₂"),
        ("L(w0)", f"{r.initial_loss:.6g}   mean {r.data['loss']} over all {r.data['examples']} examples"),
        ("T", f"{r.T} {r.horizon_unit}" + ("   (--epochs: the paper counts epochs)" if r.horizon_unit == "epochs" else "   (--steps)")),
        ("model", f"{r.model['name']} ({r.model['class']}, {r.model['parameters']:,} parameters)"),
        ("data", f"{r.data['name']}: {r.data['examples']:,} examples in {r.data['batches']} batch(es)"),
        ("weights", f"{s['weights']} × scale {s['scale']:g}, seed {s['seed']}"),
        ("solver", f"{s['method']}, tol {s['tol']:g}, max {s['max_iter']} iterations; HVP {r.hvp_mode}"
                   + (f"; mini-batches of {s['batch_size']} × {s['batches_per_sample']} per sample" if s.get("batch_size") else "; full data")),
        ("device", f"{r.device}, {r.dtype}"),
        ("time", f"{r.seconds:.2f} s, {sum(x.iterations for x in r.samples)} Hessian-vector products"),
        ("memory", f"{human_bytes(r.peak_memory_bytes)} ({r.peak_memory_kind})"),
    ]
    for key, value in rows:
        t.add_row(key, value)
    return t


def _samples(r: EstimateResult) -> Table:
    t = Table(title="weight samples (* = K̂; λ<0: the dominant eigenvalue is negative)", title_justify="left",
              header_style="bold")
    batched = any(s.batch_norms for s in r.samples)
    cols = ["#", "‖H‖₂", "iters", "conv", "residual", "L(w)", "‖∇L‖", "sec"] + (["batch range"] if batched else [])
    for col in cols:
        t.add_column(col, justify="right", no_wrap=True)
    for s in r.samples:
        mark = Text("yes", style="green") if s.converged else Text("NO", style="bold red")
        best = "*" if s.spectral_norm == r.k_hat else ""
        sign = " λ<0" if s.eigenvalue < 0 else ""
        spread = [f"{min(s.batch_norms):.4g}–{max(s.batch_norms):.4g}"] if batched else []
        t.add_row(f"{s.index}{best}", f"{s.spectral_norm:.5g}{sign}", str(s.iterations), mark, f"{s.residual:.1e}",
                  f"{s.loss:.4g}", f"{s.gradient_norm:.3g}", f"{s.seconds:.2f}", *spread)
    return t


def render(r: EstimateResult) -> RenderableType:
    """The human report: headline, facts, per-sample table, warnings."""
    head = Text.assemble(("Recommended Adam learning rate  ", "bold"), (f"α = {r.lr:.4g}", "bold green"))
    parts: list[RenderableType] = [Panel(head, expand=False), _facts(r), _samples(r)]
    for w in r.warnings:
        parts.append(Text(f"warning: {w}", style="yellow"))
    return Group(*parts)


def _finite(obj: Any) -> Any:
    """Replace NaN and ±inf (not valid JSON) by null, recursively."""
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {k: _finite(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_finite(v) for v in obj]
    return obj


def to_json(r: EstimateResult | dict[str, Any]) -> str:
    """One strict-JSON object (the contract of ``--json``); non-finite numbers become null."""
    return json.dumps(_finite(r if isinstance(r, dict) else r.to_dict()), indent=2, allow_nan=False)
