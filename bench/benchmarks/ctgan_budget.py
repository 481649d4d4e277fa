"""What a CTGAN cell costs on a big fold, and what a cheaper setting costs in quality.

Runs real cells (``bench.cell.run_cell``: split, impute, CTGAN, xgboost, metrics) of a catalog dataset with the
given CTGAN parameter sets, one core and one thread as a sweep's worker does, the resampled-rows cache pointed
at a fresh temporary folder (every number is a fresh fit). Prints one JSON line per run: wall time and CPU time
of the cell (on a shared machine the CPU time is the number to compare), the method's fit / sample / quality
seconds (wall), the epochs it trained, minority recall, balanced accuracy, AUPRC
and the fidelity of its rows (bench/quality.py).

    taskset -c 1 nice -n 10 python -m bench.benchmarks.ctgan_budget --dataset adult --fold 0 \\
        --params '{"epochs": 0}' '{"epochs": 2}' '{"epochs": 2, "batch_size": 2000}'

``epochs: 0`` times what does not depend on training (sdv's and ctgan's transformers, sampling, quality).
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--dataset", required=True, help="a dataset of datasets/imbalanced.yaml")
    ap.add_argument("--fold", type=int, nargs="+", default=[0])
    ap.add_argument("--folds", type=int, default=5)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--classifier", default="xgboost")
    ap.add_argument("--params", nargs="+", default=["{}"], help="CTGAN parameter sets, as JSON objects")
    args = ap.parse_args(argv)

    os.environ["BENCH_CACHE"] = tempfile.mkdtemp(prefix="ctgan-budget-")  # read by bench.cell at import
    import torch
    from threadpoolctl import threadpool_limits

    from bench import cell
    from bench.config import ClassifierConfig, MethodConfig
    from bench.data import load_catalog

    threadpool_limits(1)  # as a sweep's worker (bench/executors.py)
    torch.set_num_threads(1)
    spec = load_catalog(REPO / "datasets" / "imbalanced.yaml")[args.dataset]
    for fold, text in ((f, t) for t in args.params for f in args.fold):
        params = json.loads(text)
        cs = cell.CellSpec("ctgan-budget", spec, MethodConfig("ctgan", "ctgan", params),
                           ClassifierConfig(args.classifier), args.seed, fold, args.folds, 1, False)
        t0, c0 = time.perf_counter(), time.process_time()
        out = cell.run_cell(cs)
        cpu = time.process_time() - c0  # what the cell cost this process, whatever else shares the core
        keys = ["fit_seconds", "method.fit_seconds", "method.sample_seconds", "method.quality_seconds",
                "method.epochs", "method.training_steps", "train_rows", "rows_added", "minority_recall",
                "balanced_accuracy", "mcc", "auprc", "method.fidelity", "method.dcr_ratio"]
        print(json.dumps({"dataset": args.dataset, "fold": fold, "params": params,
                          "cell_seconds": round(time.perf_counter() - t0, 1), "cpu_seconds": round(cpu, 1),
                          **{k: round(out[k], 4) if isinstance(out.get(k), float) else out.get(k) for k in keys}}),
              flush=True)


if __name__ == "__main__":
    main()
