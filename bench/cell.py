"""One cell: load data -> split -> impute -> fit_resample (training fold only) -> fit classifier -> metrics.

A cell is (method config, dataset, seed, fold, classifier). Its key hashes everything that determines its
result, so a finished cell is never run twice.
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import psutil
from sklearn.model_selection import RepeatedStratifiedKFold

import bench
from bench import registry
from bench.classifiers import make_classifier, positive_scores
from bench.config import ClassifierConfig, MethodConfig
from bench.data import Dataset, DatasetSpec, load_dataset
from bench.metrics import classification_metrics, group_metrics

GROUP_COLUMN = "__group__"  # how the group attribute travels through a group-aware oversampler


@dataclass(frozen=True)
class CellSpec:
    """Everything a worker needs to run one cell; picklable."""

    suite: str
    dataset: DatasetSpec
    method: MethodConfig
    classifier: ClassifierConfig
    seed: int
    fold: int
    folds: int
    repeats: int
    group_aware: bool
    data_dir: str | None = None

    @property
    def key(self) -> str:
        """Hash of what determines the result: data checksum, method and params, classifier, split, version."""
        ident = {
            "dataset": asdict(self.dataset),  # declared checksums, parsing and group rules
            "method": self.method.name,
            "params": self.method.params,
            "group_aware": self.group_aware,
            "classifier": asdict(self.classifier),
            "seed": self.seed,
            "fold": self.fold,
            "folds": self.folds,
            "repeats": self.repeats,
            "version": bench.__version__,
        }
        return hashlib.sha256(json.dumps(ident, sort_keys=True, default=str).encode()).hexdigest()[:24]


_loaded: dict[tuple[str, str | None], Dataset] = {}


def cached_dataset(spec: DatasetSpec, data_dir: str | None) -> Dataset:
    """Workers run many cells of the same dataset; parse and checksum it once per process."""
    key = (spec.name, data_dir)
    if key not in _loaded:
        if len(_loaded) >= 4:
            _loaded.clear()
        _loaded[key] = load_dataset(spec, Path(data_dir) if data_dir else None)
    return _loaded[key]


def split(ds: Dataset, seed: int, fold: int, folds: int, repeats: int) -> tuple[np.ndarray, np.ndarray]:
    """The ``fold``-th (train, test) pair of seeded repeated stratified k-fold; test keeps the natural ratio."""
    splitter = RepeatedStratifiedKFold(n_splits=folds, n_repeats=repeats, random_state=seed)
    for i, (train, test) in enumerate(splitter.split(ds.X, ds.y)):
        if i == fold:
            return train, test
    raise IndexError(f"fold {fold} out of range for {folds} folds x {repeats} repeats")


def impute(train: pd.DataFrame, test: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Fill missing values from the training fold (median / most frequent level); test rows never inform it."""
    fill = {}
    for c in train.columns:
        if not (train[c].isna().any() or test[c].isna().any()):
            continue
        if isinstance(train[c].dtype, pd.CategoricalDtype):
            mode = train[c].mode()
            if len(mode):
                fill[c] = mode.iloc[0]
            else:  # no value at all in the training fold: one explicit level
                train, test = (d.assign(**{c: d[c].cat.add_categories("missing")}) for d in (train, test))
                fill[c] = "missing"
        else:
            fill[c] = train[c].median() if train[c].notna().any() else 0.0
    return train.fillna(fill), test.fillna(fill)


def run_cell(spec: CellSpec) -> dict[str, Any]:
    """Run one cell and return its metrics and cost; exceptions propagate (the executor records them)."""
    ds = cached_dataset(spec.dataset, spec.data_dir)
    train, test = split(ds, spec.seed, spec.fold, spec.folds, spec.repeats)
    X_train, X_test = impute(ds.X.iloc[train], ds.X.iloc[test])
    y_train, y_test = ds.y.iloc[train], ds.y.iloc[test]

    group_aware = spec.group_aware and ds.group is not None
    context: dict[str, Any] = {"random_state": spec.seed * 1000 + spec.fold}
    if group_aware:
        X_train = X_train.assign(**{GROUP_COLUMN: ds.group.iloc[train].astype("category")})
        context["group_column"] = GROUP_COLUMN
    method = registry.create(spec.method.name, spec.method.params, **context)

    with PeakMemory() as mem:
        t0 = time.perf_counter()
        X_res, y_res = method.fit_resample(X_train, y_train)
        fit_seconds = time.perf_counter() - t0
    if group_aware:
        X_res = X_res.drop(columns=[GROUP_COLUMN])

    model = make_classifier(spec.classifier.name, spec.seed, spec.classifier.params)
    model.fit(X_res, y_res.to_numpy())
    y_pred = model.predict(X_test)
    out: dict[str, Any] = classification_metrics(y_test, y_pred, positive_scores(model, X_test))
    if ds.group is not None:
        out.update(group_metrics(y_test, y_pred, ds.group.iloc[test]))
    out.update(
        fit_seconds=fit_seconds,
        peak_memory_mb=mem.peak_mb,
        rows_added=len(X_res) - len(X_train),
        train_rows=len(X_train),
        test_rows=len(X_test),
        dataset_sha256=ds.sha256,
    )
    for k, v in getattr(method, "report_", {}).items():
        out[f"method.{k}"] = v
    return {k: (float(v) if isinstance(v, (np.floating, np.integer)) else v) for k, v in out.items()}


class PeakMemory:
    """Peak growth of this process's resident memory while the block runs, sampled every 10 ms.

    Resident memory (not tracemalloc) so that torch's and XGBoost's native allocations count too.
    """

    def __init__(self, interval: float = 0.01):
        self.interval, self.peak_mb = interval, 0.0
        self._proc, self._stop = psutil.Process(), threading.Event()

    def __enter__(self) -> PeakMemory:
        self._base = self._peak = self._proc.memory_info().rss
        self._thread = threading.Thread(target=self._watch, daemon=True)
        self._thread.start()
        return self

    def _watch(self) -> None:
        while not self._stop.wait(self.interval):
            self._peak = max(self._peak, self._proc.memory_info().rss)

    def __exit__(self, *exc: Any) -> None:
        self._stop.set()
        self._thread.join()
        self._peak = max(self._peak, self._proc.memory_info().rss)
        self.peak_mb = (self._peak - self._base) / 2**20
