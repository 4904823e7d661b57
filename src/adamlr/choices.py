"""Every closed set of choices, defined once as a ``Literal`` type.

Config validation, the solvers, the HVP modes, the weight samplers and the problem
builder all use these types, and the tuples of allowed values are derived from them
(``typing.get_args``), so a choice is never spelt out twice.

>>> METHODS
('lanczos', 'power')
"""

from __future__ import annotations

from typing import Literal, get_args

Method = Literal["lanczos", "power"]
"""Eigen-solver for the Hessian spectral norm."""

HvpRequest = Literal["auto", "cached", "stream"]
"""How the user asks Hessian-vector products to be computed (``auto`` decides by memory)."""

HvpMode = Literal["cached", "stream"]
"""How they are computed once decided: one cached gradient graph, or batch by batch."""

WeightDistribution = Literal["gaussian", "init"]
"""Where Algorithm 2's weight samples come from."""

DtypeName = Literal["float32", "float64"]
"""Floating-point precision of the working copy and the data."""

HorizonUnit = Literal["epochs", "steps"]
"""What the horizon T counts."""

NormMode = Literal["train", "eval"]
"""Which loss the Hessian is of, for networks with BatchNorm: with each batch's statistics
(``train``, the loss training minimises) or with the running statistics (``eval``)."""

Rule = Literal["search", "paper", "probe_halving"]
"""Which rate a report recommends: ``search`` (the best rate of short Adam probes on the user's batches,
searched from the paper's α; the default), ``paper`` (the paper's α itself), or ``probe_halving`` (α halved
until a 10-step full-batch probe descends). docs/recommendation.md measures each."""

SubsetChoice = Literal["auto", "all"]
"""How much of the data the Hessian and L(w0) are taken over, besides a number of examples: ``auto`` (a
random subset grown until ‖H‖ settles) or ``all`` (every example, as the paper)."""

OwnLoss = Literal["model", "training_step"]
"""Losses the user's model computes itself: its output's ``loss`` when called on the whole batch
(Hugging Face style), or a LightningModule's ``training_step(batch, batch_idx)``."""

Batching = Literal["full", "mini-batch", "loader"]
"""How ``adamlr compare`` trains: full batch, seeded shuffled mini-batches of ``--batch-size``, or the
data's own batches (a DataLoader, an iterable of batches)."""

Parallel = Literal["data", "samples"]
"""How a distributed run (torchrun) splits the work: the data across ranks (each HVP all-reduced), or
the weight samples (each rank on the whole data). No effect in one process."""

ReportFormat = Literal["rich", "json", "github"]
"""How ``adamlr check`` prints its verdict: a Rich report, one JSON object, or GitHub annotations."""

Which = Literal["magnitude", "largest"]
"""Which eigenvalue a solve returns: largest magnitude max |λ| (the spectral norm) or largest algebraic max λ."""

METHODS: tuple[Method, ...] = get_args(Method)
HVP_REQUESTS: tuple[HvpRequest, ...] = get_args(HvpRequest)
HVP_MODES: tuple[HvpMode, ...] = get_args(HvpMode)
WEIGHT_DISTRIBUTIONS: tuple[WeightDistribution, ...] = get_args(WeightDistribution)
DTYPE_NAMES: tuple[DtypeName, ...] = get_args(DtypeName)
EIGEN_TARGETS: tuple[Which, ...] = get_args(Which)
NORM_MODES: tuple[NormMode, ...] = get_args(NormMode)
RULE_NAMES: tuple[Rule, ...] = get_args(Rule)
PARALLEL_MODES: tuple[Parallel, ...] = get_args(Parallel)
SUBSET_CHOICES: tuple[SubsetChoice, ...] = get_args(SubsetChoice)
OWN_LOSSES: tuple[OwnLoss, ...] = get_args(OwnLoss)
REPORT_FORMATS: tuple[ReportFormat, ...] = get_args(ReportFormat)
LOSS_NAMES = ("cross_entropy", "nll", "mse", "bce_with_logits")
"""The built-in losses of (outputs, targets) (:data:`adamlr.losses.LOSSES`)."""
DEVICE_NAMES = ("auto", "cpu", "cuda")
"""Device names besides ``cuda:N``."""
