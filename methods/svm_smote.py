"""SVM-SMOTE: SMOTE from the grown cell's support vectors, reaching out where the other class is sparse."""

from imblearn.over_sampling import SVMSMOTE

from bench.oversampler import Oversampler, resample_with, smallest_cell_check


class SvmSmote(Oversampler):
    """imblearn's SVMSMOTE; categorical columns are one-hot encoded and decoded back to their levels.

    An SVM (scikit-learn's SVC, seeded) finds the support vectors of the grown cell; new rows interpolate
    toward neighbours in the cell where those vectors are mostly surrounded by it and extrapolate (by
    ``out_step``) where they are not. It can make fewer rows than asked (few support vectors in the cell).
    """

    exact_counts = False

    def __init__(self, k_neighbors: int = 5, m_neighbors: int = 10, out_step: float = 0.5, *,
                 ratio=1.0, group_column=None, random_state=None):
        super().__init__(ratio=ratio, group_column=group_column, random_state=random_state)
        self.k_neighbors, self.m_neighbors, self.out_step = k_neighbors, m_neighbors, out_step

    def _generate(self, X, strata, needed):
        smallest_cell_check(strata, needed, self.k_neighbors, "SVM-SMOTE")
        sampler = SVMSMOTE(k_neighbors=self.k_neighbors, m_neighbors=self.m_neighbors, out_step=self.out_step,
                           random_state=self.seed())
        return resample_with(sampler, X, strata, needed, one_hot=True)
