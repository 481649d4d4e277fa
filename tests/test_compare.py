"""`bench compare` and `bench.compare`: a user's own table end to end, the fold-level answer, every bad input.

The tables are small files written here. Runs use the inline executor, logistic regression and 3 folds x 1, so
each comparison takes seconds; the statistics are checked where the answer is known.
"""

import json
import sqlite3
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
import yaml
from typer.testing import CliRunner

import bench
from bench.cli import app
from bench.owndata import CompareError, default_methods, prepare
from bench.leaderboard.single import answer, corrected_interval
from bench.oversampler import Oversampler, check_xy
from bench.store import ResultsStore

cli = CliRunner()
FAST = ["--classifier", "logreg", "--folds", "3", "--repeats", "1", "--executor", "inline"]


class Scramble(Oversampler):
    """Shuffles the training labels: a method known to destroy what the classifier could learn."""

    def fit_resample(self, X, y):
        X, y = check_xy(X, y)
        shuffled = np.random.default_rng(self.seed()).permutation(y.to_numpy())
        return X.reset_index(drop=True), pd.Series(shuffled, name=y.name)


def bench_cli(*args):
    result = cli.invoke(app, [str(a) for a in args], env={"COLUMNS": "400"})
    return result.exit_code, result.output


def table(n=150, seed=0, signal=1.5):
    rng = np.random.default_rng(seed)
    y = (rng.random(n) < 0.2).astype(int)
    return y, pd.DataFrame({"x1": rng.normal(size=n) + signal * y, "x2": rng.uniform(0, 5, size=n)})


@pytest.fixture
def numeric_csv(tmp_path):
    y, frame = table()
    path = tmp_path / "numeric.csv"
    frame.assign(target=y).to_csv(path, index=False)
    return path


@pytest.fixture
def mixed_csv(tmp_path):
    """Mixed types, missing values, string labels, a group column, and columns that must be left out."""
    y, frame = table(n=160, seed=1)
    rng = np.random.default_rng(1)
    frame = frame.assign(
        customer_id=np.arange(1000, 1000 + len(y)), kind=rng.choice(["p", "q", "r"], len(y)),
        sex=np.where(rng.random(len(y)) < 0.4, "f", "m"), country="NL", churn=np.where(y == 1, "yes", "no"),
        signup=pd.date_range("2021-01-01", periods=len(y)).astype(str))
    frame.loc[[2, 5, 9], "x2"] = np.nan
    frame.loc[[4, 11], "kind"] = np.nan
    path = tmp_path / "mixed.csv"
    frame.to_csv(path, index=False)
    return path


def metrics_by_cell(store_path):
    cells = ResultsStore(store_path).frame()
    return cells.set_index(["method", "seed", "fold"])[["balanced_accuracy", "auprc", "mcc"]].sort_index()


# -- end to end --------------------------------------------------------------------------------------------------
def test_numeric_csv_end_to_end_and_the_written_suite_reruns_to_the_same_numbers(numeric_csv, tmp_path):
    out = tmp_path / "out"
    code, text = bench_cli("compare", numeric_csv, "--target", "target", "--methods", "smote", "--out", out, *FAST)
    assert code == 0, text
    assert "Recommendation:" in text and "balanced accuracy" in text and "95% CI" in text
    for f in ("suite.yaml", "results.sqlite", "README.md", "index.html", "cells.csv"):
        assert (out / f).is_file(), f
    assert "## Recommendation" in (out / "README.md").read_text()
    assert "<table" in (out / "index.html").read_text()
    assert len(pd.read_csv(out / "cells.csv")) == 15  # none, duplication, 2 references, smote x 3 folds
    code, text = bench_cli("run", out / "suite.yaml", "--results", tmp_path / "again.sqlite",
                           "--executor", "inline")
    assert code == 0, text
    first, again = metrics_by_cell(out / "results.sqlite"), metrics_by_cell(tmp_path / "again.sqlite")
    assert len(first) == 15
    pd.testing.assert_frame_equal(first, again)


def test_mixed_types_infer_and_leave_out_id_date_and_constant_columns(mixed_csv, tmp_path):
    out = tmp_path / "out"
    code, text = bench_cli("compare", mixed_csv, "--target", "churn", "--methods", "smote", "--out", out, *FAST)
    assert code == 0, text
    for column, why in [("customer_id", "ID-like"), ("signup", "date-like"), ("country", "constant")]:
        assert f"left out column '{column}': {why}" in text
    dataset = yaml.safe_load((out / "suite.yaml").read_text())["datasets"][0]
    assert dataset["minority"] == "yes" and set(dataset["drop"]) == {"customer_id", "signup", "country"}
    cells = ResultsStore(out / "results.sqlite").frame()
    assert set(cells["status"]) == {"ok"}  # the missing values were imputed, the categoricals encoded


def test_keep_and_drop_override_the_inference(mixed_csv):
    p = prepare(mixed_csv, "churn", keep=["country"], drop=["kind"], methods=["none"])
    assert set(p.spec.drop) == {"customer_id", "signup", "kind"}


def test_python_api_on_a_dataframe_with_string_labels_and_a_group(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    y, frame = table(n=160, seed=2)
    frame = frame.assign(sex=np.where(np.random.default_rng(2).random(len(y)) < 0.4, "f", "m"),
                         label=np.where(y == 1, "pos", "neg"))
    result = bench.compare(frame, target="label", group="sex", methods=["smote"], classifier="logreg", folds=3,
                           repeats=1, executor="inline", progress=False)
    assert list(tmp_path.iterdir()) == []  # nothing written without out=
    assert result.out is None and len(result.cells) == 15 and set(result.cells["status"]) == {"ok"}
    summary = result.summary
    assert {"worst_group_accuracy", "balanced_accuracy", "auprc"} <= set(summary["metric"])
    assert set(summary["method"]) == {"none", "duplication", "class-weights", "threshold", "smote"}
    assert "minority class: 'pos'" in " ".join(result.notes)
    assert result.recommendation in result._repr_html_().replace("<code>", "`").replace("</code>", "`")
    assert "minority: pos" in result.suite_yaml and "column: sex" in result.suite_yaml


def test_without_out_even_the_synthetic_row_cache_stays_out_of_the_repository(tmp_path, monkeypatch):
    import bench.cell

    default = bench.cell.RESAMPLED_CACHE
    before = set(default.rglob("*")) if default.exists() else set()
    monkeypatch.setenv("BENCH_TEST_RECORD", str(tmp_path / "record.txt"))
    monkeypatch.delenv("BENCH_CACHE", raising=False)
    y, frame = table()
    bench.compare(frame.assign(target=y), target="target", methods=["tests.plugins:CachedRecording"],
                  classifier="logreg", folds=3, repeats=1, executor="inline", progress=False)
    assert len((tmp_path / "record.txt").read_text().splitlines()) == 3  # the costly method did run, per fold
    assert bench.cell.RESAMPLED_CACHE == default and "BENCH_CACHE" not in __import__("os").environ
    assert (set(default.rglob("*")) if default.exists() else set()) == before


def test_the_same_call_resumes_and_runs_only_missing_cells(tmp_path):
    out = tmp_path / "out"
    y, frame = table()
    frame = frame.assign(target=y)
    kw = dict(target="target", methods=["smote"], classifier="logreg", folds=3, repeats=1, executor="inline",
              progress=False, out=out)
    first = bench.compare(frame, **kw)
    assert (out / "data.parquet").is_file() and str(out / "data.parquet") in (out / "suite.yaml").read_text()
    db = sqlite3.connect(out / "results.sqlite")
    with db:  # as if Ctrl-C had stopped the run before these cells finished
        db.execute("DELETE FROM cells WHERE method = 'smote'")
    stamps = dict(db.execute("SELECT key, finished_at FROM cells"))
    db.close()
    again = bench.compare(frame, **kw)
    cells = ResultsStore(out / "results.sqlite").frame()
    assert len(cells) == 15 and (cells["method"] == "smote").sum() == 3
    kept = cells[cells["key"].isin(stamps)]
    assert len(kept) == 12 and (kept["finished_at"] == kept["key"].map(stamps)).all()  # not run again
    numbers = ["metric", "method", "mean", "std", "n", "diff", "low", "high", "p", "vs_none", "vs_best"]
    pd.testing.assert_frame_equal(first.summary[numbers], again.summary[numbers])


def test_parquet_arff_and_headerless_csv_are_tables(tmp_path):
    import arff

    y, frame = table()
    frame = frame.assign(kind=pd.Categorical(np.where(y == 1, "1", "2")), target=y.astype(bool))
    frame.to_parquet(tmp_path / "t.parquet")
    p = prepare(tmp_path / "t.parquet", "target", methods=["none"])
    assert p.spec.format == "parquet" and p.spec.minority == "True"
    doc = {"relation": "t", "attributes": [("x1", "REAL"), ("x2", "REAL"), ("label", ["a", "b"])],
           "data": [[a, b, "b" if c else "a"] for a, b, c in zip(frame["x1"], frame["x2"], y)]}
    (tmp_path / "t.arff").write_text(arff.dumps(doc))
    assert prepare(tmp_path / "t.arff", "label", methods=["none"]).spec.minority == "b"
    frame[["x1", "x2"]].assign(t=y).to_csv(tmp_path / "raw.csv", index=False, header=False)
    p = prepare(tmp_path / "raw.csv", "column_3", methods=["none"])
    assert p.spec.read["names"] == ["column_1", "column_2", "column_3"]


def test_default_methods_come_from_the_registry():
    methods = default_methods()
    assert methods[:3] == ["none", "duplication", "smote"] and "tvae" in methods and "ctgan" not in methods
    assert "ctgan" in default_methods("thorough") and "tvae" not in default_methods("quick")
    assert set(methods) <= set(bench.registry.available())


# -- the statistics, where the answer is known --------------------------------------------------------------------
def test_corrected_interval_is_the_nadeau_bengio_formula():
    from scipy import stats

    d = np.array([0.02, 0.05, -0.01, 0.03, 0.04, 0.00, 0.02, 0.06, 0.01, 0.03])
    mean, low, high, p = corrected_interval(d, test_train_ratio=0.25)
    se = np.sqrt((1 / 10 + 0.25) * d.var(ddof=1))
    q = stats.t.ppf(0.975, 9)
    assert mean == pytest.approx(d.mean()) and (low, high) == pytest.approx((d.mean() - q * se, d.mean() + q * se))
    assert p == pytest.approx(2 * stats.t.sf(d.mean() / se, 9))
    naive = stats.t.interval(0.95, 9, loc=d.mean(), scale=d.std(ddof=1) / np.sqrt(10))
    assert low < naive[0] and high > naive[1]  # wider than the plain t interval, which ignores the overlap
    assert corrected_interval(np.zeros(10), 0.25)[1:] == (0.0, 0.0, 1.0)


def test_a_method_that_does_nothing_ties_with_none_and_a_harmful_one_is_worse(tmp_path):
    y, frame = table(signal=3.0)
    result = bench.compare(frame.assign(target=y), target="target", classifier="logreg", folds=5, repeats=2,
                           executor="inline", progress=False,
                           methods=["methods.none:NoOversampling", "tests.test_compare:Scramble"])
    s = result.summary.set_index(["metric", "method"])
    for metric in ("balanced_accuracy", "auprc", "mcc"):
        same = s.loc[(metric, "methods.none:NoOversampling")]
        assert (same["diff"], same["low"], same["high"]) == (0.0, 0.0, 0.0) and same["vs_none"] == "~"
        worse = s.loc[(metric, "tests.test_compare:Scramble")]
        assert worse["high"] < 0 and worse["vs_none"] == "worse" and worse["vs_best"] == "below"


def test_the_recommendation_is_honest_when_the_evidence_is_weak_and_names_a_real_gain():
    rng = np.random.default_rng(0)
    rows = []
    for fold in range(10):
        base = 0.7 + rng.normal(0, 0.02)
        for method, value, seconds in [("none", base, 1.0), ("noisy", base + rng.normal(0, 0.05), 1.0),
                                       ("good", base + 0.05 + rng.normal(0, 0.005), 3.0),
                                       ("also-good", base + 0.05 + rng.normal(0, 0.005), 9.0)]:
            rows.append(dict(classifier="logreg", method=method, seed=0, fold=fold, status="ok", failure=None,
                             balanced_accuracy=value, auprc=base, train_rows=80, test_rows=20, seconds=seconds,
                             fit_seconds=seconds / 2, rows_added=0))
    cells = pd.DataFrame(rows)
    a = answer(cells, "toy", primary="balanced_accuracy")
    t = a.summary().set_index(["metric", "method"])
    assert t.loc[("balanced_accuracy", "good"), "vs_none"] == "better"
    assert t.loc[("balanced_accuracy", "noisy"), "vs_none"] == "~"
    assert "`good` beats no oversampling" in a.recommendation and "costs least" in a.recommendation
    auprc = next(m for m in a.metrics if m.metric == "auprc")
    assert auprc.sentence.startswith("No method is distinguishable from no oversampling (`none`) on auprc here")


# -- bad input: a clear message, nothing written ----------------------------------------------------------------
def write(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(text)
    return path


@pytest.mark.parametrize("case, args, expected", [
    ("three classes", ["--target", "y"], ["3 classes", "--minority", "one-vs-rest"]),
    ("one class", ["--target", "z"], ["one class only", "'a': 12 rows"]),
    ("too few minority rows", ["--target", "w"], ["has 2 rows, fewer than the 3 folds", "--folds 2"]),
    ("no such column", ["--target", "yy"], ["no column 'yy'", "Did you mean 'y'"]),
    ("wrong case", ["--target", "v", "--minority", "Yes"], ["never occurs", "Did you mean 'yes'"]),
    ("labels in two spellings", ["--target", "u"], ["differ only in case", "'Yes'", "'yes'"]),
    ("group with many values", ["--target", "v", "--group", "y"], ["3 values", "--group-values", "binarise"]),
    ("numeric group", ["--target", "v", "--group", "x"], ["--group-threshold"]),
])
def test_bad_table_input(tmp_path, case, args, expected):
    rows = ["x,y,z,w,v,u"] + [f"{i},{'abc'[i % 3]},a,{int(i < 2)},{'yes' if i % 4 == 0 else 'no'},"
                              f"{['Yes', 'yes', 'no', 'no'][i % 4]}" for i in range(6)]
    rows += [f"{i},b,a,0,no,no" for i in range(6, 12)]
    path = write(tmp_path, "t.csv", "\n".join(rows) + "\n")
    out = tmp_path / "out"
    code, text = bench_cli("compare", path, "--out", out, "--classifier", "logreg", "--folds", "3", *args)
    assert code == 2, text
    assert "error:" in text and "Traceback" not in text
    for part in expected:
        assert part in text, (case, text)
    assert not out.exists()


def test_more_classes_with_minority_is_one_vs_rest(tmp_path):
    path = write(tmp_path, "t.csv", "x,y\n" + "".join(f"{i % 7 / 2},{'abbc'[i % 4]}\n" for i in range(40)))
    p = prepare(path, "y", minority="c", folds=3)
    assert p.spec.minority == "c" and any("one-vs-rest" in n for n in p.notes)


@pytest.mark.parametrize("name, content, expected", [
    ("missing.csv", None, "no such file"),
    ("empty.csv", "", "is empty"),
    ("header.csv", "x,y\n", "no rows"),
    ("sheet.xlsx", "PK\x03\x04", "is not a table file"),
    ("binary.csv", "\x00\x01\x02x,y", "binary data"),
])
def test_bad_path_input(tmp_path, name, content, expected):
    path = tmp_path / name
    if content is not None:
        path.write_text(content)
    code, text = bench_cli("compare", path, "--target", "y", "--out", tmp_path / "out")
    assert code == 2 and expected in text and "Traceback" not in text, text
    assert not (tmp_path / "out").exists()


def test_a_directory_and_unknown_methods_are_clear_errors(tmp_path, numeric_csv):
    code, text = bench_cli("compare", tmp_path, "--target", "y")
    assert code == 2 and "is a directory" in text
    code, text = bench_cli("compare", numeric_csv, "--target", "target", "--methods", "smot",
                           "--out", tmp_path / "o")
    assert code == 2 and "Did you mean 'smote'" in text and not (tmp_path / "o").exists()
    with pytest.raises(CompareError, match="not both"):
        bench.compare(numeric_csv, target="target", quick=True, thorough=True)


def test_openml_id_goes_through_the_loader_and_into_the_suite(tmp_path, monkeypatch):
    import bench.data
    from bench.config import load_suite

    y, frame = table()
    served = []

    def fake_openml(spec):  # what openml-python would return from its cache: frame, nominal columns, checksum
        served.append(spec.openml_id)
        return frame.assign(cls=np.where(y == 1, "bad", "good")), {"cls"}, "0" * 64

    monkeypatch.setattr(bench.data, "read_openml", fake_openml)
    p = prepare(None, "cls", openml=31, methods=["none"], folds=3)
    assert p.spec.openml_id == 31 and p.spec.files == () and p.spec.minority == "bad" and served[0] == 31
    (tmp_path / "s.yaml").write_text(p.yaml())
    suite = load_suite(str(tmp_path / "s.yaml"))
    assert suite.name == "compare-openml-31" and suite.datasets[0] == p.spec


def test_openml_offline_says_what_failed(tmp_path, monkeypatch):
    monkeypatch.setenv("BENCH_OPENML_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("BENCH_OPENML_SERVER", "http://127.0.0.1:9/api/v1/xml")  # nothing listens there
    code, text = bench_cli("compare", "--openml", "31", "--target", "class", "--out", tmp_path / "out")
    assert code == 2 and "OpenML" in text and "31" in text and not (tmp_path / "out").exists()


# -- a quick front door ------------------------------------------------------------------------------------------
def test_help_and_list_import_no_heavy_library():
    script = ("import sys; from typer.testing import CliRunner; from bench.cli import app; r = CliRunner(); "
              "outs = [r.invoke(app, a).exit_code for a in (['--help'], ['compare', '--help'], "
              "['list', 'methods'], ['list', 'metrics'], ['list', 'suites'], ['list', 'datasets'])]; "
              "heavy = [m for m in ('pandas', 'sklearn', 'scipy', 'torch') if m in sys.modules]; "
              "print(json.dumps([outs, heavy]))")
    done = subprocess.run([sys.executable, "-c", "import json; " + script], capture_output=True, text=True,
                          check=True)
    codes, heavy = json.loads(done.stdout.strip().splitlines()[-1])
    assert codes == [0] * 6 and heavy == []


def test_the_cli_copies_of_core_paths_agree_with_the_core():
    import bench.cli
    import bench.config
    import bench.store

    assert bench.cli.DEFAULT_PATH == bench.store.DEFAULT_PATH and bench.cli.DATASETS_DIR == bench.config.DATASETS_DIR


@pytest.mark.slow
def test_the_readme_example_runs(monkeypatch):
    """The Python example of the README's `bench compare` section, as written (minutes: 50 cells on 2,584 rows)."""
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent
    readme = (root / "README.md").read_text()
    code = readme.split("<!-- example: bench.compare -->", 1)[1].split("```python\n", 1)[1].split("```", 1)[0]
    if not (root.parent / "shared" / "datasets" / "raw" / "seismic-bumps").is_dir():
        pytest.skip("the dataset mirror is not beside the repository")
    monkeypatch.chdir(root)
    scope: dict = {}
    exec(compile(code, "README.md", "exec"), scope)
    result = scope["result"]
    assert result.recommendation and set(result.cells["status"]) <= {"ok", "error"}
    assert {"none", "smote", "threshold"} <= set(result.summary["method"])
