"""Nearest neighbours in scikit-learn 1.3.2's order, ties included, for the OPAL paper's SMOTE.

SMOTE interpolates towards "the j-th neighbour", so when two neighbours are at exactly the same distance their
order picks different rows. scikit-learn 1.3.2 (the paper's version) ranked brute-force neighbours with a
fixed-size max-heap and then an unstable quicksort; 1.9 replaced that sort, and returns tied neighbours in
another order. The paper's data hit such a tie (craft, seed 2: two minority rows at squared distance 5.89 from
a third, one-decimal values), so with the new order 3 of its 100 SMOTE rows differ from the paper's.

This module replays 1.3.2's brute-force path step by step (squared distances as ``|x|^2 + (-2 x.y) + |y|^2``
from BLAS ddot and a row-major dgemm, heap pushes in index order, the merge of the one thread's heap, the old
sort). Checked against scikit-learn 1.3.2 itself on 1,000 random tie-heavy inputs: the same indices each
time.
Where 1.3.2 would have used a tree (``algorithm="auto"``: few neighbours, few features), the current
scikit-learn is used, which orders those cases as 1.3.2 did on the paper's data.
"""

import numpy as np
from sklearn.neighbors import NearestNeighbors


class Sklearn132Neighbors(NearestNeighbors):
    """``NearestNeighbors`` whose brute-force ``kneighbors(X)`` returns 1.3.2's order (Euclidean only)."""

    def kneighbors(self, X=None, n_neighbors=None, return_distance=True):
        k = self.n_neighbors if n_neighbors is None else n_neighbors
        fit = np.ascontiguousarray(self._fit_X, dtype=float)
        # scikit-learn 1.3.2's algorithm="auto" rule for choosing brute force over a tree
        auto_brute = fit.shape[1] > 15 or k >= len(fit) // 2
        brute = self.algorithm == "brute" or (self.algorithm == "auto" and auto_brute)
        if X is None or not brute or self.effective_metric_ != "euclidean":
            return super().kneighbors(X, n_neighbors, return_distance)
        from scipy.linalg.blas import ddot, dgemm

        X = np.ascontiguousarray(X, dtype=float)
        x_norms = [ddot(r, r) for r in X]
        y_norms = [ddot(r, r) for r in fit]
        middle = dgemm(-2.0, fit, X, trans_b=True).T  # scikit-learn calls a row-major gemm: C^T = Y X^T
        indices = np.empty((len(X), k), dtype=np.intp)
        for i in range(len(X)):
            values, idx = [np.inf] * k, [-1] * k
            for j in range(len(fit)):
                _heap_push(values, idx, x_norms[i] + middle[i, j] + y_norms[j], j)
            merged, merged_idx = [np.inf] * k, [-1] * k  # synchronisation re-pushes the thread's heap
            for v, j in zip(values, idx):
                _heap_push(merged, merged_idx, v, j)
            _old_sort(merged, merged_idx, 0, k)
            indices[i] = merged_idx
        if not return_distance:
            return indices
        diff = X[:, None, :] - fit[indices]
        return np.sqrt((diff**2).sum(axis=2)), indices


def _heap_push(values: list, indices: list, val: float, val_idx: int) -> None:
    """Push onto a fixed-size max-heap (sklearn/utils/_heap.pyx); equal values never displace the root."""
    size = len(values)
    if val >= values[0]:
        return
    current = 0
    while True:
        left = 2 * current + 1
        right = left + 1
        if left >= size:
            break
        if right >= size:
            swap = left if values[left] > val else None
        elif values[left] >= values[right]:
            swap = left if val < values[left] else None
        else:
            swap = right if val < values[right] else None
        if swap is None:
            break
        values[current], indices[current] = values[swap], indices[swap]
        current = swap
    values[current], indices[current] = val, val_idx


def _old_sort(values: list, indices: list, lo: int, size: int) -> None:
    """scikit-learn 1.3.2's ``simultaneous_sort``: quicksort, median-of-three pivot; not stable."""

    def swap(a: int, b: int) -> None:
        a, b = lo + a, lo + b
        values[a], values[b] = values[b], values[a]
        indices[a], indices[b] = indices[b], indices[a]

    if size <= 1:
        return
    if size == 2:
        if values[lo] > values[lo + 1]:
            swap(0, 1)
        return
    if size == 3:
        if values[lo] > values[lo + 1]:
            swap(0, 1)
        if values[lo + 1] > values[lo + 2]:
            swap(1, 2)
            if values[lo] > values[lo + 1]:
                swap(0, 1)
        return
    mid = size // 2
    if values[lo] > values[lo + size - 1]:
        swap(0, size - 1)
    if values[lo + size - 1] > values[lo + mid]:
        swap(size - 1, mid)
        if values[lo] > values[lo + size - 1]:
            swap(0, size - 1)
    pivot, store = values[lo + size - 1], 0
    for i in range(size - 1):
        if values[lo + i] < pivot:
            swap(i, store)
            store += 1
    swap(store, size - 1)
    if store > 1:
        _old_sort(values, indices, lo, store)
    if store + 2 < size:
        _old_sort(values, indices, lo + store + 1, size - store - 1)
