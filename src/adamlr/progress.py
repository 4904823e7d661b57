"""Progress events of an estimate. Receivers subclass :class:`Progress`; nothing here draws."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:  # a type only: the base layer imports nothing above it at run time
    from adamlr.samples import SampleResult


class Progress:
    """Receives progress events; every method does nothing here (the CLI draws Rich bars)."""

    def started(self, n_samples: int, max_iter: int) -> None:
        """An estimate starts: ``n_samples`` weight samples of at most ``max_iter`` products each."""

    def sample_started(self, index: int) -> None:
        """Weight sample ``index`` starts."""

    def iteration(self, index: int, iteration: int, eigenvalue: float, residual: float) -> None:
        """Sample ``index`` finished product ``iteration`` with this Ritz value and residual."""

    def sample_finished(self, sample: SampleResult) -> None:
        """A sample is done (computed now or taken from the journal)."""

    def stage(self, description: str) -> None:
        """Another stage of the estimate begins (L(w0), a probe, the stability limit, …)."""
