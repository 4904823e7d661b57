"""The paper's section-5 setups with the data available here, as named presets.

Fashion-MNIST stands in for MNIST (which cannot be fetched here); ``vgg9_cifar10`` needs
``$ADAMLR_CIFAR10_DIR``. The ``*_bn_*`` presets run what the authors' public code runs
(:mod:`adamlr.zoo.paper_code`, their normalisation, ``scheduler_set="paper-code"``);
``vgg9_bn_cifar10`` batches as ``vgg9_cifar10`` does. ``--quick`` shrinks any preset to a
smoke run of seconds: 512 training and 256 test examples, 3 epochs, 2 weight samples (an
explicit ``--epochs``, ``--samples``, ``--seeds`` or ``--batch-size`` wins).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Collection
from typing import Any

from adamlr.comparison.runner import CompareSettings
from adamlr.comparison.subset import Subset
from adamlr.errors import UsageError

N = "adamlr.zoo.nets:"
P = "adamlr.zoo.paper_code:"
D = "adamlr.zoo.data:"
MINI: dict[str, Any] = {"data": D + "fashion_mini", "test_data": D + "fashion_mini_test"}
FULL: dict[str, Any] = {"data": D + "fashion_train", "test_data": D + "fashion_test"}
# The authors' code: their architectures, (x − 0.5)/0.5 inputs, their eight schedulers from 0.01.
# K̂ as they sample it: fresh models from the architecture's own initialisation (--weights init).
PAPER_CODE_MINI: dict[str, Any] = {"data": D + "fashion_mini_paper", "test_data": D + "fashion_mini_test_paper",
                                   "scheduler_set": "paper-code", "estimate_options": {"weights": "init"}}


def _one(**kw: Any) -> list[tuple[str, CompareSettings]]:
    return [("", CompareSettings(**kw))]


PRESETS: dict[str, Any] = {
    "mlp1_full": lambda: _one(model=N + "mlp1_fashion", **MINI),
    "mlp3_full": lambda: _one(model=N + "mlp3_fashion", **MINI),
    "mlp5_full": lambda: _one(model=N + "mlp5_fashion", **MINI),
    "mlp3_minibatch": lambda: _one(model=N + "mlp3_fashion", batch_size=5000, **FULL),
    "lenet_full": lambda: _one(model=N + "lenet_fashion", **MINI),
    "lenet_minibatch": lambda: _one(model=N + "lenet_fashion", batch_size=5000, **FULL),
    # Figure 5: adamlr's step with increasing batch size (one sub-run per size).
    "batch_sweep": lambda: [(f"b{b}", CompareSettings(model=N + "lenet_fashion", batch_size=b, arms="adamlr", **FULL))
                            for b in (500, 1000, 2500, 5000)],
    # Appendix C.4: does α move with the initialisation scheme?
    "init_study": lambda: [(scheme, CompareSettings(model=N + f"mlp3_fashion_{scheme}", arms="adamlr", **MINI))
                           for scheme in ("kaiming_uniform", "kaiming_normal", "xavier_uniform", "orthogonal")],
    "vgg9_cifar10": lambda: _one(model=N + "vgg9_cifar10", data=D + "cifar10_train", test_data=D + "cifar10_test",
                                 batch_size=2500),
    "mlp1_bn_full": lambda: _one(model=P + "mlp1_bn_fashion", **PAPER_CODE_MINI),
    "mlp3_bn_full": lambda: _one(model=P + "mlp3_bn_fashion", **PAPER_CODE_MINI),
    "mlp5_bn_full": lambda: _one(model=P + "mlp5_bn_fashion", **PAPER_CODE_MINI),
    "lenet_bn_full": lambda: _one(model=P + "lenet_bn_fashion", **PAPER_CODE_MINI),
    "vgg9_bn_cifar10": lambda: _one(model=P + "vgg9_bn_cifar10", data=D + "cifar10_train",
                                    test_data=D + "cifar10_test", batch_size=2500, scheduler_set="paper-code",
                                    estimate_options={"weights": "init"}),
}


def quick(cs: CompareSettings, keep: Collection[str] = ()) -> CompareSettings:
    """Shrink a setting to a smoke run: the first 512 training and 256 test examples; and 3 epochs, 2 weight
    samples, the first seed and batches of at most 128, but for those of ``epochs``, ``samples``, ``seeds`` and
    ``batch_size`` in ``keep`` (the options given explicitly, which win)."""
    small: dict[str, Any] = {"epochs": 3, "samples": 2, "seeds": cs.seeds[:1],
                             "batch_size": min(cs.batch_size, 128) if isinstance(cs.batch_size, int) else cs.batch_size}
    return dataclasses.replace(
        cs, data=Subset(cs.data, 512) if cs.data is not None else None,
        test_data=Subset(cs.test_data, 256) if cs.test_data else None,
        **{k: v for k, v in small.items() if k not in keep},
    )


def preset(name: str) -> list[tuple[str, CompareSettings]]:
    """The (sub-directory, settings) pairs of a preset (``--quick`` shrinks them with :func:`quick`)."""
    if name not in PRESETS:
        raise UsageError(f"expected a preset among {', '.join(PRESETS)}, found {name!r}")
    runs: list[tuple[str, CompareSettings]] = PRESETS[name]()
    return runs
