"""Moving typed DataFrames in and out of plain float matrices (for numeric-only samplers and distances)."""

from __future__ import annotations

import numpy as np
import pandas as pd


class OneHotCodec:
    """Numeric columns as they are, each categorical column as a block of 0/1 columns.

    ``decode`` maps each block back to the level with the largest value, so rows interpolated between
    one-hot vectors come back as a valid category.

    Examples
    --------
    >>> X = pd.DataFrame({"a": [1.0, 2.0], "c": pd.Categorical(["x", "y"])})
    >>> codec = OneHotCodec().fit(X)
    >>> codec.encode(X).tolist()
    [[1.0, 1.0, 0.0], [2.0, 0.0, 1.0]]
    >>> codec.decode(codec.encode(X)).equals(X)
    True
    """

    def fit(self, X: pd.DataFrame) -> OneHotCodec:
        self.columns_ = list(X.columns)
        self.dtypes_ = X.dtypes.to_dict()
        self.levels_ = {c: list(X[c].cat.categories) for c in X.columns if isinstance(X[c].dtype, pd.CategoricalDtype)}
        return self

    def encode(self, X: pd.DataFrame) -> np.ndarray:
        parts = []
        for c in self.columns_:
            if c in self.levels_:
                codes = pd.Categorical(X[c], categories=self.levels_[c]).codes
                parts.append(np.eye(len(self.levels_[c]))[codes])
            else:
                parts.append(X[c].to_numpy(dtype=float)[:, None])
        return np.hstack(parts) if parts else np.empty((len(X), 0))

    def decode(self, A: np.ndarray) -> pd.DataFrame:
        out, i = {}, 0
        for c in self.columns_:
            if c in self.levels_:
                width = len(self.levels_[c])
                picks = np.asarray(self.levels_[c], dtype=object)[A[:, i : i + width].argmax(axis=1)]
                out[c] = pd.Categorical(picks, categories=self.levels_[c])
                i += width
            else:
                out[c] = A[:, i]
                i += 1
        return pd.DataFrame(out).astype(self.dtypes_)
