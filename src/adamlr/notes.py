"""The warnings of an estimate, composed from its numbers for the person reading the report or the JSON.

Each says what was found, with the numbers, and what to do about it; none is a verdict that the
numbers do not support (a rate is judged by its probe and its scale, not by its distance from 1e-3).
"""

from __future__ import annotations

from collections.abc import Sequence

from adamlr.diagnostics import ProbeResult
from adamlr.result import EstimateResult

OUTLIER_SPREAD = 10.0  # max ‖H‖ / median ‖H‖ above which K̂ rests on one sample


def probe_note(probe: ProbeResult, what: str) -> str | None:
    """One sentence on a probe that did not simply descend (None when it did)."""
    if probe.verdict == "descends":
        return None
    head = f"{what}: {probe.steps} Adam steps at {probe.lr:.3g} from w0"
    if probe.verdict == "rises":
        return (f"{head} took the loss from {probe.initial_loss:.4g} to {probe.final_loss:.4g} (peak "
                f"{probe.peak_ratio:.3g}× L(w0)): a run at this rate will likely blow up at the start")
    return (f"{head} rose to {probe.peak_ratio:.3g}× L(w0) for {probe.steps_above} of {probe.steps} steps and ended "
            f"at {probe.final_loss / probe.initial_loss:.3g}× L(w0): a transient rise, not a blow-up")


def _samples_notes(r: EstimateResult) -> list[str]:
    out = []
    stalled = [s.index for s in r.samples if not (s.converged or s.bounded)]
    if stalled:
        out.append(f"samples {stalled} did not reach tol {r.settings.get('tol') or 'the default'} in "
                   f"{r.settings.get('max_iter')} iterations: their ‖H‖ may be underestimated (raise --max-iter)")
    accuracy = r.accuracy
    if accuracy is None:
        return out
    if accuracy.samples_stop == "identical":
        out.append("weight sample 1 came out identical to sample 0 under --weights init: the factory returns fixed "
                   "weights, so one sample was taken (--weights gaussian draws around them)")
    norms = sorted(s.spectral_norm for s in r.samples)
    if len(norms) >= 3 and accuracy.spread > OUTLIER_SPREAD:
        out.append(f"K̂ rests on one sample far above the others (max ‖H‖ {norms[-1]:.4g} is {accuracy.spread:.3g}× "
                   f"the median {norms[len(norms) // 2]:.4g}): K̂ and α move with the seed; compare --seed runs, or "
                   "read the search rule, which does not rest on K̂ alone")
    change = accuracy.k_hat_change
    if change is not None and accuracy.growth and change > 0.05 and accuracy.hessian_examples < accuracy.total_examples:
        out.append(f"the Hessian's subset stopped growing at {accuracy.hessian_examples:,} of "
                   f"{accuracy.total_examples:,} examples with ‖H‖ still moving {change:.1%} over the last doubling: "
                   "K̂ may be high by about that much (--subset all or --exact for the whole data)")
    return out


def _batch_note(r: EstimateResult) -> str | None:
    """Mini-batch Algorithm 2: how much the batch norms spread, and which way the bias goes."""
    size = r.settings.get("batch_size")
    if not size:
        return None
    spreads = [(max(s.batch_norms) - min(s.batch_norms)) / s.spectral_norm for s in r.samples if len(s.batch_norms) > 1]
    spread = f"; batch-to-batch spread up to {max(spreads):.1%} of a sample's mean" if spreads else ""
    return (f"mini-batch Algorithm 2 (batches of {size}, {r.settings.get('batches_per_sample')} per sample): each "
            f"sample's ‖H‖ is the mean over its batches; a batch Hessian's norm is biased upward (E‖H_B‖ ≥ ‖H‖), so "
            f"small batches raise K̂ and lower α{spread}")


def _rule_notes(r: EstimateResult) -> list[str]:
    out = []
    if r.probe is not None:
        note = probe_note(r.probe, f"the probe at the recommended rate ({r.rule})")
        out += [note] if note else []
    anchor = r.search.probe_at(r.search.anchor) if r.search is not None else None
    if anchor is not None and anchor.blew_up and r.rule != "paper":
        out.append(f"the paper's α = {r.lr:.3g} blew up in its probe (L(w0) {anchor.initial_loss:.4g} → "
                   f"{anchor.final_loss:.4g} after {anchor.steps} steps); the {r.rule} rule recommends "
                   f"{r.recommended_lr:.3g} instead")
    norm = r.normalized
    if r.rule == "paper" and norm is not None and not norm.normalized:
        out.append(f"{norm.followed} of {norm.weight_tensors} weight tensors feed a normalisation layer: the paper's α "
                   "held up in our runs only where every layer, output included, was batch-normalised "
                   "(docs/limits.md); read the probe before trusting it here")
    return out


def compose_warnings(result: EstimateResult, problem_notes: Sequence[str], resumed: int) -> tuple[str, ...]:
    """Every warning of ``result``: the problem's notes, resumed samples, the samples, the rule and the probe."""
    out = list(problem_notes)
    if resumed:
        out.append(f"resumed {resumed} finished samples from the journal")
    out += _samples_notes(result)
    batch = _batch_note(result)
    out += [batch] if batch else []
    out += _rule_notes(result)
    return tuple(out)
