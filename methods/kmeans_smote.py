"""KMeans-SMOTE: cluster all rows, then SMOTE inside the clusters where the grown cell is dense enough."""

import numpy as np
from imblearn.over_sampling import KMeansSMOTE
from sklearn.cluster import MiniBatchKMeans

from bench.oversampler import Oversampler, resample_with, smallest_cell_check


class KmeansSmote(Oversampler):
    """imblearn's KMeansSMOTE; categorical columns are one-hot encoded and decoded back to their levels.

    ``n_clusters`` k-means clusters (MiniBatchKMeans, seeded); clusters where the grown cell's share exceeds
    ``cluster_balance_threshold`` get new rows, sparse ones more. With "auto" (imblearn's rule: half the share
    of rows the cell must gain) and no cluster qualifying, the threshold becomes the grown cell's share of the
    fold, which at least one cluster reaches; with a number given and no cluster qualifying, the cell is an
    error row saying so.
    """

    def __init__(self, k_neighbors: int = 2, n_clusters: int = 8, cluster_balance_threshold="auto",
                 density_exponent="auto", *, ratio=1.0, group_column=None, random_state=None):
        super().__init__(ratio=ratio, group_column=group_column, random_state=random_state)
        self.k_neighbors, self.n_clusters = k_neighbors, n_clusters
        self.cluster_balance_threshold, self.density_exponent = cluster_balance_threshold, density_exponent

    def _generate(self, X, strata, needed):
        smallest_cell_check(strata, needed, self.k_neighbors, "KMeans-SMOTE")
        try:
            new_X, new_strata = self._resample(X, strata, needed, self.cluster_balance_threshold)
        except RuntimeError as e:  # imblearn names the cell by its internal code: say what to change instead
            if "No clusters found" not in str(e):
                raise
            if self.cluster_balance_threshold != "auto":
                raise ValueError(f"KMeans-SMOTE found no cluster where a grown cell's share of rows exceeds "
                                 f"cluster_balance_threshold={self.cluster_balance_threshold!r} among "
                                 f"{self.n_clusters} clusters; lower cluster_balance_threshold or change "
                                 "n_clusters") from e
            # imblearn's "auto" asks a cluster for half the share of rows the cell must gain, which on a cell
            # grown by more than its own size (adult: 24 % minority) no cluster may reach. Then a cluster
            # qualifies where the grown cell is at least as dense as in the whole fold: at least one is (the
            # clusters' shares average to the fold's), unless it holds too few of the cell's rows for SMOTE.
            overall = min(float((strata == s).mean()) for s in needed)
            try:
                new_X, new_strata = self._resample(X, strata, needed, overall)
            except RuntimeError:  # left: clusters that dense but with fewer rows of the cell than k_neighbors+1
                raise ValueError(f"KMeans-SMOTE found no cluster where a grown cell is as dense as in the fold "
                                 f"({overall:.3f}) with over k_neighbors={self.k_neighbors} of its rows, among "
                                 f"{self.n_clusters} clusters; change n_clusters") from e
        # imblearn rounds each cluster's share up, so a cell can get a row or two more than asked: drop them
        rng = np.random.default_rng(self.seed(1))
        keep = np.sort(np.concatenate([rng.permutation(np.flatnonzero(new_strata.to_numpy() == s))[:n]
                                       for s, n in needed.items()]))
        return new_X.iloc[keep].reset_index(drop=True), new_strata.iloc[keep].reset_index(drop=True)

    def _resample(self, X, strata, needed, threshold):
        sampler = KMeansSMOTE(
            k_neighbors=self.k_neighbors,
            kmeans_estimator=MiniBatchKMeans(n_clusters=self.n_clusters, random_state=self.seed()),
            cluster_balance_threshold=threshold, density_exponent=self.density_exponent,
            random_state=self.seed(),
        )
        return resample_with(sampler, X, strata, needed, one_hot=True)
