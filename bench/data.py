"""Loading datasets: a catalog entry (`bench.catalog`) read (`bench.readers`), typed and binarised.

Data come from a local mirror of raw files, checksummed so that a changed file is never loaded silently, and
from OpenML when the mirror lacks a dataset. Every problem a user can cause or fix is a ``DatasetError`` whose
message names the dataset, what was tried and how to fix it.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

# the catalog and the readers are re-exported: `from bench.data import DatasetSpec, DatasetError` keeps working
from bench.catalog import DEFAULT_NA, DatasetSpec, FileSpec, GroupSpec, load_catalog  # noqa: F401
from bench.readers import DatasetError, _check, read_mirror, read_openml  # noqa: F401

REPO_ROOT = Path(__file__).resolve().parent.parent
@dataclass(frozen=True, eq=False)
class Dataset:
    """A loaded dataset.

    Attributes
    ----------
    X : pandas.DataFrame
        Features only: float64 or category (string categories) columns; NaN where missing.
    y : pandas.Series
        int64, 1 = minority label; named after the target column.
    group : pandas.Series or None
        Binarised group attribute (string labels, NaN where missing), same index as ``X``.
    sha256 : str
        sha256 over the mirror files' checksums in order, or of OpenML's cached data file.
    source : {"mirror", "openml"}
    """

    name: str
    X: pd.DataFrame = field(repr=False)
    y: pd.Series = field(repr=False)
    group: pd.Series | None = field(repr=False)
    sha256: str
    source: str
    spec: DatasetSpec = field(repr=False)


def default_data_dir() -> Path:
    """``$BENCH_DATA_DIR`` if set, else the shared mirror beside the repo: ``<repo>/../shared/datasets``."""
    env = os.environ.get("BENCH_DATA_DIR")
    return Path(env) if env else REPO_ROOT.parent / "shared" / "datasets"


def load_dataset(spec: DatasetSpec, data_dir: Path | None = None) -> Dataset:
    """Load ``spec`` from the mirror under ``data_dir`` (default ``default_data_dir()``), else from OpenML.

    Raises
    ------
    DatasetError
        A mirror file fails its checksum or does not parse; files are missing and OpenML fails or there is
        no ``openml_id``; the target, features or group do not fit the data; the minority label is absent,
        is the only label, or is not the minority.
    """
    data_dir = Path(data_dir) if data_dir is not None else default_data_dir()
    missing = [f.path for f in spec.files if not (data_dir / f.path).is_file()]
    if spec.files and not missing:
        frame, nominal, sha = read_mirror(spec, data_dir)
        return _build(spec, frame, nominal, sha, "mirror")
    missing_text = f"mirror files missing under {data_dir}: {missing or 'no files declared'}"
    fix = "fix: set BENCH_DATA_DIR (or --data-dir) to a directory holding them (a copy of shared/datasets)"
    if spec.openml_id is None:
        raise DatasetError(f"dataset '{spec.name}': {missing_text}; no openml_id to fall back on; {fix}")
    try:
        frame, nominal, sha = read_openml(spec)
    except DatasetError as e:
        raise DatasetError(f"dataset '{spec.name}': {missing_text}; {e}; {fix}, or go online") from e
    return _build(spec, frame, nominal, sha, "openml")


def read_raw(spec: DatasetSpec, data_dir: Path | None = None) -> tuple[pd.DataFrame, set[str], str]:
    """The table of ``spec`` as read, before typing and binarising, for a tool that inspects a table before
    declaring it (``bench compare``): the frame, the columns its format declares nominal, the checksum.

    Mirror files when ``spec`` has them (checksums verified), else OpenML by ``openml_id`` (through its cache).

    Raises
    ------
    DatasetError
        As ``load_dataset``, for the reading part.
    """
    if spec.files:
        return read_mirror(spec, Path(data_dir) if data_dir is not None else default_data_dir())
    _check(spec.openml_id is not None, f"dataset '{spec.name}'", "no files and no openml_id")
    return read_openml(spec)


def clean_column(col: pd.Series, nominal: bool = False,
                 na_values: tuple[str, ...] | list[str] = DEFAULT_NA) -> pd.Series:
    """A raw column typed as ``load_dataset`` types features: float64 if numeric, else category."""
    return _clean_column(col, nominal, list(na_values))


def minority_mask(target: pd.Series, minority: str) -> pd.Series:
    """Rows whose label is ``minority``, compared as ``load_dataset`` compares them (as text, or as numbers)."""
    return _minority_mask(target, minority)


# -- cleaning and typing -----------------------------------------------------------------------------------
def _clean_column(col: pd.Series, nominal: bool, na_values: list[str]) -> pd.Series:
    """float64 if numeric (declared, or every present value parses), else category with string categories.

    Text is cleaned once per distinct value (columns repeat few values): whitespace and b'..' wrappers are
    stripped and NA markers become NaN. A column whose every value is b'..' counts as nominal, because
    scipy.io.arff exports write exactly the nominal attributes as bytes reprs (b'1' is a code, not a number).
    """
    if pd.api.types.is_numeric_dtype(col) and not pd.api.types.is_bool_dtype(col) and not nominal:
        return col.astype("float64")
    codes, uniques = pd.factorize(col.astype(object))  # code -1 = missing
    na, cleaned, wrapped = set(na_values), [], []
    for u in uniques:
        s = str(u).strip()
        w = len(s) >= 3 and s[0] == "b" and s[1] in "'\"" and s[-1] == s[1]
        s = s[2:-1].strip() if w else s
        wrapped.append(w)
        cleaned.append(None if s in na else s)
    if not (nominal or (wrapped and all(wrapped))):
        try:  # the appended NaN is what code -1 picks
            numbers = np.array([np.nan if c is None else float(c) for c in cleaned] + [np.nan], dtype=float)
            return pd.Series(numbers[codes], index=col.index, dtype="float64")
        except ValueError:  # some value is not a number: categorical
            pass
    categories = sorted({c for c in cleaned if c is not None})
    position = {c: i for i, c in enumerate(categories)}
    lookup = np.array([-1 if c is None else position[c] for c in cleaned] + [-1], dtype="int64")
    return pd.Series(pd.Categorical.from_codes(lookup[codes], categories=categories), index=col.index)


def _minority_mask(target: pd.Series, minority: str) -> pd.Series:
    """Rows with the minority label: equal as text, or equal as numbers when both sides are numbers."""
    hit = target.astype(object) == minority
    try:
        value = float(minority)
    except ValueError:
        return hit
    number = pd.to_numeric(target, errors="coerce")
    return number == value if bool((number.notna() == target.notna()).all()) else hit


def _build(spec: DatasetSpec, frame: pd.DataFrame, nominal: set[str], sha: str, source: str,
           check_minority: bool = True) -> Dataset:
    where, columns = f"dataset '{spec.name}' ({source})", list(frame.columns)
    _check(spec.target in columns, where, f"target column '{spec.target}' not found; columns: {columns}")
    na_values = spec.read.get("na_values", list(DEFAULT_NA))

    target = frame[spec.target]
    if not pd.api.types.is_numeric_dtype(target):
        target = _clean_column(target, True, na_values).astype(object)
        if suffix := spec.read.get("strip_label_suffix"):
            target = target.where(target.isna(), target.astype(str).str.removesuffix(suffix))
    keep = target.notna().to_numpy()  # rows without a label cannot be used
    frame, target = frame.loc[keep].reset_index(drop=True), target[keep].reset_index(drop=True)
    hit = _minority_mask(target, spec.minority)
    labels, n_pos, n_neg = sorted(map(str, target.unique())), int(hit.sum()), int((~hit).sum())
    _check(n_pos > 0, where, f"minority label {spec.minority!r} never occurs in {spec.target!r}: {labels}")
    _check(n_neg > 0, where, f"only one class ({spec.minority!r}) in '{spec.target}'; need two")
    # A label coded differently by another source (e.g. 1/2 vs 0/1 on OpenML) must not silently invert y.
    _check(n_pos <= n_neg or not check_minority, where, f"label {spec.minority!r} is the majority ({n_pos} of {n_pos + n_neg} "
           f"rows); check `minority` (labels: {labels})")
    y = pd.Series(hit.to_numpy().astype("int64"), name=spec.target)

    features = list(spec.features) if spec.features is not None else [c for c in columns if c != spec.target]
    absent = [c for c in features + list(spec.drop) if c not in columns]
    _check(not absent, where, f"features/drop name columns not in the data: {absent}; columns: {columns}")
    X = pd.DataFrame({c: _clean_column(frame[c], c in nominal, na_values)
                      for c in features if c not in spec.drop and c != spec.target})

    group = None
    if spec.group is not None:
        g = spec.group.column
        _check(g in columns, where, f"group column '{g}' not found; columns: {columns}")
        col = X[g] if g in X else _clean_column(frame[g], g in nominal, na_values)
        group = spec.group.apply(col, spec.name)
    return Dataset(spec.name, X, y, group, sha, source, spec)
