"""The dataset catalog: a YAML file of dataset declarations, validated into ``DatasetSpec`` objects.

Every problem a user can cause is a ``DatasetError`` that names the dataset and the field.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml

from bench.readers import DatasetError, _check

FORMATS = ("csv", "arff", "keel", "parquet")
DEFAULT_NA = ("?", "")  # '?' is the UCI/ARFF missing marker; empty cells are missing everywhere
MAX_GROUP_MISSING = 0.05  # beyond this, metrics over the two groups describe too few of the rows
# read option -> (type, formats it applies to). Generic options rather than per-dataset code.
READ_OPTIONS: dict[str, tuple[type, tuple[str, ...]]] = {
    "sep": (str, ("csv",)),
    "header": (bool, ("csv",)),  # the first line (after skiprows) holds column names; default true
    "names": (list, ("csv",)),  # column names; replace the header line if there is one
    "skiprows": (int, ("csv",)),  # lines to skip at the top of every file
    "quotechar": (str, ("csv",)),
    "comment": (str, ("csv",)),  # from this character to the line's end is ignored; skips a preamble line
    "strip_label_suffix": (str, FORMATS),  # removed from the end of target values ('>50K.')
    "na_values": (list, FORMATS),  # replaces DEFAULT_NA
    "encoding": (str, FORMATS),
}


def _keys(m: Any, where: str, required: tuple[str, ...], optional: tuple[str, ...]) -> None:
    _check(isinstance(m, Mapping), where, f"expected a mapping, got {type(m).__name__}")
    missing, unknown = [k for k in required if k not in m], [k for k in m if k not in required + optional]
    _check(not missing, where, f"missing key(s) {missing}")
    _check(not unknown, where, f"unknown key(s) {unknown}; allowed: {sorted(required + optional)}")


def _is(v: Any, kind: type | tuple[type, ...]) -> bool:
    return isinstance(v, kind) and (not isinstance(v, bool) or kind is bool)  # True is an int in Python


def _label(v: Any, where: str, what: str) -> str:
    # YAML reads yes/no/on/off as booleans; labels are compared as text, so insist on quoting.
    _check(_is(v, (str, int, float)), where, f"{what} must be a string or number, got {v!r} (quote yes/no)")
    return str(v)


def _names(v: Any, where: str, what: str) -> tuple[str, ...]:
    _check(isinstance(v, list) and all(isinstance(x, str) for x in v), where, f"{what} must list strings")
    _check(len(set(v)) == len(v), where, f"{what} has repeated names")
    return tuple(v)


@dataclass(frozen=True)
class FileSpec:
    """One mirror file: ``path`` relative to the data dir, its ``sha256`` (of the zip itself for a zip
    ``member``), and the zip ``member`` to read, if any."""

    path: str
    sha256: str
    member: str | None = None

    @classmethod
    def from_mapping(cls, m: Mapping, where: str) -> FileSpec:
        _keys(m, where, ("path", "sha256"), ("member",))
        _check(isinstance(m["path"], str), where, "path must be a string")
        _check(isinstance(m["sha256"], str) and re.fullmatch(r"[0-9a-f]{64}", m["sha256"]) is not None, where,
               f"sha256 must be 64 lowercase hex digits, got {m['sha256']!r}")
        _check(m.get("member") is None or isinstance(m["member"], str), where, "member must be a string")
        return cls(m["path"], m["sha256"], m.get("member"))


@dataclass(frozen=True)
class GroupSpec:
    """How one column becomes a two-valued group attribute; at most one of values/threshold/range.

    Missing values stay missing (NaN) and more than ``MAX_GROUP_MISSING`` of them is an error: a third
    "missing" group would break two-group metrics, and dropping rows would change the dataset.

    Attributes
    ----------
    column : str
        Source column; it stays in ``X`` as a feature.
    values : tuple of str, optional
        In the list -> ``labels[0]``, else ``labels[1]`` (default labels: the values joined, "other").
    threshold : float, optional
        ``value <= threshold`` -> ``labels[0]``, else ``labels[1]`` (default "<=t", ">t").
    range : (float, float), optional
        ``low <= value <= high`` -> ``labels[0]``, else ``labels[1]`` (default "low-high", "other").
    labels : (str, str), optional
        Without any rule the column must have two values, used as they are (or renamed by labels).
    """

    column: str
    values: tuple[str, ...] | None = None
    threshold: float | None = None
    range: tuple[float, float] | None = None
    labels: tuple[str, str] | None = None

    @classmethod
    def from_mapping(cls, m: Mapping, where: str) -> GroupSpec:
        _keys(m, where, ("column",), ("values", "threshold", "range", "labels"))
        rules = [k for k in ("values", "threshold", "range") if k in m]
        _check(len(rules) <= 1, where, f"give at most one of values/threshold/range, got {rules}")
        values, threshold, rng, labels = (m.get(k) for k in ("values", "threshold", "range", "labels"))
        _check(values is None or (isinstance(values, list) and values), where, "values: a non-empty list")
        _check(threshold is None or _is(threshold, (int, float)), where, "threshold must be a number")
        pair = isinstance(rng, list) and len(rng) == 2 and all(_is(x, (int, float)) for x in rng)
        _check(rng is None or pair, where, "range must be [low, high]")
        _check(labels is None or (isinstance(labels, list) and len(labels) == 2 and labels[0] != labels[1]),
               where, "labels must be two different strings")
        return cls(
            column=_label(m["column"], where, "group column"),
            values=tuple(_label(v, where, "group value") for v in values) if values else None,
            threshold=float(threshold) if threshold is not None else None,
            range=(float(rng[0]), float(rng[1])) if rng else None,
            labels=tuple(_label(x, where, "group label") for x in labels) if labels else None,  # type: ignore
        )

    def apply(self, col: pd.Series, dataset: str) -> pd.Series:
        """Binarise ``col`` (float64 or category, as in ``Dataset.X``) of dataset ``dataset``.

        Returns
        -------
        pandas.Series
            Object dtype with the two labels, NaN where ``col`` is missing; same index as ``col``.

        Raises
        ------
        DatasetError
            The rule does not fit the column, gives one group only, or too many values are missing.
        """
        where = f"dataset '{dataset}': group column '{self.column}'"
        present, numeric = col.notna(), pd.api.types.is_float_dtype(col)
        if self.threshold is not None or self.range is not None:
            _check(numeric, where, "threshold/range need a numeric column")
            lo, hi = self.range or (-np.inf, self.threshold)
            first = (col >= lo) & (col <= hi)
            t = self.threshold
            default = (f"<={t:g}", f">{t:g}") if self.range is None else (f"{lo:g}-{hi:g}", "other")
        elif self.values is not None:
            try:  # a numeric column matches numerically: values [2] selects 2.0
                first = col.isin([float(v) for v in self.values] if numeric else self.values)
            except ValueError:
                raise DatasetError(f"{where}: is numeric but values {self.values} are not numbers") from None
            default = ("/".join(self.values), "other")
        else:
            levels = sorted(col.dropna().unique(), key=str)
            _check(len(levels) == 2, where, f"{len(levels)} levels {levels[:9]}: give values/threshold/range")
            first, default = col == levels[0], (str(levels[0]), str(levels[1]))
        labels = self.labels or default
        out = pd.Series(np.where(first, labels[0], labels[1]), index=col.index, dtype=object).where(present)
        share = 1 - present.mean()
        _check(share <= MAX_GROUP_MISSING, where, f"{share:.1%} missing (max {MAX_GROUP_MISSING:.0%})")
        _check(out.nunique() == 2, where, f"gives only {sorted(out.dropna().unique())}; adjust the rule")
        return out


@dataclass(frozen=True)
class DatasetSpec:
    """A catalog entry: where the data are, how to parse them, which label is the minority, the group rule.

    Attributes
    ----------
    openml_id : int or None
        Source used when the mirror files are missing.
    minority : str
        Positive label after cleaning; compared as text, or as numbers when the label and all target values
        are numbers ("0" matches 0.0).
    files : tuple of FileSpec
        Mirror files; several are concatenated row-wise.
    read : dict
        Parsing options, see ``READ_OPTIONS``.
    features, drop : tuple of str
        Keep only ``features`` (default: all but the target), then remove ``drop``.
    description : str
        What a row is, in plain words (read by LLM-based methods).
    """

    name: str
    openml_id: int | None
    target: str
    minority: str
    files: tuple[FileSpec, ...]
    format: str
    read: dict[str, Any] = field(default_factory=dict, hash=False)  # hash=False: a dict is unhashable
    group: GroupSpec | None = None
    features: tuple[str, ...] | None = None
    drop: tuple[str, ...] = ()
    description: str = ""
    # Fixed splits instead of cross-validation (bench/splits.py): per-seed train/test file path templates
    # with "{seed}", e.g. {"seeds": [1, 2], "train": "t/train_{seed}.csv", "test": "t/test_{seed}.csv"}.
    splits: dict[str, Any] = field(default_factory=dict, hash=False)
    # Rows generated elsewhere for this dataset (a `precomputed` method reads them): name -> path template.
    synthetic: dict[str, str] = field(default_factory=dict, hash=False)
    # sha256 of every split and synthetic file, by path relative to the data dir (all are verified).
    checksums: dict[str, str] = field(default_factory=dict, hash=False)
    # Columns the methods see but the classifiers do not (the OPAL protocol oversamples on all columns).
    classifier_drop: tuple[str, ...] = ()
    # Per-dataset classifier settings, merged over the suite's (a protocol may tune them per dataset).
    classifier_params: dict[str, dict[str, Any]] = field(default_factory=dict, hash=False)

    @classmethod
    def from_mapping(cls, m: Mapping, where: str) -> DatasetSpec:
        """Validate mapping ``m`` (keys as the attributes; ``files`` a list and ``group`` a mapping).

        Raises
        ------
        DatasetError
            Starting with ``where`` (e.g. ``"datasets/imbalanced.yaml: dataset 'adult'"``) and naming the
            unknown, missing or mistyped key.
        """
        _keys(m, where, ("name", "target", "minority", "format"),
              ("files", "openml_id", "read", "group", "features", "drop", "description", "splits", "synthetic",
               "checksums", "classifier_drop", "classifier_params"))
        splits, synthetic, checksums = (dict(m.get(k) or {}) for k in ("splits", "synthetic", "checksums"))
        _check("files" in m or splits, where, "give files, or splits for fixed train/test files")
        if splits:
            _keys(splits, f"{where}: splits", ("seeds", "train", "test"), ())
            _check(isinstance(splits["seeds"], list) and all(_is(x, int) for x in splits["seeds"]), where,
                   "splits.seeds must list integers")
            _check(all("{seed}" in splits[k] for k in ("train", "test")), where, "split paths need '{seed}'")
            splits["seeds"] = tuple(splits["seeds"])
        for name, path in synthetic.items():
            _check(isinstance(path, str) and "{seed}" in path, where, f"synthetic.{name} must be a path with '{{seed}}'")
        _check(isinstance(m["name"], str) and m["name"] != "", where, "name must be a non-empty string")
        oid = m.get("openml_id")
        _check(oid is None or _is(oid, int), where, f"openml_id must be an integer or null, got {oid!r}")
        _check(m["format"] in FORMATS, where, f"format must be one of {FORMATS}, got {m['format']!r}")
        _check(isinstance(m.get("files", []), list), where, "files must be a list of {path, sha256[, member]}")
        files = tuple(FileSpec.from_mapping(f, f"{where}: files[{i}]") for i, f in enumerate(m.get("files", [])))
        read = dict(m.get("read") or {})
        for key, value in read.items():
            _check(key in READ_OPTIONS, where, f"unknown read option {key!r}; known: {sorted(READ_OPTIONS)}")
            kind, formats = READ_OPTIONS[key]
            _check(_is(value, kind), where, f"read option {key!r} must be {kind.__name__}, got {value!r}")
            _check(m["format"] in formats, where, f"read option {key!r} does not apply to {m['format']}")
            if kind is list:
                read[key] = list(_names(value, where, f"read.{key}"))
        _check(m["format"] != "csv" or read.get("header", True) or "names" in read, where,
               "a csv without header needs read.names")
        _check(isinstance(m.get("description", ""), str), where, "description must be a string")
        group = m.get("group")
        return cls(
            name=m["name"], openml_id=oid, target=_label(m["target"], where, "target"),
            minority=_label(m["minority"], where, "minority"), files=files, format=m["format"], read=read,
            group=GroupSpec.from_mapping(group, f"{where}: group") if group is not None else None,
            features=_names(m["features"], where, "features") if m.get("features") is not None else None,
            drop=_names(m.get("drop") or [], where, "drop"), description=m.get("description", "").strip(),
            splits=splits, synthetic=synthetic, checksums=checksums,
            classifier_drop=_names(m.get("classifier_drop") or [], where, "classifier_drop"),
            classifier_params={k: dict(v) for k, v in (m.get("classifier_params") or {}).items()},
        )


def load_catalog(path: Path) -> dict[str, DatasetSpec]:
    """Read a catalog YAML (``datasets:``, a list of dataset mappings; optional ``name``, ``description``).

    Returns
    -------
    dict of str to DatasetSpec
        Keyed by dataset name, in file order.
    """
    path = Path(path)
    try:
        doc = yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError) as e:
        raise DatasetError(f"{path}: cannot read catalog: {e}") from e
    # A catalog may also be a runnable suite (bench/config.py reads the suite keys).
    _keys(doc, str(path), ("datasets",), ("name", "description", "catalog", "methods", "classifiers", "seeds",
                                          "folds", "repeats", "group_aware", "budget", "augmentation"))
    _check(isinstance(doc["datasets"], list), str(path), "datasets must be a list")
    specs: dict[str, DatasetSpec] = {}
    for i, entry in enumerate(doc["datasets"]):
        name = entry.get("name") if isinstance(entry, Mapping) else None
        where = f"{path}: dataset '{name}'" if name else f"{path}: datasets[{i}]"
        spec = DatasetSpec.from_mapping(entry, where)
        _check(spec.name not in specs, str(path), f"dataset '{spec.name}' is declared twice")
        specs[spec.name] = spec
    return specs
