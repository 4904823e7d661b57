"""The ``adamlr`` command line. Thin: options in, library call, report out.

stdout carries exactly the result (Rich report, or JSON with ``--json``); progress bars,
warnings and errors go to stderr. Errors are one line and an exit code (see
:mod:`adamlr.errors`); ``--debug`` shows the traceback instead.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console

from adamlr._version import __version__
from adamlr.cache import Cache, cache_dir
from adamlr.choices import ReportFormat
from adamlr.cli_options import (
    Arms,
    Band,
    BatchSize,
    CacheDir,
    CheckConfig,
    Chunk,
    CompareBatchSize,
    CompareEpochs,
    Config,
    Data,
    Debug,
    Device,
    Dtype,
    Epochs,
    EstimateSection,
    Exact,
    Floor,
    Force,
    Format,
    Hvp,
    Inputs,
    Json,
    Loss,
    Lr,
    LrKey,
    MaxIter,
    Method,
    Model,
    NoCache,
    NormMode,
    Out,
    Output,
    ParallelOption,
    PerSample,
    PlotFile,
    Preset,
    ProbeSteps,
    Quick,
    Quiet,
    RuleOption,
    Samples,
    Scale,
    SchedulerSet,
    Section,
    Seed,
    Seeds,
    Stability,
    Steps,
    Strict,
    SubsetOption,
    Targets,
    TestData,
    Tol,
    Weights,
    Write,
    parse_subset,
)
from adamlr.config import file_settings, settings_and_inputs
from adamlr.distributed import process_rank, session
from adamlr.errors import AdamlrError, ResultError, one_line
from adamlr.estimation import estimate
from adamlr.notes import probe_note
from adamlr.report import render, to_json
from adamlr.result import EstimateResult
from adamlr.rich_progress import RichProgress
from adamlr.usage_errors import one_line_usage_errors

if TYPE_CHECKING:
    from adamlr.config_check import CheckResult

EXIT_CODES = (
    "Exit codes: 0 success · 1 your input or code failed (import, factory, data, NaN loss, zero curvature) · "
    "2 bad options or config · 3 with --strict: a sample did not converge or the probe's loss rose · "
    "4 check: the learning rate is outside the band · 130 interrupted (finished samples are kept)."
)

def _no_flag_placeholders() -> None:
    """Typer's rich help shows ``<bool>`` after every flag (--json, --help, …), though a flag takes no value.

    Shows nothing there instead, for every flag without an explicit metavar, where Typer's option class allows.
    """
    from typer.core import TyperOption

    shown = getattr(TyperOption, "display_type_rich", None)
    if shown is None or getattr(shown, "adamlr_patched", False):
        return

    def display_type_rich(self: Any, ctx: Any) -> Any:
        return "" if getattr(self, "is_flag", False) and self.metavar is None else shown(self, ctx)

    display_type_rich.adamlr_patched = True  # type: ignore[attr-defined]
    TyperOption.display_type_rich = display_type_rich  # type: ignore[method-assign]


_no_flag_placeholders()

app = typer.Typer(
    name="adamlr", add_completion=True, no_args_is_help=True, pretty_exceptions_enable=False, epilog=EXIT_CODES,
    help="Recommend a constant Adam learning rate before training (Algorithm 2 of the 'exact constant step' paper).",
)
stdout = Console()
stderr = Console(stderr=True)
one_line_usage_errors(stderr)  # a bad option value is one `adamlr: error:` line too, not a panel


def _version(value: bool) -> None:
    if value:
        stdout.print(f"adamlr {__version__}")
        raise typer.Exit()


@app.callback()
def main(
    version: Annotated[
        bool,
        typer.Option("--version", callback=_version, is_eager=True, help="Print the version and exit."),
    ] = False,
) -> None:
    """adamlr: α = sqrt(2·L(w0) / (K̂·T)) for Adam, with K̂ from Hessian spectral norms."""


@contextmanager
def errors_to_exit(debug: bool) -> Iterator[None]:
    """Turn library errors into one stderr line and their exit code (a traceback with --debug)."""
    try:
        yield
    except AdamlrError as exc:
        if debug and process_rank() == 0:
            raise
        if process_rank() == 0:  # under torchrun rank 0 speaks for every rank (adamlr.distributed)
            stderr.print(f"adamlr: error: {one_line(str(exc))}", markup=False, highlight=False, soft_wrap=True)
        raise typer.Exit(exc.exit_code) from None
    except KeyboardInterrupt:
        if process_rank() == 0:
            stderr.print("adamlr: interrupted", highlight=False)
        raise typer.Exit(130) from None




@app.command("estimate", epilog=EXIT_CODES)
def estimate_command(
    model: Model = None,
    data: Data = None,
    epochs: Epochs = None,
    steps: Steps = None,
    loss: Loss = None,
    samples: Samples = None,
    weights: Weights = None,
    scale: Scale = None,
    method: Method = None,
    tol: Tol = None,
    max_iter: MaxIter = None,
    seed: Seed = None,
    device: Device = None,
    dtype: Dtype = None,
    loss_floor: Floor = None,
    hvp: Hvp = None,
    chunk_size: Chunk = None,
    batch_size: BatchSize = None,
    batches_per_sample: PerSample = None,
    norm_mode: NormMode = None,
    probe_steps: ProbeSteps = None,
    rule: RuleOption = None,
    exact: Exact = None,
    subset: SubsetOption = None,
    stability: Stability = None,
    parallel: ParallelOption = None,
    inputs_: Inputs = None,
    targets: Targets = None,
    output: Output = None,
    config: Config = None,
    section: EstimateSection = None,
    strict: Strict = None,
    cache_dir_: CacheDir = None,
    no_cache: NoCache = False,
    plot: PlotFile = None,
    json: Json = False,
    quiet: Quiet = False,
    debug: Debug = False,
) -> None:
    """Recommend a constant Adam learning rate: short probes on your batches searched from the paper's α.

    The paper's α = sqrt(2·L(w0)/(K̂·T)) (Algorithm 2: N weight samples, the Hessian's spectral norm at
    each, K̂ = max) is computed to the accuracy the answer needs (--exact: the paper's procedure) and
    anchors the search. Results are cached by a fingerprint of model, code, initial weights, data, loss,
    settings and versions; finished samples are journaled, so an interrupted run resumes where it stopped.
    """
    cli = dict(
        model=model,
        data=data,
        epochs=epochs,
        steps=steps,
        loss=loss,
        samples=samples,
        weights=weights,
        scale=scale,
        method=method,
        tol=tol,
        max_iter=max_iter,
        seed=seed,
        device=device,
        dtype=dtype,
        loss_floor=loss_floor,
        hvp=hvp,
        chunk_size=chunk_size,
        batch_size=batch_size,
        batches_per_sample=batches_per_sample,
        norm_mode=norm_mode,
        probe_steps=probe_steps,
        rule=rule,
        exact=exact,
        subset=parse_subset(subset),
        stability=stability,
        strict=strict,
        parallel=parallel,
        inputs=inputs_,
        targets=targets,
        output=output,
    )
    with errors_to_exit(debug), session() as comm:  # under torchrun: one process group; rank 0 prints
        settings, inputs = settings_and_inputs(file_settings(config, section), cli)
        store = None if no_cache else Cache(cache_dir(cache_dir_))
        with RichProgress(stderr, enabled=not quiet and comm.is_main) as progress:
            try:
                result = estimate(inputs["model"], inputs.get("data"), settings=settings, progress=progress,
                                  cache=store)
            except ResultError as exc:  # stderr keeps to the one error line; the result says the rest
                if isinstance(exc.result, EstimateResult) and comm.is_main:
                    _emit(exc.result, json, warn=False)
                raise
        if comm.is_main:
            _emit(result, json)
            if plot is not None:
                _plot(result, plot)


def _plot(result: EstimateResult, path: Path) -> None:
    """The probes' loss curves and the samples' norms to ``path``; one warning line without matplotlib."""
    from adamlr.plotting import MatplotlibMissing, plot_estimate

    try:
        written = plot_estimate(result, path)
    except MatplotlibMissing as exc:
        stderr.print(f"adamlr: warning: {exc}", style="bold yellow", markup=False, highlight=False, soft_wrap=True)
        return
    stderr.print(f"adamlr: wrote {written}", markup=False, highlight=False)


def _warn_if_probe_rose(result: EstimateResult) -> None:
    """With --json (or another machine format), the probe's blow-up on stderr too, so CI logs show it."""
    if result.probe is not None and result.probe.blew_up:
        note = probe_note(result.probe, f"the probe at the recommended rate ({result.rule})")
        stderr.print(f"adamlr: warning: {note}", style="bold yellow", markup=False, highlight=False, soft_wrap=True)


def _emit(result: EstimateResult, as_json: bool, warn: bool = True) -> None:
    if as_json:
        if warn:
            _warn_if_probe_rose(result)  # the report on stdout says it already otherwise
        print(to_json(result))
    else:
        stdout.print(render(result))




@app.command("compare", epilog=EXIT_CODES)
def compare_command(
    model: Model = None,
    data: Data = None,
    test_data: TestData = None,
    epochs: CompareEpochs = None,
    batch_size: CompareBatchSize = None,
    seeds: Seeds = None,
    out: Out = Path("runs/compare"),
    lr: Lr = None,
    arms: Arms = None,
    samples: Samples = None,
    loss: Loss = None,
    inputs: Inputs = None,
    targets: Targets = None,
    output: Output = None,
    device: Device = None,
    dtype: Dtype = None,
    scheduler_set: SchedulerSet = None,
    preset: Preset = None,
    quick: Quick = False,
    force: Force = False,
    config: Config = None,
    json: Json = False,
    quiet: Quiet = False,
    debug: Debug = False,
) -> None:
    """Train Adam from the same initial weights at adamlr's recommended rate, the paper's α, the paper's 7 schedulers
    and 4 constant steps."""
    from adamlr.comparison.api import compare
    from adamlr.comparison.report import ranking
    from adamlr.rich_progress import RichCompareProgress

    with errors_to_exit(debug):
        progress = RichCompareProgress(stderr, not quiet)
        with progress.bars:
            outcome = compare(model, data, out=out, preset=preset, quick=quick, force=force, config=config,
                              progress=progress, test_data=test_data, epochs=epochs, batch_size=batch_size,
                              seeds=seeds, lr=lr, arms=arms, samples=samples, loss=loss, device=device, dtype=dtype,
                              scheduler_set=scheduler_set, inputs=inputs, targets=targets, output=output)
        if json:
            print(to_json(outcome.to_dict()))
        else:
            for c in outcome.comparisons:
                stdout.print(ranking(c.results))
                stdout.print(f"written to {c.out}", highlight=False)


@app.command("check", epilog=EXIT_CODES)
def check_command(
    config: CheckConfig,
    lr_key: LrKey,
    model: Model = None,
    data: Data = None,
    epochs: Epochs = None,
    steps: Steps = None,
    samples: Samples = None,
    seed: Seed = None,
    device: Device = None,
    loss: Loss = None,
    inputs_: Inputs = None,
    targets: Targets = None,
    output_key: Output = None,
    norm_mode: NormMode = None,
    rule: RuleOption = None,
    parallel: ParallelOption = None,
    strict: Strict = None,
    band: Band = "0.1,10",
    section: Section = "adamlr",
    write: Write = False,
    output: Format = None,
    cache_dir_: CacheDir = None,
    no_cache: NoCache = False,
    quiet: Quiet = False,
    debug: Debug = False,
) -> None:
    """Exit 0 when the configured Adam learning rate lies within the band around the recommended rate, 4 when not."""
    from adamlr.config_check import EXIT_OUTSIDE_BAND, CheckResult, check

    with errors_to_exit(debug), session() as comm:  # under torchrun: one process group; rank 0 prints and writes
        fmt: ReportFormat = output or ("github" if os.environ.get("GITHUB_ACTIONS") == "true" else "rich")
        store = None if no_cache else Cache(cache_dir(cache_dir_))
        with RichProgress(stderr, enabled=not quiet and comm.is_main) as progress:
            try:
                outcome = check(config, lr_key, band=band, write=write, section_name=section, progress=progress,
                                cache=store, model=model, data=data, epochs=epochs, steps=steps, samples=samples,
                                seed=seed, device=device, loss=loss, norm_mode=norm_mode, rule=rule, inputs=inputs_,
                                targets=targets, output=output_key, parallel=parallel, strict=strict)
            except ResultError as exc:  # strict: the verdict on stdout, then the one error line (exit 3)
                if isinstance(exc.result, CheckResult) and comm.is_main:
                    _emit_check(exc.result, fmt, warn=False)
                raise
        if not comm.is_main:  # every rank has the result; rank 0 alone reports it
            return
        _emit_check(outcome, fmt)
    if not outcome.within:  # outside the session: typer.Exit is not a failure of the distributed run
        raise typer.Exit(EXIT_OUTSIDE_BAND)


def _emit_check(outcome: CheckResult, fmt: ReportFormat, warn: bool = True) -> None:
    """The verdict on stdout in ``fmt``; with json or github (machine formats), a probe's blow-up on stderr too."""
    from adamlr.report import github_annotations, render_check

    if warn and fmt != "rich":  # the rich report says it already
        _warn_if_probe_rose(outcome.estimate)
    if fmt == "json":
        print(to_json(outcome.to_dict()))
    elif fmt == "github":
        print(github_annotations(outcome))
    else:
        stdout.print(render_check(outcome))
