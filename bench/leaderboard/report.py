"""Markdown leaderboard: per metric, methods by mean rank across datasets, with mean ± std per dataset."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pandas as pd
from tabulate import tabulate

import bench
from bench.metrics import METRICS

COST_METRICS = ("fit_seconds", "peak_memory_mb", "rows_added")


def aggregate(cells: pd.DataFrame) -> pd.DataFrame:
    """Mean, std and count over seeds and folds per (classifier, dataset, method), successful cells only."""
    ok = cells[cells["status"] == "ok"]
    metrics = [m for m in METRICS if m in ok.columns]
    grouped = ok.groupby(["classifier", "dataset", "method"])[metrics]
    return grouped.agg(["mean", "std", "count"])


def mean_ranks(means: pd.DataFrame, metric: str) -> pd.Series:
    """Rank methods within each dataset (1 = best, ties share the average rank), then average over datasets."""
    table = means[metric].unstack("method").dropna(how="all")
    ranks = table.rank(axis=1, ascending=not METRICS[metric].higher_is_better)
    return ranks.mean().sort_values()


def markdown(cells: pd.DataFrame, suite: str, metrics: list[str] | None = None) -> str:
    agg = aggregate(cells)
    metrics = metrics or [m for m, spec in METRICS.items() if spec.headline or m in COST_METRICS]
    status = cells["status"].value_counts().to_dict()
    lines = [
        f"# Leaderboard: {suite}",
        "",
        f"{len(cells)} cells: " + ", ".join(f"{n} {s}" for s, n in sorted(status.items()))
        + f". oversampling-bench {bench.__version__}, written {date.today().isoformat()}.",
        "",
        "Mean rank across datasets (1 = best) and mean ± std over folds and seeds per dataset. "
        "↑ higher is better, ↓ lower is better. Every number aggregates cells of the results store "
        "(`bench show` lists them).",
    ]
    for clf in agg.index.get_level_values("classifier").unique():
        sub = agg.xs(clf, level="classifier")
        for metric in metrics:
            if metric not in sub.columns.get_level_values(0) or sub[(metric, "mean")].isna().all():
                continue
            means = sub.xs("mean", axis=1, level=1)
            stds = sub.xs("std", axis=1, level=1)
            ranks = mean_ranks(means, metric)
            datasets = sorted(means[metric].dropna().index.get_level_values("dataset").unique())
            rows = []
            for method, rank in ranks.items():
                row = [method, f"{rank:.2f}"]
                for d in datasets:
                    m, s = means[metric].get((d, method)), stds[metric].get((d, method))
                    row.append("—" if pd.isna(m) else f"{m:.3f} ± {0 if pd.isna(s) else s:.3f}")
                rows.append(row)
            arrow = "↑" if METRICS[metric].higher_is_better else "↓"
            lines += ["", f"## {metric} {arrow} — {clf}", "", f"{METRICS[metric].description}.", "",
                      tabulate(rows, headers=["method", "mean rank", *datasets], tablefmt="github")]
    failed = cells[cells["status"] != "ok"]
    if len(failed):
        lines += ["", "## Failed cells", "",
                  tabulate(failed.groupby(["dataset", "method", "status"]).size().reset_index(name="cells"),
                           headers="keys", tablefmt="github", showindex=False)]
    return "\n".join(lines) + "\n"


def write(cells: pd.DataFrame, suite: str, out_dir: Path) -> Path:
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / "README.md"
    path.write_text(markdown(cells, suite))
    return path
