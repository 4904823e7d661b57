"""Stability diagnostics for a candidate Adam rate: pure functions, each returning a frozen result with ``to_dict()``.

* :func:`probe`: k Adam steps at the rate from w0; does the full-data loss rise above L(w0)?
* :func:`adam_stability`: Adam's stability limit at w0 from its preconditioned sharpness
  (Cohen et al. 2022).
* :func:`normalization_share`: how much of the network is followed by a normalisation layer
  (the regime where the paper's α held up in our runs).

Nothing here prints or writes; the estimate's report decides what to show.
"""

from adamlr.diagnostics.normalization import NormalizationInfo, normalization_share
from adamlr.diagnostics.probing import ProbeResult, Verdict, probe
from adamlr.diagnostics.stability import StabilityResult, adam_stability, stability_limit

__all__ = [
    "NormalizationInfo",
    "ProbeResult",
    "StabilityResult",
    "Verdict",
    "adam_stability",
    "normalization_share",
    "probe",
    "stability_limit",
]
