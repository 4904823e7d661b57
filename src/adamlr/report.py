"""Render an :class:`EstimateResult` for people (Rich) or programs (JSON). Computes nothing."""

from __future__ import annotations

import json
import math
from typing import TYPE_CHECKING, Any

from rich.console import Group, RenderableType
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from adamlr.result import EstimateResult

if TYPE_CHECKING:
    from adamlr.config_check import CheckResult


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
        (
            "T",
            f"{r.T} {r.horizon_unit}"
            + ("   (--epochs: the paper counts epochs)" if r.horizon_unit == "epochs" else "   (--steps)"),
        ),
        ("model", f"{r.model['name']} ({r.model['class']}, {r.model['parameters']:,} parameters)"),
        ("data", f"{r.data['name']}: {r.data['examples']:,} examples in {r.data['batches']} batch(es)"),
        ("weights", f"{s['weights']} × scale {s['scale']:g}, seed {s['seed']}"),
        (
            "solver",
            f"{s['method']}, tol {s['tol']:g}, max {s['max_iter']} iterations; HVP {r.hvp_mode}"
            + (
                f"; mini-batches of {s['batch_size']} × {s['batches_per_sample']} per sample"
                if s.get("batch_size")
                else "; full data"
            ),
        ),
        ("device", f"{r.device}, {r.dtype}"),
        ("time", f"{r.seconds:.2f} s, {sum(x.iterations for x in r.samples)} Hessian-vector products"
         + _early_stops(r)),
        ("memory", f"{human_bytes(r.peak_memory_bytes)} ({r.peak_memory_kind})"),
    ]
    if r.cache:
        how = (
            f"hit: stored result returned in {r.cache.get('lookup_seconds', 0):.2f} s "
            f"(it took {r.seconds:.1f} s to compute)"
            if r.cache.get("hit")
            else "stored for the next run"
        )
        rows.append(("cache", f"{how}; {r.cache['path']}"))
    for key, value in rows:
        t.add_row(key, value)
    return t


def _early_stops(r: EstimateResult) -> str:
    n = sum(s.bounded for s in r.samples)
    return (f"; {n} sample(s) stopped early as bounded: at both spectrum ends the Ritz value + 10× its residual "
            "fell below the largest ‖H‖ before them, so they cannot raise K̂ (their ‖H‖ is a lower estimate)"
            if n else "")


def _samples(r: EstimateResult) -> Table:
    t = Table(title="weight samples (* = K̂; λ<0: the dominant eigenvalue is negative)", title_justify="left",
              header_style="bold")
    batched = any(s.batch_norms for s in r.samples)
    cols = ["#", "‖H‖₂", "iters", "conv", "residual", "L(w)", "‖∇L‖", "sec"] + (["batch range"] if batched else [])
    for col in cols:
        t.add_column(col, justify="right", no_wrap=True)
    for s in r.samples:
        mark = (Text("yes", style="green") if s.converged else Text("bounded", style="cyan") if s.bounded
                else Text("NO", style="bold red"))
        best = "*" if s.spectral_norm == r.k_hat else ""
        sign = " λ<0" if s.eigenvalue < 0 else ""
        spread = [f"{min(s.batch_norms):.4g}–{max(s.batch_norms):.4g}"] if batched else []
        t.add_row(f"{s.index}{best}", f"{s.spectral_norm:.5g}{sign}", str(s.iterations), mark, f"{s.residual:.1e}",
                  f"{s.loss:.4g}", f"{s.gradient_norm:.3g}", f"{s.seconds:.2f}", *spread)
    return t


def _probe_line(probe: dict[str, Any]) -> Text:
    losses = [x if x is not None else math.inf for x in probe["losses"]]
    rose = probe["verdict"] == "rises"
    verdict = Text("RISES", style="bold red") if rose else Text("descends", style="green")
    return Text.assemble(verdict, f"   {probe['steps']} Adam steps at α from w0: L {probe['initial_loss']:.4g} → "
                         f"{losses[-1]:.4g} (max {max(losses):.4g}); {probe['seconds']:.2f} s")


def _diagnostics(r: EstimateResult) -> Table | None:
    """Probe verdict, Adam's stability limit and the normalisation share (schema_version 2)."""
    if r.stability is None and r.probe is None:
        return None
    t = Table.grid(padding=(0, 2))
    t.add_column(style="bold")
    t.add_column()
    t.add_row("probe", _probe_line(r.probe) if r.probe else Text("off (--probe-steps 0)", style="dim"))
    if r.stability is not None:
        st = r.stability
        limit = "none (no positive curvature)" if st["lr_limit"] is None else f"{st['lr_limit']:.3g}"
        ratio = "" if st["ratio"] is None else f"α = {st['ratio']:.3g}× the limit; "
        t.add_row("stability", f"{ratio}Adam's limit at w0 {limit} = 38/λ_max(P^-½HP^-½), λ_max {st['sharpness']:.4g} "
                  f"(P after {st['warmup_steps']} steps at {st['warmup_lr']:g}, ε {st['eps']:g}); "
                  f"{st['seconds']:.2f} s. Information, not a verdict: good rates often start above it")
    if r.rules is not None and r.probe_halving is not None:
        ph = r.probe_halving
        how = (f"{ph['halvings']} halving(s) of α until a 10-step probe descended" if ph["descended"]
               else f"no probe descended in {ph['halvings']} halvings")
        chosen = {name: (" ◀" if name == r.rule else "") for name in r.rules}
        t.add_row("rules", f"paper {r.rules['paper']:.4g}{chosen['paper']};  probe_halving "
                  f"{r.rules['probe_halving']:.4g}{chosen['probe_halving']} ({how}; {ph['seconds']:.2f} s)")
    if r.normalized is not None:
        nz = r.normalized
        t.add_row("normalised", f"{nz['followed']} of {nz['weight_tensors']} weight tensors feed a normalisation layer"
                  + ("" if nz["normalized"] else "   (the paper's α held up only where all do)"))
    return t


def render(r: EstimateResult) -> RenderableType:
    """The human report: headline, facts, diagnostics, per-sample table, warnings."""
    if r.rule == "paper":
        head = Text.assemble(("Recommended Adam learning rate  ", "bold"), (f"α = {r.lr:.4g}", "bold green"))
    else:
        head = Text.assemble(("Recommended Adam learning rate  ", "bold"), (f"{r.recommended_lr:.4g}", "bold green"),
                             f"  (--rule {r.rule}; the paper's α = {r.lr:.4g})")
    if r.partial:
        head.append(f"   PARTIAL: {len(r.samples)} of {r.settings['samples']} samples", style="bold yellow")
    if r.probe is not None and r.probe["verdict"] == "rises":
        head.append("   probe: the loss ROSE at α", style="bold red")
    diagnostics = _diagnostics(r)
    parts: list[RenderableType] = [Panel(head, expand=False), _facts(r)]
    parts += [diagnostics] if diagnostics is not None else []
    parts.append(_samples(r))
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


def render_check(c: CheckResult) -> RenderableType:
    """Both numbers, the ratio and the verdict, then the estimate's own report."""
    low, high = c.band
    verdict = (Text("PASS", style="bold green") if c.within else Text("FAIL", style="bold red"))
    head = Text.assemble(verdict, f"  {c.lr_key} = {c.configured_lr:.4g} in {c.config} is {c.ratio:.3g}× "
                         f"the recommended α = {c.recommended_lr:.4g} (band {low:g}×–{high:g}×)")
    parts: list[RenderableType] = [head]
    if c.written:
        parts.append(Text(f"wrote {c.lr_key} = {c.recommended_lr:.6g} into {c.config}", style="yellow"))
    if c.estimate.cache and c.estimate.cache.get("hit"):
        parts.append(Text(f"α from the cache ({c.estimate.cache['path']})", style="dim"))
    parts.append(render(c.estimate))
    return Group(*parts)


def github_annotations(c: CheckResult) -> str:
    """GitHub Actions workflow commands: ::error when outside the band, ::notice otherwise."""
    low, high = c.band
    level = "notice" if c.within else "error"
    message = (f"{c.lr_key} = {c.configured_lr:.4g} is {c.ratio:.3g}x the recommended Adam learning rate "
               f"alpha = {c.recommended_lr:.4g} (allowed {low:g}x-{high:g}x)")
    if c.written:
        message += f"; wrote {c.recommended_lr:.6g} into the file"
    return f"::{level} file={c.config},title=adamlr check::{message}"
