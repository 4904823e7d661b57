"""adamlr: the constant Adam learning rate α = sqrt(2 L(w0) / (K̂ T)), estimated before training.

Public API:
    estimate: run Algorithm 2 and return an :class:`EstimateResult`.
    recommended_lr: the step-size formula.
    spectral_norm: ‖A‖₂ of a symmetric operator given v ↦ Av.
"""

__version__ = "0.1.0"

from adamlr.config import Settings  # noqa: E402
from adamlr.errors import AdamlrError  # noqa: E402
from adamlr.estimate import Progress, estimate  # noqa: E402
from adamlr.formula import recommended_lr  # noqa: E402
from adamlr.result import EstimateResult, SampleResult  # noqa: E402
from adamlr.solvers import EigenResult, spectral_norm  # noqa: E402

__all__ = [
    "AdamlrError", "EigenResult", "EstimateResult", "Progress", "SampleResult", "Settings",
    "__version__", "estimate", "recommended_lr", "spectral_norm",
]
