"""The command line's options, declared once as ``Annotated`` types; :mod:`adamlr.cli` uses them.

Each alias carries its flag names and help text, so the commands' signatures stay short and
two commands that share an option share its wording.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

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
Loss = Annotated[
    Optional[str],
    typer.Option(
        help="cross_entropy (default), mse, nll, bce_with_logits, 'pkg.mod:fn' with fn(outputs, targets) "
        "-> scalar mean; model: the model's own loss (called on the whole batch, labels included; its output's "
        ".loss); training_step: a LightningModule's training_step(batch, batch_idx) (its train_dataloader() "
        "when --data is not given)."
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
    typer.Option(help="N, the number of weight samples. Default: up to 10, stopping once they agree within 10 % "
                 "(exactly 10 with --exact)."),
]
Weights = Annotated[
    Optional[str],
    typer.Option(
        help="Weight distribution: gaussian (default; full-domain, σ = init RMS per tensor) or init "
        "(the factory's initializer, new seed)."
    ),
]
Scale = Annotated[
    Optional[float],
    typer.Option(help="Multiplier on the sampled weights' scale (default 1). K̂ depends strongly on it."),
]
Method = Annotated[
    Optional[str], typer.Option(help="Eigen-solver: lanczos (default) or power (the paper's power method).")
]
Tol = Annotated[
    Optional[float],
    typer.Option(help="Solver tolerance: a solve converges when its relative residual ‖Hv−λv‖/|λ| is below tol/10. "
                 "Default 0.2 (sized to the answer), 1e-3 with --exact."),
]
MaxIter = Annotated[
    Optional[int], typer.Option("--max-iter", help="Most Hessian-vector products per sample (default 100).")
]
Seed = Annotated[
    Optional[int], typer.Option(help="Seed for the model factory, weight samples and start vectors (default 0).")
]
Device = Annotated[Optional[str], typer.Option(help="auto (default: cuda when available), cpu, cuda or cuda:N.")]
Dtype = Annotated[Optional[str], typer.Option(help="float32 (default) or float64.")]
Floor = Annotated[
    Optional[float],
    typer.Option("--loss-floor", help="A known lower bound L* on the loss: α = sqrt(2(L(w0)−L*)/(K̂T)). Default 0."),
]
Hvp = Annotated[
    Optional[str],
    typer.Option(
        help="auto (default), cached (one gradient graph per sample, reused) or stream "
        "(batch by batch, bounded memory)."
    ),
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
        help="With --batch-size: random batches per weight sample; the report shows their spread (default 1).",
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
    Optional[str],
    typer.Option(
        "--norm-mode",
        help="train (default): BatchNorm with each batch's statistics, the loss training minimises; eval: the "
        "running statistics (as PyHessian and the paper's code). Dropout is off in both.",
    ),
]
ProbeSteps = Annotated[
    Optional[int],
    typer.Option(
        "--probe-steps",
        help="Adam steps per probe on your batches (default: the rule's own, 20 for search, 10 for the verdict "
        "probe). 0 turns every probe off (the recommended rate is then the paper's α).",
    ),
]
RuleOption = Annotated[
    Optional[str],
    typer.Option(
        "--rule",
        help="search (default): the best rate of short Adam probes on your batches, searched from the paper's α; "
        "paper: the paper's α itself; probe_halving: α halved until a 10-step probe descends. "
        "docs/recommendation.md measures each; the paper's α is always reported.",
    ),
]
Exact = Annotated[
    Optional[bool],
    typer.Option("--exact/--no-exact", help="The paper's procedure: 10 samples over the whole data, tol 1e-3, "
                 "full-batch probes (slower; the default is sized to the answer)."),
]
SubsetOption = Annotated[
    Optional[str],
    typer.Option("--subset", metavar="auto|all|N",
                 help="Examples the Hessian and L(w0) are taken over: auto (default: a random subset grown until "
                 "‖H‖ settles), all, or a number."),
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
    Optional[str],
    typer.Option(
        "--parallel",
        help="Under torchrun: data (default; each process a shard of the data, every HVP all-reduced) or samples "
        "(the weight samples split across processes, each on the whole data). No effect in one process.",
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
Lr = Annotated[Optional[float], typer.Option("--lr", help="Use this α for the adamlr arm instead of estimating it.")]
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
    Optional[str], typer.Option("--preset", help="One of the paper's setups (see README); other options override it.")
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
Band = Annotated[str, typer.Option("--band", help="Pass when low·α ≤ lr ≤ high·α.")]
Section = Annotated[
    str, typer.Option("--section", help="Section of the same YAML with model, data and estimate settings.")
]
Write = Annotated[
    bool, typer.Option("--write", help="Set the key to α in place (the rest of the file, comments included, is kept).")
]
Format = Annotated[
    Optional[str],
    typer.Option("--format", help="rich, json or github (default: github when GITHUB_ACTIONS=true, else rich)."),
]
