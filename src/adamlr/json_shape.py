"""Does a JSON value have the shape a shipped schema (``adamlr/schemas/*.json``) gives it?

A small structural subset of JSON Schema, enough to tell whether what the cache reads back
can be used without failing later: ``type``, ``required``, ``properties``, ``items``,
``enum`` and ``const``. Ranges (``minimum``…) are not checked: they say what a value means,
not whether the code can handle it.

>>> problem({"a": [1, "x"]}, {"type": "object", "properties": {"a": {"items": {"type": "number"}}}})
'a.1: expected number, found str'
>>> problem({"a": [1, 2.5]}, {"type": "object", "properties": {"a": {"items": {"type": "number"}}}}) is None
True
"""

from __future__ import annotations

import functools
import json
from importlib import resources
from typing import Any

_TYPES: dict[str, tuple[type, ...]] = {
    "object": (dict,), "array": (list,), "string": (str,), "boolean": (bool,), "null": (type(None),),
    "integer": (int,), "number": (int, float),
}


@functools.cache
def schema(name: str) -> dict[str, Any]:
    """The shipped schema ``name`` (e.g. ``estimate.schema.json``)."""
    loaded: dict[str, Any] = json.loads(resources.files("adamlr").joinpath(f"schemas/{name}").read_text())
    return loaded


def _is(value: Any, kind: str) -> bool:
    if isinstance(value, bool) and kind in ("integer", "number"):
        return False
    return isinstance(value, _TYPES.get(kind, object))


def _here(path: str, problem: str) -> str:
    return f"{path}: {problem}" if path else problem


def problem(value: Any, spec: dict[str, Any], path: str = "") -> str | None:
    """The first way ``value`` departs from ``spec`` (``"samples.0.index: expected integer, found str"``), or None."""
    kinds = spec.get("type")
    if kinds is not None:
        kinds = [kinds] if isinstance(kinds, str) else kinds
        if not any(_is(value, k) for k in kinds):
            return _here(path, f"expected {' or '.join(kinds)}, found {type(value).__name__}")
    if "const" in spec and value != spec["const"]:
        return _here(path, "unexpected value")
    if "enum" in spec and value not in spec["enum"]:
        return _here(path, f"expected one of {', '.join(map(str, spec['enum']))}")
    if isinstance(value, dict):
        missing = [k for k in spec.get("required", ()) if k not in value]
        if missing:
            return _here(path, f"missing {', '.join(missing)}")
        for key, sub in spec.get("properties", {}).items():
            if key in value and (found := problem(value[key], sub, f"{path}.{key}" if path else key)):
                return found
    if isinstance(value, list) and "items" in spec:
        for i, item in enumerate(value):
            if found := problem(item, spec["items"], f"{path}.{i}" if path else str(i)):
                return found
    return None
