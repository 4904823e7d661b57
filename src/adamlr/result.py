"""Frozen result types of an estimate, and their JSON form."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from typing import Any

SCHEMA_VERSION = 2


@dataclass(frozen=True)
class SampleResult:
    """One weight sample of Algorithm 2.

    Attributes:
        index: 0-based sample number.
        spectral_norm: ‖∇²L(w_j)‖₂ = max |λ|.
        eigenvalue: the dominant eigenvalue with its sign.
        iterations: Hessian-vector products used by the solver.
        converged: whether the solve converged (relative residual below tol/10, see
            :mod:`adamlr.solvers`).
        residual: final relative residual ‖Hv − λv‖ / |λ|.
        seconds: wall time of this sample (graph build and solve).
        loss: L(w_j), the full-data loss at the sample.
        gradient_norm: ‖∇L(w_j)‖₂.
        history: the eigenvalue estimate after each iteration.
        batch_norms: mini-batch Algorithm 2 only: ‖H_B(w_j)‖₂ on each random batch;
            ``spectral_norm`` is then their mean.
        bounded: stopped early, not converged, because it cannot raise K̂: at both ends of the
            spectrum the Ritz value plus ten times its residual was below the largest ‖H‖ of
            the samples before it. ``spectral_norm`` is then a lower estimate.
        upper_bound: when bounded, the larger of those two upper estimates.
    """

    index: int
    spectral_norm: float
    eigenvalue: float
    iterations: int
    converged: bool
    residual: float
    seconds: float
    loss: float
    gradient_norm: float
    history: tuple[float, ...] = ()
    batch_norms: tuple[float, ...] = ()
    bounded: bool = False
    upper_bound: float | None = None


@dataclass(frozen=True)
class EstimateResult:
    """Everything an estimate computed, and how.

    Attributes:
        lr: the recommended constant Adam step α = sqrt(2 (L(w0) − L*) / (K̂ T)).
        k_hat: K̂ = max_j ‖∇²L(w_j)‖₂.
        initial_loss: L(w0) over the whole data set.
        T: the horizon; ``horizon_unit`` says whether it counts epochs or steps.
        samples: the per-sample results.
        probe: ``{steps, lr, losses, initial_loss, verdict, seconds}``: k Adam steps at α from
            w0; ``verdict`` is ``"rises"`` when the loss went above L(w0) (None: no probe).
        stability: ``{lr_limit, sharpness, ratio, …}``: Adam's stability limit at w0 and α / limit.
        normalized: ``{normalized, share, weight_tensors, followed, note}``: how much of the
            network is followed by a normalisation layer.
        rules: ``{name: rate}``: the paper's α and ``probe_halving``'s rate.
        probe_halving: ``{rate, start, halvings, descended, seconds}``.
    """

    lr: float
    k_hat: float
    initial_loss: float
    T: int
    horizon_unit: str
    loss_floor: float
    samples: tuple[SampleResult, ...]
    settings: dict[str, Any]
    model: dict[str, Any]
    data: dict[str, Any]
    device: str
    dtype: str
    hvp_mode: str
    seconds: float
    peak_memory_bytes: int | None
    peak_memory_kind: str
    warnings: tuple[str, ...] = field(default=())
    version: str = ""
    partial: bool = False
    cache: dict[str, Any] | None = None
    probe: dict[str, Any] | None = None
    stability: dict[str, Any] | None = None
    normalized: dict[str, Any] | None = None
    rules: dict[str, float] | None = None
    probe_halving: dict[str, Any] | None = None

    @property
    def rule(self) -> str:
        """The rule whose rate this result recommends (``--rule``; the paper's by default)."""
        return str(self.settings.get("rule", "paper"))

    @property
    def recommended_lr(self) -> float:
        """The rate of :attr:`rule` (the paper's α when the rules were not computed, e.g. a partial result)."""
        return (self.rules or {}).get(self.rule, self.lr)

    @property
    def all_converged(self) -> bool:
        """No sample ran out of products: each converged, or stopped early as bounded below K̂."""
        return all(s.converged or s.bounded for s in self.samples)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dictionary; its top-level keys are a stable contract (schema_version 2 added
        ``probe``, ``stability``, ``normalized``, ``rules``, ``probe_halving``, ``rule`` and
        ``recommended_lr`` to version 1's keys)."""
        out: dict[str, Any] = {"schema_version": SCHEMA_VERSION}
        out.update(asdict(self))
        out["samples"] = [
            {k: (list(v) if isinstance(v, tuple) else v) for k, v in asdict(s).items()} for s in self.samples
        ]
        out["warnings"] = list(self.warnings)
        out["all_converged"] = self.all_converged
        out["hvp_total"] = sum(s.iterations for s in self.samples)
        out["bounded_total"] = sum(s.bounded for s in self.samples)
        out["rule"] = self.rule
        out["recommended_lr"] = self.recommended_lr
        return out

    @staticmethod
    def from_dict(d: dict[str, Any]) -> EstimateResult:
        """Rebuild a result from :meth:`to_dict`'s output (e.g. a cache entry)."""
        names = {f.name for f in fields(EstimateResult)}
        kw = {k: v for k, v in d.items() if k in names}
        sample_names = {f.name for f in fields(SampleResult)}
        kw["samples"] = tuple(sample_from_dict({k: v for k, v in s.items() if k in sample_names}) for s in d["samples"])
        kw["warnings"] = tuple(d.get("warnings", ()))
        return EstimateResult(**kw)


def sample_from_dict(d: dict[str, Any]) -> SampleResult:
    """A :class:`SampleResult` from its dictionary (lists back to tuples; null residual to inf)."""
    d = dict(d)
    d["history"] = tuple(d.get("history") or ())
    d["batch_norms"] = tuple(d.get("batch_norms") or ())
    if d.get("residual") is None:
        d["residual"] = float("inf")
    return SampleResult(**d)
