"""The package's shape (issue 20): every module importable by its dotted name and reachable as its parent's
attribute; the API functions shadow no module; no import cycle; no module takes another's private names; and
the layers cli → api → kernel → numerics import only downwards."""

import importlib
import pkgutil
from pathlib import Path

import pytest

import adamlr

SRC = Path(adamlr.__file__).resolve().parent


def all_modules() -> list[str]:
    names = ["adamlr"]
    for info in pkgutil.walk_packages([str(SRC)], prefix="adamlr."):
        names.append(info.name)
    return sorted(names)


MODULES = all_modules()


@pytest.mark.parametrize("name", [m for m in MODULES if m != "adamlr"])
def test_every_module_is_its_parents_attribute(name):
    module = importlib.import_module(name)
    parent, _, leaf = name.rpartition(".")
    assert getattr(importlib.import_module(parent), leaf) is module, f"{parent}.{leaf} is not the module {name}"


def test_the_api_functions_and_the_modules_both_work():
    assert callable(adamlr.estimate) and callable(adamlr.check) and callable(adamlr.compare)
    import adamlr.comparison.presets as presets
    import adamlr.comparison.runner as runner
    import adamlr.config_check as config_check
    import adamlr.estimation as estimation

    assert runner.run_compare and presets.PRESETS and config_check.check is adamlr.check
    assert estimation.estimate is adamlr.estimate
