"""The method contract: every oversampler is an imblearn-style sampler on typed DataFrames.

`Oversampler.fit_resample` is a template method (as in imblearn's ``BaseSampler``): it validates the input and
counts the cells once, then asks the plugin's ``_generate`` for exactly the rows each cell needs. A plugin only
decides *how* new rows are made.

A *cell* is what gets grown: the class, or with a ``group_column`` the (class, group) pair. Plugins see cells as
integer codes (``strata``) and never the group column itself; the base puts the group value back on new rows.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator


@dataclass(frozen=True)
class CellContext:
    """Where a method runs, for the few methods that need to know (rows from files, protocol recipes)."""

    dataset: Any  # bench.data.DatasetSpec
    seed: int  # the split seed (a fixed split's seed, or the CV seed)
    fold: int
    data_dir: str | None


class Oversampler(BaseEstimator):
    """Base class of every method.

    Parameters
    ----------
    ratio : float
        Each grown cell ends with ``ceil(ratio * size of the largest cell)`` rows; 1.0 balances them.
    group_column : str, optional
        Name of a column of ``X`` holding a group attribute. When given, every (class, group) cell is grown
        instead of every class. The column is hidden from the plugin and restored on new rows.
    random_state : int, optional
        Seed; the same seed gives the same rows.

    Examples
    --------
    >>> import pandas as pd
    >>> from methods.duplication import Duplication
    >>> X = pd.DataFrame({"a": [0.0, 1.0, 2.0, 3.0, 4.0]}); y = pd.Series([0, 0, 0, 1, 1])
    >>> X_res, y_res = Duplication(random_state=0).fit_resample(X, y)
    >>> y_res.value_counts().to_dict()
    {0: 3, 1: 3}
    """

    #: False for methods that cannot follow the requested counts exactly (ADASYN adapts them).
    exact_counts = True
    #: True for methods that run faster on a GPU; the Ray executor then asks for one when the cluster has it.
    requests_gpu = False
    #: True for costly methods: cells that differ only in the classifier reuse the rows (bench/cell.py).
    cache_resampled = False
    #: False for methods that add rows as given (from a file or a fixed recipe): never run group-aware.
    supports_group_aware = True
    #: Run context, not a hyper-parameter: when set (a step of an augmentation sweep), add exactly this many
    #: rows in all, shared among the grown cells in proportion to what each lacks.
    n_synthetic: int | None = None

    def bind(self, context: CellContext) -> None:
        """Hook called by the runner before ``fit_resample``; methods that need no context ignore it."""

    def __init__(self, *, ratio: float = 1.0, group_column: str | None = None, random_state: int | None = None):
        self.ratio = ratio
        self.group_column = group_column
        self.random_state = random_state

    # -- the template -------------------------------------------------------------------------------------
    def fit_resample(self, X: pd.DataFrame, y: pd.Series | np.ndarray) -> tuple[pd.DataFrame, pd.Series]:
        """Return the original rows followed by the new ones, same columns and dtypes as ``X``."""
        X, y = check_xy(X, y)
        cells, strata = self._cells(X, y)
        needed = self._needed(strata.value_counts().reindex(range(len(cells)), fill_value=0))
        features = X.drop(columns=[self.group_column]) if self.group_column else X
        # What the method tells about this run, recorded as ``method.<key>``. One key is read by the runner:
        # ``replayed_seconds``, work the method read back from a cache of its own (an LLM's replies) instead of
        # redoing; it is added to the cell's ``fit_seconds``, so a cell costs what making its rows took.
        self.report_: dict[str, Any] = {}

        if needed:
            new_X, new_strata = self._generate(features, strata, needed)
        else:
            new_X, new_strata = features.iloc[:0], strata.iloc[:0]
        new_X, new_strata = self._check_generated(features, new_X, new_strata, needed)

        if self.group_column:
            new_X = new_X.assign(**{self.group_column: cells["group"].to_numpy()[new_strata.to_numpy()]})
            new_X = new_X[X.columns]
        new_y = pd.Series(cells["label"].to_numpy()[new_strata.to_numpy()], name=y.name).astype(y.dtype)
        self.n_requested_ = sum(needed.values())
        self.n_generated_ = len(new_X)
        X_res = pd.concat([X.reset_index(drop=True), _like(new_X, X)], ignore_index=True)
        y_res = pd.concat([y.reset_index(drop=True), new_y], ignore_index=True)
        return X_res, y_res

    # -- what a plugin implements -------------------------------------------------------------------------
    def _generate(
        self, X: pd.DataFrame, strata: pd.Series, needed: Mapping[int, int]
    ) -> tuple[pd.DataFrame, pd.Series]:
        """Make ``needed[s]`` new rows for each cell code ``s``; return them and their cell codes."""
        raise NotImplementedError

    # -- helpers ------------------------------------------------------------------------------------------
    def _needed(self, counts: pd.Series) -> dict[int, int]:
        """Rows to add per cell: up to ``ratio`` x the largest cell, or ``n_synthetic`` shared by deficit."""
        goal = math.ceil(self.ratio * counts.max())
        deficit = {int(s): int(goal - n) for s, n in counts.items() if goal > n}
        if self.n_synthetic is None:
            return deficit
        if not deficit:  # already balanced: augment every cell in proportion to its size
            deficit = {int(s): int(n) for s, n in counts.items() if n > 0}
        total = sum(deficit.values())
        shares = {s: self.n_synthetic * d / total for s, d in deficit.items()}
        needed = {s: math.floor(v) for s, v in shares.items()}
        # largest remainders get the rows that flooring left over, so the total is exact
        for s in sorted(shares, key=lambda s: shares[s] - needed[s], reverse=True)[: self.n_synthetic - sum(needed.values())]:
            needed[s] += 1
        return {s: n for s, n in needed.items() if n > 0}

    def _cells(self, X: pd.DataFrame, y: pd.Series) -> tuple[pd.DataFrame, pd.Series]:
        """Number the cells; return the table of cells (label, group) and each row's cell code."""
        if self.group_column is None:
            keys = pd.DataFrame({"label": y.to_numpy(), "group": None})
        else:
            if self.group_column not in X.columns:
                raise ValueError(f"group_column {self.group_column!r} is not a column of X")
            keys = pd.DataFrame({"label": y.to_numpy(), "group": X[self.group_column].astype(object).to_numpy()})
        cells = keys.drop_duplicates().sort_values(["label", "group"], key=_sort_key).reset_index(drop=True)
        code = {tuple(r): i for i, r in enumerate(cells.itertuples(index=False))}
        strata = pd.Series([code[tuple(r)] for r in keys.itertuples(index=False)], index=X.index, name="cell")
        return cells, strata

    def _check_generated(self, features, new_X, new_strata, needed):
        if list(new_X.columns) != list(features.columns):
            raise RuntimeError(f"{type(self).__name__} returned columns {list(new_X.columns)}, "
                               f"expected {list(features.columns)}")
        if len(new_X) != len(new_strata):
            raise RuntimeError(f"{type(self).__name__} returned {len(new_X)} rows but {len(new_strata)} cell codes")
        got = new_strata.value_counts().to_dict()
        if self.exact_counts and any(got.get(s, 0) > n for s, n in needed.items()):
            raise RuntimeError(f"{type(self).__name__} made more rows than asked: {got} vs {dict(needed)}")
        check_rows(type(self).__name__, new_X, features)
        return new_X.reset_index(drop=True), new_strata.reset_index(drop=True).astype(int)

    def seed(self, offset: int = 0) -> int:
        """An integer seed for libraries that want one, derived from ``random_state``."""
        base = 0 if self.random_state is None else int(self.random_state)
        return (base * 7919 + offset) % (2**31 - 1)


def check_xy(X: Any, y: Any) -> tuple[pd.DataFrame, pd.Series]:
    """Validate the input once for every method: a typed DataFrame without NaN and at least two classes."""
    if not isinstance(X, pd.DataFrame):
        X = pd.DataFrame(np.asarray(X)).rename(columns=str)
    y = pd.Series(np.asarray(y), index=X.index, name=getattr(y, "name", None) or "y")
    if len(X) != len(y):
        raise ValueError(f"X has {len(X)} rows but y has {len(y)}")
    if y.isna().any():
        raise ValueError("y has missing labels")
    if y.nunique() < 2:
        raise ValueError(f"y has a single class ({y.iloc[0]!r}); oversampling needs at least two")
    bad = [c for c in X.columns if not (pd.api.types.is_numeric_dtype(X[c]) or isinstance(X[c].dtype, pd.CategoricalDtype))]
    if bad:
        X = X.astype({c: "category" for c in bad})
    missing = [c for c in X.columns if X[c].isna().any()]
    if missing:
        raise ValueError(f"X has missing values in columns {missing}; impute them first (the runner does)")
    return X, y


class MethodOutputError(RuntimeError):
    """A method returned rows that break the contract; the message names the method."""


def check_rows(method: str, new: pd.DataFrame, X: pd.DataFrame) -> None:
    """New rows must be usable as they are: never imputed or handed to a classifier as they came.

    Each column keeps its kind (numbers where ``X`` has numbers), categorical values are levels of their column,
    and no value is missing or infinite.
    """
    problems = []
    for c in X.columns:
        col = new[c]
        if is_categorical(X[c]):
            levels = X[c].cat.categories
            outside = col[col.notna() & ~col.astype(object).isin(list(levels))]
            if len(outside):
                problems.append(f"column {c!r} has values {sorted(map(str, outside.unique()))[:5]} that are not "
                                f"among its levels {list(levels)[:10]}")
        elif not pd.api.types.is_numeric_dtype(col):
            problems.append(f"column {c!r} is {col.dtype}, not numeric like the input ({X[c].dtype})")
            continue
        else:
            infinite = int(np.isinf(col.to_numpy(dtype=float, na_value=np.nan)).sum())
            if infinite:
                problems.append(f"column {c!r} has infinite values in {infinite} rows")
        if col.isna().any():
            problems.append(f"column {c!r} has missing values (NaN) in {int(col.isna().sum())} rows")
    if problems:
        raise MethodOutputError(f"{method} returned new rows that break the method contract: {'; '.join(problems)}")


def is_categorical(s: pd.Series) -> bool:
    return isinstance(s.dtype, pd.CategoricalDtype)


def resample_with(sampler: Any, X: pd.DataFrame, strata: pd.Series, needed: Mapping[int, int], one_hot=False):
    """Run an imblearn sampler on cell codes and return only the rows it added.

    imblearn puts the original rows first, so the new rows are the tail of its output. With ``one_hot``, a
    numeric-only sampler sees categorical columns one-hot encoded, and its rows are decoded back to levels.
    """
    from bench.tabular import OneHotCodec

    codec = OneHotCodec().fit(X) if one_hot else None
    counts = strata.value_counts()
    sampler.set_params(sampling_strategy={s: int(counts[s] + n) for s, n in needed.items()})
    X_res, s_res = sampler.fit_resample(codec.encode(X) if codec else X, strata.to_numpy())
    new_X = np.asarray(X_res)[len(X):] if codec else pd.DataFrame(X_res).iloc[len(X):].set_axis(X.columns, axis=1)
    return (codec.decode(new_X) if codec else new_X), pd.Series(np.asarray(s_res)[len(X):])


def smallest_cell_check(strata: pd.Series, needed: Mapping[int, int], k_neighbors: int, method: str) -> None:
    """Neighbour-based methods need k_neighbors + 1 rows in every cell they grow: say so clearly."""
    counts = strata.value_counts()
    small = {s: int(counts[s]) for s in needed if counts[s] < k_neighbors + 1}
    if small:
        raise ValueError(
            f"{method} needs at least k_neighbors + 1 = {k_neighbors + 1} rows in each grown cell, "
            f"but cells {small} (code: rows) are smaller; lower k_neighbors or use duplication"
        )


def stratified_rows(labels: np.ndarray, max_rows: int | None, seed: int | None, name: str = "max_rows",
                    classes=None):
    """Sorted indices of a sample of at most ``max_rows`` rows keeping each label's share (at least one row of
    each; labels drawn in the order of ``classes``, default sorted), for methods whose cost grows too fast with
    the rows; ``None`` when every row fits (or ``max_rows`` is ``None``)."""
    if max_rows is not None and max_rows < 10:
        raise ValueError(f"{name} must be at least 10 or None, not {max_rows!r}")
    labels = np.asarray(labels)
    if max_rows is None or len(labels) <= max_rows:
        return None
    rng, share = np.random.default_rng(seed), max_rows / len(labels)
    return np.sort(np.concatenate([rng.choice(idx, max(1, round(len(idx) * share)), replace=False)
                                   for idx in (np.flatnonzero(labels == c)
                                               for c in (np.unique(labels) if classes is None else classes))]))


def _like(new: pd.DataFrame, X: pd.DataFrame) -> pd.DataFrame:
    """Give generated rows exactly the dtypes of X (categories included)."""
    out = {}
    for c in X.columns:
        col = new[c]
        if is_categorical(X[c]):
            cat = pd.Categorical(col.astype(object), categories=X[c].cat.categories)
            if pd.isna(cat).sum() > col.isna().sum():
                raise RuntimeError(f"generated rows hold values of {c!r} outside its categories")
            col = pd.Series(cat, index=new.index)
        elif pd.api.types.is_integer_dtype(X[c]):
            col = pd.to_numeric(col).round()
        out[c] = col.astype(X[c].dtype)
    return pd.DataFrame(out, index=new.index)


def _sort_key(s: pd.Series) -> pd.Series:
    return s.astype(str)


class PoolOversampler(Oversampler):
    """Base of methods whose new rows come as one ordered pool: rows from a file, or a fixed recipe.

    The first ``n_synthetic`` rows of the pool are added as they are, labels included, in pool order (the
    whole pool when ``n_synthetic`` is not set). A plugin implements ``_pool``.
    """

    def _pool(self, X: pd.DataFrame, y: pd.Series) -> tuple[pd.DataFrame, pd.Series]:
        raise NotImplementedError

    supports_group_aware = False

    def fit_resample(self, X, y):
        X, y = check_xy(X, y)
        if self.group_column:
            raise ValueError(f"{type(self).__name__} adds its rows as given; group-aware mode does not apply")
        pool_X, pool_y = self._pool(X, y)
        n = len(pool_X) if self.n_synthetic is None else self.n_synthetic
        if n > len(pool_X):
            raise ValueError(f"{type(self).__name__}: {n} rows asked for, but the pool holds {len(pool_X)}")
        self.report_ = {"pool_rows": len(pool_X), "pool_minority_share": float(pool_y.iloc[:n].mean()) if n else 0.0}
        self.n_requested_ = self.n_generated_ = n
        check_rows(type(self).__name__, pool_X.iloc[:n][list(X.columns)], X)
        new_X = _like(pool_X.iloc[:n][list(X.columns)].reset_index(drop=True), X)
        new_y = pd.Series(pool_y.iloc[:n].to_numpy(), name=y.name).astype(y.dtype)
        return (pd.concat([X.reset_index(drop=True), new_X], ignore_index=True),
                pd.concat([y.reset_index(drop=True), new_y], ignore_index=True))
