"""Rich progress bars on stderr (CLI side): an estimate's samples and iterations, a comparison's arms and epochs.

The overall bar of each shows the elapsed time and an estimate of the time left.
"""

from __future__ import annotations

from datetime import timedelta
from types import TracebackType
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, ProgressColumn, Task, TaskID, TextColumn, TimeElapsedColumn
from rich.progress import Progress as RichBars
from rich.text import Text

from adamlr.comparison.runner import CompareProgress
from adamlr.progress import Progress
from adamlr.samples import SampleResult


class TimeLeft(ProgressColumn):
    """``eta 0:01:23`` on the overall bar (a task added with ``overall=True``); empty on the others."""

    def render(self, task: Task) -> Text:
        if not task.fields.get("overall"):
            return Text("")
        left = task.time_remaining
        text = "eta -:--:--" if left is None else f"eta {timedelta(seconds=max(0, round(left)))}"
        return Text(text, style="progress.remaining")


def make_bars(console: Console, enabled: bool) -> RichBars:
    """The bars' layout: description, bar, n/total, info, elapsed and, on the overall bar, the time left."""
    return RichBars(
        TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TextColumn("{task.fields[info]}"),
        TimeElapsedColumn(), TimeLeft(), console=console, transient=True,
        disable=not (enabled and console.is_terminal),
    )


def _fields(overall: bool) -> dict[str, Any]:
    return {"info": "", "overall": overall}


class RichProgress(Progress):
    """Draws bars while a run is in flight; silent when ``enabled`` is false or stderr is not a terminal."""

    def __init__(self, console: Console, enabled: bool = True, bars: RichBars | None = None) -> None:
        """Draw on ``bars`` when given (an enclosing display, e.g. ``adamlr compare``'s), else on new ones."""
        self.shared = bars is not None
        self.bars = bars or make_bars(console, enabled)
        self.overall: TaskID | None = None
        self.current: TaskID | None = None
        self.n_samples = self.finished = 0
        self.max_iter = 0
        self.stage_task: TaskID | None = None

    def __enter__(self) -> RichProgress:
        self.bars.__enter__()
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.bars.__exit__(kind, exc, tb)

    def started(self, n_samples: int, max_iter: int) -> None:
        self.max_iter = max_iter
        self.n_samples, self.finished = n_samples, 0
        self.overall = self.bars.add_task("samples", total=n_samples, **_fields(True))

    def sample_started(self, index: int) -> None:
        self.current = self.bars.add_task(f"sample {index}", total=self.max_iter, **_fields(False))

    def iteration(self, index: int, iteration: int, eigenvalue: float, residual: float) -> None:
        if self.current is not None:
            self.bars.update(self.current, completed=iteration, info=f"λ={eigenvalue:.4g} res={residual:.1e}")

    def stage(self, description: str) -> None:
        if self.stage_task is None:
            self.stage_task = self.bars.add_task(description, total=None, **_fields(False))
        else:
            self.bars.update(self.stage_task, description=description)

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


class RichCompareProgress(CompareProgress):
    """One bar over arms (with the time left), one over the current arm's epochs (stderr, terminals only)."""

    def __init__(self, console: Console, enabled: bool) -> None:
        self.console = console
        self.enabled = enabled and console.is_terminal
        self.bars = make_bars(console, enabled)
        self.total = self.bars.add_task("arms", total=0, **_fields(True))
        self.planned = 0
        self.current: TaskID | None = None

    def warning(self, message: str) -> None:
        self.console.print(f"adamlr: warning: {message}", style="bold yellow", markup=False, highlight=False,
                           soft_wrap=True)

    def arms_planned(self, count: int) -> None:
        self.planned += count
        self.bars.update(self.total, total=self.planned)

    def arm_started(self, arm: str, seed: int, epochs: int) -> None:
        self.current = self.bars.add_task(f"{arm} (seed {seed})", total=epochs + 1, **_fields(False))

    def epoch_done(self, arm: str, seed: int, epoch: int) -> None:
        if self.current is not None:
            self.bars.update(self.current, completed=epoch + 1)

    def arm_finished(self, run: Any, skipped: bool) -> None:
        if self.current is not None:
            self.bars.remove_task(self.current)
            self.current = None
        self.bars.advance(self.total)
        if skipped:
            self.bars.console.print(f"{run.arm} (seed {run.seed}): finished earlier, skipped (--force to redo)",
                                    highlight=False)

    def estimating(self) -> RichProgress:
        return RichProgress(self.console, bars=self.bars)
