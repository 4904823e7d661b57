"""The command line's options, declared once as ``Annotated`` types; :mod:`adamlr.cli` uses them.

Each alias carries its flag names and help text, so the commands' signatures stay short and
two commands that share an option share its wording. An option with a closed set of values is
typed with its ``Literal`` from :mod:`adamlr.choices`; its help lists those values (``typing.get_args``)
and marks the default :class:`~adamlr.config.Settings` gives the field, so neither is spelt out here.
A value outside the set is Typer's usage error (exit 2, one line: :mod:`adamlr.usage_errors`),
worded as the config file's: expected one of …, found …; did you mean …?
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import fields
from pathlib import Path
from typing import Annotated, Any, Optional, get_args

import typer

from adamlr import choices
from adamlr.config import DEFAULT_SAMPLES, EXACT_TOL, FAST_TOL, Settings
from adamlr.diagnose import VERDICT_STEPS
from adamlr.diagnostics.halving import HALVING_STEPS
from adamlr.diagnostics.search import PROBE_STEPS
from adamlr.errors import not_one_of

DEFAULTS: Mapping[str, Any] = {f.name: f.default for f in fields(Settings)}
"""Each setting's default, as :class:`~adamlr.config.Settings` declares it."""


def one_of(kind: Any) -> Callable[[str], str]:
    """Typer's parser for an option whose values are ``kind``'s (a ``Literal``): a bad one is a usage error.

    >>> one_of(choices.Method)("power")
    'power'
    """
    names = get_args(kind)

    def parse(value: str) -> str:
        if value in names:
            return value
        raise typer.BadParameter(not_one_of(value, names))

    return parse


def listed(values: tuple[str, ...], default: object, notes: Mapping[str, str] | None = None, sep: str = ", ",
           last: str = " or ") -> str:
    """``values`` in order, each with its note in parentheses, ``default`` marked: ``a (default; note) or b``.

    >>> listed(("float32", "float64"), "float32")
    'float32 (default) or float64'
    """
    notes = notes or {}
    unknown = set(notes) - set(values)
    if unknown:  # a note for a value the Literal no longer has
        raise ValueError(f"notes for values that are not choices: {sorted(unknown)}")
    words = []
    for value in values:
        note = "; ".join(n for n in ("default" if value == default else "", notes.get(value, "")) if n)
        words.append(f"{value} ({note})" if note else value)
    return words[0] if len(words) == 1 else sep.join(words[:-1]) + last + words[-1]


def choice_help(field: str, kind: Any, notes: Mapping[str, str] | None = None, sep: str = ", ",
                last: str = " or ") -> str:
    """The values of the setting ``field`` (its ``Literal`` ``kind``), its default from Settings marked."""
    return listed(get_args(kind), DEFAULTS[field], notes, sep, last)


def _default(field: str) -> str:
    return f"{DEFAULTS[field]:g}" if isinstance(DEFAULTS[field], float) else str(DEFAULTS[field])


Model = Annotated[
    Optional[str],
    typer.Option(
        "--model",
        "-m",
        help="Model: 'pkg.mod:make_net' or 'file.py:make_net', a zero-argument factory returning an nn.Module "
        "(or a module).",
    ),
]
Data = Annotated[
    Optional[str],
    typer.Option(
        "--data",
        "-d",
        help="Data: import path to a DataLoader, iterable of batches ((inputs, targets), longer tuples or dicts), "
        "map-style Dataset, (X, y) tensors, or a factory of one.",
    ),
]
Epochs = Annotated[
    Optional[int],
    typer.Option(help="Training horizon T in epochs (the paper's convention). Exactly one of --epochs/--steps."),
]
Steps = Annotated[Optional[int], typer.Option(help="Training horizon T in optimizer steps instead of epochs.")]
OWN_LOSS_NOTES = {
    "model": "the model's own loss, called on the whole batch, labels included: its output's .loss",
    "training_step": "a LightningModule's training_step(batch, batch_idx); its train_dataloader() when --data is "
                     "not given",
}
Loss = Annotated[
    Optional[str],
    typer.Option(
        help=f"{listed(choices.LOSS_NAMES, DEFAULTS['loss'], last=', ')}, 'pkg.mod:fn' with fn(outputs, targets) "
        f"-> scalar mean; {listed(choices.OWN_LOSSES, DEFAULTS['loss'], OWN_LOSS_NOTES)}."
    ),
]
Inputs = Annotated[
    Optional[str],
    typer.Option(
        "--inputs",
        help="What the model gets from each batch: dict keys (KEY[,KEY…]; one goes positionally, several as "
        "keyword arguments) or tuple indices (0,2). Default: every key but the targets; a tuple's item 0.",
    ),
]
Targets = Annotated[
    Optional[str],
    typer.Option(
        "--targets",
        help="The targets in each batch: a dict key or a tuple index. Default: the first of labels, label, "
        "targets, target, y; a tuple's item 1.",
    ),
]
Output = Annotated[
    Optional[str],
    typer.Option(
        "--output",
        help="The entry of the model's output the loss gets (a dict/ModelOutput key, or a tuple index). Default: "
        "a tensor itself, a tuple's first element, a dict's logits.",
    ),
]
Samples = Annotated[
    Optional[int],
    typer.Option(help=f"N, the number of weight samples. Default: up to {DEFAULT_SAMPLES}, stopping once they agree "
                 f"within 10 % (exactly {DEFAULT_SAMPLES} with --exact)."),
]
Weights = Annotated[
    Optional[choices.WeightDistribution],
    typer.Option(
        parser=one_of(choices.WeightDistribution),
        help="Weight distribution: " + choice_help("weights", choices.WeightDistribution, {
            "gaussian": "full-domain, σ = init RMS per tensor", "init": "the factory's initializer, new seed"}) + ".",
    ),
]
Scale = Annotated[
    Optional[float],
    typer.Option(help=f"Multiplier on the sampled weights' scale (default {_default('scale')}). K̂ depends strongly "
                 "on it."),
]
Method = Annotated[
    Optional[choices.Method],
    typer.Option(parser=one_of(choices.Method), help="Eigen-solver: " + choice_help(
        "method", choices.Method, {"power": "the paper's power method"}) + "."),
]
Tol = Annotated[
    Optional[float],
    typer.Option(help="Solver tolerance: a solve converges when its relative residual ‖Hv−λv‖/|λ| is below tol/10. "
                 f"Default {FAST_TOL:g} (sized to the answer), {EXACT_TOL:g} with --exact."),
]
MaxIter = Annotated[
    Optional[int],
    typer.Option("--max-iter", help=f"Most Hessian-vector products per sample (default {_default('max_iter')})."),
]
Seed = Annotated[
    Optional[int],
    typer.Option(help=f"Seed for the model factory, weight samples and start vectors (default {_default('seed')})."),
]
Device = Annotated[  # a str: cuda:N is a device too
    Optional[str],
    typer.Option(help=listed(choices.DEVICE_NAMES, DEFAULTS["device"], {"auto": "cuda when available"}, last=", ")
                 + " or cuda:N."),
]
Dtype = Annotated[
    Optional[choices.DtypeName],
    typer.Option(parser=one_of(choices.DtypeName), help=choice_help("dtype", choices.DtypeName) + "."),
]
Floor = Annotated[
    Optional[float],
    typer.Option("--loss-floor", help="A known lower bound L* on the loss: α = sqrt(2(L(w0)−L*)/(K̂T)). "
                 f"Default {_default('loss_floor')}."),
]
Hvp = Annotated[
    Optional[choices.HvpRequest],
    typer.Option(parser=one_of(choices.HvpRequest), help=choice_help("hvp", choices.HvpRequest, {
        "auto": "by memory", "cached": "one gradient graph per sample, reused",
        "stream": "batch by batch, bounded memory"}) + "."),
]
Chunk = Annotated[
    Optional[int],
    typer.Option(
        "--chunk-size",
        help="Rows per forward pass for (X, y) tensors and Datasets (default: all at once). "
        "Does not change the result.",
    ),
]
BatchSize = Annotated[
    Optional[int],
    typer.Option(
        "--batch-size",
        help="Mini-batch Algorithm 2: each sample's ‖H‖ from random batches of this size (default: the full data).",
    ),
]
PerSample = Annotated[
    Optional[int],
    typer.Option(
        "--batches-per-sample",
        help="With --batch-size: random batches per weight sample; the report shows their spread "
        f"(default {_default('batches_per_sample')}).",
    ),
]
EstimateSection = Annotated[
    Optional[str],
    typer.Option("--section", help="The mapping of the --config YAML with the settings (default: its adamlr: section "
                 "when it has one, as check reads it; else the whole file)."),
]
Config = Annotated[
    Optional[Path],
    typer.Option(
        "--config", "-c", help="YAML file with any of these options (keys as option names); flags given here win."
    ),
]
NormMode = Annotated[
    Optional[choices.NormMode],
    typer.Option(
        "--norm-mode",
        parser=one_of(choices.NormMode),
        help=choice_help("norm_mode", choices.NormMode, {
            "train": "BatchNorm with each batch's statistics, the loss training minimises",
            "eval": "the running statistics, as PyHessian and the paper's code"}, sep="; ", last="; ")
        + ". Dropout is off in both.",
    ),
]
ProbeSteps = Annotated[
    Optional[int],
    typer.Option(
        "--probe-steps",
        help=f"Adam steps per probe on your batches (default: the rule's own, {PROBE_STEPS} for search, "
        f"{VERDICT_STEPS} for the verdict probe). 0 turns every probe off (the recommended rate is then the "
        "paper's α).",
    ),
]
RuleOption = Annotated[
    Optional[choices.Rule],
    typer.Option(
        "--rule",
        parser=one_of(choices.Rule),
        help=choice_help("rule", choices.Rule, {
            "search": "the best rate of short Adam probes on your batches, searched from the paper's α",
            "paper": "the paper's α itself",
            "probe_halving": f"α halved until a {HALVING_STEPS}-step probe descends"}, sep="; ", last="; ")
        + ". docs/recommendation.md measures each; the paper's α is always reported.",
    ),
]
Exact = Annotated[
    Optional[bool],
    typer.Option("--exact/--no-exact", help=f"The paper's procedure: {DEFAULT_SAMPLES} samples over the whole data, "
                 f"tol {EXACT_TOL:g}, full-batch probes (slower; the default is sized to the answer)."),
]
SubsetOption = Annotated[
    Optional[str],
    typer.Option("--subset", metavar="|".join((*choices.SUBSET_CHOICES, "N")),
                 help="Examples the Hessian and L(w0) are taken over: " + choice_help("subset", choices.SubsetChoice, {
                     "auto": "a random subset grown until ‖H‖ settles"}, last=", ") + ", or a number."),
]
Stability = Annotated[
    Optional[bool],
    typer.Option("--stability/--no-stability", help="Also compute Adam's stability limit at w0 (information only; "
                 "one more eigen-solve)."),
]
PlotFile = Annotated[
    Optional[Path],
    typer.Option("--plot", help="Write a figure (PNG, PDF, SVG): the probes' loss curves with the recommended rate "
                 "and the paper's α marked, and the samples' spectral norms (needs matplotlib)."),
]


def parse_subset(text: str | None) -> int | str | None:
    """``--subset``: ``auto``, ``all`` or a number of examples (validated with the other settings)."""
    if text is None:
        return None
    return int(text) if text.strip().isdigit() else text


ParallelOption = Annotated[
    Optional[choices.Parallel],
    typer.Option(
        "--parallel",
        parser=one_of(choices.Parallel),
        help="Under torchrun: " + choice_help("parallel", choices.Parallel, {
            "data": "each process a shard of the data, every HVP all-reduced",
            "samples": "the weight samples split across processes, each on the whole data"})
        + ". No effect in one process.",
    ),
]
Strict = Annotated[
    Optional[bool],
    typer.Option("--strict/--no-strict", help="Exit 3 when a sample did not converge or the probe's loss rose."),
]
CacheDir = Annotated[
    Optional[Path],
    typer.Option("--cache-dir", help="Cache and journal directory (default .adamlr-cache, or $ADAMLR_CACHE_DIR)."),
]
NoCache = Annotated[bool, typer.Option("--no-cache", help="Neither read nor write the cache or the sample journal.")]
Json = Annotated[bool, typer.Option("--json", help="Print one JSON object on stdout instead of the report.")]
Quiet = Annotated[bool, typer.Option("--quiet", "-q", help="No progress bars.")]
Debug = Annotated[bool, typer.Option("--debug", help="Show tracebacks instead of one-line errors.")]
Out = Annotated[
    Path, typer.Option("--out", "-o", help="Directory for results.json, results.csv, figures and per-arm files.")
]

# adamlr compare
TestData = Annotated[
    Optional[str], typer.Option("--test-data", help="Test data (same forms as --data) for test loss and accuracy.")
]
CompareEpochs = Annotated[
    Optional[int], typer.Option("--epochs", help="Epochs to train each arm (default 100); also T for adamlr's α.")
]
CompareBatchSize = Annotated[
    Optional[str],
    typer.Option("--batch-size", metavar="B|full",
                 help="Shuffled mini-batches of B, or full batch (default: the data's own batches when it comes in "
                 "batches, e.g. a DataLoader; full batch for tensors and Datasets)."),
]
Seeds = Annotated[
    Optional[str],
    typer.Option("--seeds", help="Comma-separated seeds, e.g. 0,1,2: every arm is repeated and the spread reported."),
]
Lr = Annotated[Optional[float], typer.Option("--lr", help="Use this rate for the adamlr arm instead of estimating it.")]
Arms = Annotated[
    Optional[str],
    typer.Option("--arms", help="all (default), paper, schedulers, constants, optional, or arm names, "
                 "comma-separated."),
]
SchedulerSet = Annotated[
    Optional[str],
    typer.Option("--schedulers", help="default (7 schedulers from 1e-3) or paper-code (the authors' 8 from 1e-2)."),
]
Preset = Annotated[
    Optional[str],
    typer.Option("--preset", help="One of the paper's setups (docs/compare.md); other options override it."),
]
Quick = Annotated[
    bool,
    typer.Option("--quick", help="Shrink to a smoke run of seconds: the first 512 training and 256 test examples (any "
                 "data form); and, unless given: --epochs 3, --samples 2, the first of --seeds, --batch-size at most "
                 "128. Options given explicitly win."),
]
Force = Annotated[
    bool, typer.Option("--force", help="Redo finished arms (and the range test) instead of reusing them.")
]

# adamlr check
CheckConfig = Annotated[Path, typer.Option("--config", "-c", help="The training YAML that holds the learning rate.")]
LrKey = Annotated[
    str, typer.Option("--lr-key", help="Dotted key path of the learning rate, e.g. optimizer.lr (list items by index).")
]
Band = Annotated[str, typer.Option("--band", help="Pass when low·rate ≤ lr ≤ high·rate, rate the recommended rate.")]
Section = Annotated[
    str, typer.Option("--section", help="Section of the same YAML with model, data and estimate settings.")
]
Write = Annotated[
    bool, typer.Option("--write", help="Set the key to the recommended rate in place (the rest of the file, "
                                       "comments included, is kept).")
]
Format = Annotated[
    Optional[choices.ReportFormat],
    typer.Option("--format", parser=one_of(choices.ReportFormat),
                 help=listed(choices.REPORT_FORMATS, None, last=" or ")
                 + " (default: github when GITHUB_ACTIONS=true, else rich)."),
]
