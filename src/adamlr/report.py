"""Render an :class:`EstimateResult` for people (Rich) or programs (JSON). Computes nothing."""

from __future__ import annotations

import json
import math
from typing import TYPE_CHECKING, Any

from rich.console import Group, RenderableType
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from adamlr.diagnostics import ProbeResult
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


RULE_NAMES_SHOWN = {"search": "the search rule: best of short probes on your batches",
                    "paper": "the paper's α", "probe_halving": "the paper's α halved until a probe descends"}
BENCHMARK_LINE = ("on docs/recommendation.md's 12 holdout setups the search rule's rate was within 3× of the best "
                  "constant rate of a grid on 10 and good on 9; the paper's α on 7 and 5")


def rate_name(rule: str) -> str:
    """What every report calls the rate it recommends: ``recommended rate (search)``; α is the paper's formula only."""
    return f"recommended rate ({rule})"


def _facts(r: EstimateResult) -> Table:
    s = r.settings
    t = Table.grid(padding=(0, 2))
    t.add_column(style="bold")
    t.add_column()
    floor = f" − L* ({r.loss_floor:g})" if r.loss_floor else ""
    accuracy = r.accuracy
    samples = f"max over {len(r.samples)} samples of ‖∇²L(w)‖₂"
    if accuracy is not None:
        samples += f" ({accuracy.samples_stop})"
    rows = [
        (rate_name(r.rule), f"{r.recommended_lr:.6g}   ({RULE_NAMES_SHOWN.get(r.rule, r.rule)}; --rule {r.rule})"),
        ("α", f"{r.lr:.6g}   = sqrt(2·(L(w0){floor}) / (K̂·T)), the paper's rate"),
        ("K̂", f"{r.k_hat:.6g}   {samples}"),
        ("L(w0)", f"{r.initial_loss:.6g}   mean {r.data['loss']} over {_examples(r)}"),
        ("T", f"{r.T} {r.horizon_unit}" + ("   (--epochs: the paper counts epochs)" if r.horizon_unit == "epochs"
                                           else "   (--steps)")),
        ("model", f"{r.model['name']} ({r.model['class']}, {r.model['parameters']:,} parameters)"),
        ("data", f"{r.data['name']}: {r.data['examples']:,} examples in {r.data['batches']} batch(es)"),
        ("weights", f"{s['weights']} × scale {s['scale']:g}, seed {s['seed']}"),
        ("solver", _solver(r)),
        ("device", f"{r.device}, {r.dtype}"),
        ("cost", _cost(r)),
        ("memory", f"{human_bytes(r.peak_memory_bytes)} ({r.peak_memory_kind})"),
    ]
    if r.cache:
        how = (f"hit: stored result returned in {r.cache.get('lookup_seconds', 0):.2f} s "
               f"(it took {r.seconds:.1f} s to compute)" if r.cache.get("hit") else "stored for the next run")
        rows.append(("cache", f"{how}; {r.cache['path']}"))
    for key, value in rows:
        t.add_row(key, value)
    return t


def _examples(r: EstimateResult) -> str:
    a = r.accuracy
    if a is None or a.loss_examples >= a.total_examples:
        return f"all {r.data['examples']:,} examples"
    error = f" ± {a.loss_standard_error:.2g}" if a.loss_standard_error is not None else ""
    return f"{a.loss_examples:,} random examples of {a.total_examples:,}{error}"


def _solver(r: EstimateResult) -> str:
    s, a = r.settings, r.accuracy
    tol = s.get("tol") or ("1e-3, exact" if s.get("exact") else "0.2, sized to the answer")
    where = "mini-batches of {} × {} per sample".format(s["batch_size"], s["batches_per_sample"]) \
        if s.get("batch_size") else (f"Hessian over {a.hessian_examples:,} of {a.total_examples:,} examples"
                                     if a is not None and a.hessian_examples < a.total_examples else "full data")
    growth = ""
    if a is not None and a.growth:
        steps = ", ".join(f"{m:,}: {h:.4g}" for m, h in a.growth)
        growth = f" (sample 0's ‖H‖ on {steps})"
    uncertainty = f"; α ± {a.lr_uncertainty:.1%}" if a is not None and a.lr_uncertainty else ""
    return f"{s['method']}, tol {tol}, max {s['max_iter']} iterations; HVP {r.hvp_mode}; {where}{growth}{uncertainty}"


def _cost(r: EstimateResult) -> str:
    c = r.cost
    products = f"{sum(x.iterations for x in r.samples)} Hessian-vector products" + _early_stops(r)
    if c is None:
        return f"{r.seconds:.2f} s, {products}"
    epochs = f" ≈ {c.epochs:.2g} epochs of training" if c.epochs is not None else ""
    stages = ", ".join(f"{k} {v:.2g}" for k, v in c.seconds.items() if v >= 0.005)
    return f"{r.seconds:.2f} s{epochs}; {products}, {c.probe_steps} probe steps; seconds: {stages}"


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


def probe_line(probe: ProbeResult) -> Text:
    """The probe's verdict and its numbers."""
    style = {"rises": ("RISES", "bold red"), "transient": ("transient rise", "yellow"),
             "descends": ("descends", "green")}[probe.verdict]
    batch = f"batches of {probe.batch_size}" if probe.batch_size else "full batch"
    numbers = (f"   {probe.steps} Adam steps at {probe.lr:.4g} from w0 ({batch}): L {probe.initial_loss:.4g} → "
               f"{probe.final_loss:.4g} (peak {probe.peak_ratio:.3g}× L(w0)); {probe.seconds:.2f} s")
    return Text.assemble(Text(style[0], style=style[1]), numbers)


def _search_line(r: EstimateResult) -> str:
    sr = r.search
    assert sr is not None
    tried = ", ".join(f"{p.lr:.3g} → {p.final_loss:.3g}" for p in sorted(sr.probes, key=lambda p: p.lr))
    horizon = f", × (T/k)^-γ = {sr.horizon_factor:.3g}" if sr.horizon_factor != 1 else ""
    return (f"{len(sr.probes)} probes of {sr.steps} steps from α = {sr.anchor:.3g} (rate → L(w_k)): {tried}; best "
            f"{sr.best_probe:.3g}, refined {sr.refined:.3g}{horizon}; {sr.seconds:.2f} s")


def _diagnostics(r: EstimateResult) -> Table:
    """The rule's probes, the probe at the recommended rate, the stability limit, the normalisation share."""
    t = Table.grid(padding=(0, 2))
    t.add_column(style="bold")
    t.add_column()
    t.add_row("probe", probe_line(r.probe) if r.probe else Text("off (--probe-steps 0)", style="dim"))
    if r.search is not None:
        t.add_row("search", _search_line(r))
    if r.halving is not None:
        h = r.halving
        how = (f"{h.halvings} halving(s) of α until a probe descended" if h.descended
               else f"no probe descended in {h.halvings} halvings")
        t.add_row("halving", f"{h.rate:.4g} ({how}; {h.seconds:.2f} s)")
    if r.stability is not None:
        st = r.stability
        limit = "none (no positive curvature)" if not math.isfinite(st.lr_limit) else f"{st.lr_limit:.3g}"
        ratio = "" if st.ratio is None else f"the {rate_name(r.rule)} = {st.ratio:.3g}× the limit; "
        t.add_row("stability", f"{ratio}Adam's limit at w0 {limit} = 38/λ_max(P^-½HP^-½), λ_max {st.sharpness:.4g} "
                  f"(P after {st.warmup_steps} steps at {st.warmup_lr:g}, ε {st.eps:g}); {st.seconds:.2f} s. "
                  "Information, not a verdict: good rates often start above it")
    if r.normalized is not None:
        nz = r.normalized
        t.add_row("normalised", f"{nz.followed} of {nz.weight_tensors} weight tensors feed a normalisation layer")
    return t


def render(r: EstimateResult) -> RenderableType:
    """The human report: headline, facts, diagnostics, per-sample table, warnings."""
    head = Text.assemble(("Recommended Adam learning rate  ", "bold"), (f"{r.recommended_lr:.4g}", "bold green"),
                         f"   {rate_name(r.rule)}" + (f" · the paper's α = {r.lr:.4g}" if r.rule != "paper" else
                                                       " = the paper's α"))
    if r.partial:
        planned = r.settings.get("samples") or "the"
        head.append(f"   PARTIAL: {len(r.samples)} of {planned} samples", style="bold yellow")
    if r.probe is not None and r.probe.blew_up:
        head.append("   probe: the loss ROSE at this rate", style="bold red")
    parts: list[RenderableType] = [Panel(head, expand=False), Text(BENCHMARK_LINE, style="dim"), _facts(r),
                                   _diagnostics(r), _samples(r)]
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
                         f"the {rate_name(c.estimate.rule)} = {c.recommended_lr:.4g} (band {low:g}×–{high:g}×)")
    parts: list[RenderableType] = [head]
    if c.written:
        parts.append(Text(f"wrote {c.lr_key} = {c.recommended_lr:.6g} into {c.config}", style="yellow"))
    if c.estimate.cache and c.estimate.cache.get("hit"):
        parts.append(Text(f"the {rate_name(c.estimate.rule)} from the cache ({c.estimate.cache['path']})",
                          style="dim"))
    parts.append(render(c.estimate))
    return Group(*parts)


def github_annotations(c: CheckResult) -> str:
    """GitHub Actions workflow commands: ::error when outside the band, ::notice otherwise."""
    low, high = c.band
    level = "notice" if c.within else "error"
    message = (f"{c.lr_key} = {c.configured_lr:.4g} is {c.ratio:.3g}x adamlr's {rate_name(c.estimate.rule)} = "
               f"{c.recommended_lr:.4g} for Adam (allowed {low:g}x-{high:g}x)")
    if c.written:
        message += f"; wrote {c.recommended_lr:.6g} into the file"
    return f"::{level} file={c.config},title=adamlr check::{message}"
