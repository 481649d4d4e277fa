"""SVM-SMOTE: SMOTE from the grown cell's support vectors, reaching out where the other class is sparse."""

import numpy as np
from imblearn.over_sampling import SVMSMOTE
from sklearn.svm import SVC

from bench.oversampler import Oversampler, resample_with, smallest_cell_check, stratified_rows


class SvmSmote(Oversampler):
    """imblearn's SVMSMOTE; categorical columns are one-hot encoded and decoded back to their levels.

    An SVM (scikit-learn's SVC, seeded) finds the support vectors of the grown cell; new rows interpolate
    toward neighbours in the cell where those vectors are mostly surrounded by it and extrapolate (by
    ``out_step``) where they are not. It can make fewer rows than asked (few support vectors in the cell).

    A kernel SVM costs O(n^2) or more in the rows: on adult's folds (39,000 rows) one fit took over 10 minutes
    here. So the SVM is fitted on a stratified sample of at most ``svm_max_rows`` rows (the class shares kept);
    its support vectors are rows of the fold, and the neighbours are searched among all rows as before. Folds no
    larger than that are fitted whole, as imblearn does (``None``: always whole).
    """

    exact_counts = False

    def __init__(self, k_neighbors: int = 5, m_neighbors: int = 10, out_step: float = 0.5,
                 svm_max_rows: int | None = 5000, *, ratio=1.0, group_column=None, random_state=None):
        super().__init__(ratio=ratio, group_column=group_column, random_state=random_state)
        self.k_neighbors, self.m_neighbors, self.out_step = k_neighbors, m_neighbors, out_step
        self.svm_max_rows = svm_max_rows

    def _generate(self, X, strata, needed):
        smallest_cell_check(strata, needed, self.k_neighbors, "SVM-SMOTE")
        stratified_rows([], self.svm_max_rows, None, "svm_max_rows")  # a bad value fails before any work
        sampler = SVMSMOTE(k_neighbors=self.k_neighbors, m_neighbors=self.m_neighbors, out_step=self.out_step,
                           svm_estimator=SampledSVC(max_rows=self.svm_max_rows, random_state=self.seed()),
                           random_state=self.seed())
        return resample_with(sampler, X, strata, needed, one_hot=True)


class SampledSVC(SVC):
    """imblearn's default SVC (``gamma="scale"``) fitted on a stratified sample of at most ``max_rows`` rows;
    ``support_`` indexes the rows given to ``fit``, as SVMSMOTE expects."""

    def __init__(self, max_rows: int | None = 5000, random_state=None):
        super().__init__(gamma="scale", random_state=random_state)
        self.max_rows = max_rows

    def fit(self, X, y, sample_weight=None):
        y = np.asarray(y)
        rows = stratified_rows(y, self.max_rows, self.random_state, "svm_max_rows")
        if rows is None:
            return super().fit(X, y, sample_weight)
        super().fit(X[rows], y[rows])
        self.support_ = rows[self.support_]  # rows of the data given, not of the sample
        return self
