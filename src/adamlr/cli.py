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
from typing import Annotated, Any, Optional

import typer
from rich.console import Console

from adamlr._version import __version__
from adamlr.cache import Cache, cache_dir
from adamlr.cli_options import (
    BatchSize,
    CacheDir,
    Chunk,
    Config,
    Data,
    Debug,
    Device,
    Dtype,
    Epochs,
    Floor,
    Hvp,
    Inputs,
    Json,
    Loss,
    MaxIter,
    Method,
    Model,
    NoCache,
    NormMode,
    Out,
    Output,
    PerSample,
    ProbeSteps,
    Quiet,
    RuleOption,
    Samples,
    Scale,
    Seed,
    Steps,
    Strict,
    Targets,
    Tol,
    Weights,
)
from adamlr.config import merge_settings, read_yaml
from adamlr.errors import AdamlrError, ConfigError, ResultError
from adamlr.estimate import estimate
from adamlr.report import render, to_json
from adamlr.result import EstimateResult
from adamlr.rich_progress import RichProgress

app = typer.Typer(
    name="adamlr", add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False,
    help="Recommend a constant Adam learning rate before training (Algorithm 2 of the 'exact constant step' paper).",
)
stdout = Console()
stderr = Console(stderr=True)


def _version(value: bool) -> None:
    if value:
        stdout.print(f"adamlr {__version__}")
        raise typer.Exit()


@app.callback()
def main(
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version and exit.")
    ] = False,
) -> None:
    """adamlr: α = sqrt(2·L(w0) / (K̂·T)) for Adam, with K̂ from Hessian spectral norms."""


@contextmanager
def errors_to_exit(debug: bool) -> Iterator[None]:
    """Turn library errors into one stderr line and their exit code (a traceback with --debug)."""
    try:
        yield
    except AdamlrError as exc:
        if debug:
            raise
        stderr.print(f"adamlr: error: {exc}", markup=False, highlight=False, soft_wrap=True)
        raise typer.Exit(exc.exit_code) from None
    except KeyboardInterrupt:
        stderr.print("adamlr: interrupted", highlight=False)
        raise typer.Exit(130) from None




def settings_from(
    config: Path | None, cli: dict[str, Any], file_values: dict[str, Any] | None = None
) -> tuple[Any, dict[str, Any]]:
    """Merge defaults < YAML (a file, or given values) < flags; returns (settings, {model, data})."""
    file_values = read_yaml(config) if config is not None else (file_values or {})
    settings, extras = merge_settings(file_values, cli, extra_keys=("model", "data"))
    optional = ("data",) if settings.loss == "training_step" else ()  # a LightningModule's train_dataloader()
    missing = [k for k in ("model", "data") if not extras.get(k) and k not in optional]
    if missing:
        raise ConfigError(
            "missing inputs", [f"{k}: expected --{k} or '{k}:' in the config file, found none" for k in missing]
        )
    return settings, extras


@app.command("estimate")
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
    inputs_: Inputs = None,
    targets: Targets = None,
    output: Output = None,
    config: Config = None,
    strict: Strict = None,
    cache_dir_: CacheDir = None,
    no_cache: NoCache = False,
    json: Json = False,
    quiet: Quiet = False,
    debug: Debug = False,
) -> None:
    """Run Algorithm 2 (N weight samples, Hessian spectral norm at each, K̂ = max) and print α.

    Results are cached by a fingerprint of model, initial weights, data, loss, settings and
    versions; finished samples are journaled, so an interrupted run resumes where it stopped.
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
        strict=strict,
        inputs=inputs_,
        targets=targets,
        output=output,
    )
    with errors_to_exit(debug):
        settings, inputs = settings_from(config, cli)
        store = None if no_cache else Cache(cache_dir(cache_dir_))
        with RichProgress(stderr, enabled=not quiet) as progress:
            try:
                result = estimate(inputs["model"], inputs.get("data"), settings=settings, progress=progress,
                                  cache=store)
            except ResultError as exc:  # stderr keeps to the one error line; the result says the rest
                if isinstance(exc.result, EstimateResult):
                    _emit(exc.result, json, warn=False)
                raise
        _emit(result, json)


def _warn_if_probe_rose(result: EstimateResult) -> None:
    """The probe's verdict on stderr as well, so it is seen with --json and in CI logs."""
    if result.probe is not None and result.probe["verdict"] == "rises":
        worst = [w for w in result.warnings if w.startswith("the probe ROSE")]
        stderr.print(f"adamlr: warning: {worst[0] if worst else 'the probe rose'}", style="bold yellow",
                     markup=False, highlight=False, soft_wrap=True)


def _emit(result: EstimateResult, as_json: bool, warn: bool = True) -> None:
    if warn:
        _warn_if_probe_rose(result)
    if as_json:
        print(to_json(result))
    else:
        stdout.print(render(result))




@app.command("compare")
def compare_command(
    model: Model = None,
    data: Data = None,
    test_data: Annotated[
        Optional[str], typer.Option("--test-data", help="Test data (same forms as --data) for test loss and accuracy.")
    ] = None,
    epochs: Annotated[
        Optional[int], typer.Option(help="Epochs to train each arm (default 100); also T for adamlr's α.")
    ] = None,
    batch_size: Annotated[
        Optional[int], typer.Option("--batch-size", help="Mini-batch size (default: full batch).")
    ] = None,
    seeds: Annotated[
        Optional[str],
        typer.Option(help="Comma-separated seeds, e.g. 0,1,2: every arm is repeated and the spread reported."),
    ] = None,
    out: Out = Path("runs/compare"),
    lr: Annotated[
        Optional[float], typer.Option("--lr", help="Use this α for the adamlr arm instead of estimating it.")
    ] = None,
    arms: Annotated[
        Optional[str],
        typer.Option(help="all (default), paper, schedulers, constants, optional, or arm names, comma-separated."),
    ] = None,
    samples: Samples = None,
    loss: Loss = None,
    inputs: Inputs = None,
    targets: Targets = None,
    output: Output = None,
    device: Device = None,
    dtype: Dtype = None,
    scheduler_set: Annotated[
        Optional[str],
        typer.Option("--schedulers", help="default (7 schedulers from 1e-3) or paper-code (the authors' 8 from 1e-2)."),
    ] = None,
    preset: Annotated[
        Optional[str], typer.Option(help="One of the paper's setups (see README); other options override it.")
    ] = None,
    quick: Annotated[
        bool, typer.Option("--quick", help="Shrink to a smoke run of seconds (512 examples, 3 epochs).")
    ] = False,
    force: Annotated[bool, typer.Option("--force", help="Redo finished arms instead of skipping them.")] = False,
    config: Config = None,
    json: Json = False,
    quiet: Quiet = False,
    debug: Debug = False,
) -> None:
    """Train Adam from the same initial weights with adamlr's α, the paper's 7 schedulers and 4 constant steps."""
    from adamlr.compare.cli_support import run_compare_command

    with errors_to_exit(debug):
        results = run_compare_command(
            dict(model=model, data=data, test_data=test_data, epochs=epochs, batch_size=batch_size, seeds=seeds,
                 lr=lr, arms=arms, samples=samples, loss=loss, device=device, dtype=dtype,
                 scheduler_set=scheduler_set, inputs=inputs, targets=targets, output=output),
            out=out, preset=preset, quick=quick, force=force, config=config, quiet=quiet, console=stderr,
        )
        if json:
            print(to_json(results if len(results) > 1 else next(iter(results.values()))))
        else:
            from adamlr.compare.report import ranking

            for sub, res in results.items():
                stdout.print(ranking(res))
                stdout.print(f"written to {out / sub if sub else out}", highlight=False)


@app.command("check")
def check_command(
    config: Annotated[Path, typer.Option("--config", "-c", help="The training YAML that holds the learning rate.")],
    lr_key: Annotated[
        str,
        typer.Option("--lr-key", help="Dotted key path of the learning rate, e.g. optimizer.lr (list items by index)."),
    ],
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
    band: Annotated[str, typer.Option(help="Pass when low·α ≤ lr ≤ high·α.")] = "0.1,10",
    section: Annotated[
        str, typer.Option(help="Section of the same YAML with model, data and estimate settings.")
    ] = "adamlr",
    write: Annotated[
        bool,
        typer.Option("--write", help="Set the key to α in place (the rest of the file, comments included, is kept)."),
    ] = False,
    output: Annotated[
        Optional[str],
        typer.Option("--format", help="rich, json or github (default: github when GITHUB_ACTIONS=true, else rich)."),
    ] = None,
    cache_dir_: CacheDir = None,
    no_cache: NoCache = False,
    quiet: Quiet = False,
    debug: Debug = False,
) -> None:
    """Exit 0 when the configured Adam learning rate lies within the band around α, 4 when it does not."""
    from adamlr.check import EXIT_OUTSIDE_BAND, parse_band, read_lr, verdict, write_lr
    from adamlr.check import section as read_section
    from adamlr.report import github_annotations, render_check

    with errors_to_exit(debug):
        fmt = output or ("github" if os.environ.get("GITHUB_ACTIONS") == "true" else "rich")
        if fmt not in ("rich", "json", "github"):
            raise ConfigError("invalid options", [f"format: expected rich, json or github, found {fmt!r}"])
        limits = parse_band(band)
        configured = read_lr(config, lr_key)
        cli = dict(
            model=model, data=data, epochs=epochs, steps=steps, samples=samples, seed=seed, device=device, loss=loss,
            norm_mode=norm_mode, rule=rule, inputs=inputs_, targets=targets, output=output_key,
        )
        settings, inputs = settings_from(None, cli, read_section(config, section))
        store = None if no_cache else Cache(cache_dir(cache_dir_))
        with RichProgress(stderr, enabled=not quiet) as progress:
            result = estimate(inputs["model"], inputs.get("data"), settings=settings, progress=progress, cache=store)
        _warn_if_probe_rose(result)
        if write:
            write_lr(config, lr_key, result.recommended_lr)
            configured = read_lr(config, lr_key)
        outcome = verdict(str(config), lr_key, configured, result, limits, write)
        if fmt == "json":
            print(to_json(outcome.to_dict()))
        elif fmt == "github":
            print(github_annotations(outcome))
        else:
            stdout.print(render_check(outcome))
        if not outcome.within:
            raise typer.Exit(EXIT_OUTSIDE_BAND)
