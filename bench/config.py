"""Suite YAML -> one frozen run configuration, with errors that point at the file and line.

Precedence is explicit: command-line options (applied with ``Suite.override``) > the suite file > the defaults
written on the dataclass below.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from bench import registry
from bench.classifiers import CLASSIFIERS
from bench.data import DatasetError, DatasetSpec, load_catalog

DATASETS_DIR = Path(__file__).resolve().parent.parent / "datasets"
BASELINES = ("none", "duplication")  # every leaderboard shows these, so gains are read against them
# Not oversampling (balanced class weights, a tuned decision threshold: methods/references.py); every suite
# gets them too, so each leaderboard says whether oversampling beats simply reweighting or moving the cut.
REFERENCES = ("class-weights", "threshold")


class SuiteError(ValueError):
    """A suite file or option that cannot be used; the message starts with ``file:line`` or the option."""


def _integer(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _finite(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


# What each run setting must be, checked where it is read (suite file or command line) before anything runs.
SETTINGS: dict[str, tuple[Callable[[Any], bool], str]] = {
    "folds": (lambda v: _integer(v) and v >= 2, "an integer of at least 2 (each fold needs training rows)"),
    "repeats": (lambda v: _integer(v) and v >= 1, "an integer of at least 1"),
    "seeds": (lambda v: len(v) > 0 and all(_integer(x) for x in v), "a non-empty list of integers"),
    "cell_timeout_s": (lambda v: _finite(v) and v > 0, "a number of seconds above 0"),
    "cell_memory_gb": (lambda v: v is None or (_finite(v) and v >= 0), "a number of GiB >= 0 (0 or null: no cap)"),
}
OPTIONS = {"folds": "--folds", "repeats": "--repeats", "seeds": "--seed", "cell_timeout_s": "--timeout",
           "cell_memory_gb": "--memory-gb"}


def check_setting(name: str, value: Any, where: str) -> None:
    """Raise ``SuiteError`` naming ``where`` (an option, or ``file:line: 'key'``) unless ``value`` is valid."""
    valid, should = SETTINGS[name]
    if not valid(value):
        raise SuiteError(f"{where} must be {should}, got {value!r}")


@dataclass(frozen=True)
class MethodConfig:
    label: str  # what leaderboards show, unique within a suite
    name: str  # registry name or "module:Class"
    params: dict[str, Any] = field(default_factory=dict)
    group_aware: bool | None = None  # None: follow the suite
    # Run this method only on these datasets / the first `only_folds` folds (an expensive method in a quick suite).
    only_datasets: tuple[str, ...] = ()
    only_folds: int | None = None


@dataclass(frozen=True)
class ClassifierConfig:
    name: str
    params: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Suite:
    name: str
    datasets: tuple[DatasetSpec, ...]
    methods: tuple[MethodConfig, ...]
    classifiers: tuple[ClassifierConfig, ...] = (ClassifierConfig("xgboost"),)
    seeds: tuple[int, ...] = (0,)
    folds: int = 5
    repeats: int = 2
    group_aware: bool = False
    # Augmentation sweep: every method adds round(step x base) rows, for each step; base is the training
    # rows ("train_rows"), the minority class size ("minority_rows") or 1 ("rows": steps are row counts).
    augmentation_steps: tuple[float, ...] = ()
    augmentation_of: str = "train_rows"
    cell_timeout_s: float = 900.0
    cell_memory_gb: float | None = 8.0
    description: str = ""
    path: str = ""

    def override(self, **changes: Any) -> Suite:
        """Apply command-line options that were given (None means not given), each checked and named."""
        given = {k: v for k, v in changes.items() if v is not None}
        for k, v in given.items():
            if k in SETTINGS:
                check_setting(k, v, OPTIONS[k])
        return dataclasses.replace(self, **given)

    def select(self, datasets: list[str] | None = None, methods: list[str] | None = None) -> Suite:
        """Keep only the named datasets / method labels (command-line ``--dataset`` / ``--method``)."""
        suite = self
        if datasets:
            _check_names("dataset", datasets, [d.name for d in suite.datasets], suite.path)
            suite = dataclasses.replace(suite, datasets=tuple(d for d in suite.datasets if d.name in datasets))
        if methods:
            _check_names("method", methods, [m.label for m in suite.methods], suite.path)
            suite = dataclasses.replace(suite, methods=tuple(m for m in suite.methods if m.label in methods))
        _check_runnable(suite, "--dataset/--method leave")
        return suite


def suite_path(name_or_path: str) -> Path:
    """``quick`` -> datasets/quick.yaml; a path is taken as it is."""
    p = Path(name_or_path)
    if p.suffix in (".yaml", ".yml"):
        if not p.exists():
            raise SuiteError(f"{p}: no such suite file")
        return p
    candidate = DATASETS_DIR / f"{name_or_path}.yaml"
    if not candidate.exists():
        known = sorted(f.stem for f in DATASETS_DIR.glob("*.yaml"))
        raise SuiteError(f"unknown suite {name_or_path!r}; suites in {DATASETS_DIR}: {', '.join(known)}")
    return candidate


def load_suite(name_or_path: str) -> Suite:
    path = suite_path(name_or_path)
    doc = _read_yaml(path)
    where = _Where(path)
    if not isinstance(doc, dict):
        raise SuiteError(f"{path}:1: a suite is a mapping with keys such as datasets, methods, seeds")
    allowed = {"name", "description", "catalog", "datasets", "methods", "classifiers", "seeds", "folds",
               "repeats", "group_aware", "budget", "augmentation"}
    where.unknown_keys(doc, allowed, "suite")
    if "datasets" not in doc or "methods" not in doc:
        raise SuiteError(f"{path}:1: a suite needs both 'datasets' and 'methods'")

    budget = doc.get("budget") or {}
    where.unknown_keys(budget, {"cell_timeout_s", "cell_memory_gb"}, "budget")
    augmentation = doc.get("augmentation") or {}
    where.unknown_keys(augmentation, {"steps", "of"}, "augmentation")
    steps = where.typed(augmentation, "steps", list, [])
    if not all(isinstance(x, (int, float)) and not isinstance(x, bool) and x >= 0 for x in steps):
        raise SuiteError(f"{where.at(augmentation)}: augmentation steps must be numbers >= 0, got {steps}")
    of = where.typed(augmentation, "of", str, "train_rows")
    if of not in ("train_rows", "minority_rows", "rows"):
        raise SuiteError(f"{where.at(augmentation)}: augmentation 'of' must be train_rows, minority_rows or rows")
    suite = Suite(
        name=where.typed(doc, "name", str, path.stem),
        description=where.typed(doc, "description", str, ""),
        datasets=_datasets(doc, path, where),
        methods=_methods(where.typed(doc, "methods", list), where, sweep=bool(steps)),
        classifiers=_classifiers(where.typed(doc, "classifiers", list, ["xgboost"]), where),
        seeds=tuple(where.setting(doc, "seeds", list, [0])),
        folds=where.setting(doc, "folds", int, 5),
        repeats=where.setting(doc, "repeats", int, 2),
        group_aware=where.typed(doc, "group_aware", bool, False),
        augmentation_steps=tuple(float(x) for x in steps),
        augmentation_of=of,
        cell_timeout_s=float(where.setting(budget, "cell_timeout_s", (int, float), 900)),
        cell_memory_gb=where.setting(budget, "cell_memory_gb", (int, float, type(None)), 8.0),
        path=str(path),
    )
    names = [d.name for d in suite.datasets]
    for m in suite.methods:  # a misspelt `only: {datasets}` would silently never run its method
        for n in m.only_datasets:
            if n not in names:
                raise SuiteError(f"{path}: method {m.label!r} is limited to dataset {n!r}, which the suite does "
                                 f"not have.{registry.did_you_mean(n, names)} Datasets: {', '.join(names)}")
    return suite


def _check_runnable(suite: Suite, what: str) -> None:
    """Some method must meet some dataset (methods limited by ``only: {datasets}`` may not), or no cell runs."""
    names = {d.name for d in suite.datasets}
    if not any(not m.only_datasets or names & set(m.only_datasets) for m in suite.methods):
        only = {m.label: list(m.only_datasets) for m in suite.methods}
        raise SuiteError(f"{what} no cell to run: datasets {sorted(names)}, but the methods run only on {only}")


# -- parts ---------------------------------------------------------------------------------------------------
def _datasets(doc: dict, path: Path, where: _Where) -> tuple[DatasetSpec, ...]:
    catalog: dict[str, DatasetSpec] = {}
    if "catalog" in doc:
        catalog_path = path.parent / where.typed(doc, "catalog", str)
        try:
            catalog = load_catalog(catalog_path)
        except DatasetError as e:
            raise SuiteError(f"{where.at(doc)}: catalog {catalog_path}: {e}") from e
    specs = []
    for entry in where.typed(doc, "datasets", list):
        if isinstance(entry, str):
            if entry not in catalog:
                _check_names("dataset", [entry], list(catalog), where.at(doc))
            specs.append(catalog[entry])
        elif isinstance(entry, dict):
            try:
                specs.append(DatasetSpec.from_mapping(entry, where.at(entry)))
            except DatasetError as e:
                raise SuiteError(f"{where.at(entry)}: {e}") from e
        else:
            raise SuiteError(f"{where.at(doc)}: a dataset is a catalog name or a mapping, not {entry!r}")
    if not specs:
        raise SuiteError(f"{where.at(doc, 'datasets')}: 'datasets' is empty; a suite needs at least one")
    names = [s.name for s in specs]
    if len(set(names)) != len(names):
        raise SuiteError(f"{where.at(doc)}: dataset names repeat: {names}")
    return tuple(specs)


def _methods(entries: list, where: _Where, sweep: bool = False) -> tuple[MethodConfig, ...]:
    methods = [_method(e, where) for e in entries]
    # An augmentation sweep grows every method's rows step by step; a reference adds none (as `none`, which
    # runs once as the sweep's step 0), so a sweep gets references only when it lists them.
    references = () if sweep else tuple(r for r in REFERENCES if r in registry.available())
    for base in reversed((*BASELINES, *references)):
        if not any(m.name == base and not m.params for m in methods):
            methods.insert(0, MethodConfig(base, base))
    labels = [m.label for m in methods]
    if len(set(labels)) != len(labels):
        raise SuiteError(f"{where.path}: method labels repeat: {labels}; give variants a 'name'")
    return tuple(methods)


def _method(entry: Any, where: _Where) -> MethodConfig:
    only_datasets, only_folds = (), None
    if isinstance(entry, str):
        name, params, label = entry, {}, entry
    elif isinstance(entry, dict) and "method" in entry:
        where.unknown_keys(entry, {"name", "method", "params", "only"}, "method")
        name, params = entry["method"], dict(entry.get("params") or {})
        label = entry.get("name") or _label(name, params)
        only = entry.get("only") or {}
        where.unknown_keys(only, {"datasets", "folds"}, "only")
        only_datasets = tuple(where.typed(only, "datasets", list, []))
        only_folds = where.typed(only, "folds", int, None) if "folds" in only else None
        if only_folds is not None and only_folds < 1:
            raise SuiteError(f"{where.at(only, 'folds')}: 'only: folds' must be at least 1, got {only_folds}")
    elif isinstance(entry, dict) and len(entry) == 1:
        (name, params), = entry.items()
        params = dict(params or {})
        label = _label(name, params)
    else:
        raise SuiteError(f"{where.at(entry)}: a method is 'name', {{name: {{params}}}} or "
                         f"{{name: label, method: name, params: {{...}}, only: {{datasets, folds}}}}; got {entry!r}")
    group_aware = params.pop("group_aware", None)
    try:
        cls = registry.resolve(name)
    except registry.UnknownMethodError as e:
        raise SuiteError(f"{where.at(entry)}: {e}") from e
    unknown = set(params) - set(cls._get_param_names())
    if unknown:
        raise SuiteError(f"{where.at(entry)}: method {name!r} has no parameter(s) {sorted(unknown)}; "
                         f"its parameters are {sorted(cls._get_param_names())}")
    return MethodConfig(label, name, params, group_aware, only_datasets, only_folds)


def _classifiers(entries: list, where: _Where) -> tuple[ClassifierConfig, ...]:
    if not entries:
        raise SuiteError(f"{where.at(entries)}: 'classifiers' is empty; leave it out for the default (xgboost)")
    out = []
    for e in entries:
        name, params = (e, {}) if isinstance(e, str) else (next(iter(e)), dict(next(iter(e.values())) or {}))
        if name not in CLASSIFIERS:
            _check_names("classifier", [name], list(CLASSIFIERS), where.at(entries))
        out.append(ClassifierConfig(name, params))
    return tuple(out)


def _label(name: str, params: dict) -> str:
    return name if not params else f"{name}({', '.join(f'{k}={v}' for k, v in sorted(params.items()))})"


def _check_names(kind: str, names: list[str], known: list[str], where: str) -> None:
    for n in names:
        if n not in known:
            raise SuiteError(f"{where}: unknown {kind} {n!r}.{registry.did_you_mean(n, known)} "
                             f"Known: {', '.join(known)}")


# -- YAML with line numbers ------------------------------------------------------------------------------------
class _LineDict(dict):
    line = 0
    key_lines: dict[str, int] = {}


class _LineList(list):
    line = 0


class _Loader(yaml.SafeLoader):
    """A SafeLoader whose mappings and lists remember the line they start on (mappings: each key's too)."""

    def construct_mapping(self, node, deep=False):
        m = _LineDict(super().construct_mapping(node, deep=True))
        m.line = node.start_mark.line + 1
        m.key_lines = {k.value: k.start_mark.line + 1 for k, _ in node.value if isinstance(k, yaml.ScalarNode)}
        return m

    def construct_sequence(self, node, deep=False):
        s = _LineList(super().construct_sequence(node, deep=True))
        s.line = node.start_mark.line + 1
        return s


_Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _Loader.construct_mapping)
_Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_SEQUENCE_TAG, _Loader.construct_sequence)


def _read_yaml(path: Path) -> Any:
    try:
        return yaml.load(path.read_text(), Loader=_Loader)
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        line = f"{mark.line + 1}" if mark else "?"
        raise SuiteError(f"{path}:{line}: not valid YAML: {getattr(e, 'problem', e)}") from e


class _Where:
    """Turns a node into ``file:line`` and checks keys and types against it."""

    def __init__(self, path: Path):
        self.path = path

    def at(self, node: Any, key: str | None = None) -> str:
        """``file:line`` of ``node``, or of its ``key`` when known."""
        line = getattr(node, "key_lines", {}).get(key) or getattr(node, "line", "?")
        return f"{self.path}:{line}"

    def unknown_keys(self, m: Any, allowed: set[str], what: str) -> None:
        if not isinstance(m, dict):
            raise SuiteError(f"{self.at(m)}: {what} must be a mapping, got {m!r}")
        extra = sorted(set(m) - allowed)
        if extra:
            raise SuiteError(f"{self.at(m)}: unknown {what} key(s) {extra}; allowed: {sorted(allowed)}")

    def typed(self, m: dict, key: str, kind: Any, default: Any = ...) -> Any:
        if key not in m:
            if default is ...:
                raise SuiteError(f"{self.at(m)}: missing key {key!r}")
            return default
        value = m[key]
        if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
            raise SuiteError(f"{self.at(m, key)}: {key!r} should be {getattr(kind, '__name__', kind)}, got {value!r}")
        return value

    def setting(self, m: dict, key: str, kind: Any, default: Any) -> Any:
        """A run setting (``SETTINGS``): typed, then checked against what it must be."""
        value = self.typed(m, key, kind, default)
        check_setting(key, value, f"{self.at(m, key)}: {key!r}")
        return value
