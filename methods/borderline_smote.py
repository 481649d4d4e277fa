"""Borderline-SMOTE: SMOTE only from grown-cell rows whose neighbourhood is mostly other cells (the border)."""

from imblearn.over_sampling import BorderlineSMOTE

from bench.oversampler import Oversampler, resample_with, smallest_cell_check


class BorderlineSmote(Oversampler):
    """imblearn's BorderlineSMOTE; categorical columns are one-hot encoded and decoded back to their levels."""

    def __init__(self, k_neighbors: int = 5, m_neighbors: int = 10, kind: str = "borderline-1", *,
                 ratio=1.0, group_column=None, random_state=None):
        super().__init__(ratio=ratio, group_column=group_column, random_state=random_state)
        self.k_neighbors, self.m_neighbors, self.kind = k_neighbors, m_neighbors, kind

    def _generate(self, X, strata, needed):
        smallest_cell_check(strata, needed, self.k_neighbors, "Borderline-SMOTE")
        sampler = BorderlineSMOTE(k_neighbors=self.k_neighbors, m_neighbors=self.m_neighbors, kind=self.kind,
                                  random_state=self.seed())
        return resample_with(sampler, X, strata, needed, one_hot=True)
