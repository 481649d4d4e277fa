"""Run a prepared ``bench compare`` with the ordinary runner, and hold its result.

The suite is written as YAML first and read back with ``load_suite``, so what runs is exactly what a later
``bench run suite.yaml`` runs. With an output folder, the results store, the suite and the report (README.md,
index.html, cells.csv) stay there and the same call resumes; without one, everything lives in a temporary
folder that is removed at the end (the synthetic-row cache included), so nothing is left on disk.
"""

from __future__ import annotations

import contextlib
import os
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from bench.leaderboard.single import HEADLINE, Answer, answer
from bench.metrics import METRICS

SUITE_FILE, STORE_FILE = "suite.yaml", "results.sqlite"
CELL_COLUMNS = ["classifier", "method", "seed", "fold", "status"]


@dataclass
class Comparison:
    """The result of ``bench.compare``: every cell, the answer, and the suite that produced them.

    Attributes
    ----------
    cells : pandas.DataFrame
        One tidy row per (classifier, method, seed, fold): status, every metric, cost, cell key.
    answer : bench.leaderboard.single.Answer
        Per headline metric: means, intervals of the difference to ``none``, ties with the best, cost.
    suite_yaml : str
        The suite that ran; ``bench run`` on it reproduces the cells.
    notes : list of str
        What was inferred (minority label, columns left out and why).
    out : Path or None
        Where the store, suite and report are (None: nothing was kept).
    """

    cells: pd.DataFrame
    answer: Answer
    suite_yaml: str
    notes: list[str] = field(default_factory=list)
    out: Path | None = None
    run_summary: object = None  # bench.runner.RunSummary: cells planned, already recorded, run now (ok, failed)

    @property
    def summary(self) -> pd.DataFrame:
        """One row per (classifier, metric, method): mean, std, n, diff to none, interval, p, verdicts, cost."""
        return self.answer.summary()

    @property
    def recommendation(self) -> str:
        return self.answer.recommendation

    def _repr_html_(self) -> str:  # Jupyter
        return self.answer.html(page=False)

    def __str__(self) -> str:
        return self.answer.text()


def compare(data: pd.DataFrame | str | Path | None = None, target: str | None = None, *, openml: int | None = None,
            minority: str | None = None, group: str | None = None, group_values: list[str] | None = None,
            group_threshold: float | None = None, group_aware: bool = False, methods: list[str] | None = None,
            classifier: str | list[str] = "xgboost", quick: bool = False, thorough: bool = False,
            folds: int | None = None, repeats: int | None = None, seed: int = 0, drop: list[str] = (),
            keep: list[str] = (), metric: str = "balanced_accuracy", name: str | None = None,
            out: str | Path | None = None, executor: str = "processes", workers: int | None = None,
            timeout: float | None = None, progress: bool = True) -> Comparison:
    """Which oversampling method for this table? Run the comparison and return the answer.

    Parameters
    ----------
    data : DataFrame, or path of a CSV, Parquet or ARFF file (or None with ``openml``)
    target : str
        The label column. ``minority`` names its minority class (needed with more than two classes: the
        comparison is then one-vs-rest); with two classes the smaller is taken.
    group, group_values, group_threshold, group_aware
        A column whose two groups get worst-group and fairness metrics (binarised by values or a threshold),
        and whether oversampling grows (class, group) cells.
    methods, classifier, quick, thorough, folds, repeats, seed
        What runs: by default every classic method registered, the references (class weights, a tuned
        threshold) and TVAE, 5 folds x 2 repeats, XGBoost; ``quick``: 5 x 1 without generators;
        ``thorough``: 5 x 5 with CTGAN too.
    drop, keep
        Columns to leave out, or to keep although they look like IDs, dates or constants.
    metric
        The headline metric of the recommendation sentence.
    out
        A folder for the suite YAML, the results store and the report (README.md, index.html, cells.csv);
        calling again with the same options resumes. None: nothing is written to disk.

    Returns
    -------
    Comparison
        ``.cells`` (one row per cell), ``.summary`` (one row per method and metric), ``.recommendation``;
        shows as HTML in Jupyter.

    Raises
    ------
    CompareError
        Bad input, before anything runs or is written.
    """
    from bench.owndata import CompareError, prepare

    import multiprocessing

    if getattr(multiprocessing.current_process(), "_inheriting", False):
        # A worker process importing the user's script (spawn) reached the call again: say why, run nothing.
        # `_inheriting` is the flag multiprocessing itself checks for this case (spawn._check_not_importing_main).
        raise RuntimeError("bench.compare was called again in a worker process, which imports your script: in "
                           "a script, call it under `if __name__ == \"__main__\":` (a notebook needs nothing), or "
                           "pass executor=\"inline\"")
    if target is None:
        raise CompareError("give the label column: target=COLUMN (--target on the command line)")
    if quick and thorough:
        raise CompareError("choose --quick or --thorough, not both")
    if metric not in HEADLINE:
        raise CompareError(f"metric must be one of {', '.join(HEADLINE)}, not {metric!r}")
    preset = "quick" if quick else "thorough" if thorough else "default"
    with tempfile.TemporaryDirectory(prefix="bench-compare-") as tmp:
        frame_file = _frame_file(data, Path(tmp), name) if isinstance(data, pd.DataFrame) else None
        path = frame_file or (Path(data) if data is not None else None)
        prepared = prepare(path, target, openml=openml, minority=minority, group=group, group_values=group_values,
                           group_threshold=group_threshold, group_aware=group_aware, methods=methods,
                           classifiers=[classifier] if isinstance(classifier, str) else list(classifier),
                           preset=preset, folds=folds, repeats=repeats, seed=seed, drop=list(drop),
                           keep=list(keep), name=name, timeout=timeout)
        if progress:
            for note in prepared.notes:
                print(f"note: {note}", file=sys.stderr)
        comments = ["Written by `bench compare`: the comparison it ran."]
        if out is not None:
            out = Path(out)
            comments += ["Re-run, share or resume it with:",
                         f"  bench run {out / SUITE_FILE} --results {out / STORE_FILE}"]
        return run(prepared, out, executor=executor, workers=workers, progress=progress, metric=metric,
                   comments=comments, data_file=frame_file)


def _frame_file(frame: pd.DataFrame, folder: Path, name: str | None) -> Path:
    """A DataFrame as a Parquet file (types kept), for the cells to load like any table."""
    from bench.owndata import CompareError

    if frame.empty:
        raise CompareError("the DataFrame has no rows" if len(frame.columns) else "the DataFrame is empty")
    names = [str(c) for c in frame.columns]
    if len(set(names)) != len(names):
        repeated = sorted({c for c in names if names.count(c) > 1})
        raise CompareError(f"the DataFrame has repeated column names: {repeated}")
    df = frame.reset_index(drop=True).set_axis(names, axis=1)
    for c in df.columns:
        if df[c].dtype == object:  # mixed Python objects: as text, as a CSV would hold them
            df[c] = df[c].where(df[c].isna(), df[c].astype(str))
    path = folder / f"{name or 'data'}.parquet"
    df.to_parquet(path, index=False)
    return path


def run(prepared, out: Path | None = None, *, executor: str = "processes", workers: int | None = None,
        progress: bool = True, metric: str = "balanced_accuracy", comments: list[str] = (),
        data_file: Path | None = None) -> Comparison:
    """Write the suite, run its cells (skipping recorded ones), and build the answer.

    ``data_file`` (a DataFrame written to a temporary file) is moved into ``out`` first, so the suite kept
    there points at a file that stays.

    Raises
    ------
    KeyboardInterrupt
        When interrupted; with ``out`` the finished cells are kept and the same call resumes.
    """
    with contextlib.ExitStack() as stack:
        if out is None:
            work = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="bench-compare-")))
            stack.enter_context(_cache_in(work / "cache"))
        else:
            work = Path(out)
            work.mkdir(parents=True, exist_ok=True)
            if data_file is not None:
                prepared = _moved(prepared, data_file, work)
        return _run(prepared, work, out, executor, workers, progress, metric, comments)


def _run(prepared, work: Path, out: Path | None, executor: str, workers: int | None, progress: bool,
         metric: str, comments: list[str]) -> Comparison:
    from bench import runner
    from bench.config import load_suite
    from bench.executors import make_executor
    from bench.store import ResultsStore

    text = prepared.yaml(comments)
    (work / SUITE_FILE).write_text(text)
    suite = load_suite(str(work / SUITE_FILE))
    store = ResultsStore(work / STORE_FILE)
    try:
        ex = make_executor(executor, workers, suite.cell_timeout_s, suite.cell_memory_gb)
        summary = runner.run(suite, store, ex, show_progress=progress)
        if summary.interrupted:
            where = f"; finished cells are kept in {work / STORE_FILE}: run the same again to resume" if out else ""
            raise KeyboardInterrupt(f"interrupted{where}")
        keys = {c.key for c in runner.plan(suite)}
        cells = store.frame(suite.name)
    finally:
        store.close()
    cells = tidy(cells[cells["key"].isin(keys)])  # a store reused with other options holds other cells too
    result = Comparison(cells, answer(cells, prepared.spec.name, metric), text, list(prepared.notes), out, summary)
    if out is not None:
        (work / "README.md").write_text(result.answer.markdown())
        (work / "index.html").write_text(result.answer.html())
        cells.to_csv(work / "cells.csv", index=False)
    return result


def tidy(cells: pd.DataFrame) -> pd.DataFrame:
    """The store's cells as one row per cell with the columns a user reads first."""
    metrics = [m for m in METRICS if m in cells.columns]
    rest = [c for c in ("train_rows", "test_rows", "seconds", "failure", "key") if c in cells.columns]
    return cells[CELL_COLUMNS + metrics + rest].sort_values(CELL_COLUMNS[:4]).reset_index(drop=True)


@contextlib.contextmanager
def _cache_in(path: Path) -> Iterator[None]:
    """Costly methods' synthetic rows go to ``path`` instead of results/cache (workers read BENCH_CACHE)."""
    import bench.cell as cell

    saved = os.environ.get("BENCH_CACHE"), cell.RESAMPLED_CACHE
    os.environ["BENCH_CACHE"], cell.RESAMPLED_CACHE = str(path), path / "resampled"
    try:
        yield
    finally:
        if saved[0] is None:
            os.environ.pop("BENCH_CACHE", None)
        else:
            os.environ["BENCH_CACHE"] = saved[0]
        cell.RESAMPLED_CACHE = saved[1]


def _moved(prepared, data_file: Path, out: Path):
    import dataclasses
    import shutil

    from bench.data import FileSpec

    target = out / data_file.name
    shutil.copyfile(data_file, target)
    spec = prepared.spec
    spec = dataclasses.replace(spec, files=(FileSpec(str(target.resolve()), spec.files[0].sha256),))
    doc = {**prepared.doc, "datasets": [{**prepared.doc["datasets"][0], "files": [
        {"path": str(target.resolve()), "sha256": spec.files[0].sha256}]}]}
    return dataclasses.replace(prepared, spec=spec, doc=doc)

