"""adamlr: the constant Adam learning rate α = sqrt(2 L(w0) / (K̂ T)), estimated before training.

Public API:
    estimate: run Algorithm 2 and return an :class:`EstimateResult`.
    recommended_lr: the step-size formula.
    spectral_norm: ‖A‖₂ of a symmetric operator given v ↦ Av.
"""

from adamlr._version import __version__
from adamlr.config import Settings
from adamlr.errors import AdamlrError
from adamlr.estimate import estimate
from adamlr.formula import recommended_lr
from adamlr.progress import Progress
from adamlr.result import EstimateResult, SampleResult
from adamlr.solvers import EigenResult, spectral_norm

__all__ = [
    "AdamlrError", "EigenResult", "EstimateResult", "Progress", "SampleResult", "Settings",
    "__version__", "estimate", "recommended_lr", "spectral_norm",
]
