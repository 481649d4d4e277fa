"""ADASYN: SMOTE that makes more rows next to grown-cell rows that are hard to learn."""

from imblearn.over_sampling import ADASYN

from bench.oversampler import Oversampler, resample_with, smallest_cell_check


class Adasyn(Oversampler):
    """imblearn's ADASYN; categorical columns are one-hot encoded and decoded back to their levels.

    ADASYN adapts how many rows it makes, so the grown cells end near, not exactly at, the requested size.
    """

    exact_counts = False

    def __init__(self, n_neighbors: int = 5, *, ratio=1.0, group_column=None, random_state=None):
        super().__init__(ratio=ratio, group_column=group_column, random_state=random_state)
        self.n_neighbors = n_neighbors

    def _generate(self, X, strata, needed):
        smallest_cell_check(strata, needed, self.n_neighbors, "ADASYN")
        sampler = ADASYN(n_neighbors=self.n_neighbors, random_state=self.seed())
        return resample_with(sampler, X, strata, needed, one_hot=True)
