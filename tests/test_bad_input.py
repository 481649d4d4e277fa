"""Bad input of every kind a user can cause: a clear message, and nothing recorded is lost.

The README's table "When something is wrong" lists these cases; each has a test here.
"""

import sqlite3

import pytest
from typer.testing import CliRunner

from bench.cli import app
from bench.store import ResultsStore, StoreError

cli = CliRunner()


def bench(*args):
    result = cli.invoke(app, [str(a) for a in args], env={"COLUMNS": "400"})
    return result.exit_code, result.output


def test_unknown_suite_lists_the_known_ones():
    code, out = bench("run", "quik")
    assert code == 2 and "unknown suite 'quik'" in out and "quick" in out


def test_unknown_method_says_did_you_mean(toy_suite, tmp_path):
    code, out = bench("run", toy_suite(["smot"]), "--results", tmp_path / "r.sqlite")
    assert code == 2 and "Did you mean 'smote'" in out


def test_unknown_dataset_on_the_command_line(toy_suite, tmp_path):
    code, out = bench("run", toy_suite(["smote"]), "--dataset", "tyo", "--results", tmp_path / "r.sqlite")
    assert code == 2 and "unknown dataset 'tyo'" in out and "Did you mean 'toy'" in out


def test_unknown_catalog_dataset(tmp_path):
    suite = tmp_path / "s.yaml"
    suite.write_text(f"catalog: {(__import__('bench.config').config.DATASETS_DIR / 'imbalanced.yaml')}\n"
                     "datasets: [habermann]\nmethods: [smote]\n")
    code, out = bench("run", suite, "--results", tmp_path / "r.sqlite")
    assert code == 2 and "Did you mean 'haberman'" in out and "s.yaml:" in out


def test_malformed_yaml_points_at_the_line(tmp_path):
    suite = tmp_path / "s.yaml"
    suite.write_text("name: s\nmethods: [smote\ndatasets: [haberman]\n")
    code, out = bench("run", suite, "--results", tmp_path / "r.sqlite")
    assert code == 2 and "s.yaml:3: not valid YAML" in out


def test_missing_mirror_file_names_it(toy_suite, tmp_path):
    path = toy_suite(["smote"])
    (path.parent / "toy.csv").unlink()
    code, out = bench("run", path, "--results", tmp_path / "r.sqlite", "--data-dir", path.parent)
    assert code == 2 and "toy.csv" in out and "dataset 'toy'" in out


def test_checksum_mismatch_is_an_error(toy_suite, tmp_path):
    path = toy_suite(["smote"])
    with open(path.parent / "toy.csv", "a") as f:
        f.write("0.1,0.2,p,f,1\n")
    code, out = bench("run", path, "--results", tmp_path / "r.sqlite", "--data-dir", path.parent)
    assert code == 2 and "checksum mismatch for" in out and "toy.csv" in out


def test_too_few_minority_rows_for_the_folds(toy_suite, tmp_path):
    path = toy_suite(["smote"], folds=50)
    code, out = bench("run", path, "--results", tmp_path / "r.sqlite", "--data-dir", path.parent)
    assert code == 2 and "fewer than the" in out and "folds" in out


def test_minority_smaller_than_k_neighbors_is_a_clear_error_row(toy_suite, tmp_path):
    path = toy_suite(["smote: {k_neighbors: 60}"])
    code, _ = bench("run", path, "--results", tmp_path / "r.sqlite", "--data-dir", path.parent,
                    "--executor", "inline")
    assert code == 0
    cells = ResultsStore(tmp_path / "r.sqlite").frame("toy")
    failed = cells[cells["method"] == "smote(k_neighbors=60)"]
    assert set(failed["status"]) == {"error"}
    assert failed["failure"].str.contains("k_neighbors \\+ 1 = 61 rows").all()
    assert set(cells.loc[cells["method"] != "smote(k_neighbors=60)", "status"]) == {"ok"}


def test_store_from_a_newer_version_is_refused(tmp_path):
    db = tmp_path / "r.sqlite"
    ResultsStore(db).close()
    with sqlite3.connect(db) as con:
        con.execute("PRAGMA user_version=99")
    with pytest.raises(StoreError, match="newer oversampling-bench"):
        ResultsStore(db)


def test_locked_store_says_so(tmp_path):
    db = tmp_path / "r.sqlite"
    ResultsStore(db).close()
    holder = sqlite3.connect(db)
    holder.execute("BEGIN EXCLUSIVE")
    try:
        with pytest.raises(StoreError, match="another sweep"):
            ResultsStore(db, timeout=0.2)
    finally:
        holder.rollback()
        holder.close()
