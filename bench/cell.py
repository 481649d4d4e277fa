"""One cell: load data -> split -> impute -> fit_resample (training fold only) -> fit classifier -> metrics.

A cell is (method config, dataset, seed, fold, classifier). Its key hashes everything that determines its
result, so a finished cell is never run twice.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import pickle
import threading
import time
from dataclasses import asdict, dataclass
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import psutil
from sklearn.model_selection import RepeatedStratifiedKFold

import bench
from bench import registry
from bench.classifiers import fit_reference, make_classifier, positive_scores
from bench.config import ClassifierConfig, MethodConfig
from bench.data import Dataset, DatasetSpec, load_dataset
from bench.metrics import classification_metrics, group_metrics
from bench.oversampler import CellContext, Oversampler
from bench.splits import load_parts

GROUP_COLUMN = "__group__"  # how the group attribute travels through a group-aware oversampler
_CACHE_ROOT = Path(os.environ.get("BENCH_CACHE", Path(__file__).resolve().parent.parent / "results" / "cache"))
RESAMPLED_CACHE = _CACHE_ROOT / "resampled"  # rows of costly methods, shared by a fold's classifiers


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
    step: float | None = None  # augmentation sweep: add step x (train_rows | minority_rows | rows) rows
    augment_of: str = "train_rows"

    @property
    def oversampling_key(self) -> str:
        """Hash of what determines the oversampled training rows (the key without the classifier)."""
        return _hash({k: v for k, v in self._ident().items() if k != "classifier"})

    @property
    def key(self) -> str:
        """Hash of what determines the result: data checksum, method and params, classifier, split, version."""
        return _hash(self._ident())

    def _ident(self) -> dict[str, Any]:
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
        if self.step is not None:  # only sweeps add these, so other cells keep their keys
            ident.update(step=self.step, augment_of=self.augment_of)
        try:
            reference = getattr(registry.resolve(self.method.name), "reference", None)
        except registry.UnknownMethodError:  # cannot run anyway: its cell becomes an error row
            reference = None
        if reference:  # how the classifier is fitted or used (only references add it: other keys stay)
            ident["reference"] = reference
        return ident


def _hash(ident: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(ident, sort_keys=True, default=str).encode()).hexdigest()[:24]


_loaded: dict[tuple, Any] = {}


def _cached(key: tuple, load: Callable[[], Any]) -> Any:
    """Workers run many cells of the same dataset; parse and checksum it once per process."""
    if key not in _loaded:
        if len(_loaded) >= 8:
            _loaded.clear()
        _loaded[key] = load()
    return _loaded[key]


def cached_dataset(spec: DatasetSpec, data_dir: str | None) -> Dataset:
    return _cached((spec.name, data_dir), lambda: load_dataset(spec, Path(data_dir) if data_dir else None))


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


def fold_data(spec: CellSpec) -> tuple[Dataset, Dataset]:
    """The training and test rows of a cell: a fixed split's files, or a fold of repeated stratified k-fold."""
    if spec.dataset.splits:
        parts = _cached(("parts", spec.dataset.name, spec.data_dir, spec.seed),
                        lambda: load_parts(spec.dataset, spec.seed, Path(spec.data_dir) if spec.data_dir else None))
        return parts["train"], parts["test"]
    ds = cached_dataset(spec.dataset, spec.data_dir)
    train, test = split(ds, spec.seed, spec.fold, spec.folds, spec.repeats)
    return _rows(ds, train), _rows(ds, test)


def run_cell(spec: CellSpec) -> dict[str, Any]:
    """Run one cell and return its metrics and cost; exceptions propagate (the executor records them)."""
    train, test = fold_data(spec)
    X_train, X_test = impute(train.X, test.X)
    y_train, y_test = train.y, test.y

    group_aware = spec.group_aware and train.group is not None
    context: dict[str, Any] = {"random_state": spec.seed * 1000 + spec.fold}
    if group_aware:
        X_train = X_train.assign(**{GROUP_COLUMN: train.group.astype("category")})
        context["group_column"] = GROUP_COLUMN
    method = registry.create(spec.method.name, spec.method.params, **context)
    method.bind(CellContext(spec.dataset, spec.seed, spec.fold, spec.data_dir))
    if spec.step is not None:
        method.n_synthetic = augmentation_size(spec.step, spec.augment_of, y_train)

    X_res, y_res, cost = oversample(spec, method, X_train, y_train)
    if group_aware:
        X_res = X_res.drop(columns=[GROUP_COLUMN])

    params = {**spec.classifier.params, **spec.dataset.classifier_params.get(spec.classifier.name, {})}
    gap_ones = params.pop("group_gap_ones_column", None)  # see the group gap below
    drop = list(spec.dataset.classifier_drop)
    model, reference = fit_classifier(spec, method, params, X_res.drop(columns=drop), y_res.to_numpy())
    if reference:  # its own cost (the threshold's inner fit) is the method's cost
        cost = {**cost, "fit_seconds": cost["fit_seconds"] + reference.pop("seconds"),
                **{f"method.{k}": v for k, v in reference.items()}}
    X_eval = X_test.drop(columns=drop)
    y_pred = model.predict(X_eval)
    out: dict[str, Any] = classification_metrics(y_test, y_pred, positive_scores(model, X_eval))
    if test.group is not None:
        out.update(group_metrics(y_test, y_pred, test.group, train_cells=(y_train, train.group)))
        if gap_ones:  # the OPAL protocol's quirk: its gap ("diff") came from a model with the ones column
            # there (a second fit; the worst and pooled group errors stay those of the main model)
            gap_model = make_classifier(spec.classifier.name, spec.seed, {**params, "ones_column": gap_ones})
            gap_pred = gap_model.fit(X_res.drop(columns=drop), y_res.to_numpy()).predict(X_eval)
            out["group_gap"] = group_metrics(y_test, gap_pred, test.group)["group_gap"]
    out.update(cost, rows_added=len(X_res) - len(X_train), train_rows=len(X_train), test_rows=len(X_test),
               dataset_sha256=train.sha256)
    return {k: (float(v) if isinstance(v, (np.floating, np.integer)) else v) for k, v in out.items()}


def fit_classifier(spec: CellSpec, method, params: dict[str, Any], X: pd.DataFrame, y: np.ndarray):
    """The cell's classifier fitted on the training rows, and a reference's report (None for other methods).

    A reference (``method.reference`` set: class weights, a tuned threshold) changes how the classifier is
    fitted or used, not the rows; `bench.classifiers.fit_reference` fits it with the method's own parameters.
    """
    def make():
        return make_classifier(spec.classifier.name, spec.seed, params)

    kind = getattr(method, "reference", None)
    if not kind:
        return make().fit(X, y), None
    options = {k: v for k, v in method.get_params().items() if k not in Oversampler._get_param_names()}
    return fit_reference(kind, make, X, y, method.seed(), **options)


def oversample(spec: CellSpec, method, X_train: pd.DataFrame, y_train: pd.Series):
    """``fit_resample`` with its cost, through the resampled-rows cache for methods that ask for it.

    The cells of one (method, dataset, seed, fold) that differ only in the classifier get the same rows (the
    method is seeded), so costly generators run once and the other cells read the rows back; the recorded
    cost is the run that made them, and ``method.from_cache`` says which cells reused them. Work a method
    replayed from a cache of its own (``report_["replayed_seconds"]``) counts in ``fit_seconds`` the same way.
    """
    path = None
    if type(method).cache_resampled:
        path = RESAMPLED_CACHE / f"{spec.oversampling_key}.pkl"
        if path.exists():
            with open(path, "rb") as f:
                X_res, y_res, cost = pickle.load(f)
            return X_res, y_res, {**cost, "method.from_cache": 1.0}
    with PeakMemory() as mem:
        t0 = time.perf_counter()
        X_res, y_res = method.fit_resample(X_train, y_train)
        fit_seconds = time.perf_counter() - t0
    report = getattr(method, "report_", {})
    cost = {"fit_seconds": fit_seconds + float(report.get("replayed_seconds", 0.0)), "peak_memory_mb": mem.peak_mb,
            **{f"method.{k}": v for k, v in report.items()}}
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        with open(tmp, "wb") as f:
            pickle.dump((X_res, y_res, cost), f)
        os.replace(tmp, path)  # atomic: a reader sees the whole file or none
    return X_res, y_res, cost | ({"method.from_cache": 0.0} if path else {})


def augmentation_size(step: float, of: str, y_train: pd.Series) -> int:
    """Rows to add at one step of an augmentation sweep: ``step`` x the training rows or the minority size."""
    base = {"train_rows": len(y_train), "minority_rows": int(y_train.value_counts().min()), "rows": 1}[of]
    return int(round(step * base))


def _rows(ds: Dataset, idx: np.ndarray) -> Dataset:
    group = None if ds.group is None else ds.group.iloc[idx]
    return dataclasses.replace(ds, X=ds.X.iloc[idx], y=ds.y.iloc[idx], group=group)


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
