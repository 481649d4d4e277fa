"""Random oversampling: copy rows of the grown cell, drawn with replacement."""

import numpy as np
import pandas as pd

from bench.oversampler import Oversampler


class Duplication(Oversampler):
    """Duplicate randomly chosen rows of each grown cell (imblearn's RandomOverSampler, per cell)."""

    def _generate(self, X, strata, needed):
        rng = np.random.default_rng(self.seed())
        picks = [rng.choice(np.flatnonzero(strata.to_numpy() == s), size=n, replace=True) for s, n in needed.items()]
        rows = np.concatenate(picks)
        return X.iloc[rows], pd.Series(strata.to_numpy()[rows])
