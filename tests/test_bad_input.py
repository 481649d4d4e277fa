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


# -- run settings, checked where they are read, before anything runs ----------------------------------------
@pytest.mark.parametrize("option, value, message", [
    ("--folds", "0", "--folds must be an integer of at least 2"),
    ("--folds", "1", "--folds must be an integer of at least 2"),
    ("--repeats", "0", "--repeats must be an integer of at least 1"),
    ("--timeout", "-5", "--timeout must be a number of seconds above 0"),
    ("--timeout", "0", "--timeout must be a number of seconds above 0"),
    ("--memory-gb", "-1", "--memory-gb must be a number of GiB >= 0"),
    ("--seed", "one", "Invalid value for '--seed'"),
    ("--workers", "0", "--workers must be at least 1"),
])
def test_bad_option_is_refused_by_name(toy_suite, tmp_path, option, value, message):
    path = toy_suite(["smote"])
    results = tmp_path / "r.sqlite"
    code, out = bench("run", path, "--results", results, "--data-dir", path.parent, option, value)
    assert code == 2 and message in out and "Traceback" not in out
    assert not results.exists() or ResultsStore(results).frame().empty  # nothing ran


@pytest.mark.parametrize("keys, message", [
    ({"folds": 1}, "toy.yaml:2: 'folds' must be an integer of at least 2"),
    ({"repeats": 0}, "toy.yaml:3: 'repeats' must be an integer of at least 1"),
    ({"seeds": [1, "two"]}, "toy.yaml:4: 'seeds' must be a non-empty list of integers"),
    ({"seeds": []}, "toy.yaml:4: 'seeds' must be a non-empty list of integers"),
    ({"classifiers": []}, "toy.yaml:5: 'classifiers' is empty"),
    ({"budget": {"cell_timeout_s": -1}}, "toy.yaml:6: 'cell_timeout_s' must be a number of seconds above 0"),
    ({"budget": {"cell_memory_gb": -2}}, "toy.yaml:6: 'cell_memory_gb' must be a number of GiB >= 0"),
])
def test_bad_suite_setting_points_at_its_line(toy_suite, tmp_path, keys, message):
    path = toy_suite(["smote"], **keys)
    code, out = bench("run", path, "--results", tmp_path / "r.sqlite", "--data-dir", path.parent)
    assert code == 2 and message in out and "Traceback" not in out


def two_dataset_suite(toy_suite, methods):
    """The toy suite with a second dataset ``toy2`` (the same file under another name)."""
    path = toy_suite(methods)
    text = path.read_text()
    block = text[text.index("datasets:\n") + len("datasets:\n"):text.index("methods:")]
    path.write_text(text.replace("datasets:\n", "datasets:\n" + block.replace("name: toy", "name: toy2"), 1))
    return path


def test_empty_dataset_list_is_refused(toy_suite, tmp_path):
    path = toy_suite(["smote"])
    text = path.read_text()
    path.write_text(text[:text.index("datasets:")] + "datasets: []\n" + text[text.index("methods:"):])
    code, out = bench("run", path, "--results", tmp_path / "r.sqlite")
    assert code == 2 and "'datasets' is empty" in out


def test_filters_that_leave_no_cell_are_refused(toy_suite, tmp_path):
    path = two_dataset_suite(toy_suite, ["{name: dup-toy, method: duplication, only: {datasets: [toy]}}"])
    code, out = bench("run", path, "--results", tmp_path / "r.sqlite", "--dataset", "toy2", "--method", "dup-toy")
    assert code == 2 and "--dataset/--method leave no cell to run" in out and "dup-toy" in out
    assert not (tmp_path / "r.sqlite").exists()


def test_method_limited_to_a_dataset_the_suite_lacks(toy_suite, tmp_path):
    path = toy_suite(["{name: dup-typo, method: duplication, only: {datasets: [tyo]}}"])
    code, out = bench("run", path, "--results", tmp_path / "r.sqlite")
    assert code == 2 and "limited to dataset 'tyo'" in out and "Did you mean 'toy'" in out


# -- the results store: never someone else's file, never created by reading --------------------------------
def foreign_files(tmp_path):
    text = tmp_path / "notes.csv"
    text.write_text("a,b\n1,2\n")
    other_db = tmp_path / "other.sqlite"
    with sqlite3.connect(other_db) as con:
        con.execute("CREATE TABLE users (name TEXT)")
    folder = tmp_path / "folder"
    folder.mkdir()
    return {"text file": (text, "not an oversampling-bench results store"),
            "another SQLite database": (other_db, "not an oversampling-bench results store"),
            "folder": (folder, "is a folder, not a results store")}


@pytest.mark.parametrize("command", [["run", "SUITE"], ["show"], ["leaderboard", "toy"]])
@pytest.mark.parametrize("kind", ["text file", "another SQLite database", "folder"])
def test_a_file_that_is_not_our_store_is_refused(toy_suite, tmp_path, command, kind):
    path = toy_suite(["smote"])
    target, message = foreign_files(tmp_path)[kind]
    before = None if target.is_dir() else target.read_bytes()
    args = [str(path) if a == "SUITE" else a for a in command]
    code, out = bench(*args, "--results", target)
    assert code == 2 and message in out and "Traceback" not in out
    assert before is None or target.read_bytes() == before  # not written to


@pytest.mark.parametrize("command", [["show"], ["leaderboard", "toy"]])
def test_reading_commands_never_create_a_store(tmp_path, command):
    results = tmp_path / "nowhere" / "r.sqlite"
    code, out = bench(*command, "--results", results)
    assert code == 2 and "no results store at" in out
    assert not results.parent.exists()


def test_reading_commands_read_an_existing_store(toy_suite, tmp_path):
    path = toy_suite(["smote"])
    results = tmp_path / "r.sqlite"
    assert bench("run", path, "--results", results, "--data-dir", path.parent, "--executor", "inline",
                 "--method", "smote")[0] == 0
    code, out = bench("show", "toy", "--results", results)
    assert code == 0 and "smote" in out


# -- a method's rows are checked where the contract is enforced ---------------------------------------------
@pytest.mark.parametrize("flaw, problem", [
    ("nan", "has missing values (NaN) in 1 rows"),
    ("inf", "has infinite values in 1 rows"),
    ("level", "has values ['not-a-level'] that are not among its levels"),
    ("dtype", "is object, not numeric like the input (float64)"),
])
def test_rows_that_break_the_contract_are_an_error_row_naming_the_method(toy_suite, tmp_path, flaw, problem):
    path = toy_suite([f"{{name: bad, method: 'tests.plugins:BadRows', params: {{flaw: {flaw}}}}}"])
    results = tmp_path / "r.sqlite"
    code, _ = bench("run", path, "--results", results, "--data-dir", path.parent, "--executor", "inline",
                    "--method", "bad")
    assert code == 0  # the sweep goes on
    cells = ResultsStore(results).frame("toy")
    assert len(cells) == 3 and set(cells["status"]) == {"error"}
    assert cells["failure"].str.contains("BadRows returned new rows that break the method contract").all()
    assert cells["failure"].str.contains(problem, regex=False).all()


def test_a_ray_address_where_nothing_answers_fails_at_once(toy_suite, tmp_path):
    pytest.importorskip("ray")
    import socket

    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    path = toy_suite(["smote"])
    code, out = bench("run", path, "--results", tmp_path / "r.sqlite", "--data-dir", path.parent,
                      "--executor", "ray", "--ray-address", f"127.0.0.1:{port}")
    assert code == 2 and "no Ray cluster answers at" in out and "Traceback" not in out
