"""The statistics behind a leaderboard: per-dataset means, mean ranks, Friedman and post-hoc tests.

How missing results are handled, so that a method that failed or timed out never gets a flattering rank:

- An *entry* is one (classifier, dataset, method). It is **complete** when every cell recorded for it succeeded
  and has the metric: as many values as the dataset's best-covered method has cells. A partial entry (some folds
  failed or timed out) is shown, marked, on the per-dataset table, but counts as missing everywhere else.
- Methods with complete entries on fewer than ``MIN_COVERAGE`` of the datasets that record the metric are left out
  of the ranking and the tests (listed with the reason). Then the ranks, the Friedman test, the post-hoc test and
  the critical-difference diagram use only the datasets on which every remaining method is complete (the datasets
  left out are listed). So every mean rank compares the same datasets. Where leaving out instead the methods that
  are incomplete on some dataset keeps more (dataset, method) results ranked, those methods are left out and every
  dataset stays (a wide family on few datasets: one failing member would otherwise remove a dataset for all).
- Wins/ties/losses against a baseline count the datasets where both entries are complete.

The tests come from maintained libraries: ``scipy.stats.friedmanchisquare`` and scikit-posthocs
(``posthoc_nemenyi_friedman``, ``posthoc_wilcoxon`` with Holm's correction), as recommended by Demšar (2006).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from bench.metrics import METRICS

KEYS = ["classifier", "dataset", "method"]
MIN_COVERAGE = 0.5  # a method needs complete results on at least half the datasets to be ranked
TIE_TOL = 5e-4  # dataset means closer than this are a tie: equal at the three decimals the tables show
ALPHA = 0.05
POSTHOC = ("nemenyi", "wilcoxon-holm")


def metric_columns(cells: pd.DataFrame) -> list[str]:
    """The declared metrics that the cells record, in declaration order."""
    return [m for m in METRICS if m in cells.columns and cells[m].notna().any()]


def summarize(cells: pd.DataFrame) -> pd.DataFrame:
    """One row per (classifier, dataset, method, metric): mean, std, n (ok cells with a value), cells, expected.

    ``cells`` counts every recorded cell of the entry whatever its status; ``expected`` is the most cells any
    method has on that (classifier, dataset); ``complete`` says whether ``n == expected``.
    """
    metrics = metric_columns(cells)
    total = cells.groupby(KEYS).size().rename("cells")
    ok = cells[cells["status"] == "ok"]
    if ok.empty or not metrics:
        return pd.DataFrame(columns=["mean", "std", "n", "cells", "expected", "complete"])
    agg = ok.groupby(KEYS)[metrics].agg(["mean", "std", "count"]).reindex(total.index)  # keep all-failed entries
    long = agg.stack(level=0, future_stack=True).rename(columns={"count": "n"})
    long.index.names = [*KEYS, "metric"]
    long = long.join(total, on=KEYS)
    expected = total.groupby(["classifier", "dataset"]).max().rename("expected")
    long = long.join(expected, on=["classifier", "dataset"])
    long["n"] = long["n"].fillna(0).astype(int)
    long["complete"] = long["n"] == long["expected"]
    return long


@dataclass
class MetricResult:
    """Everything one (classifier, metric) table, test and diagram shows."""

    classifier: str
    metric: str
    higher_is_better: bool
    mean: pd.DataFrame  # dataset x method, NaN where no ok cell
    std: pd.DataFrame
    n: pd.DataFrame  # ok cells with a value
    cells: pd.DataFrame  # cells recorded
    complete: pd.DataFrame  # bool
    expected: pd.Series = field(default_factory=lambda: pd.Series(dtype=int))  # dataset -> most cells of a method
    ranked_methods: list[str] = field(default_factory=list)
    ranked_datasets: list[str] = field(default_factory=list)
    left_out_methods: dict[str, str] = field(default_factory=dict)
    left_out_datasets: dict[str, str] = field(default_factory=dict)
    ranks: pd.DataFrame | None = None  # ranked datasets x ranked methods, 1 = best
    mean_rank: pd.Series = field(default_factory=lambda: pd.Series(dtype=float))
    friedman: tuple[float, float] | None = None  # (chi-square statistic, p-value)
    posthoc_name: str = "nemenyi"
    posthoc: pd.DataFrame | None = None  # pairwise p-values
    cd: float | None = None  # Nemenyi critical difference of mean ranks
    alpha: float = ALPHA
    notes: list[str] = field(default_factory=list)
    _score: pd.DataFrame | None = field(default=None, repr=False)

    @property
    def order(self) -> list[str]:
        """Methods by mean rank, then the unranked ones by name."""
        rest = sorted(m for m in self.mean.columns if m not in self.mean_rank.index)
        return [*self.mean_rank.index, *rest]

    def score(self) -> pd.DataFrame:
        """Complete means, signed so that larger is better."""
        if self._score is None:  # asked for once per table cell: compute once
            values = self.mean.where(self.complete)
            self._score = values if self.higher_is_better else -values
        return self._score

    def summary(self, method: str) -> tuple[float, float]:
        """Mean and std across the ranked datasets of the method's dataset means."""
        values = self.mean.loc[self.ranked_datasets, method]
        return float(values.mean()), float(values.std()) if len(values) > 1 else float("nan")

    def wins_ties_losses(self, method: str, baseline: str) -> tuple[int, int, int] | None:
        """Datasets where ``method`` beats, ties (within ``TIE_TOL``) or loses to ``baseline``; both complete."""
        if baseline not in self.mean.columns or method not in self.mean.columns:
            return None
        s = self.score()
        diff = (s[method] - s[baseline]).dropna()
        wins, losses = int((diff > TIE_TOL).sum()), int((diff < -TIE_TOL).sum())
        return wins, len(diff) - wins - losses, losses


def analyse(summary: pd.DataFrame, classifier: str, metric: str, methods: list[str],
            posthoc: str = "nemenyi", alpha: float = ALPHA, failed_datasets: tuple[str, ...] = ()) -> MetricResult:
    """Ranks and tests for one metric under one classifier (see the module docstring for missing results).

    ``failed_datasets``: datasets where no cell of this classifier succeeded, listed as left out.
    """
    if posthoc not in POSTHOC:
        raise ValueError(f"unknown post-hoc test {posthoc!r}; choose one of {', '.join(POSTHOC)}")
    sub = summary.xs((classifier, metric), level=("classifier", "metric"))

    def wide(col: str) -> pd.DataFrame:
        return sub[col].unstack("method").reindex(columns=methods)

    mean = wide("mean").dropna(how="all")  # datasets that record the metric
    datasets = list(mean.index)
    std, n, cells = (wide(c).reindex(datasets) for c in ("std", "n", "cells"))
    complete = wide("complete").reindex(datasets).eq(True)  # NaN (no ok cell) is not complete
    r = MetricResult(classifier, metric, METRICS[metric].higher_is_better, mean, std, n.fillna(0).astype(int),
                     cells.fillna(0).astype(int), complete, posthoc_name=posthoc, alpha=alpha)
    r.left_out_datasets.update({d: "no cell succeeded" for d in failed_datasets})
    if not datasets:
        r.notes.append("no dataset records this metric")
        return r

    coverage = complete.sum()
    needed = MIN_COVERAGE * len(datasets)
    r.ranked_methods = [m for m in methods if coverage[m] > 0 and coverage[m] >= needed]
    for m in methods:
        if m not in r.ranked_methods:
            r.left_out_methods[m] = f"complete on {coverage[m]} of {len(datasets)} datasets"
    r.expected = wide("expected").reindex(datasets).max(axis=1).fillna(0).astype(int)

    def shortfall(d: str, m: str) -> str:
        ok, recorded, want = r.n.loc[d, m], r.cells.loc[d, m], r.expected[d]
        return (f"{ok} of {want} cells ok" + (f", {recorded - ok} failed or timed out" if recorded > ok else "")
                + (f", {want - recorded} not run" if want > recorded else ""))

    # Two ways to a block where every ranked method is complete; take the one that ranks more results (ties:
    # the first). Leave out the datasets where a ranked method is incomplete, or the methods incomplete anywhere.
    whole = [m for m in r.ranked_methods if complete[m].all()]
    rows = int(complete[r.ranked_methods].all(axis=1).sum())
    if len(whole) * len(datasets) > len(r.ranked_methods) * rows:
        for m in r.ranked_methods:
            if m not in whole:
                r.left_out_methods[m] = "incomplete on " + ", ".join(
                    f"{d} ({shortfall(d, m)})" for d in datasets if not complete.loc[d, m])
        r.ranked_methods = whole
    for d in datasets:
        missing = [m for m in r.ranked_methods if not complete.loc[d, m]]
        if missing:
            r.left_out_datasets[d] = "incomplete: " + ", ".join(f"{m} ({shortfall(d, m)})" for m in missing)
        elif r.ranked_methods:
            r.ranked_datasets.append(d)
    if not r.ranked_methods or not r.ranked_datasets:
        r.notes.append("no dataset on which the ranked methods all have complete results; nothing ranked")
        r.ranked_methods, r.ranked_datasets = [], []
        return r

    score = r.score().loc[r.ranked_datasets, r.ranked_methods]
    r.ranks = score.rank(axis=1, ascending=False)  # 1 = best, ties share the average rank
    r.mean_rank = r.ranks.mean().sort_values(kind="stable")
    _tests(r, score)
    return r


def _tests(r: MetricResult, score: pd.DataFrame) -> None:
    k, n = score.shape[1], score.shape[0]
    if k < 3 or n < 2:
        r.notes.append(f"Friedman test and CD diagram need >= 3 methods and >= 2 datasets; have {k} and {n}")
        return
    if (score.nunique(axis=1) == 1).all():
        r.notes.append("every ranked method ties on every dataset; no test")
        return
    from scipy.stats import friedmanchisquare

    res = friedmanchisquare(*(score[c].to_numpy() for c in score.columns))
    r.friedman = (float(res.statistic), float(res.pvalue))
    r.posthoc = posthoc_pvalues(score, r.posthoc_name)
    if r.posthoc_name == "nemenyi":
        r.cd = critical_difference(k, n, r.alpha)
    if r.friedman[1] >= r.alpha:
        r.notes.append(f"Friedman p = {r.friedman[1]:.3g} >= {r.alpha}: the methods' ranks may not differ at all; "
                       "read the post-hoc test with care")


def posthoc_pvalues(score: pd.DataFrame, name: str = "nemenyi") -> pd.DataFrame:
    """Pairwise p-values between the columns of a dataset x method matrix (larger = better)."""
    import scikit_posthocs as sp

    if name == "nemenyi":
        p = sp.posthoc_nemenyi_friedman(score.astype(float))
    else:
        with warnings.catch_warnings():
            # zero differences and few datasets make scipy fall back to the normal approximation, and say so
            warnings.simplefilter("ignore", UserWarning)
            warnings.simplefilter("ignore", RuntimeWarning)
            p = sp.posthoc_wilcoxon([score[c].to_numpy() for c in score.columns], zero_method="zsplit",
                                    p_adjust="holm")
        p.index = p.columns = list(score.columns)
    return p.astype(float)


def critical_difference(k: int, n: int, alpha: float = ALPHA) -> float:
    """Nemenyi critical difference of mean ranks for k methods over n datasets (Demšar 2006, eq. 5)."""
    from scipy.stats import studentized_range

    q = studentized_range.ppf(1 - alpha, k, np.inf) / np.sqrt(2)
    return float(q * np.sqrt(k * (k + 1) / (6 * n)))


def mean_rank_table(results: dict[str, MetricResult]) -> pd.DataFrame:
    """Method x metric mean ranks (NaN where a method is not ranked), methods by their average over metrics."""
    table = pd.DataFrame({m: r.mean_rank for m, r in results.items()})
    return table.loc[table.mean(axis=1).sort_values(kind="stable").index]


def as_json(r: MetricResult) -> dict:
    """The machine-readable form of a result, for stats.json."""
    def clean(x):
        return None if x is None or (isinstance(x, float) and np.isnan(x)) else x

    return {
        "classifier": r.classifier, "metric": r.metric, "higher_is_better": r.higher_is_better,
        "ranked_methods": r.ranked_methods, "ranked_datasets": r.ranked_datasets,
        "left_out_methods": r.left_out_methods, "left_out_datasets": r.left_out_datasets,
        "mean_rank": {m: float(v) for m, v in r.mean_rank.items()},
        "friedman": None if r.friedman is None else {"statistic": r.friedman[0], "pvalue": r.friedman[1]},
        "posthoc": r.posthoc_name,
        "posthoc_pvalues": None if r.posthoc is None else {
            a: {b: clean(float(v)) for b, v in row.items()} for a, row in r.posthoc.iterrows()},
        "critical_difference": r.cd, "alpha": r.alpha, "notes": r.notes,
    }
