"""Random oversampling with shrinkage: a smoothed bootstrap (ROSE), real rows copied plus Gaussian noise."""

import numpy as np
import pandas as pd
from imblearn.over_sampling import RandomOverSampler

from bench.oversampler import Oversampler, is_categorical


class RosShrinkage(Oversampler):
    """imblearn's RandomOverSampler with ``shrinkage``: each new row is a random row of the grown cell whose
    numeric columns get Gaussian noise; categorical columns keep the copied row's levels.

    The noise's standard deviation per column is ``shrinkage`` x the cell's std of that column x the
    rule-of-thumb factor ``(4 / ((d + 2) n)) ** (1 / (d + 4))`` (imblearn; ROSE, Menardi and Torelli 2014),
    with d numeric columns and n rows in the cell. ``shrinkage=0`` is plain duplication. With no numeric
    column the method is plain duplication too.
    """

    def __init__(self, shrinkage: float = 1.0, *, ratio=1.0, group_column=None, random_state=None):
        super().__init__(ratio=ratio, group_column=group_column, random_state=random_state)
        self.shrinkage = shrinkage

    def _generate(self, X, strata, needed):
        numeric = [c for c in X.columns if not is_categorical(X[c])]
        # noise applies to numeric columns only; a zero column stands in when there are none
        A = X[numeric].to_numpy(dtype=float) if numeric else np.zeros((len(X), 1))
        counts = strata.value_counts()
        sampler = RandomOverSampler(
            sampling_strategy={s: int(counts[s] + n) for s, n in needed.items()},
            shrinkage=self.shrinkage if numeric else None, random_state=self.seed(),
        )
        A_res, s_res = sampler.fit_resample(A, strata.to_numpy())
        # the bootstrapped rows (imblearn puts the originals first) give the categorical levels
        new = X.iloc[sampler.sample_indices_[len(X):]].reset_index(drop=True)
        new = new.assign(**{c: A_res[len(X):, i] for i, c in enumerate(numeric)})
        return new, pd.Series(s_res[len(X):])
