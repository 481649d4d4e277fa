"""Leaderboards from a synthetic results store: tables, ranks, wins, tests, diagrams, exports, failures."""

from __future__ import annotations

import hashlib
import json
import xml.etree.ElementTree as ET
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
from scipy.stats import friedmanchisquare

from bench.leaderboard import report, stats
from bench.store import ResultsStore

STAMP = "2026-01-01T00:00:00"


def put(store: ResultsStore, dataset: str, method: str, fold: int, metrics: dict, *, classifier: str = "xgboost",
        seed: int = 0, status: str = "ok", name: str | None = None, params: dict | None = None,
        suite: str = "toy", step: float | None = None) -> str:
    """Record one fake cell through the store's real write path; return its key."""
    key = hashlib.sha256(f"{suite}/{classifier}/{dataset}/{method}/{seed}/{fold}/{step}".encode()).hexdigest()
    spec = SimpleNamespace(
        key=key, suite=suite, dataset=SimpleNamespace(name=dataset),
        method=SimpleNamespace(label=method, name=name or method.split("(")[0], params=params or {}),
        group_aware=False, classifier=SimpleNamespace(name=classifier, params={}), seed=seed, fold=fold,
        step=step, augment_of="train_rows")
    error = None if status == "ok" else f"Traceback ...\nRuntimeError: {status} in fold {fold}"
    store.put(spec, status, metrics if status == "ok" else {}, error, 1.5, STAMP, STAMP)
    return key


def plausible(rng: np.random.Generator, recall: float, grouped: bool, rows: int = 40) -> dict:
    """Metrics that hang together: recalls in [0, 1], the rest derived from them, plus cost and group columns."""
    rec = float(np.clip(recall + rng.normal(0, 0.03), 0, 1))
    maj = float(np.clip(0.9 - 0.2 * rec + rng.normal(0, 0.02), 0, 1))
    m = {"minority_recall": rec, "majority_recall": maj, "balanced_accuracy": (rec + maj) / 2,
         "error": 1 - (0.1 * rec + 0.9 * maj), "f1_minority": rec * 0.8, "g_mean": float(np.sqrt(rec * maj)),
         "mcc": rec + maj - 1, "auprc": rec * 0.9, "roc_auc": (rec + maj) / 2 + 0.05,
         "fit_seconds": abs(rng.normal(0.01 * (rows + 1), 0.001)) * (1 + 50 * rng.random() ** 4), "peak_memory_mb": 5.0, "rows_added": rows,
         "method.note": "fake"}
    if grouped:
        m |= {"accuracy[y=1,g=f]": rec - 0.05, "accuracy[y=1,g=m]": rec, "accuracy[y=0,g=f]": maj,
              "worst_group_accuracy": min(rec - 0.05, maj), "dp_difference": 0.1, "eo_difference": 0.2}
    return m


def synthetic_store(path: Path, n_datasets=6, methods=("none", "duplication", "smote", "adasyn", "ctgan"),
                    classifiers=("xgboost", "logreg"), folds=3, seed=0, failures=True) -> ResultsStore:
    """Several methods x datasets x folds x classifiers with a known ordering of method quality."""
    rng = np.random.default_rng(seed)
    store = ResultsStore(path)
    effect = {m: 0.05 * i for i, m in enumerate(methods)}
    for d in range(n_datasets):
        base = rng.uniform(0.2, 0.5)
        for clf in classifiers:
            for m in methods:
                for fold in range(folds):
                    status = "ok"
                    if failures and m == "ctgan" and d == 0 and fold == 0 and clf == "xgboost":
                        status = "timeout"
                    if failures and m == "adasyn" and d == 1 and clf == "logreg":
                        status = "error"
                    put(store, f"data{d}", m, fold,
                        plausible(rng, base + effect[m] + rng.normal(0, 0.05), grouped=d % 2 == 0),
                        classifier=clf, status=status)
    return store


# ----------------------------------------------------------------------------------------------------------
# A hand-made case: ranks and wins computed by hand.

HAND = {  # minority recall per (dataset, method); two folds at v +- 0.01
    "d1": {"none": 0.5, "smote": 0.7, "duplication": 0.6},
    "d2": {"none": 0.4, "smote": 0.4, "duplication": 0.8},
    "d3": {"none": 0.3, "smote": 0.9, "duplication": 0.6},
    "d4": {"none": 0.1, "smote": 0.2, "duplication": 0.99},  # duplication times out on fold 1: left out
}


@pytest.fixture
def hand(tmp_path: Path):
    store = ResultsStore(tmp_path / "hand.sqlite")
    for d, row in HAND.items():
        for m, v in row.items():
            for fold, dv in enumerate((0.01, -0.01)):
                status = "timeout" if (d, m, fold) == ("d4", "duplication", 1) else "ok"
                put(store, d, m, fold, {"minority_recall": v + dv, "error": 1 - (v + dv), "rows_added": 10},
                    status=status)
    return store.frame("toy")


def test_hand_made_mean_ranks_and_wins(hand, tmp_path: Path):
    lb = report.build(hand, "toy")
    r = lb.sections[0].results["minority_recall"]
    # d1: smote 1, duplication 2, none 3; d2: duplication 1, none/smote 2.5; d3: smote 1, duplication 2, none 3
    assert r.ranked_datasets == ["d1", "d2", "d3"]
    assert set(r.left_out_datasets) == {"d4"}
    assert "duplication (1 of 2 cells ok, 1 failed or timed out)" in r.left_out_datasets["d4"]
    assert r.mean_rank.to_dict() == pytest.approx({"smote": 1.5, "duplication": 5 / 3, "none": 17 / 6})
    assert list(r.mean_rank.index) == ["smote", "duplication", "none"]
    assert r.wins_ties_losses("smote", "none") == (3, 1, 0)  # d2 ties; d4 counts: both complete there
    assert r.wins_ties_losses("duplication", "none") == (3, 0, 0)  # d4 partial: not counted
    assert r.wins_ties_losses("duplication", "smote") == (1, 0, 2)
    # a lower-is-better metric ranks the other way round: error = 1 - recall gives the same ranks
    assert r.mean_rank.to_dict() == pytest.approx(lb.sections[0].results["error"].mean_rank.to_dict())

    readme = report.write(hand, "toy", tmp_path / "lb", plots=False).read_text()
    assert "| 1 | smote | 1.50 | 0.667 ± 0.252 | 4/4 | 3/1/0 | · | 8/8 |" in readme
    assert "| 2 | duplication | 1.67 | 0.667 ± 0.115 | 3/4 | 3/0/0 | 1/0/2 | 7/8 |" in readme
    assert "| 3 | none | 2.83 | 0.400 ± 0.100 | 4/4 | · | 0/1/3 | 8/8 |" in readme
    assert ("Datasets left out of ranks and tests (1): "
            "d4 (incomplete: duplication (1 of 2 cells ok, 1 failed or timed out))") in readme
    assert "1.000 † (1/2)" in readme  # the partial entry is shown, marked
    assert "24 cells ran: 23 ok, 1 timed out." in readme
    # 24 cells of 1.5 s each, all stamped with the same start and finish
    assert "Compute: 36 s of cell time on host " in readme and "; 0 s from the first cell's start" in readme


def test_a_wide_family_leaves_out_the_failing_member_not_the_dataset(tmp_path: Path):
    # 3 datasets x 8 methods; "bad" fails one fold on d2. Leaving d2 out ranks 2 x 8 = 16 results, leaving
    # "bad" out 3 x 7 = 21: so "bad" goes and every dataset stays (the hand-made case above goes the other way:
    # 3 x 3 = 9 against 4 x 2 = 8).
    store = ResultsStore(tmp_path / "wide.sqlite")
    methods = ["none", "smote", "duplication", "m1", "m2", "m3", "m4", "bad"]
    for i, d in enumerate(("d1", "d2", "d3")):
        for j, m in enumerate(methods):
            for fold, dv in enumerate((0.01, -0.01)):
                v = 0.1 * j + 0.05 * i + dv
                put(store, d, m, fold, {"minority_recall": v, "rows_added": 10},
                    status="error" if (d, m, fold) == ("d2", "bad", 0) else "ok")
    r = report.build(store.frame("toy"), "toy").sections[0].results["minority_recall"]
    assert r.ranked_datasets == ["d1", "d2", "d3"] and not r.left_out_datasets
    assert sorted(r.ranked_methods) == sorted(methods[:-1])
    assert r.left_out_methods == {"bad": "incomplete on d2 (1 of 2 cells ok, 1 failed or timed out)"}
    assert list(r.mean_rank.index) == ["m4", "m3", "m2", "m1", "duplication", "smote", "none"]
    readme = report.write(store.frame("toy"), "toy", tmp_path / "lb", plots=False).read_text()
    assert "Not ranked: bad (incomplete on d2 (1 of 2 cells ok, 1 failed or timed out))." in readme


def test_too_few_methods_or_datasets_skip_the_diagram(tmp_path: Path):
    store = ResultsStore(tmp_path / "r.sqlite")
    rng = np.random.default_rng(1)
    for d in ("a", "b", "c"):
        for m in ("none", "duplication"):
            for fold in range(2):
                put(store, d, m, fold, plausible(rng, 0.4, grouped=False))
    readme = report.write(store.frame("toy"), "toy", tmp_path / "lb").read_text()
    assert "need >= 3 methods and >= 2 datasets; have 2 and 3" in readme
    assert not list((tmp_path / "lb" / "cd").glob("*"))


# ----------------------------------------------------------------------------------------------------------
# A larger synthetic store: tests, diagrams, exports, failures.


@pytest.fixture(scope="module")
def board(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("board")
    store = synthetic_store(tmp / "r.sqlite")
    cells = store.frame("toy")
    out = tmp / "lb"
    readme = report.write(cells, "toy", out)
    return SimpleNamespace(cells=cells, out=out, readme=readme.read_text(), store=tmp / "r.sqlite")


def test_friedman_matches_scipy_on_the_same_matrix(board):
    stats_doc = json.loads((board.out / "stats.json").read_text())
    for clf in ("xgboost", "logreg"):
        entry = next(r for r in stats_doc["results"] if r["classifier"] == clf and r["metric"] == "mcc")
        ok = board.cells[(board.cells["classifier"] == clf) & (board.cells["status"] == "ok")]
        matrix = ok.groupby(["dataset", "method"])["mcc"].mean().unstack()
        bad = board.cells[(board.cells["classifier"] == clf) & (board.cells["status"] != "ok")]
        matrix = matrix.drop(index=bad["dataset"].unique())  # incomplete datasets are left out
        assert sorted(matrix.index) == sorted(entry["ranked_datasets"])
        expected = friedmanchisquare(*(matrix[m].to_numpy() for m in matrix.columns))
        assert entry["friedman"]["pvalue"] == pytest.approx(expected.pvalue, rel=1e-12)
        assert entry["friedman"]["statistic"] == pytest.approx(expected.statistic, rel=1e-12)
        ranks = matrix.rank(axis=1, ascending=False).mean()
        assert entry["mean_rank"] == pytest.approx(ranks.to_dict())


def test_cd_diagrams_are_valid_svg_and_png(board):
    from PIL import Image

    for clf in ("xgboost", "logreg"):
        for metric in ("minority_recall", "balanced_accuracy", "mcc", "auprc", "worst_group_accuracy"):
            svg, png = (board.out / "cd" / f"{clf}-{metric}.{ext}" for ext in ("svg", "png"))
            assert ET.parse(svg).getroot().tag == "{http://www.w3.org/2000/svg}svg"
            with Image.open(png) as im:
                im.verify()
                assert im.format == "PNG" and im.size[0] > 300
            assert f"](cd/{clf}-{metric}.svg)" in board.readme
    for name in ("xgboost-minority_recall-by-dataset", "logreg-worst_group_accuracy-by-dataset",
                 "xgboost-cost-vs-gain"):
        assert (board.out / "plots" / f"{name}.png").stat().st_size > 1000
    assert "No scaling curves" in board.readme


def test_exports_round_trip_and_trace_to_cells(board):
    back = pd.read_csv(board.out / "results.csv", dtype={"key": str}, float_precision="round_trip")
    cells = board.cells.reset_index(drop=True)
    assert list(back.columns) == list(cells.columns) and len(back) == len(cells)
    for col in cells.columns:  # exact: floats are written with repr precision
        if pd.api.types.is_numeric_dtype(cells[col]):
            pd.testing.assert_series_equal(back[col].astype(float), cells[col].astype(float), check_exact=True)
        else:
            assert [None if pd.isna(x) else x for x in back[col]] == [None if pd.isna(x) else x for x in cells[col]]
    records = json.loads((board.out / "results.json").read_text())
    assert len(records) == len(cells) and set(records[0]) == set(cells.columns)
    by_key = {r["key"]: r for r in records}
    row = cells.iloc[5]
    assert by_key[row["key"]]["minority_recall"] == row["minority_recall"]
    assert "accuracy[y=1,g=f]" in back.columns and "method.note" in back.columns

    from typer.testing import CliRunner

    from bench.cli import app

    res = CliRunner().invoke(app, ["show", "--results", str(board.store), "--key", row["key"][:12]])
    assert res.exit_code == 0 and row["dataset"] in res.output


def test_failed_cells_are_counted_and_listed(board):
    n = len(board.cells)
    assert n == 6 * 5 * 2 * 3
    assert f"{n} cells ran: {n - 4} ok, 3 failed with an error, 1 timed out." in board.readme
    assert "| logreg | data1 | adasyn | error | 3 |" in board.readme
    assert "| xgboost | data0 | ctgan | timeout | 1 |" in board.readme
    assert "RuntimeError: timeout in fold 0" in board.readme
    assert "| logreg | adasyn | 15 | 3 | 0 | 18 |" in board.readme  # cells by status: ok, error, timeout
    html = (board.out / "index.html").read_text()
    assert 'id="failures"' in html and "http://" not in html and "https://" not in html


def test_scaling_curves_need_three_sizes(tmp_path: Path):
    store = ResultsStore(tmp_path / "r.sqlite")
    rng = np.random.default_rng(2)
    for d in ("a", "b"):
        for fold in range(2):
            put(store, d, "none", fold, plausible(rng, 0.3, grouped=False, rows=0))
            put(store, d, "duplication", fold, plausible(rng, 0.35, grouped=False))
            for ratio in (0.5, 1.0, 2.0):
                put(store, d, f"smote(ratio={ratio})", fold, plausible(rng, 0.3 + ratio / 10, False, int(40 * ratio)),
                    name="smote", params={"ratio": ratio})
    report.write(store.frame("toy"), "toy", tmp_path / "lb")
    assert (tmp_path / "lb" / "plots" / "xgboost-scaling-minority_recall.png").exists()
    readme = (tmp_path / "lb" / "README.md").read_text()
    assert "](plots/xgboost-scaling-minority_recall.png)" in readme and "No scaling curves" not in readme


def test_augmentation_sweep_entries_and_scaling_curves(tmp_path: Path):
    store = ResultsStore(tmp_path / "r.sqlite")
    rng = np.random.default_rng(3)
    for d in ("a", "b", "c"):
        for fold in range(2):
            put(store, d, "none", fold, plausible(rng, 0.3, grouped=False, rows=0), step=0.0)
            for m in ("duplication", "smote"):
                for step in (0.0, 0.25, 0.5, 1.0):
                    put(store, d, m, fold, plausible(rng, 0.3 + step / 5, False, int(100 * step)), step=step)
    cells = store.frame("toy")
    lb = report.build(cells, "toy")
    r = lb.sections[0].results["minority_recall"]
    assert set(r.mean.columns) == {"none", *(f"{m} @{s:g}" for m in ("duplication", "smote") for s in (0, .25, .5, 1))}
    assert (r.n == 2).all().all()  # each (method, step) entry has its own two folds
    report.write(cells, "toy", tmp_path / "lb")
    assert (tmp_path / "lb" / "plots" / "xgboost-scaling-minority_recall.png").exists()
    readme = (tmp_path / "lb" / "README.md").read_text()
    assert "augmentation steps 0, 0.25, 0.5, 1" in readme and "| smote @1 |" in readme
    back = pd.read_csv(tmp_path / "lb" / "results.csv")
    assert set(back["method"]) == {"none", "duplication", "smote"} and back["step"].notna().all()


def test_cli_leaderboard_without_plots(tmp_path: Path):
    from typer.testing import CliRunner

    from bench.cli import app

    synthetic_store(tmp_path / "r.sqlite", n_datasets=3, classifiers=("logreg",), folds=2, failures=False)
    res = CliRunner().invoke(app, ["leaderboard", "toy", "--results", str(tmp_path / "r.sqlite"),
                                   "--out", str(tmp_path / "lb"), "--no-plots", "--posthoc", "wilcoxon-holm"])
    assert res.exit_code == 0, res.output
    assert {p.name for p in (tmp_path / "lb").iterdir()} == {
        "README.md", "index.html", "results.csv", "results.json", "aggregates.csv", "stats.json"}
    doc = json.loads((tmp_path / "lb" / "stats.json").read_text())
    assert doc["posthoc"] == "wilcoxon-holm" and doc["results"][0]["posthoc_pvalues"]


def test_policy_constants_are_documented():
    assert 0 < stats.MIN_COVERAGE <= 1 and stats.TIE_TOL < 1e-3
