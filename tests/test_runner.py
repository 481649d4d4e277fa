"""The runner: cells planned, finished cells skipped, failures isolated as rows, test rows never oversampled."""

import numpy as np
import pandas as pd
import pytest

from bench import runner
from bench.cell import cached_dataset, split
from bench.config import SuiteError, load_suite
from bench.executors import InlineExecutor, ProcessExecutor
from bench.store import ResultsStore


def run(path, tmp_path, executor=None, **kw):
    suite = load_suite(str(path))
    store = ResultsStore(tmp_path / "r.sqlite")
    ex = executor or ProcessExecutor(workers=2, timeout=kw.pop("timeout", 120), memory_gb=None)
    return suite, store, runner.run(suite, store, ex, data_dir=path.parent, show_progress=False, **kw)


def test_dry_run_counts_the_cells_and_writes_nothing(toy_suite, tmp_path):
    from typer.testing import CliRunner

    from bench.cli import app

    path, results = toy_suite(["smote"]), tmp_path / "r.sqlite"

    def dry_run():
        out = CliRunner().invoke(app, ["run", str(path), "--results", str(results), "--dry-run"])
        assert out.exit_code == 0, out.output
        return " ".join(out.output.split())

    assert "15 cells, 0 already recorded, 15 to run" in dry_run() and not results.exists()
    run(path, tmp_path, executor=InlineExecutor())
    assert "15 cells, 15 already recorded, 0 to run" in dry_run()


def test_second_run_executes_zero_cells(toy_suite, tmp_path):
    path = toy_suite(["smote"])
    suite, store, first = run(path, tmp_path)
    # none, duplication, class-weights and threshold are added to every suite; 5 methods x 3 folds x 1 classifier
    assert first.planned == 15 and first.ok == 15 and first.skipped == 0
    _, _, second = run(path, tmp_path)
    assert second.executed == 0 and second.skipped == 15
    cells = store.frame("toy")
    assert len(cells) == 15 and set(cells["status"]) == {"ok"}
    assert cells["minority_recall"].between(0, 1).all() and cells["worst_group_accuracy"].notna().all()
    assert (cells.loc[cells["method"] == "smote", "rows_added"] > 0).all()
    assert (cells.loc[cells["method"] == "none", "rows_added"] == 0).all()


def test_failures_become_rows_and_the_sweep_goes_on(toy_suite, tmp_path):
    path = toy_suite(["tests.plugins:Raising", "tests.plugins:Hanging"])
    _, store, summary = run(path, tmp_path, timeout=15)  # generous for a slow CI box
    cells = store.frame("toy").set_index(["method", "fold"])["status"]
    assert (cells["tests.plugins:Raising"] == "error").all()
    assert (cells["tests.plugins:Hanging"] == "timeout").all()
    assert (cells["none"] == "ok").all() and (cells["duplication"] == "ok").all()
    # a timeout ran for its limit, counted from its start: never the time it spent queued behind other cells
    hung = store.frame("toy").query("status == 'timeout'")
    assert (hung["seconds"] == 15).all()
    ran = pd.to_datetime(hung["finished_at"]) - pd.to_datetime(hung["started_at"])
    assert (ran.dt.total_seconds() == 15).all()
    assert summary.failed == 6 and summary.ok == 12  # none, duplication and the two references
    error = store.frame("toy").query("status == 'error'")["failure"].iloc[0]
    assert "this method always fails" in error


def test_memory_limit_becomes_an_oom_row(toy_suite, tmp_path):
    path = toy_suite(["tests.plugins:MemoryHog"])
    suite = load_suite(str(path)).select(methods=["tests.plugins:MemoryHog"])
    store = ResultsStore(tmp_path / "r.sqlite")
    runner.run(suite, store, ProcessExecutor(workers=1, timeout=60, memory_gb=4), data_dir=path.parent,
               show_progress=False)
    assert set(store.frame("toy")["status"]) == {"oom"}


def test_method_sees_only_training_rows(toy_suite, tmp_path, monkeypatch):
    record = tmp_path / "seen.txt"
    monkeypatch.setenv("BENCH_TEST_RECORD", str(record))
    path = toy_suite(["tests.plugins:Recording"])
    suite = load_suite(str(path)).select(methods=["tests.plugins:Recording"])
    runner.run(suite, ResultsStore(tmp_path / "r.sqlite"), InlineExecutor(), data_dir=path.parent,
               show_progress=False)
    seen = [list(map(int, line.split(","))) for line in record.read_text().splitlines()]
    ds = cached_dataset(suite.datasets[0], str(path.parent))
    assert len(seen) == 3
    for fold, rows in enumerate(seen):
        train, test = split(ds, 0, fold, 3, 1)
        assert sorted(rows) == sorted(ds.X.index[train]) and not set(rows) & set(ds.X.index[test])


def test_group_aware_method_variant(toy_suite, tmp_path):
    path = toy_suite(["duplication: {group_aware: true}"])
    _, store, _ = run(path, tmp_path, executor=InlineExecutor())
    cells = store.frame("toy")
    ga = cells[cells["method"] == "duplication(group_aware=True)"]
    plain = cells[cells["method"] == "duplication"]
    assert (ga["group_aware"] == 1).all() and (plain["group_aware"] == 0).all()
    # growing all four (class, sex) cells to the largest adds more rows than growing the class alone
    assert ga["rows_added"].sum() > plain["rows_added"].sum()


def test_same_seed_same_metrics(toy_suite, tmp_path):
    path = toy_suite(["smote"])
    _, a, _ = run(path, tmp_path / "a", executor=InlineExecutor())
    _, b, _ = run(path, tmp_path / "b")
    cols = ["key", "minority_recall", "mcc", "auprc"]
    assert a.frame("toy")[cols].equals(b.frame("toy")[cols])


@pytest.mark.parametrize(
    "methods, extra, message",
    [
        (["smot"], {}, "Did you mean 'smote'"),
        (["smote: {k_neighbours: 3}"], {}, "has no parameter"),
        (["smote"], {"folds": "'five'"}, "'folds' should be int"),
        (["smote"], {"colour": "blue"}, "unknown suite key"),
    ],
)
def test_suite_errors_point_at_the_file(toy_suite, methods, extra, message):
    path = toy_suite(methods, **extra)
    with pytest.raises(SuiteError, match=message) as e:
        load_suite(str(path))
    assert str(e.value).startswith(str(path) + ":")


def test_malformed_yaml_names_the_line(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text("name: bad\ndatasets: [a, b\nmethods: [smote]\n")
    with pytest.raises(SuiteError, match=r"bad.yaml:\d+: not valid YAML"):
        load_suite(str(path))


def test_impute_uses_the_training_fold_only():
    import pandas as pd

    from bench.cell import impute

    train = pd.DataFrame({"x": [1.0, np.nan, 3.0, 100.0], "c": pd.Categorical(["a", "a", None, "b"]),
                          "empty": pd.Categorical([None] * 4, categories=[])})
    test = pd.DataFrame({"x": [np.nan], "c": pd.Categorical([None], categories=["a", "b"]),
                         "empty": pd.Categorical([None], categories=[])})
    tr, te = impute(train, test)
    assert tr["x"].tolist() == [1.0, 3.0, 3.0, 100.0] and te["x"].tolist() == [3.0]  # train median
    assert tr["c"].tolist() == ["a", "a", "a", "b"] and te["c"].tolist() == ["a"]
    assert te["empty"].tolist() == ["missing"] and not tr.isna().any().any()


def test_renamed_variant_keeps_its_cells_and_takes_the_new_label(toy_suite, tmp_path):
    path = toy_suite(["smote: {k_neighbors: 3}"])
    run(path, tmp_path, executor=InlineExecutor())
    path.write_text(path.read_text().replace("  - smote: {k_neighbors: 3}",
                                             "  - {name: smote-k3, method: smote, params: {k_neighbors: 3}}"))
    _, store, again = run(path, tmp_path, executor=InlineExecutor())
    assert again.executed == 0
    assert "smote-k3" in set(store.frame("toy")["method"]) and "smote(k_neighbors=3)" not in set(store.frame("toy")["method"])


def test_costly_methods_run_once_per_fold_across_classifiers(toy_suite, tmp_path, monkeypatch):
    import bench.cell

    monkeypatch.setattr(bench.cell, "RESAMPLED_CACHE", tmp_path / "cache")
    record = tmp_path / "seen.txt"
    monkeypatch.setenv("BENCH_TEST_RECORD", str(record))
    path = toy_suite(["tests.plugins:CachedRecording"], classifiers=["logreg", "random_forest"])
    suite = load_suite(str(path)).select(methods=["tests.plugins:CachedRecording"])
    store = ResultsStore(tmp_path / "r.sqlite")
    runner.run(suite, store, InlineExecutor(), data_dir=path.parent, show_progress=False)
    assert len(record.read_text().splitlines()) == 3  # 3 folds, not 3 folds x 2 classifiers
    cells = store.frame("toy").set_index(["classifier", "fold"])
    assert (cells.loc["logreg", "method.from_cache"] == 0).all()
    assert (cells.loc["random_forest", "method.from_cache"] == 1).all()
    # the reused rows are the same rows, and the cost recorded is that of the run that made them
    for col in ("rows_added", "fit_seconds"):
        assert cells.loc["logreg", col].tolist() == cells.loc["random_forest", col].tolist()


def test_work_replayed_from_a_method_cache_counts_in_the_cost(toy_suite, tmp_path):
    path = toy_suite(["tests.plugins:Replaying"])
    _, store, _ = run(path, tmp_path, executor=InlineExecutor())
    cells = store.frame("toy")
    cells = cells[cells["method"] == "tests.plugins:Replaying"]
    assert len(cells) and (cells["method.replayed_seconds"] == 1000.0).all()
    assert (cells["fit_seconds"] >= 1000.0).all()  # what making the rows took, not the cache read


def test_only_limits_an_expensive_method(toy_suite, tmp_path):
    path = toy_suite(["{name: dup-once, method: duplication, only: {datasets: [toy], folds: 1}}"])
    cells = runner.plan(load_suite(str(path)))
    assert [c.fold for c in cells if c.method.label == "dup-once"] == [0]
    assert len([c for c in cells if c.method.label == "none"]) == 3
    bad = toy_suite(["{name: x, method: duplication, only: {seeds: [1]}}"])
    with pytest.raises(SuiteError, match="unknown only key"):
        load_suite(str(bad))
