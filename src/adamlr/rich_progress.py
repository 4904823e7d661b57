"""Rich progress bars on stderr for an estimate: one overall, one per sample's iterations (CLI side)."""

from __future__ import annotations

from types import TracebackType

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, TaskID, TextColumn, TimeElapsedColumn
from rich.progress import Progress as RichBars

from adamlr.progress import Progress
from adamlr.result import SampleResult


class RichProgress(Progress):
    """Draws bars while a run is in flight; silent when ``enabled`` is false or stderr is not a terminal."""

    def __init__(self, console: Console, enabled: bool = True, bars: RichBars | None = None) -> None:
        """Draw on ``bars`` when given (an enclosing display, e.g. ``adamlr compare``'s), else on new ones."""
        self.shared = bars is not None
        self.bars = bars or RichBars(
            TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TextColumn("{task.fields[info]}"),
            TimeElapsedColumn(), console=console, transient=True, disable=not (enabled and console.is_terminal),
        )
        self.overall: TaskID | None = None
        self.current: TaskID | None = None
        self.n_samples = self.finished = 0
        self.max_iter = 0

    def __enter__(self) -> RichProgress:
        self.bars.__enter__()
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.bars.__exit__(kind, exc, tb)

    def started(self, n_samples: int, max_iter: int) -> None:
        self.max_iter = max_iter
        self.n_samples, self.finished = n_samples, 0
        self.overall = self.bars.add_task("samples", total=n_samples, info="")

    def sample_started(self, index: int) -> None:
        self.current = self.bars.add_task(f"sample {index}", total=self.max_iter, info="")

    def iteration(self, index: int, iteration: int, eigenvalue: float, residual: float) -> None:
        if self.current is not None:
            self.bars.update(self.current, completed=iteration, info=f"λ={eigenvalue:.4g} res={residual:.1e}")

    def sample_finished(self, sample: SampleResult) -> None:
        if self.current is not None:
            self.bars.remove_task(self.current)
            self.current = None
        if self.overall is not None:
            self.bars.advance(self.overall)
            self.bars.update(self.overall, info=f"last ‖H‖={sample.spectral_norm:.4g}")
            self.finished += 1
            if self.shared and self.finished == self.n_samples:
                self.bars.remove_task(self.overall)  # an enclosing display goes on without it
                self.overall = None
