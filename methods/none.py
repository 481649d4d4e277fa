"""The baseline every leaderboard shows: no oversampling at all."""

import pandas as pd

from bench.oversampler import Oversampler, check_xy


class NoOversampling(Oversampler):
    """Return the training rows unchanged; gains of other methods are read against this."""

    def fit_resample(self, X, y):
        X, y = check_xy(X, y)
        self.report_, self.n_requested_, self.n_generated_ = {}, 0, 0
        return X.reset_index(drop=True), pd.Series(y.to_numpy(), name=y.name)
