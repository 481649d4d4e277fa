"""The downstream classifiers a cell trains on the oversampled fold. Each is seeded and single-threaded.

Single-threaded because the runner already runs one cell per core; more threads per cell only oversubscribe.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pandas as pd
from sklearn.base import ClassifierMixin
from sklearn.compose import ColumnTransformer, make_column_selector
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler


def _encoded(model: ClassifierMixin, scale: bool) -> ClassifierMixin:
    """Numeric columns (scaled for linear models) + one-hot categoricals, in front of ``model``."""
    numeric = StandardScaler() if scale else "passthrough"
    prep = ColumnTransformer(
        [
            ("num", numeric, make_column_selector(dtype_include="number")),
            ("cat", OneHotEncoder(handle_unknown="ignore"), make_column_selector(dtype_include="category")),
        ]
    )
    return make_pipeline(prep, model)


def xgboost(seed: int, **params: Any) -> ClassifierMixin:
    from xgboost import XGBClassifier

    defaults = dict(n_estimators=200, max_depth=6, learning_rate=0.1, tree_method="hist")
    return XGBClassifier(**{**defaults, **params}, enable_categorical=True, n_jobs=1, random_state=seed)


def logreg(seed: int, **params: Any) -> ClassifierMixin:
    return _encoded(LogisticRegression(**{"max_iter": 2000, **params}, random_state=seed), scale=True)


def random_forest(seed: int, **params: Any) -> ClassifierMixin:
    return _encoded(RandomForestClassifier(**{"n_estimators": 200, **params}, n_jobs=1, random_state=seed), scale=False)


CLASSIFIERS: dict[str, Callable[..., ClassifierMixin]] = {
    "xgboost": xgboost,
    "logreg": logreg,
    "random_forest": random_forest,
}


def make_classifier(name: str, seed: int, params: dict[str, Any] | None = None) -> ClassifierMixin:
    if name not in CLASSIFIERS:
        raise KeyError(f"unknown classifier {name!r}; known: {', '.join(CLASSIFIERS)}")
    return CLASSIFIERS[name](seed, **(params or {}))


def positive_scores(model: ClassifierMixin, X: pd.DataFrame):
    """Scores of the minority (label 1) class, for AUPRC and ROC-AUC."""
    return model.predict_proba(X)[:, list(model.classes_).index(1)]
