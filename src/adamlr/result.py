"""The frozen result of an estimate, with its diagnostics typed, and its JSON form (``to_dict``/``from_dict``)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from typing import Any

from adamlr.diagnostics import HalvingResult, NormalizationInfo, ProbeResult, SearchResult, StabilityResult
from adamlr.samples import SampleResult, sample_from_dict

SCHEMA_VERSION = 3


@dataclass(frozen=True)
class Accuracy:
    """How much of the data and how many samples the answer rests on, and how far it may be off.

    Attributes:
        hessian_examples: the examples each Hessian was taken over.
        loss_examples: the examples L(w0) was taken over.
        total_examples: the examples in the data.
        loss_standard_error: the standard error of L(w0) (None when taken over every example).
        growth: ``(examples, ‖H‖)`` of sample 0 on each subset the adaptive growth tried.
        k_hat_change: the relative change of sample 0's ‖H‖ over the last doubling (None: no growth).
        samples_stop: why the draw stopped: ``all drawn``, ``settled`` (every ‖H‖ within the
            accuracy of their maximum) or ``identical`` (the factory returned fixed weights).
        spread: max ‖H‖ / median ‖H‖ over the samples.
        lr_uncertainty: the relative uncertainty of α from L(w0)'s standard error and the last
            growth step, ½·sqrt(σ_L² + Δ_K²) (0 on the whole data).
    """

    hessian_examples: int
    loss_examples: int
    total_examples: int
    loss_standard_error: float | None
    growth: tuple[tuple[int, float], ...]
    k_hat_change: float | None
    samples_stop: str
    spread: float
    lr_uncertainty: float

    @staticmethod
    def from_dict(d: dict[str, Any]) -> Accuracy:
        known = {f.name: d[f.name] for f in fields(Accuracy)}
        known["growth"] = tuple((int(m), float(h)) for m, h in known["growth"])
        return Accuracy(**known)


@dataclass(frozen=True)
class Cost:
    """What the estimate cost.

    Attributes:
        seconds: wall time of each stage (``prepare``, ``initial_loss``, ``samples``, ``rule``,
            ``probe``, ``stability``, ``diagnostics``, ``finish``).
        hvp_products: Hessian-vector products.
        probe_steps: Adam steps the probes took.
        epoch_seconds: the time one epoch of training takes here, from the probes' own timing
            (one step × steps per epoch; None when no probe ran).
        epochs: the whole estimate in epoch-equivalents, seconds / epoch_seconds.
    """

    seconds: dict[str, float]
    hvp_products: int
    probe_steps: int
    epoch_seconds: float | None
    epochs: float | None

    @staticmethod
    def from_dict(d: dict[str, Any]) -> Cost:
        return Cost(**{f.name: d[f.name] for f in fields(Cost)})


@dataclass(frozen=True)
class EstimateResult:
    """Everything an estimate computed, and how.

    Attributes:
        lr: the paper's α = sqrt(2 (L(w0) − L*) / (K̂ T)), always computed.
        k_hat: K̂ = max_j ‖∇²L(w_j)‖₂.
        initial_loss: L(w0).
        T: the horizon; ``horizon_unit`` says whether it counts epochs or steps.
        samples: the per-sample results.
        rules: ``{name: rate}`` of every rule computed (``paper`` always).
        probe: the probe at the recommended rate (None: probes off).
        search: the ``search`` rule's probes (None unless it ran).
        halving: the ``probe_halving`` rule (None unless it ran).
        stability: Adam's stability limit at w0 (None unless ``stability`` was asked for).
        normalized: how much of the network feeds a normalisation layer.
        accuracy: the subset, the samples and the uncertainty (:class:`Accuracy`).
        cost: seconds per stage, products, probe steps, epoch-equivalents (:class:`Cost`).
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
    rules: dict[str, float] = field(default_factory=dict)
    probe: ProbeResult | None = None
    search: SearchResult | None = None
    halving: HalvingResult | None = None
    stability: StabilityResult | None = None
    normalized: NormalizationInfo | None = None
    accuracy: Accuracy | None = None
    cost: Cost | None = None

    @property
    def rule(self) -> str:
        """The rule whose rate this result recommends (``--rule``)."""
        return str(self.settings.get("rule", "paper"))

    @property
    def recommended_lr(self) -> float:
        """The rate of :attr:`rule` (the paper's α when that rule was not computed, e.g. a partial result)."""
        return self.rules.get(self.rule, self.lr)

    @property
    def all_converged(self) -> bool:
        """No sample ran out of products: each converged, or stopped early as bounded below K̂."""
        return all(s.converged or s.bounded for s in self.samples)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dictionary; its top-level keys are a stable contract (docs/cli.md, schema_version 3)."""
        out: dict[str, Any] = {"schema_version": SCHEMA_VERSION}
        for f in fields(self):
            value = getattr(self, f.name)
            out[f.name] = value.to_dict() if hasattr(value, "to_dict") else (
                asdict(value) if f.name in ("accuracy", "cost") and value is not None else value)
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
        parsers: dict[str, Any] = {"probe": ProbeResult.from_dict, "search": SearchResult.from_dict,
                                   "halving": HalvingResult.from_dict, "stability": StabilityResult.from_dict,
                                   "normalized": NormalizationInfo.from_dict, "accuracy": Accuracy.from_dict,
                                   "cost": Cost.from_dict}
        kw = {f.name: d[f.name] for f in fields(EstimateResult) if f.name in d}
        for name, parse in parsers.items():
            if kw.get(name) is not None:
                kw[name] = parse(kw[name])
        sample_names = {f.name for f in fields(SampleResult)}
        kw["samples"] = tuple(sample_from_dict({k: v for k, v in s.items() if k in sample_names}) for s in d["samples"])
        kw["warnings"] = tuple(d.get("warnings", ()))
        kw["rules"] = dict(d.get("rules") or {})
        return EstimateResult(**kw)
