"""Diagnostics of candidate Adam rates: pure functions, each returning a frozen result with ``to_dict()``.

* :mod:`~adamlr.diagnostics.probing`: k Adam steps at a rate from w0 on the user's batches; where does the loss go?
* :mod:`~adamlr.diagnostics.search`: the ``search`` rule, the best rate of short probes around the paper's α.
* :mod:`~adamlr.diagnostics.halving`: the ``probe_halving`` rule, α halved until a probe descends.
* :mod:`~adamlr.diagnostics.stability`: Adam's stability limit at w0 from its preconditioned sharpness
  (Cohen et al. 2022), on request.
* :mod:`~adamlr.diagnostics.normalization`: how much of the network is followed by a normalisation layer.

Nothing here prints or writes; the estimate's report decides what to show.
"""

from adamlr.diagnostics.halving import HalvingResult, halve_until_descends
from adamlr.diagnostics.normalization import NormalizationInfo, normalization_share
from adamlr.diagnostics.probing import ProbeResult, Verdict, probe
from adamlr.diagnostics.search import SearchResult, search_rate
from adamlr.diagnostics.stability import StabilityResult, adam_stability, stability_limit

__all__ = [
    "HalvingResult",
    "NormalizationInfo",
    "ProbeResult",
    "SearchResult",
    "StabilityResult",
    "Verdict",
    "adam_stability",
    "halve_until_descends",
    "normalization_share",
    "probe",
    "search_rate",
    "stability_limit",
]
