"""Digests of what changes an estimate's answer: the model, its code, the data, and the settings with versions.

The cache key (:func:`adamlr.cache.problem_key`) is the sha256 of these parts. Code is part of
it: two runs whose weights and data agree but whose ``forward`` (or loss function, or factory)
differs must not share an entry. :func:`code_digest` hashes the source of

* every class in the model's module tree (and its bases up to, not including, torch's own,
  whose version is in the key),
* the model factory, a loss function, and the data object or factory,
* the whole source file of the data factory's module (it may read files through helpers),

falling back to the compiled code (bytecode, constants and names) where no source file exists
(a class defined in a notebook cell).
"""

from __future__ import annotations

import hashlib
import inspect
import json
import platform
import sys
import types
from collections.abc import Iterable
from typing import Any

import torch
from torch import nn

from adamlr._version import __version__
from adamlr.data import BatchSource


def tensor_bytes(t: torch.Tensor) -> bytes:
    """A tensor's raw bytes (on the CPU, contiguous)."""
    return t.detach().to("cpu").contiguous().view(-1).view(torch.uint8).numpy().tobytes() if t.numel() else b""


def model_digest(module: nn.Module) -> tuple[str, str]:
    """(architecture digest, initial-weights digest) of a module."""
    arch = hashlib.sha256(repr(module).encode())
    weights = hashlib.sha256()
    for name, t in module.state_dict().items():
        arch.update(f"{name}:{tuple(t.shape)}:{t.dtype}".encode())
        weights.update(name.encode())
        weights.update(tensor_bytes(t))
    return arch.hexdigest(), weights.hexdigest()


def data_digest(batches: BatchSource) -> tuple[str, int]:
    """sha256 over every batch's bytes, streamed one batch at a time, and the example count."""
    h = hashlib.sha256()
    n = 0
    for batch in batches:
        for path, t in batch.tensors():
            h.update(f"{path}:{tuple(t.shape)}:{t.dtype}".encode() if not path.isdigit() else
                     f"{tuple(t.shape)}:{t.dtype}".encode())  # a tuple's items as before dict batches existed
            h.update(tensor_bytes(t))
        n += batch.size
    return h.hexdigest(), n


def _is_library_class(cls: type) -> bool:
    """torch's own classes and builtins: their code is pinned by the versions in the key."""
    root = (cls.__module__ or "").split(".")[0]
    return root in ("torch", "builtins", "typing", "abc")


def _compiled(code: types.CodeType) -> bytes:
    """A code object's bytecode, names and constants, nested code objects included."""
    parts = [code.co_code, repr(code.co_names).encode(), repr(code.co_varnames).encode()]
    for const in code.co_consts:
        parts.append(_compiled(const) if isinstance(const, types.CodeType) else repr(const).encode())
    return b"\0".join(parts)


def _class_without_source(cls: type) -> bytes:
    parts = [cls.__qualname__.encode()]
    for name, value in sorted(vars(cls).items()):
        function = getattr(value, "__func__", value)
        code = getattr(function, "__code__", None)
        parts.append(name.encode() + (_compiled(code) if code is not None else repr(type(value)).encode()))
    return b"\0".join(parts)


def source_of(obj: Any) -> bytes:
    """The source text of a class or function (a callable object: its class); its compiled code where no
    source file exists (a notebook cell)."""
    target = obj if isinstance(obj, type) or inspect.isroutine(obj) else type(obj)
    try:
        return inspect.getsource(target).encode()
    except (OSError, TypeError):
        pass
    if isinstance(target, type):
        return _class_without_source(target)
    code = getattr(getattr(target, "__func__", target), "__code__", None)
    return _compiled(code) if code is not None else repr(target).encode()


def _module_file(obj: Any) -> bytes:
    """The whole source file of the module that defines ``obj`` (empty when there is none)."""
    module = sys.modules.get(getattr(obj, "__module__", "") or "")
    try:
        return inspect.getsource(module).encode() if module is not None else b""
    except (OSError, TypeError):
        return b""


def model_classes(module: nn.Module) -> list[type]:
    """Every non-torch class in the module tree, with its non-torch bases, each once, in a stable order."""
    seen: dict[str, type] = {}
    for sub in module.modules():
        for cls in type(sub).__mro__:
            if not _is_library_class(cls):
                seen.setdefault(f"{cls.__module__}.{cls.__qualname__}", cls)
    return sorted(seen.values(), key=lambda cls: (cls.__qualname__, source_of(cls)))


def code_digest(module: nn.Module, functions: Iterable[Any], data: Any) -> str:
    """sha256 over the code that defines the problem (see the module docstring).

    Args:
        module: the user's model (its classes are hashed).
        functions: the model factory and a loss function, where given (None entries are skipped).
        data: the data as the user gave it: its factory's whole module file is hashed as well.
    """
    h = hashlib.sha256()
    for cls in model_classes(module):  # a file given by path is imported under a per-process module name
        h.update(cls.__qualname__.encode())
        h.update(source_of(cls))
    for fn in functions:
        if callable(fn) and not isinstance(fn, nn.Module) and not _is_torch(fn):
            h.update(source_of(fn))
    if callable(data) and not _is_torch(data):
        h.update(source_of(data))
        h.update(_module_file(data))
    return h.hexdigest()


def _is_torch(obj: Any) -> bool:
    return (getattr(obj, "__module__", "") or "").split(".")[0] == "torch"


def fingerprint(parts: dict[str, Any]) -> str:
    """The cache key: sha256 of the canonical JSON of ``parts`` plus the adamlr, torch and Python versions."""
    full = dict(parts, adamlr=__version__, torch=torch.__version__, python=platform.python_version())
    return hashlib.sha256(json.dumps(full, sort_keys=True, default=str).encode()).hexdigest()[:32]
