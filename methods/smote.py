"""SMOTE, picking the variant the columns call for: SMOTE (all numeric), SMOTENC (mixed), SMOTEN (all categorical)."""

from imblearn.over_sampling import SMOTE, SMOTEN, SMOTENC

from bench.oversampler import Oversampler, is_categorical, resample_with, smallest_cell_check


class Smote(Oversampler):
    """Interpolate between a row of the grown cell and one of its ``k_neighbors`` nearest neighbours in that cell."""

    def __init__(self, k_neighbors: int = 5, *, ratio=1.0, group_column=None, random_state=None):
        super().__init__(ratio=ratio, group_column=group_column, random_state=random_state)
        self.k_neighbors = k_neighbors

    def _generate(self, X, strata, needed):
        smallest_cell_check(strata, needed, self.k_neighbors, "SMOTE")
        cats = [c for c in X.columns if is_categorical(X[c])]
        kw = dict(k_neighbors=self.k_neighbors, random_state=self.seed())
        if not cats:
            sampler = SMOTE(**kw)
        elif len(cats) == X.shape[1]:
            sampler = SMOTEN(**kw)
        else:
            sampler = SMOTENC(categorical_features=cats, **kw)
        self.report_["variant"] = type(sampler).__name__
        return resample_with(sampler, X, strata, needed)
