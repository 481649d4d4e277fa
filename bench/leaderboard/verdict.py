"""The verdict at the top of a leaderboard: what a user reads before the tables.

Per classifier and headline metric it says two things, each with its test:

- **Which methods cannot be told apart from the best** (lowest mean rank): when the Friedman test finds no
  difference, none can; otherwise those whose post-hoc p-value against the best (the leaderboard's Nemenyi or
  Wilcoxon-Holm test, `bench.leaderboard.stats`) is at least alpha.
- **Whether any oversampler beats both references** (balanced class weights and a tuned threshold, which change
  how the classifier is fitted or used, not the rows): a one-sided Wilcoxon signed-rank test over the ranked
  datasets (the oversampler's dataset means against the reference's, zero differences split), Holm-corrected
  over every (oversampler, reference) pair of that classifier and metric. An oversampler beats the references
  when every corrected p-value is below alpha. ``none`` is not an oversampler; ``duplication`` is one.

A threshold moves predictions, not scores: on metrics computed from scores (AUPRC, ROC-AUC) ``threshold`` is
``none`` by construction (the same model), and the verdict says so rather than counting it as a second reference
that happens to tie.

Examples
--------
>>> holm([0.01, 0.04, 0.03])
[0.03, 0.06, 0.06]
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from bench.config import REFERENCES  # registry names of the references every suite gets
from bench.leaderboard.stats import MetricResult

NO_OVERSAMPLING = "none"
SCORE_METRICS = ("auprc", "roc_auc")  # computed from scores, which a threshold does not change


@dataclass
class Comparison:
    """One oversampler against one reference over the ranked datasets (one-sided: the oversampler is better)."""

    oversampler: str
    reference: str
    n: int
    p: float
    p_holm: float = float("nan")


@dataclass
class MetricVerdict:
    classifier: str
    metric: str
    higher_is_better: bool
    best: str | None = None
    mean_rank: float = float("nan")
    ranked: int = 0  # methods
    datasets: int = 0
    tied: list[str] | None = None  # not distinguishable from the best; None: no test could say
    tie_test: str = ""
    references: list[str] = field(default_factory=list)
    missing_references: list[str] = field(default_factory=list)  # recorded but not ranked
    comparisons: list[Comparison] = field(default_factory=list)
    winners: list[str] = field(default_factory=list)  # oversamplers that beat every reference
    alpha: float = 0.05
    note: str = ""

    def as_json(self) -> dict:
        return {"classifier": self.classifier, "metric": self.metric, "best": self.best,
                "mean_rank": None if np.isnan(self.mean_rank) else self.mean_rank, "tied_with_best": self.tied,
                "tie_test": self.tie_test, "references": self.references, "winners": self.winners,
                "comparisons": [vars(c) for c in self.comparisons], "alpha": self.alpha,
                "sentence": sentence(self)}


def roles(cells: pd.DataFrame) -> dict[str, str]:
    """Entry label -> "reference", "none" or "oversampler", from the registry name of its cells."""
    names = cells.drop_duplicates("method").set_index("method")["method_name"]
    return {label: ("reference" if name in REFERENCES else "none" if name == NO_OVERSAMPLING else "oversampler")
            for label, name in names.items()}


def judge(r: MetricResult, role: dict[str, str]) -> MetricVerdict:
    """The verdict of one (classifier, metric) result; ``role`` from `roles`."""
    v = MetricVerdict(r.classifier, r.metric, r.higher_is_better, alpha=r.alpha)
    recorded_refs = [m for m in r.mean.columns if role.get(m) == "reference"]
    v.references = [m for m in recorded_refs if m in r.ranked_methods]
    v.missing_references = [m for m in recorded_refs if m not in r.ranked_methods]
    if r.mean_rank.empty:
        v.note = "nothing ranked (" + ("; ".join(r.notes) or "no complete results") + ")"
        return v
    v.best, v.mean_rank = str(r.mean_rank.index[0]), float(r.mean_rank.iloc[0])
    v.ranked, v.datasets = len(r.ranked_methods), len(r.ranked_datasets)
    others = [m for m in r.mean_rank.index if m != v.best]
    if r.friedman is None:
        v.tie_test = "no test: " + (r.notes[0] if r.notes else "too few methods or datasets")
    elif r.friedman[1] >= r.alpha:
        v.tied, v.tie_test = others, f"Friedman p = {r.friedman[1]:.3g}"
    else:
        p = r.posthoc.loc[v.best, others]
        v.tied = [m for m in others if not p[m] < r.alpha]  # NaN (all differences zero) is no difference
        v.tie_test = {"nemenyi": "Nemenyi", "wilcoxon-holm": "Wilcoxon-Holm"}[r.posthoc_name]
        v.tie_test += f" after Friedman p = {r.friedman[1]:.3g}"
    oversamplers = [m for m in r.mean_rank.index if role.get(m, "oversampler") == "oversampler"]
    if not v.references or not oversamplers:
        return v
    if v.datasets < 2:
        v.note = f"comparing oversamplers with the references needs 2 or more ranked datasets; have {v.datasets}"
    else:
        score = r.score().loc[r.ranked_datasets]
        v.comparisons = [Comparison(o, ref, v.datasets, wilcoxon_p(score[o] - score[ref]))
                         for o in oversamplers for ref in v.references]
        for c, q in zip(v.comparisons, holm([c.p for c in v.comparisons])):
            c.p_holm = q
        v.winners = [o for o in oversamplers
                     if all(c.p_holm < r.alpha for c in v.comparisons if c.oversampler == o)]
    return v


def wilcoxon_p(diff: pd.Series, alternative: str = "greater") -> float:
    """p-value of the Wilcoxon signed-rank test that ``diff`` (larger = the first method is better) is above 0
    (``alternative="two-sided"``: differs from 0)."""
    from scipy.stats import wilcoxon

    d = diff.to_numpy(dtype=float)
    if not np.any(d):  # identical on every dataset: no evidence either way
        return 1.0
    with warnings.catch_warnings():
        # few datasets or zero differences make scipy switch to the normal approximation, and say so
        warnings.simplefilter("ignore", UserWarning)
        warnings.simplefilter("ignore", RuntimeWarning)
        return float(wilcoxon(d, zero_method="zsplit", alternative=alternative).pvalue)


def holm(pvalues: list[float]) -> list[float]:
    """Holm's step-down adjustment (controls the family-wise error rate), in the input order."""
    m = len(pvalues)
    order = np.argsort(pvalues, kind="stable")
    adjusted, running = [0.0] * m, 0.0
    for i, j in enumerate(order):
        running = max(running, min(1.0, (m - i) * pvalues[j]))
        adjusted[j] = round(running, 12)
    return adjusted


def _n(k: int, word: str) -> str:
    return f"{k} {word}" + ("" if k == 1 else "s")


def _names(methods: list[str]) -> str:
    return ", ".join(f"`{m}`" for m in methods)


def _p(x: float) -> str:
    return f"{x:.2g}" if x < 0.001 else f"{x:.3f}"


def sentence(v: MetricVerdict) -> str:
    """The verdict of one (classifier, metric) in two sentences (Markdown: **bold** and `code`)."""
    head = f"**{v.classifier} · {v.metric}** {'↑' if v.higher_is_better else '↓'}: "
    if v.best is None:
        return head + v.note + "."
    text = head + (f"best `{v.best}` (mean rank {v.mean_rank:.2f} of {v.ranked} methods over "
                   f"{_n(v.datasets, 'dataset')}); ")
    if v.tied is None:
        text += f"which others are as good is not tested ({v.tie_test})."
    elif not v.tied:
        text += f"every other method is significantly worse ({v.tie_test}, α = {v.alpha})."
    elif v.tie_test.startswith("Friedman"):
        text += f"the Friedman test finds no difference among the methods ({v.tie_test} ≥ α = {v.alpha})."
    else:
        text += f"not distinguishable from it ({v.tie_test}, α = {v.alpha}): {_names(v.tied)}."
    return text + " " + _reference_sentence(v)


def _reference_sentence(v: MetricVerdict) -> str:
    if not v.references:
        if v.missing_references:
            return f"The references {_names(v.missing_references)} are not ranked here, so no comparison."
        return "No reference (class weights, tuned threshold) was run, so no comparison."
    refs = _names(v.references)
    if v.note:
        return v.note[0].upper() + v.note[1:] + "."
    if not v.comparisons:
        return f"No oversampler to compare with the references {refs}."
    how = (f"one-sided Wilcoxon signed-rank over {v.datasets} datasets, Holm-corrected over "
           f"{len(v.comparisons)} comparisons")
    note = ""
    if v.metric in SCORE_METRICS and "threshold" in v.references:
        note = f" On {v.metric} `threshold` is `none` by construction: a threshold does not change the scores."

    def ps(o: str) -> str:
        return ", ".join(f"p = {_p(c.p_holm)} vs `{c.reference}`" for c in v.comparisons if c.oversampler == o)

    if v.winners:
        beats = "; ".join(f"`{o}` ({ps(o)})" for o in v.winners)
        verb = "beats" if len(v.winners) == 1 else "beat"
        return f"{beats} {verb} every reference ({refs}; {how}).{note}"
    closest = min(dict.fromkeys(c.oversampler for c in v.comparisons),
                  key=lambda o: max(c.p_holm for c in v.comparisons if c.oversampler == o))
    if 0.5 ** v.datasets >= v.alpha:  # the smallest one-sided p of the exact test: all differences positive
        note = f" With {v.datasets} datasets no such test can reach α = {v.alpha}." + note
    return (f"No oversampler beats every reference ({refs}); the closest, `{closest}`, has {ps(closest)} "
            f"({how}).{note}")


def verdicts(sections, cells: pd.DataFrame) -> list[MetricVerdict]:
    """One verdict per (classifier section, headline metric) of a leaderboard."""
    role = roles(cells)
    return [judge(s.results[m], role) for s in sections for m in s.headline]


def summary(vs: list[MetricVerdict]) -> str:
    """The lead sentence: on how many (classifier, metric) pairs oversampling beats the references."""
    compared = [v for v in vs if v.comparisons]
    if not compared:
        why = ("no reference (`class-weights`, `threshold`) was ranked beside the oversamplers"
               if not any(v.references for v in vs) else "too few ranked datasets for a test across datasets")
        return ("**Does oversampling beat reweighting the classes or moving the threshold?** "
                f"Cannot say here: {why}.")
    won = [v for v in compared if v.winners]
    lead = ("**Does oversampling beat reweighting the classes (`class-weights`) or moving the decision threshold "
            f"(`threshold`)?** An oversampler is significantly better than every reference on {len(won)} of "
            f"{len(compared)} (classifier, headline metric) pairs")
    if won:
        lead += ": " + "; ".join(f"{v.classifier} · {v.metric} ({_names(v.winners)})" for v in won)
    return lead + "."


def markdown_lines(vs: list[MetricVerdict]) -> list[str]:
    """The verdict section of README.md."""
    if not vs:
        return []
    return ["## Verdict", "", summary(vs), "", *[f"- {sentence(v)}" for v in vs], ""]
