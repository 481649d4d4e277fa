"""The verdict atop every leaderboard, on synthetic cells whose answer is known."""

from __future__ import annotations

import json

import numpy as np
import pytest

from bench.leaderboard import report, verdict
from bench.store import ResultsStore
from tests.test_leaderboard import put

METHODS = ("none", "duplication", "smote", "class-weights", "threshold")


def board(tmp_path, values, metrics=("balanced_accuracy", "auprc"), folds=2):
    """A leaderboard from ``values[dataset][method]`` (the same value on every fold and metric)."""
    store = ResultsStore(tmp_path / "r.sqlite")
    for d, row in values.items():
        for m, x in row.items():
            for fold in range(folds):
                put(store, d, m, fold, {k: x for k in metrics} | {"fit_seconds": 0.1, "rows_added": 0})
    return report.build(store.frame("toy"), "toy")


def one(lb, metric):
    return next(v for v in lb.verdicts if v.metric == metric)


def test_a_clearly_better_oversampler_beats_both_references(tmp_path):
    rng = np.random.default_rng(0)
    values = {}
    for d in range(12):
        base = rng.uniform(0.5, 0.7)
        noise = rng.normal(0, 0.01, len(METHODS))
        values[f"d{d}"] = {m: base + e for m, e in zip(METHODS, noise)} | {"great": base + 0.1}
    lb = board(tmp_path, values)
    v = one(lb, "balanced_accuracy")
    assert v.best == "great" and v.winners == ["great"] and v.references == ["class-weights", "threshold"]
    great = [c for c in v.comparisons if c.oversampler == "great"]
    assert len(great) == 2 and all(c.p_holm < 0.05 and c.n == 12 for c in great)
    # 3 oversamplers x 2 references, one-sided: 12 positive differences of 12 give the exact p = 1/2^12
    assert len(v.comparisons) == 6 and great[0].p == pytest.approx(0.5 ** 12)
    assert v.tied is not None and "great" not in v.tied
    text = verdict.sentence(v)
    assert "best `great`" in text and "`great` (p = " in text and "beats every reference" in text
    assert "Holm-corrected over 6 comparisons" in text and "over 12 datasets" in text
    assert "on 2 of 2 (classifier, headline metric) pairs" in verdict.summary(lb.verdicts)


def test_a_tie_is_a_tie(tmp_path):
    # a Latin square: every method is best on as many datasets as it is worst, so every mean rank is equal
    values = {f"d{d}": {m: 0.5 + 0.01 * ((i + d) % len(METHODS)) for i, m in enumerate(METHODS)}
              for d in range(10)}
    lb = board(tmp_path, values)
    v = one(lb, "balanced_accuracy")
    assert set(v.tied) == set(METHODS) - {v.best} and v.tie_test.startswith("Friedman p = 1")
    assert v.winners == [] and all(c.p_holm > 0.05 for c in v.comparisons)
    text = verdict.sentence(v)
    assert "the Friedman test finds no difference among the methods" in text
    assert "No oversampler beats every reference" in text and "the closest, `" in text
    assert "on 0 of 2 (classifier, headline metric) pairs" in verdict.summary(lb.verdicts)


def test_a_worse_oversampler_is_not_a_winner_and_the_best_stands_alone(tmp_path):
    values = {f"d{d}": {"none": 0.6, "duplication": 0.5 - 0.001 * d, "smote": 0.55 + 0.001 * d,
                        "class-weights": 0.7 + 0.001 * d, "threshold": 0.65} for d in range(15)}
    v = one(board(tmp_path, values), "balanced_accuracy")
    assert v.best == "class-weights" and v.winners == []
    assert all(c.p > 0.99 for c in v.comparisons)  # one-sided: worse everywhere is no evidence of better
    assert "`duplication`" not in str(v.tied)  # last on every dataset: distinguishable from the first


def test_scores_metrics_say_threshold_is_none(tmp_path):
    rng = np.random.default_rng(1)
    values = {f"d{d}": {m: rng.uniform(0.4, 0.6) for m in METHODS} for d in range(8)}
    for row in values.values():
        row["threshold"] = row["none"]  # as in a real run: the same model, so the same scores
    lb = board(tmp_path, values)
    assert "`threshold` is `none` by construction" in verdict.sentence(one(lb, "auprc"))
    assert "by construction" not in verdict.sentence(one(lb, "balanced_accuracy"))


def test_without_references_or_datasets_it_says_why(tmp_path):
    values = {f"d{d}": {"none": 0.5, "duplication": 0.6, "smote": 0.7 + 0.01 * d} for d in range(4)}
    lb = board(tmp_path / "a", values)
    assert "No reference (class weights, tuned threshold) was run" in verdict.sentence(one(lb, "auprc"))
    assert "Cannot say here: no reference" in verdict.summary(lb.verdicts)
    single = board(tmp_path / "b", {"d0": {m: 0.5 + 0.1 * i for i, m in enumerate(METHODS)}})
    v = one(single, "auprc")
    assert v.comparisons == [] and "needs 2 or more ranked datasets; have 1" in verdict.sentence(v)
    assert "too few ranked datasets" in verdict.summary(single.verdicts)


def test_holm_matches_statsmodels():
    from statsmodels.stats.multitest import multipletests

    p = [0.01, 0.04, 0.03, 0.2, 0.001, 0.5]
    assert verdict.holm(p) == pytest.approx(list(multipletests(p, method="holm")[1]))


def test_the_verdict_heads_readme_html_and_stats(tmp_path):
    values = {f"d{d}": {m: 0.5 + 0.05 * i + 0.001 * d for i, m in enumerate(METHODS)} for d in range(6)}
    store = ResultsStore(tmp_path / "r.sqlite")
    for d, row in values.items():
        for m, x in row.items():
            put(store, d, m, 0, {"balanced_accuracy": x, "auprc": x, "fit_seconds": 0.1, "rows_added": 0})
    out = tmp_path / "lb"
    readme = report.write(store.frame("toy"), "toy", out, plots=False).read_text()
    assert readme.index("## Verdict") < readme.index("## How to read it") < readme.index("## Classifier")
    assert "- **xgboost · balanced_accuracy** ↑: best `threshold`" in readme
    assert "**References, not oversampling**" in readme
    html = (out / "index.html").read_text()
    assert '<section id="verdict"><h2>Verdict</h2>' in html and "<strong>xgboost · auprc</strong>" in html
    doc = json.loads((out / "stats.json").read_text())
    entry = next(e for e in doc["verdict"] if e["metric"] == "balanced_accuracy")
    assert entry["best"] == "threshold" and entry["references"] == ["class-weights", "threshold"]
    assert {c["oversampler"] for c in entry["comparisons"]} == {"duplication", "smote"}
