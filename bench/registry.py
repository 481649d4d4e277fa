"""Method registry: entry points of group ``bench.methods``, imported only when a method is used.

One source of truth: the entry points that packages declare (the built-ins in this project's pyproject.toml,
a third-party package in its own). A method can also be named directly as ``"package.module:Class"``, handy
while writing a plugin that is not installed yet.
"""

from __future__ import annotations

import difflib
import functools
import importlib
from importlib.metadata import entry_points
from typing import Any

from bench.oversampler import Oversampler

GROUP = "bench.methods"


class UnknownMethodError(KeyError):
    def __str__(self) -> str:  # KeyError quotes its message; show it plainly
        return str(self.args[0])


def available() -> dict[str, str]:
    """Registered method names mapped to their ``"module:Class"`` targets, without importing any."""
    return dict(_registered())


@functools.cache
def _registered() -> tuple[tuple[str, str], ...]:
    # Scanning installed distributions takes milliseconds; a sweep plan asks once per cell.
    return tuple((ep.name, ep.value) for ep in entry_points(group=GROUP))


def resolve(name: str) -> type[Oversampler]:
    """Import and return the class for a method name or a ``"module:Class"`` reference."""
    target = available().get(name)
    if target is None:
        if ":" not in name:
            raise UnknownMethodError(_unknown(name))
        target = name
    module, _, attr = target.partition(":")
    try:
        cls = getattr(importlib.import_module(module), attr)
    except (ImportError, AttributeError) as e:
        raise UnknownMethodError(f"method {name!r} points to {target!r}, which cannot be imported: {e}") from e
    if not (isinstance(cls, type) and issubclass(cls, Oversampler)):
        raise UnknownMethodError(f"method {name!r} ({target}) is not a bench.oversampler.Oversampler subclass")
    return cls


def create(name: str, params: dict[str, Any] | None = None, **context: Any) -> Oversampler:
    """Instantiate a method with suite parameters plus run context (``random_state``, ``group_column``)."""
    cls = resolve(name)
    try:
        return cls(**(params or {}), **context)
    except TypeError as e:
        allowed = sorted(cls._get_param_names())
        raise TypeError(f"method {name!r}: {e}; its parameters are {allowed}") from e


def did_you_mean(name: str, known: list[str]) -> str:
    """`` Did you mean 'x'?`` for the names of ``known`` close to ``name`` (empty when none is)."""
    close = difflib.get_close_matches(name, known, n=3, cutoff=0.5)
    return f" Did you mean {' or '.join(map(repr, close))}?" if close else ""


def _unknown(name: str) -> str:
    names = sorted(available())
    return f"unknown method {name!r}.{did_you_mean(name, names)} Registered methods: {', '.join(names)}."
