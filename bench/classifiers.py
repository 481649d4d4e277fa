"""The downstream classifiers a cell trains on the oversampled fold. Each is seeded and single-threaded.

Single-threaded because the runner already runs one cell per core; more threads per cell only oversubscribe.
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.compose import ColumnTransformer, make_column_selector
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import FunctionTransformer, OneHotEncoder, StandardScaler


def _encoded(model: ClassifierMixin, scale: bool, ones_column: str | None = None) -> ClassifierMixin:
    """Numeric columns (scaled for linear models) + one-hot categoricals, in front of ``model``.

    ``ones_column`` ("first" or "last") adds a constant column to the design matrix, as the OPAL protocol
    does for every classifier (it is inert for trees but takes part in a forest's feature draws).
    """
    numeric = StandardScaler() if scale else "passthrough"
    prep = ColumnTransformer(
        [
            ("num", numeric, make_column_selector(dtype_include="number")),
            ("cat", OneHotEncoder(handle_unknown="ignore"), make_column_selector(dtype_include="category")),
        ],
        sparse_threshold=0,
    )
    if ones_column is None:
        return make_pipeline(prep, model)
    if ones_column not in ("first", "last"):
        raise ValueError(f"ones_column must be 'first' or 'last', not {ones_column!r}")
    ones = FunctionTransformer(_ones_first if ones_column == "first" else _ones_last)
    return make_pipeline(prep, ones, model)


def _ones_first(A: np.ndarray) -> np.ndarray:
    return np.hstack([np.ones((len(A), 1)), A])


def _ones_last(A: np.ndarray) -> np.ndarray:
    return np.hstack([A, np.ones((len(A), 1))])


class GlmLogit(ClassifierMixin, BaseEstimator):
    """Unpenalised logistic regression fitted by IRLS (statsmodels GLM, Binomial family, logit link).

    Under perfect separation IRLS does not converge; like the OPAL protocol, the result after ``maxiter``
    iterations is kept (statsmodels' warnings about it are silenced). Predicts 1 when p > 0.5.
    """

    def __init__(self, maxiter: int = 100, tol: float = 1e-8):
        self.maxiter, self.tol = maxiter, tol

    def fit(self, X, y, sample_weight=None):
        import statsmodels.api as sm

        with warnings.catch_warnings(), np.errstate(all="ignore"):
            warnings.simplefilter("ignore")
            model = sm.GLM(np.asarray(y, dtype=float), np.asarray(X, dtype=float), family=sm.families.Binomial(),
                           freq_weights=None if sample_weight is None else np.asarray(sample_weight, dtype=float))
            self.result_ = model.fit(maxiter=self.maxiter, tol=self.tol)
        self.classes_ = np.array([0, 1])
        return self

    def predict_proba(self, X):
        with np.errstate(all="ignore"):
            p = np.asarray(self.result_.predict(np.asarray(X, dtype=float)))
        return np.column_stack([1 - p, p])

    def predict(self, X):
        return (self.predict_proba(X)[:, 1] > 0.5).astype(int)


def xgboost(seed: int, ones_column: str | None = None, **params: Any) -> ClassifierMixin:
    from xgboost import XGBClassifier

    defaults = dict(n_estimators=200, max_depth=6, learning_rate=0.1, tree_method="hist", random_state=seed)
    model = XGBClassifier(**{**defaults, **params}, enable_categorical=True, n_jobs=1)
    return _encoded(model, scale=False, ones_column=ones_column) if ones_column else model


def logreg(seed: int, ones_column: str | None = None, **params: Any) -> ClassifierMixin:
    return _encoded(LogisticRegression(**{"max_iter": 2000, "random_state": seed, **params}), True, ones_column)


def random_forest(seed: int, ones_column: str | None = None, **params: Any) -> ClassifierMixin:
    model = RandomForestClassifier(**{"n_estimators": 200, "random_state": seed, **params}, n_jobs=1)
    return _encoded(model, scale=False, ones_column=ones_column)


def glm(seed: int, ones_column: str | None = "first", **params: Any) -> ClassifierMixin:
    """The OPAL protocol's logistic regression: unscaled features, a ones column first (the intercept)."""
    return _encoded(GlmLogit(**params), scale=False, ones_column=ones_column)


def catboost(seed: int, ones_column: str | None = None, **params: Any) -> ClassifierMixin:
    from catboost import CatBoostClassifier

    defaults = dict(iterations=200, learning_rate=0.05, depth=6, random_seed=seed)  # the OPAL protocol's
    model = CatBoostClassifier(**{**defaults, **params}, thread_count=1, verbose=False, allow_writing_files=False)
    return _encoded(model, scale=False, ones_column=ones_column)


CLASSIFIERS: dict[str, Callable[..., ClassifierMixin]] = {
    "xgboost": xgboost,
    "logreg": logreg,
    "random_forest": random_forest,
    "glm": glm,
    "catboost": catboost,
}


def make_classifier(name: str, seed: int, params: dict[str, Any] | None = None) -> ClassifierMixin:
    """A fresh classifier; ``params`` override the defaults (a ``random_state``/``random_seed`` too).

    ``minority_label: 0`` fits the model with the minority coded 0 instead of 1 (see `MinorityCodedZero`).
    """
    if name not in CLASSIFIERS:
        raise KeyError(f"unknown classifier {name!r}; known: {', '.join(CLASSIFIERS)}")
    params = dict(params or {})
    coded = params.pop("minority_label", 1)
    if coded not in (0, 1):
        raise ValueError(f"minority_label must be 0 or 1, not {coded!r}")
    model = CLASSIFIERS[name](seed, **params)
    return MinorityCodedZero(model) if coded == 0 else model


class MinorityCodedZero(ClassifierMixin, BaseEstimator):
    """Fit ``model`` on labels flipped (minority = 0), answer in the suite's coding (minority = 1).

    The coding is not neutral: a forest's tied votes go to the first class, and CatBoost's fit on flipped
    labels is not the mirror image (on the OPAL paper's duplication rows, 10 of its 175 CatBoost cells
    got other test errors). A protocol whose files code the minority 0 gets its own predictions only when the
    model sees that coding.
    """

    def __init__(self, model: ClassifierMixin):
        self.model = model

    def fit(self, X, y, sample_weight=None):
        flipped = 1 - np.asarray(y)
        if sample_weight is None:
            self.model.fit(X, flipped)
        else:
            fit_weighted(self.model, X, flipped, sample_weight)
        self.classes_ = np.array([0, 1])
        return self

    def predict(self, X):
        return 1 - np.asarray(self.model.predict(X)).astype(int).ravel()

    def predict_proba(self, X):
        return self.model.predict_proba(X)[:, ::-1]  # the model's classes are [0 = minority, 1]


def positive_scores(model: ClassifierMixin, X: pd.DataFrame):
    """Scores of the minority (label 1) class, for AUPRC and ROC-AUC."""
    return model.predict_proba(X)[:, list(model.classes_).index(1)]


# -- references: not oversampling; they change how the classifier is fitted or used, never the rows ------------
# A reference is a registered method whose class declares ``reference = "<kind>"`` (a key of REFERENCES) and
# returns the training rows unchanged (methods/references.py); its constructor parameters other than the
# Oversampler's (ratio, group_column, random_state) are the kind's options. bench/cell.py fits it here.


def fit_weighted(model: ClassifierMixin, X: pd.DataFrame, y: np.ndarray, sample_weight: np.ndarray):
    """``model.fit`` with per-row weights, routed to the final estimator when ``model`` is a pipeline."""
    from sklearn.pipeline import Pipeline

    if isinstance(model, Pipeline):
        return model.fit(X, y, **{f"{model.steps[-1][0]}__sample_weight": sample_weight})
    return model.fit(X, y, sample_weight=sample_weight)


def balanced_weights(y: np.ndarray) -> np.ndarray:
    """Each row weighs n / (classes x rows of its class), so every class carries the same total weight."""
    from sklearn.utils.class_weight import compute_sample_weight

    return compute_sample_weight("balanced", np.asarray(y))


def best_threshold(y: np.ndarray, scores: np.ndarray) -> float:
    """The cut on minority scores (predict 1 when score >= cut) that maximises balanced accuracy.

    Among the cuts that reach the maximum the highest is taken, set halfway to the next lower score so that a
    refitted model's slightly different scores do not fall on the wrong side by a rounding.
    """
    from sklearn.metrics import roc_curve

    fpr, tpr, cuts = roc_curve(np.asarray(y), np.asarray(scores, dtype=float), pos_label=1,
                               drop_intermediate=False)  # every distinct score: the next lower one is a neighbour
    i = int(np.argmax(tpr - fpr))  # balanced accuracy = (tpr + 1 - fpr) / 2
    if not np.isfinite(cuts[i]):  # predicting no minority row at all is best: a cut above every score
        return float(np.nextafter(cuts[1], np.inf)) if len(cuts) > 1 else 1.0
    return float((cuts[i] + cuts[i + 1]) / 2) if i + 1 < len(cuts) else float(cuts[i])


class Thresholded:
    """A fitted classifier that predicts the minority (label 1) when its score is >= ``threshold``.

    ``predict_proba`` is the model's own, so AUPRC and ROC-AUC are those of the model: a threshold moves
    recall, balanced accuracy, F1, G-mean and MCC, never a metric computed from scores.
    """

    def __init__(self, model: ClassifierMixin, threshold: float):
        self.model, self.threshold = model, threshold
        self.classes_ = np.asarray(model.classes_)

    def predict_proba(self, X):
        return self.model.predict_proba(X)

    def predict(self, X):
        return np.where(positive_scores(self.model, X) >= self.threshold, 1, self.classes_[self.classes_ != 1][0])


def _class_weights(make: Callable[[], ClassifierMixin], X: pd.DataFrame, y: np.ndarray, seed: int):
    return fit_weighted(make(), X, y, balanced_weights(y)), {"seconds": 0.0}


def _threshold(make: Callable[[], ClassifierMixin], X: pd.DataFrame, y: np.ndarray, seed: int,
               validation_size: float = 0.25):
    """Pick the cut on a seeded stratified inner split of the training fold, then refit on the whole fold.

    Refitting gives the final model exactly the rows (and seed) every other method's classifier sees, so the
    reference differs from ``none`` only by its cut (and its AUPRC / ROC-AUC equal ``none``'s); the cut, chosen
    on a model of 1 - validation_size of the rows, carries over because both models rank rows alike.
    """
    from sklearn.model_selection import train_test_split

    if not 0 < validation_size < 1:
        raise ValueError(f"threshold: validation_size must be in (0, 1), not {validation_size}")
    try:
        X_in, X_val, y_in, y_val = train_test_split(X, y, test_size=validation_size, stratify=y, random_state=seed)
    except ValueError as e:  # a class with a single row cannot be split in two
        raise ValueError(f"threshold: cannot split the training fold into inner train and validation parts "
                         f"({e}); the minority class needs at least 2 rows") from e
    t0 = time.perf_counter()
    inner = make().fit(X_in, y_in)
    cut = best_threshold(y_val, positive_scores(inner, X_val))
    seconds = time.perf_counter() - t0
    report = {"threshold": cut, "validation_rows": len(y_val), "seconds": seconds}
    return Thresholded(make().fit(X, y), cut), report


REFERENCES: dict[str, Callable[..., tuple[ClassifierMixin, dict]]] = {
    "class_weights": _class_weights,
    "threshold": _threshold,
}


def fit_reference(kind: str, make: Callable[[], ClassifierMixin], X: pd.DataFrame, y: np.ndarray, seed: int,
                  **options: Any) -> tuple[ClassifierMixin, dict[str, Any]]:
    """Fit a reference's classifier on the training fold; return it and facts for the cell's report.

    ``make`` returns a fresh, seeded, unfitted classifier; ``seed`` seeds the reference's own draws (the
    threshold's inner split). The report holds ``seconds``: the time spent beyond one plain fit (the inner
    fit and the search of a threshold), which the cell records as the method's cost.
    """
    if kind not in REFERENCES:
        raise ValueError(f"unknown reference {kind!r}; known: {', '.join(REFERENCES)}")
    return REFERENCES[kind](make, X, y, seed, **options)
