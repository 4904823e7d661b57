"""The package's shape (issue 20): every module importable by its dotted name and reachable as its parent's
attribute; the API functions shadow no module; no import cycle; no module takes another's private names; and
the layers cli → api → kernel → numerics import only downwards."""

import ast
import importlib
import pkgutil
from pathlib import Path
from typing import NamedTuple

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


# --- the layer contract: checked on the source, by its import statements (ast; nothing is imported) -----------

LAYERS: dict[str, tuple[str, ...]] = {
    # Highest first: a module imports from its own layer and the layers below it, never from one above.
    # Names are adamlr's top-level modules and packages (a package's submodules share its layer);
    # "__init__" is the package ``adamlr`` itself.
    "cli": ("cli", "cli_options", "rich_progress", "report", "plotting", "usage_errors", "__main__"),
    "api": ("__init__", "estimation", "pipeline", "parallel", "distributed", "sharding", "cache", "fingerprints",
            "json_shape", "config", "config_check", "comparison", "problem", "loading", "result", "notes",
            "diagnose", "initial", "zoo"),
    "kernel": ("algorithm", "sampling", "samples", "subsets", "diagnostics"),
    "numerics": ("hvp", "solvers", "stop_rules", "formula", "objective", "data", "batch", "losses"),
    "base": ("choices", "errors", "_version", "progress", "files", "rng"),  # anyone may import these
}
# Two places need a word:
# * ``adamlr/__init__.py`` is in api: it re-exports estimate, check and compare, so it imports api modules.
#   Python runs it before any submodule, but that is the package being loaded, not an import statement of
#   the submodule's, so it makes no edge; an explicit ``from adamlr import estimate`` elsewhere is an edge
#   to api like any other.
# * ``adamlr.zoo`` (the demo's and the presets' models and data) stands in for the user's code, which adamlr
#   loads by import path (``adamlr.zoo.nets:mlp_digits``): it is placed in api, and it imports nothing of
#   adamlr outside zoo (ZOO_IMPORTS_ONLY_ZOO below), so it shows a newcomer what a user's factory needs.


class Import(NamedTuple):
    importer: str  # dotted module name, e.g. adamlr.hvp
    target: str  # the module imported from, e.g. adamlr.loading (a submodule when the name is one)
    name: str | None  # the name taken from it (``from target import name``), None for ``import target``
    line: int

    def __str__(self) -> str:
        what = f"from {self.target} import {self.name}" if self.name else f"import {self.target}"
        return f"{self.importer} line {self.line}: {what}"


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


class _Imports(ast.NodeVisitor):
    """Every adamlr import of one module, at module level or inside functions alike, but for ``if TYPE_CHECKING:``
    blocks (types only: nothing runs); and every ``module._private`` attribute read through such an import."""

    def __init__(self, module: str, is_package: bool, known: set[str]) -> None:
        self.module, self.known = module, known
        self.package = module if is_package else module.rpartition(".")[0]
        self.imports: list[Import] = []
        self.private_reads: list[str] = []
        self.aliases: dict[str, str] = {}  # local name -> the adamlr module it is bound to

    def visit_If(self, node: ast.If) -> None:
        if _is_type_checking(node.test):
            for child in node.orelse:
                self.visit(child)
        else:
            self.generic_visit(node)

    def visit_Import(self, node: ast.Import) -> None:
        for alias in node.names:
            if alias.name == "adamlr" or alias.name.startswith("adamlr."):
                self.imports.append(Import(self.module, alias.name, None, node.lineno))
                if alias.asname:
                    self.aliases[alias.asname] = alias.name
                else:
                    self.aliases["adamlr"] = "adamlr"

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        if node.level:  # relative: from its package, up level - 1 packages
            parts = self.package.split(".")
            base = ".".join(parts[: len(parts) - node.level + 1])
            source = f"{base}.{node.module}" if node.module else base
        else:
            source = node.module or ""
        if source != "adamlr" and not source.startswith("adamlr."):
            return
        for alias in node.names:
            submodule = f"{source}.{alias.name}"
            if submodule in self.known:  # from adamlr import json_shape: the module json_shape
                self.imports.append(Import(self.module, submodule, None, node.lineno))
                self.aliases[alias.asname or alias.name] = submodule
            else:
                self.imports.append(Import(self.module, source, alias.name, node.lineno))

    def visit_Attribute(self, node: ast.Attribute) -> None:
        dotted = _dotted(node.value)
        if dotted is not None and _private(node.attr):
            head, _, rest = dotted.partition(".")
            module = self.aliases.get(head)
            if module is not None and (f"{module}.{rest}" if rest else module) in self.known:
                self.private_reads.append(f"{self.module} line {node.lineno}: {dotted}.{node.attr}")
        self.generic_visit(node)


def _dotted(node: ast.expr) -> str | None:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        inner = _dotted(node.value)
        return f"{inner}.{node.attr}" if inner else None
    return None


def _private(name: str) -> bool:
    return name.startswith("_") and not (name.startswith("__") and name.endswith("__"))


def scan(sources: dict[str, tuple[str, bool]]) -> tuple[list[Import], list[str]]:
    """The adamlr imports and the private attribute reads of ``{module: (source, is_package)}``."""
    known = set(sources)
    imports: list[Import] = []
    reads: list[str] = []
    for module, (source, is_package) in sorted(sources.items()):
        visitor = _Imports(module, is_package, known)
        visitor.visit(ast.parse(source))
        imports += visitor.imports
        reads += visitor.private_reads
    return imports, reads


def find_cycle(imports: list[Import]) -> list[Import]:
    """One import cycle among the modules (the imports that close it, in order), or [] when there is none."""
    graph: dict[str, list[Import]] = {}
    for imp in imports:
        if imp.target != imp.importer:
            graph.setdefault(imp.importer, []).append(imp)
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[Import] = []

    def visit(module: str) -> list[Import]:
        state[module] = 1
        for imp in graph.get(module, []):
            if state.get(imp.target) == 1:
                start = next((i for i, p in enumerate(path) if p.importer == imp.target), len(path))
                return path[start:] + [imp]
            if imp.target not in state:
                path.append(imp)
                found = visit(imp.target)
                if found:
                    return found
                path.pop()
        state[module] = 2
        return []

    for module in sorted(graph):
        if module not in state:
            found = visit(module)
            if found:
                return found
    return []


def private_names(imports: list[Import]) -> list[str]:
    """``from adamlr.x import _y`` in another module than adamlr.x: a name its module keeps to itself."""
    return [str(imp) for imp in imports if imp.name is not None and _private(imp.name) and imp.target != imp.importer]


def layer_of(module: str, layers: dict[str, tuple[str, ...]] = LAYERS) -> str | None:
    parts = module.split(".")
    top = parts[1] if len(parts) > 1 else "__init__"
    return next((layer for layer, names in layers.items() if top in names), None)


def upward_imports(imports: list[Import], layers: dict[str, tuple[str, ...]] = LAYERS) -> list[str]:
    """Imports of a module from a layer above its own, each said with both layers."""
    rank = {layer: i for i, layer in enumerate(layers)}
    found = []
    for imp in imports:
        mine, theirs = layer_of(imp.importer, layers), layer_of(imp.target, layers)
        if mine is not None and theirs is not None and rank[theirs] < rank[mine]:
            found.append(f"{imp} (a {mine} module imports from {theirs}, a layer above it)")
    return found


def package_sources() -> dict[str, tuple[str, bool]]:
    sources = {}
    for path in sorted(SRC.rglob("*.py")):
        parts = list(path.relative_to(SRC.parent).with_suffix("").parts)
        is_package = parts[-1] == "__init__"
        name = ".".join(parts[:-1] if is_package else parts)
        sources[name] = (path.read_text(encoding="utf-8"), is_package)
    return sources


SOURCES = package_sources()
IMPORTS, PRIVATE_READS = scan(SOURCES)


def test_the_scan_sees_the_imports():
    """Not vacuous: the scan finds the imports everyone knows are there, a function-level one among them."""
    found = {(imp.importer, imp.target) for imp in IMPORTS}
    assert ("adamlr.cli", "adamlr.estimation") in found and ("adamlr.hvp", "adamlr.objective") in found
    assert ("adamlr.cli", "adamlr.comparison.api") in found  # imported inside compare_command
    assert len(IMPORTS) > 200


def test_every_module_has_a_layer():
    unplaced = sorted(m for m in SOURCES if layer_of(m) is None)
    assert not unplaced, f"place these modules in a layer of tests/test_layout.py's LAYERS: {unplaced}"


def test_no_import_cycle():
    cycle = find_cycle(IMPORTS)
    assert not cycle, "import cycle: " + " → ".join(str(imp) for imp in cycle)


def test_no_module_takes_another_modules_private_names():
    taken = private_names(IMPORTS) + PRIVATE_READS
    assert not taken, "private names used from another module: " + "; ".join(taken)


def test_layers_import_only_downwards():
    upward = upward_imports(IMPORTS)
    assert not upward, "imports against the layers cli → api → kernel → numerics (base below all): " + "; ".join(upward)


def test_zoo_imports_only_zoo():
    """ZOO_IMPORTS_ONLY_ZOO: the shipped models and data need nothing of adamlr, as the user's do not."""
    outside = [str(imp) for imp in IMPORTS if imp.importer.startswith("adamlr.zoo")
               and not imp.target.startswith("adamlr.zoo")]
    assert not outside, "adamlr.zoo imports adamlr outside zoo: " + "; ".join(outside)


# --- the checks fail where they should: tiny packages in memory -------------------------------------------------

SYNTHETIC = {
    "adamlr": ("", True),
    "adamlr.cli": ("import adamlr.hvp\n", False),
    "adamlr.hvp": (  # numerics importing the cli (in a function), and a private name of another module
        "from typing import TYPE_CHECKING\n"
        "if TYPE_CHECKING:\n    from adamlr.loading import Spec\n"
        "def f():\n    from adamlr.cli import app\n    from adamlr.solvers import _helper\n", False),
    "adamlr.solvers": ("def _helper(): ...\n", False),
    "adamlr.loading": ("import adamlr.solvers as s\nx = s._helper\n", False),
}


def test_the_checks_catch_a_synthetic_violation_of_each_kind():
    imports, reads = scan(SYNTHETIC)
    cycle = find_cycle(imports)
    assert {imp.importer for imp in cycle} == {"adamlr.cli", "adamlr.hvp"}, cycle  # cli → hvp → cli, in a function
    assert private_names(imports) == ["adamlr.hvp line 6: from adamlr.solvers import _helper"]
    assert reads == ["adamlr.loading line 2: s._helper"]
    upward = upward_imports(imports)
    assert len(upward) == 1 and upward[0].startswith("adamlr.hvp line 5: from adamlr.cli import app (a numerics "
                                                     "module imports from cli"), upward
    assert not any(imp.target == "adamlr.loading" for imp in imports)  # the TYPE_CHECKING import is no edge
    assert layer_of("adamlr.diagnostics.search") == "kernel" and layer_of("adamlr") == "api"
    assert layer_of("adamlr.brand_new") is None


def test_a_clean_synthetic_package_passes():
    imports, reads = scan({"adamlr.cli": ("from adamlr.hvp import value\n", False),
                           "adamlr.hvp": ("from adamlr.errors import DataError\n", False),
                           "adamlr.errors": ("", False)})
    assert len(imports) == 2 and not find_cycle(imports) and not private_names(imports) and not reads
    assert not upward_imports(imports)
