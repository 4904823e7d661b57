"""adamlr: the constant Adam learning rate α = sqrt(2 L(w0) / (K̂ T)), estimated before training.

Public API (each mirrors its ``adamlr`` command and returns a frozen result; none prints or exits):
    estimate: run Algorithm 2 and return an :class:`EstimateResult`.
    check: is the learning rate in a training YAML within a band around α? A :class:`CheckResult`.
    compare: train Adam under α, the paper's schedulers and constant steps; a :class:`CompareResult`.
    recommended_lr: the step-size formula.
    spectral_norm: ‖A‖₂ of a symmetric operator given v ↦ Av.
"""

from adamlr._version import __version__
from adamlr.comparison.api import CompareResult, compare
from adamlr.config import Settings
from adamlr.config_check import CheckResult, check
from adamlr.errors import AdamlrError
from adamlr.estimation import estimate
from adamlr.formula import recommended_lr
from adamlr.progress import Progress
from adamlr.result import EstimateResult
from adamlr.samples import SampleResult
from adamlr.solvers import EigenResult, spectral_norm

__all__ = [
    "AdamlrError", "CheckResult", "CompareResult", "EigenResult", "EstimateResult", "Progress", "SampleResult",
    "Settings", "__version__", "check", "compare", "estimate", "recommended_lr", "spectral_norm",
]
