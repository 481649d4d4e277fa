"""The downstream classifiers a cell trains on the oversampled fold. Each is seeded and single-threaded.

Single-threaded because the runner already runs one cell per core; more threads per cell only oversubscribe.
"""

from __future__ import annotations

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

    def fit(self, X, y):
        import statsmodels.api as sm

        with warnings.catch_warnings(), np.errstate(all="ignore"):
            warnings.simplefilter("ignore")
            model = sm.GLM(np.asarray(y, dtype=float), np.asarray(X, dtype=float), family=sm.families.Binomial())
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
    """A fresh classifier; ``params`` override the defaults (a ``random_state``/``random_seed`` too)."""
    if name not in CLASSIFIERS:
        raise KeyError(f"unknown classifier {name!r}; known: {', '.join(CLASSIFIERS)}")
    return CLASSIFIERS[name](seed, **(params or {}))


def positive_scores(model: ClassifierMixin, X: pd.DataFrame):
    """Scores of the minority (label 1) class, for AUPRC and ROC-AUC."""
    return model.predict_proba(X)[:, list(model.classes_).index(1)]
