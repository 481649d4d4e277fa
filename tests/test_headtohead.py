"""Head to head: LLM methods against SMOTE and none, on synthetic cells whose answer is known."""

from __future__ import annotations

import json

import numpy as np
import pytest

from bench.leaderboard import headtohead, report
from bench.store import ResultsStore
from tests.test_leaderboard import put

METRICS = ("minority_recall", "balanced_accuracy", "auprc")


def store_of(tmp_path, values, seconds):
    """``values[dataset][label] = (registry name, value)``, the same value on two folds and every metric."""
    store = ResultsStore(tmp_path / "r.sqlite")
    for d, row in values.items():
        for label, (name, x) in row.items():
            for fold in range(2):
                put(store, d, label, fold, {m: x for m in METRICS} | {"fit_seconds": seconds[label], "rows_added": 5},
                    name=name)
    return store


def test_an_llm_method_better_than_none_and_tied_with_smote(tmp_path):
    rng = np.random.default_rng(0)
    values = {}
    for d in range(8):
        base = rng.uniform(0.4, 0.6)
        values[f"d{d}"] = {"none": ("none", base), "smote": ("smote", base + 0.1),
                           # as good as smote on average, better on half the datasets and worse on the other half
                           "opal-lora": ("opal", base + 0.1 + (0.02 if d % 2 else -0.02)),
                           "dup": ("duplication", base + 0.05)}
    store = store_of(tmp_path, values, {"none": 0.0, "smote": 0.01, "opal-lora": 120.0, "dup": 0.0})
    lb = report.build(store.frame("toy"), "toy")
    duels = {(d.opponent, d.metric): d for d in lb.duels}
    assert {d.method for d in lb.duels} == {"opal-lora"}  # only the llm family, not duplication
    assert set(duels) == {(o, m) for o in ("smote", "none") for m in METRICS}
    vs_none = duels[("none", "balanced_accuracy")]
    # 8 positive differences of 8: the exact two-sided p is 2/2^8
    assert (vs_none.wins, vs_none.losses, vs_none.datasets) == (8, 0, 8) and vs_none.p == pytest.approx(2 / 2 ** 8)
    assert vs_none.verdict == "better" and vs_none.mean_diff == pytest.approx(0.1)
    vs_smote = duels[("smote", "auprc")]
    assert (vs_smote.wins, vs_smote.losses) == (4, 4) and vs_smote.p > 0.5 and vs_smote.verdict == "no difference shown"
    assert vs_smote.seconds == pytest.approx(120.0) and vs_smote.opponent_seconds == pytest.approx(0.01)
    text = headtohead.sentence(lb.duels, "opal-lora", "smote")
    assert text.startswith("**Does `opal-lora` beat `smote` here?** Not shown: over 8 datasets it is significantly better "
                           "on 0 of 3 (classifier, metric) pairs and significantly worse on 0")
    assert "It costs 120.0 s to resample a fold (median), `smote` 0.01 s" in text
    assert "Yes: over 8 datasets it is significantly better on 3 of 3" in headtohead.sentence(lb.duels, "opal-lora",
                                                                                              "none")


def test_few_datasets_say_no_test_can_reach_alpha_and_readme_html_stats_carry_it(tmp_path):
    values = {f"d{d}": {"none": ("none", 0.5), "smote": ("smote", 0.6), "opal": ("opal", 0.4 + 0.01 * d)}
              for d in range(3)}
    store = store_of(tmp_path, values, {"none": 0.0, "smote": 0.01, "opal": 30.0})
    out = tmp_path / "lb"
    readme = report.write(store.frame("toy"), "toy", out, plots=False).read_text()
    assert readme.index("## Verdict") < readme.index("## Head to head") < readme.index("## How to read it")
    assert "with 3 datasets no such test can reach α = 0.05" in readme
    assert "| xgboost | opal | smote | minority_recall | 3 | 0/0/3 |" in readme
    assert '<section id="head-to-head">' in (out / "index.html").read_text()
    doc = json.loads((out / "stats.json").read_text())
    entry = next(e for e in doc["head_to_head"] if e["opponent"] == "smote" and e["metric"] == "auprc")
    assert entry["method"] == "opal" and entry["losses"] == 3 and entry["verdict"] == "no difference shown"


def test_no_llm_method_no_section(tmp_path):
    values = {f"d{d}": {"none": ("none", 0.5), "smote": ("smote", 0.6)} for d in range(3)}
    lb = report.build(store_of(tmp_path, values, {"none": 0.0, "smote": 0.01}).frame("toy"), "toy")
    assert lb.duels == [] and headtohead.markdown_lines(lb.duels) == []


def test_a_method_run_on_some_folds_is_compared_on_those_folds_and_a_failure_leaves_its_dataset_out(tmp_path):
    store = ResultsStore(tmp_path / "r.sqlite")
    for d in range(3):
        for fold in range(4):
            for label, name, x in (("none", "none", 0.5), ("smote", "smote", 0.6 + 0.1 * fold)):
                put(store, f"d{d}", label, fold, {m: x for m in METRICS} | {"fit_seconds": 0.0}, name=name)
        for fold in range(2):  # opal on the first two folds only; on d2 its second fold failed
            status = "error" if (d, fold) == (2, 1) else "ok"
            put(store, f"d{d}", "opal", fold, {m: 0.7 for m in METRICS} | {"fit_seconds": 9.0}, name="opal",
                status=status)
    lb = report.build(store.frame("toy"), "toy")
    d = next(x for x in lb.duels if x.opponent == "smote" and x.metric == "auprc")
    # on folds 0-1 smote averages 0.65 (not 0.75 over all four): opal is 0.05 better on d0 and d1; d2 is left out
    assert d.datasets == 2 and d.wins == 2 and d.mean_diff == pytest.approx(0.05)
