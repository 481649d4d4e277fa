"""Method registry: entry points of group ``bench.methods``, imported only when a method is used.

One source of truth: the entry points that packages declare (the built-ins in this project's pyproject.toml,
a third-party package in its own). A method can also be named directly as ``"package.module:Class"``, handy
while writing a plugin that is not installed yet.

A family of many methods (smote-variants' 91 oversamplers) registers through one entry point of group
``bench.providers`` instead: its target is a function returning ``{name: "module:Class"}`` (or ``{name:
class}``), called when the registry is first read, so it should import nothing heavy.

Families: the optional extra after a target names the family shown by ``bench list methods``
(``smote = "methods.smote:Smote [classic]"``); a provider's members take the provider's extra, or else its
entry-point name; a plain entry point without one is ``other``. Listing imports no method.
"""

from __future__ import annotations

import difflib
import functools
import importlib
from collections import Counter
from importlib.metadata import entry_points
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # imported where used: it pulls scikit-learn, and `bench list` / `--help` need none of it
    from bench.oversampler import Oversampler

GROUP = "bench.methods"
PROVIDERS = "bench.providers"
DEFAULT_FAMILY = "other"


class UnknownMethodError(KeyError):
    def __str__(self) -> str:  # KeyError quotes its message; show it plainly
        return str(self.args[0])


def available() -> dict[str, str]:
    """Registered method names mapped to their ``"module:Class"`` targets, without importing any."""
    return {name: _show(target) for name, (target, _) in _registered()[0].items()}


def families() -> dict[str, str]:
    """Registered method names mapped to their family (``classic``, ``smote-variants``, ...)."""
    return {name: family for name, (_, family) in _registered()[0].items()}


def provider_errors() -> list[str]:
    """Why a ``bench.providers`` entry point gave no methods (it raised, or named a method twice)."""
    return list(_registered()[1])


@functools.cache
def _registered() -> tuple[dict[str, tuple[str | type, str]], tuple[str, ...]]:
    # Scanning installed distributions takes milliseconds; a sweep plan asks once per cell.
    found: dict[str, tuple[str | type, str]] = {}
    for ep in entry_points(group=GROUP):
        found[ep.name] = (f"{ep.module}:{ep.attr}", _family(ep.value) or DEFAULT_FAMILY)
    errors = []
    for ep in entry_points(group=PROVIDERS):
        family = _family(ep.value) or ep.name
        try:
            members = dict(ep.load()())
        except Exception as e:  # a broken third-party provider must not stop every other method
            errors.append(f"provider {ep.name!r} ({ep.module}:{ep.attr}) failed: {type(e).__name__}: {e}")
            continue
        taken = sorted(set(members) & set(found))
        if taken:
            errors.append(f"provider {ep.name!r}: {taken} already registered; kept the first registration")
        found.update({n: (t, family) for n, t in members.items() if n not in found})
    return found, tuple(errors)


def _family(value: str) -> str:
    # read the whole bracket: importlib's EntryPoint.extras splits "smote-variants" at the hyphen
    return value.partition("[")[2].rpartition("]")[0].strip()


def _show(target: str | type) -> str:
    return target if isinstance(target, str) else f"{target.__module__}:{target.__qualname__}"


def resolve(name: str) -> type[Oversampler]:
    """Import and return the class for a method name or a ``"module:Class"`` reference."""
    entry = _registered()[0].get(name)
    target = entry[0] if entry else name
    if isinstance(target, type):
        cls = target
    elif entry is None and ":" not in name:
        raise UnknownMethodError(_unknown(name))
    else:
        module, _, attr = target.partition(":")
        try:
            cls = getattr(importlib.import_module(module), attr)
        except (ImportError, AttributeError) as e:
            raise UnknownMethodError(f"method {name!r} points to {target!r}, which cannot be imported: "
                                     f"{e}") from e
    from bench.oversampler import Oversampler

    if not (isinstance(cls, type) and issubclass(cls, Oversampler)):
        raise UnknownMethodError(f"method {name!r} ({_show(target)}) is not a bench.oversampler.Oversampler "
                                 "subclass")
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
    family = families()
    sizes = Counter(family.values())
    # a family of dozens (smote-variants) is summarised, or the message would bury the close matches
    shown = [n for n in names if sizes[family[n]] <= 20]
    big = "".join(f"; {k} methods of family {f!r}" for f, k in sorted(sizes.items()) if k > 20)
    return (f"unknown method {name!r}.{did_you_mean(name, names)} Registered methods: {', '.join(shown)}{big}"
            f"{' (`bench list methods` names them all)' if big else ''}.")
