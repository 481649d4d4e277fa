"""The OPAL paper's SMOTE and duplication baselines, exactly as its protocol builds them.

They differ from the suite's `smote` and `duplication` on purpose (shared/datasets/opal-paper/PROTOCOL.md):
the pool of N synthetic rows (N = training rows) is made once per seed with fixed seeds, and an augmentation
sweep adds its first k rows. Labels follow the file's coding after the suite's binarisation (1 = minority).
"""

import numpy as np
import pandas as pd
from sklearn.utils import resample, shuffle

from bench.oversampler import PoolOversampler

SEED_ORDER = (1, 2, 6, 8, 42)  # the protocol consumes one RandomState(42) stream over the seeds in this order


class _Recipe(PoolOversampler):
    """``task``: "imbalanced", "spurious", or "auto" (spurious when the dataset has a group attribute)."""

    def __init__(self, task: str = "auto", *, ratio=1.0, group_column=None, random_state=None):
        super().__init__(ratio=ratio, group_column=group_column, random_state=random_state)
        self.task = task

    def bind(self, context):
        if self.task not in ("auto", "imbalanced", "spurious"):
            raise ValueError(f"task must be 'auto', 'imbalanced' or 'spurious', not {self.task!r}")
        self.task_ = self.task if self.task != "auto" else ("spurious" if context.dataset.group else "imbalanced")
        self.split_seed_ = context.seed


class PaperSmote(_Recipe):
    """SMOTE rows as the protocol makes them (imbalanced: grow the minority of the whole training file to N;
    spurious: SMOTE the balanced first 20 rows to 200 + 200, then sample N), integer columns rounded, then
    shuffled by the protocol's shared RandomState(42) stream."""

    def _pool(self, X, y):
        from imblearn.over_sampling import SMOTE

        n = len(X)
        if self.task_ == "imbalanced":
            minority = int(y.value_counts().idxmin())
            X_res, y_res = SMOTE(sampling_strategy={minority: n}, random_state=42).fit_resample(X, y)
            pool = X_res.assign(__y__=y_res.to_numpy())
            pool = pool[pool["__y__"] == minority].iloc[-n:]  # the real minority rows, then the SMOTE rows
            whole = _whole_number_columns(X)
        else:
            X20, y20 = X.iloc[:20], y.iloc[:20]
            X_res, y_res = SMOTE(sampling_strategy={0: 200, 1: 200}, k_neighbors=2, random_state=42).fit_resample(X20, y20)
            pool = shuffle(X_res.assign(__y__=y_res.to_numpy()), random_state=42).sample(n=n, random_state=42)
            whole = _whole_number_columns(X20)
        pool = pool.astype({c: float for c in whole}).round({c: 0 for c in whole})
        pool = shuffle(pool, random_state=_stream_at(self.split_seed_, n))
        return pool.drop(columns="__y__"), pool["__y__"]


class PaperDuplication(_Recipe):
    """N rows drawn with replacement (``resample(random_state=0)``) from the first 10 training rows
    (imbalanced; 5 minority and 5 majority, since the files interleave) or the first 20 (spurious)."""

    def _pool(self, X, y):
        head = 10 if self.task_ == "imbalanced" else 20
        Xs, ys = resample(X.iloc[:head], y.iloc[:head], n_samples=len(X), random_state=0)
        return Xs, ys


def _whole_number_columns(X: pd.DataFrame) -> list[str]:
    return [c for c in X.columns if pd.api.types.is_numeric_dtype(X[c]) and bool((X[c] % 1 == 0).all())]


def _stream_at(seed: int, n: int) -> np.random.RandomState:
    """The protocol's RandomState(42), advanced past the shuffles of the seeds that come before ``seed``."""
    if seed not in SEED_ORDER:
        raise ValueError(f"the protocol's shuffle stream is defined for seeds {SEED_ORDER}, not {seed}")
    rs = np.random.RandomState(42)
    for _ in SEED_ORDER[: SEED_ORDER.index(seed)]:
        shuffle(np.arange(n), random_state=rs)  # consumes exactly what shuffling n rows consumes
    return rs
