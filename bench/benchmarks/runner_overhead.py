"""Benchmarks of the runner itself (not of the methods): overhead, parallel speedup, cached re-runs.

    python -m bench.benchmarks.runner_overhead [--suite quick] [--repeat 3]

1. Overhead: the wall time of cells run through the cell machinery (split, impute, fit_resample, classifier,
   metrics, memory sampling) against the same split + fit_resample + classifier fit + predict in a bare loop,
   in the same process with the dataset already loaded; and against that loop computing the same metrics,
   which isolates the machinery itself. Target: within 5%.
2. Parallel speedup: the suite's cells with 1 worker against 2 workers (process executor, fresh stores).
3. Cached re-run: a second `run` of a finished suite (every cell skipped).
Prints a table and writes results/benchmarks/runner.json.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

from bench import registry, runner
from bench.cell import cached_dataset, impute, split
from bench.classifiers import make_classifier
from bench.metrics import classification_metrics, group_metrics
from bench.config import load_suite
from bench.executors import InlineExecutor, ProcessExecutor, execute
from bench.store import ResultsStore

OUT = Path(__file__).resolve().parents[2] / "results" / "benchmarks"


def bare(spec, with_metrics: bool = False) -> None:
    """What a user would write by hand for one cell: split, oversample, fit, predict (and score)."""
    ds = cached_dataset(spec.dataset, spec.data_dir)
    tr, te = split(ds, spec.seed, spec.fold, spec.folds, spec.repeats)
    X_train, X_test = impute(ds.X.iloc[tr], ds.X.iloc[te])
    method = registry.create(spec.method.name, spec.method.params, random_state=spec.seed * 1000 + spec.fold)
    X_res, y_res = method.fit_resample(X_train, ds.y.iloc[tr])
    model = make_classifier(spec.classifier.name, spec.seed, spec.classifier.params)
    model.fit(X_res, y_res.to_numpy())
    scores = model.predict_proba(X_test)[:, 1]
    if with_metrics:
        y_pred = model.predict(X_test)
        classification_metrics(ds.y.iloc[te], y_pred, scores)
        if ds.group is not None:
            group_metrics(ds.y.iloc[te], y_pred, ds.group.iloc[te], train_cells=(ds.y.iloc[tr], ds.group.iloc[tr]))


def overhead(cells, repeat: int) -> dict:
    """Cells through the runner's machinery vs the bare loop, without and with the same metrics."""
    for spec in cells[:1]:
        execute(spec)  # warm: imports, dataset cache
    times: dict[str, list[float]] = {"cell": [], "bare": [], "bare_metrics": []}
    runs = {"cell": lambda s: execute(s), "bare": bare, "bare_metrics": lambda s: bare(s, with_metrics=True)}
    for _ in range(repeat):
        for name, fn in runs.items():
            t0 = time.perf_counter()
            for spec in cells:
                fn(spec)
            times[name].append(time.perf_counter() - t0)
    med = {k: statistics.median(v) for k, v in times.items()}
    return {"cells": len(cells), "cell_seconds": med["cell"], "bare_seconds": med["bare"],
            "bare_with_metrics_seconds": med["bare_metrics"], "ratio": med["cell"] / med["bare"],
            "ratio_same_metrics": med["cell"] / med["bare_metrics"]}


def sweep_seconds(suite, workers: int | None, executor=None) -> tuple[float, int]:
    with tempfile.TemporaryDirectory() as tmp:
        store = ResultsStore(Path(tmp) / "r.sqlite")
        t0 = time.perf_counter()
        summary = runner.run(suite, store, executor or ProcessExecutor(workers, 600, None), show_progress=False)
        first = time.perf_counter() - t0
        t0 = time.perf_counter()
        again = runner.run(suite, store, InlineExecutor(), show_progress=False)
        rerun = time.perf_counter() - t0
        assert again.executed == 0
        return first, summary.executed, rerun


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--suite", default="quick")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--overhead-cells", type=int, default=20)
    ap.add_argument("--method", action="append", help="method labels to keep (default: the classic ones)")
    args = ap.parse_args()

    classic = ["none", "duplication", "smote", "borderline-smote", "adasyn"]
    suite = load_suite(args.suite)
    suite = suite.select(methods=args.method or [m.label for m in suite.methods if m.label in classic])
    cells = [c for c in runner.plan(suite) if c.dataset.name == suite.datasets[-1].name][: args.overhead_cells]
    result = {"suite": suite.name, "overhead": overhead(cells, args.repeat)}
    t1, n, _ = sweep_seconds(suite, 1)
    t2, _, rerun = sweep_seconds(suite, 2)
    result["parallel"] = {"cells": n, "seconds_1_worker": t1, "seconds_2_workers": t2, "speedup": t1 / t2,
                          "cells_per_minute_2_workers": n / t2 * 60}
    result["cached_rerun_seconds"] = rerun

    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "runner.json").write_text(json.dumps(result, indent=2))
    o, p = result["overhead"], result["parallel"]
    print(f"overhead   {o['cells']} cells of {suite.datasets[-1].name}: cell {o['cell_seconds']:.2f} s vs bare "
          f"{o['bare_seconds']:.2f} s -> ratio {o['ratio']:.3f}; vs bare + the same metrics "
          f"{o['bare_with_metrics_seconds']:.2f} s -> ratio {o['ratio_same_metrics']:.3f}")
    print(f"parallel   {p['cells']} cells: 1 worker {p['seconds_1_worker']:.1f} s, 2 workers "
          f"{p['seconds_2_workers']:.1f} s -> speedup {p['speedup']:.2f} ({p['cells_per_minute_2_workers']:.0f} cells/min)")
    print(f"re-run     all cells cached: {rerun:.2f} s")


if __name__ == "__main__":
    main()
