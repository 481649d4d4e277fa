"""The OPAL paper's SMOTE and duplication baselines, exactly as its protocol builds them.

They differ from the suite's `smote` and `duplication` on purpose (shared/datasets/opal-paper/PROTOCOL.md):
the pool of N synthetic rows (N = training rows) is made once per seed with fixed seeds, and an augmentation
sweep adds its first k rows. The recipes reproduce the original code's own rows
(shared/datasets/opal-paper/reference-pools/, checked row for row by tests/test_opal_paper.py); for that SMOTE
must see the training file as pandas reads it: the file's own 0/1 labels (the suite codes the minority as 1)
and its columns' dtypes, since imblearn casts its output back to them (see ``_as_in_file``).
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
        auto = "spurious" if context.dataset.group else "imbalanced"
        self.task_ = self.task if self.task != "auto" else auto
        self.split_seed_ = context.seed
        self.context_ = context


class PaperSmote(_Recipe):
    """SMOTE rows as the protocol makes them (imbalanced: grow the minority of the whole training file to N;
    spurious: SMOTE the balanced first 20 rows to 200 + 200, then sample N), whole-number columns rounded,
    then shuffled by the protocol's shared RandomState(42) stream."""

    def _pool(self, X, y):
        from imblearn.over_sampling import SMOTE

        from methods._sklearn132_neighbors import Sklearn132Neighbors as Neighbors

        n = len(X)
        frame, target, minority = _as_in_file(X, y, self.context_)
        if self.task_ == "imbalanced":
            # every non-target column, the one the classifiers later drop too; k_neighbors = 5 (+ the row)
            smote = SMOTE(sampling_strategy={minority: n}, k_neighbors=Neighbors(n_neighbors=6),
                          random_state=42)
            X_res, y_res = smote.fit_resample(frame.drop(columns=target), frame[target])
            last = y_res[y_res == minority].index[-n:]  # the 10 real minority rows, then the SMOTE rows
            pool = X_res.loc[last].assign(**{target: y_res[last]})
            whole = _whole_number_columns(frame)
        else:
            head = frame.iloc[:20]  # the balanced block: 5 rows of each (attribute, label) group
            smote = SMOTE(sampling_strategy={0: 200, 1: 200}, k_neighbors=Neighbors(n_neighbors=3),  # k = 2
                          random_state=42)
            X_res, y_res = smote.fit_resample(head.drop(columns=target), head[target])
            both = shuffle(pd.concat([X_res, y_res], axis=1), random_state=42)
            pool = both.sample(n=n, random_state=42)
            whole = _whole_number_columns(head)
        pool = pool.assign(**{c: pool[c].round().astype(int) for c in whole})
        pool = shuffle(pool, random_state=_stream_at(self.split_seed_, n)).reset_index(drop=True)
        labels = (pool.pop(target) == minority).astype(int)  # back to the suite's coding: 1 = minority
        return pool.astype(float), labels


class PaperDuplication(_Recipe):
    """N rows drawn with replacement (``resample(random_state=0)``) from the first 10 training rows
    (imbalanced; 5 minority and 5 majority, since the files interleave) or the first 20 (spurious)."""

    def _pool(self, X, y):
        head = 10 if self.task_ == "imbalanced" else 20
        Xs, ys = resample(X.iloc[:head], y.iloc[:head], n_samples=len(X), random_state=0)
        return Xs, ys


def _as_in_file(X: pd.DataFrame, y: pd.Series, context) -> tuple[pd.DataFrame, str, int]:
    """The training rows as the original code held them: pandas' dtypes of the training file, its labels.

    Both matter. imblearn casts SMOTE's output back to the input dtypes, so a column the file stores as
    integers (``2``, not ``2.0``) is *truncated* (0.7 -> 0) before the protocol's rounding; and SMOTE grows
    the classes of a ``sampling_strategy`` in label order, so the suite's 1-is-minority coding would draw
    another random stream in the spurious task. Returns the frame (features then target), the target column
    and the file's minority label.
    """
    from bench.data import default_data_dir
    from bench.splits import part_paths

    spec = context.dataset
    data_dir = default_data_dir() if context.data_dir is None else context.data_dir
    path = f"{data_dir}/{part_paths(spec, context.seed)['train']}"
    raw = pd.read_csv(path)  # the cell loaded (and checksummed) this same file
    features = [c for c in raw.columns if c != spec.target]
    if list(X.columns) != features or len(X) != len(raw):
        raise ValueError(f"the OPAL paper's recipes run on the training file as given ({path}: "
                         f"{len(raw)} rows, columns {features}), not on {len(X)} rows with columns "
                         f"{list(X.columns)}")
    labels = sorted(raw[spec.target].unique())
    minority = next(v for v in labels if str(v) == spec.minority or float(v) == float(spec.minority))
    other = next(v for v in labels if v != minority)
    frame = X.astype(raw[features].dtypes.to_dict()).reset_index(drop=True)
    frame[spec.target] = np.where(y.to_numpy() == 1, minority, other).astype(raw[spec.target].dtype)
    return frame, spec.target, minority


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
