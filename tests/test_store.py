"""Carrying a sweep between stores: `bench export` writes a store's rows as JSON lines, `bench merge` reads stores
and exports back, keeping recorded cells and letting a success replace a failure."""

import json

import pandas as pd
import pytest

from bench import runner
from bench.config import load_suite
from bench.executors import InlineExecutor
from bench.store import ResultsStore, StoreError, read_rows
from tests.test_bad_input import bench  # the CLI, run in-process on a wide terminal


@pytest.fixture
def swept(toy_suite, tmp_path):
    """A store holding a real toy sweep (15 cells)."""
    path, store = toy_suite(["smote"]), tmp_path / "swept.sqlite"
    runner.run(load_suite(str(path)), ResultsStore(store), InlineExecutor(), data_dir=path.parent,
               show_progress=False)
    return path, store


def test_export_then_merge_rebuilds_the_store_and_the_sweep_resumes_from_it(swept, tmp_path):
    path, store = swept
    code, out = bench("export", tmp_path / "sweep.jsonl", "--results", store)
    assert code == 0 and "wrote 15 cells" in out
    lines = (tmp_path / "sweep.jsonl").read_text().splitlines()
    assert len(lines) == 15 and all(json.loads(line)["suite"] == "toy" for line in lines)

    copy = tmp_path / "copy.sqlite"
    code, out = bench("merge", tmp_path / "sweep.jsonl", "--results", copy)
    assert code == 0 and "15 cells added, 0 failed cells replaced, 0 kept" in out
    before, after = ResultsStore(store).frame("toy"), ResultsStore(copy).frame("toy")
    pd.testing.assert_frame_equal(before, after)
    # the merged copy is a store a sweep resumes from: nothing left to run
    summary = runner.run(load_suite(str(path)), ResultsStore(copy), InlineExecutor(), data_dir=path.parent,
                         show_progress=False)
    assert summary.planned == 15 and summary.skipped == 15 and summary.executed == 0


def test_merge_keeps_recorded_cells_and_a_success_replaces_a_failure(swept, tmp_path):
    _, store = swept
    rows = read_rows(store)
    failed = dict(rows[0], status="error", failure="boom", metrics="{}")
    other = dict(rows[1], status="timeout", failure="took too long", metrics="{}")
    target = ResultsStore(tmp_path / "target.sqlite")
    assert target.merge([failed, rows[1]]) == {"added": 2, "replaced": 0, "kept": 0}
    # rows[0] (ok) replaces its failure; the failed copy of rows[1] does not replace the ok one; the rest are new
    assert target.merge(rows[:1] + [other] + rows[2:]) == {"added": 13, "replaced": 1, "kept": 1}
    cells = target.frame("toy").set_index("key")
    assert len(cells) == 15 and set(cells["status"]) == {"ok"}
    # merging a store into itself changes nothing
    assert ResultsStore(store).merge(read_rows(store)) == {"added": 0, "replaced": 0, "kept": 15}


def test_export_of_one_suite_only(swept, tmp_path):
    _, store = swept
    code, out = bench("export", tmp_path / "none.jsonl", "--results", store, "--suite", "other")
    assert code == 0 and "wrote 0 cells" in out and (tmp_path / "none.jsonl").read_text() == ""


@pytest.mark.parametrize("text, message", [
    ('{"key": "abc", "suite": "toy"}\n', "not a results row (missing classifier"),
    ("not json\n", "not a JSON line"),
    ("[1, 2]\n", "not a results row"),
    (b"PAR1\xff\xfe\x00binary", "not a JSON line (not UTF-8 text)"),
])
def test_a_bad_source_is_refused_before_anything_is_written(swept, tmp_path, text, message):
    _, store = swept
    good = tmp_path / "good.jsonl"
    bench("export", good, "--results", store)
    bad = tmp_path / "bad.jsonl"
    bad.write_bytes(text if isinstance(text, bytes) else text.encode())
    target = tmp_path / "target.sqlite"
    code, out = bench("merge", good, bad, "--results", target)
    assert code == 2 and message in out, out
    assert not target.exists() or ResultsStore(target).frame().empty


def test_missing_source_and_missing_store_are_clear_errors(tmp_path):
    code, out = bench("merge", tmp_path / "nope.jsonl", "--results", tmp_path / "t.sqlite")
    assert code == 2 and "no results store or export at" in out
    code, out = bench("export", tmp_path / "x.jsonl", "--results", tmp_path / "absent.sqlite")
    assert code == 2 and "no results store at" in out and not (tmp_path / "absent.sqlite").exists()
    with pytest.raises(StoreError, match="no results store or export"):
        read_rows(tmp_path)
