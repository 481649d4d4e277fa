"""How good and how private are synthetic rows: fidelity to the real rows they imitate, distance to them.

Fidelity follows SDMetrics' quality report: *column shapes* (1 - Kolmogorov-Smirnov statistic for a numeric
column, 1 - total variation distance of the level frequencies for a categorical one) and *column pair trends*
(1 - |Pearson r real - Pearson r synthetic| / 2 for two numeric columns, 1 - total variation distance of the
joint frequencies otherwise, numeric columns cut into 10 bins on the real rows), averaged. Unlike SDMetrics
0.32's report, pair trends average over *every* pair, not only pairs the real rows show to be associated: the
rows of one minority class are often too few for that filter to keep any pair. The numbers equal SDMetrics'
``KSComplement``, ``TVComplement``, ``CorrelationSimilarity`` and ``ContingencySimilarity`` (a test checks);
they are computed here in numpy because the report takes over a second on a few hundred rows.

Privacy is the distance to the closest real record (DCR) in a normalised space (numeric columns divided by the
reference's range, a categorical mismatch counting as much as a full-range numeric difference), as a ratio to
the same distance between real rows: near 0 means copies, near 1 means as close as real rows are to each other.
"""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd

from bench.oversampler import is_categorical

MAX_ROWS = 1000  # bigger tables are subsampled (seeded), so a score costs well under a second
BINS = 10  # as SDMetrics' ContingencySimilarity


def synthetic_quality(real: pd.DataFrame, synth: pd.DataFrame, reference: pd.DataFrame | None = None) -> dict[str, float]:
    """Fidelity and privacy figures of ``synth`` against the ``real`` rows it imitates.

    Parameters
    ----------
    real, synth : DataFrame
        Same columns and dtypes (categorical columns with the same categories).
    reference : DataFrame, optional
        Rows that fix the scale of numeric columns for distances (the whole training fold); ``real`` if omitted.

    Returns
    -------
    dict
        ``fidelity`` (mean of ``column_shapes`` and ``column_pair_trends``, in [0, 1], higher is closer),
        ``dcr`` (median distance of a synthetic row to its closest real row), ``dcr_real`` (median distance of a
        real row to its closest other real row), ``dcr_ratio`` (their ratio; omitted when ``dcr_real`` is 0),
        ``exact_copies`` (share of synthetic rows equal to a real row).

    Examples
    --------
    >>> real = pd.DataFrame({"a": [0.0, 1.0, 2.0, 3.0], "c": pd.Categorical(list("xyxy"))})
    >>> q = synthetic_quality(real, real.copy())
    >>> q["fidelity"], q["dcr_ratio"], q["exact_copies"]
    (1.0, 0.0, 1.0)
    """
    if len(real) == 0 or len(synth) == 0:
        raise ValueError("synthetic_quality needs at least one real and one synthetic row")
    reference = real if reference is None else reference
    real, synth = _subsample(real, 1), _subsample(synth, 2)
    shapes = column_shapes(real, synth)
    trends = column_pair_trends(real, synth)
    out = {"column_shapes": shapes}
    if not np.isnan(trends):
        out["column_pair_trends"] = trends
    out["fidelity"] = float(np.mean([shapes] + ([trends] if not np.isnan(trends) else [])))
    out.update(distance_to_closest_record(real, synth, reference))
    return out


# -- fidelity ------------------------------------------------------------------------------------------------
def column_shapes(real: pd.DataFrame, synth: pd.DataFrame) -> float:
    """Mean over columns of 1 - KS statistic (numeric) or 1 - total variation distance (categorical)."""
    scores = []
    for c in real.columns:
        if is_categorical(real[c]):
            scores.append(1 - _tvd(_codes(real[c], real[c]), _codes(synth[c], real[c])))
        else:
            scores.append(1 - _ks(real[c].to_numpy(float), synth[c].to_numpy(float)))
    return float(np.mean(scores))


def column_pair_trends(real: pd.DataFrame, synth: pd.DataFrame) -> float:
    """Mean over column pairs of correlation similarity (two numeric columns) or contingency similarity.

    NaN when no pair can be scored (a single column; or only numeric pairs with a constant column, whose
    correlation is undefined, as in SDMetrics).
    """
    numeric = {c: not is_categorical(real[c]) for c in real.columns}
    discrete = {c: (_binned(real[c], real[c]), _binned(synth[c], real[c])) for c in real.columns}
    scores = []
    for a, b in itertools.combinations(real.columns, 2):
        if numeric[a] and numeric[b]:
            r, s = _pearson(real[a], real[b]), _pearson(synth[a], synth[b])
            if not (np.isnan(r) or np.isnan(s)):
                scores.append(1 - abs(r - s) / 2)
        else:
            (ra, sa), (rb, sb) = discrete[a], discrete[b]
            width = max(ra.max(), sa.max()) + 1
            scores.append(1 - _tvd(ra * width + rb, sa * width + sb))
    return float(np.mean(scores)) if scores else float("nan")


def _codes(col: pd.Series, like: pd.Series) -> np.ndarray:
    """Integer codes of a categorical column on the levels of ``like``; unknown levels share one extra code."""
    if is_categorical(col) and col.cat.categories.equals(like.cat.categories):
        codes = col.cat.codes.to_numpy(np.int64)
    else:
        codes = pd.Categorical(col.astype(object), categories=like.cat.categories).codes.astype(np.int64)
    return np.where(codes < 0, len(like.cat.categories), codes)


def _binned(col: pd.Series, real: pd.Series) -> np.ndarray:
    """Categorical codes, or numeric values cut into BINS bins on the real values (outer edges open)."""
    if is_categorical(real):
        return _codes(col, real)
    edges = np.histogram_bin_edges(real.to_numpy(float), bins=BINS)
    edges[0], edges[-1] = -np.inf, np.inf
    return np.digitize(col.to_numpy(float), edges).astype(np.int64)


def _tvd(a: np.ndarray, b: np.ndarray) -> float:
    """Total variation distance between the value frequencies of two integer arrays."""
    size = int(max(a.max(), b.max())) + 1
    return float(np.abs(np.bincount(a, minlength=size) / len(a) - np.bincount(b, minlength=size) / len(b)).sum() / 2)


def _ks(a: np.ndarray, b: np.ndarray) -> float:
    """Two-sample Kolmogorov-Smirnov statistic (largest gap between the empirical CDFs)."""
    grid = np.union1d(a, b)
    cdf_a = np.searchsorted(np.sort(a), grid, side="right") / len(a)
    cdf_b = np.searchsorted(np.sort(b), grid, side="right") / len(b)
    return float(np.abs(cdf_a - cdf_b).max())


def _pearson(a: pd.Series, b: pd.Series) -> float:
    x, y = a.to_numpy(float), b.to_numpy(float)
    if len(x) < 2 or np.ptp(x) == 0 or np.ptp(y) == 0:
        return float("nan")
    return float(np.corrcoef(x, y)[0, 1])


# -- privacy -------------------------------------------------------------------------------------------------
def distance_to_closest_record(real: pd.DataFrame, synth: pd.DataFrame, reference: pd.DataFrame) -> dict[str, float]:
    """Median distance synthetic -> closest real row, real -> closest other real row, their ratio, exact copies."""
    R, S = _normalised(real, reference), _normalised(synth, reference)
    to_real = _nearest(S, R)
    out = {"dcr": float(np.median(to_real)), "exact_copies": float(np.mean(to_real == 0))}
    if len(R) > 1:
        dcr_real = float(np.median(_nearest(R, R, exclude_self=True)))
        out["dcr_real"] = dcr_real
        if dcr_real > 0:
            out["dcr_ratio"] = out["dcr"] / dcr_real
    return out


def _normalised(X: pd.DataFrame, reference: pd.DataFrame) -> np.ndarray:
    """Numeric columns divided by the reference's range; a categorical column as one-hot scaled by 1/sqrt(2)."""
    parts = []
    for c in X.columns:
        if is_categorical(reference[c]):
            levels = reference[c].cat.categories
            parts.append(np.eye(len(levels) + 1)[_codes(X[c], reference[c])] / np.sqrt(2))
        else:
            ref = reference[c].to_numpy(float)
            span = np.ptp(ref) or 1.0
            parts.append(((X[c].to_numpy(float) - ref.min()) / span)[:, None])
    return np.hstack(parts) if parts else np.zeros((len(X), 0))


def _nearest(A: np.ndarray, B: np.ndarray, exclude_self: bool = False) -> np.ndarray:
    """Euclidean distance from each row of A to its closest row of B (A is B when exclude_self), in blocks."""
    out = np.empty(len(A))
    b2 = (B**2).sum(axis=1)
    for start in range(0, len(A), 512):
        block = A[start : start + 512]
        d2 = (block**2).sum(axis=1)[:, None] + b2[None, :] - 2 * block @ B.T
        if exclude_self:
            d2[np.arange(len(block)), np.arange(start, start + len(block))] = np.inf
        d2 = d2.min(axis=1)
        d2[d2 < 1e-12] = 0.0  # rounding noise of the expansion above: equal rows are at distance 0
        out[start : start + len(block)] = np.sqrt(d2)
    return out


def _subsample(X: pd.DataFrame, seed: int) -> pd.DataFrame:
    return X if len(X) <= MAX_ROWS else X.sample(MAX_ROWS, random_state=seed)
