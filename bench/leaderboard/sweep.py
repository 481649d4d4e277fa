"""Augmentation sweeps: metric-vs-k curves with seed bands, a fitted scaling law, and step tables.

A sweep adds k synthetic rows for k on a grid (``step`` in the store; ``rows_added`` is k). For each
(dataset, classifier, method) the curve is the mean over seeds at each k with ±1 sample std (ddof = 1), and
error(k) = a + b * k^(-c) is fitted (scipy ``curve_fit``) on the points with k > 0, reporting a, b, c with
their standard errors. With five steps and three parameters the fit is loose: the errors say how loose.
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
from tabulate import tabulate

from bench.metrics import METRICS

BASELINE = "none"  # its step-0 cells are every method's k = 0 point


def curves(cells: pd.DataFrame, metric: str) -> pd.DataFrame:
    """Mean, std (ddof=1) and count over seeds per (dataset, classifier, method, step), with k = rows added.

    The baseline's step-0 cells are copied in as step 0 of every method that has no step-0 cell of its own.
    """
    ok = cells[(cells["status"] == "ok") & cells["step"].notna()].copy()
    base = ok[(ok["method"] == BASELINE) & (ok["step"] == 0)]
    parts = [ok[ok["method"] != BASELINE]]
    for method in parts[0]["method"].unique():
        if not ((ok["method"] == method) & (ok["step"] == 0)).any():
            parts.append(base.assign(method=method))
    ok = pd.concat(parts, ignore_index=True)
    g = ok.groupby(["dataset", "classifier", "method", "step"])
    out = g[metric].agg(["mean", "std", "count"])
    out["k"] = g["rows_added"].mean()
    return out.reset_index()


def scaling_law(k: np.ndarray, y: np.ndarray) -> dict[str, float]:
    """Fit y = a + b * k^(-c) on k > 0; return a, b, c and their standard errors (NaN when it fails)."""
    from scipy.optimize import curve_fit

    keep = k > 0
    k, y = k[keep].astype(float), y[keep].astype(float)
    out = dict.fromkeys(["a", "b", "c", "a_se", "b_se", "c_se"], float("nan"))
    if len(np.unique(k)) < 3:
        return out | {"points": int(len(k))}
    p0 = (float(y.min()), float(y.max() - y.min()) or 0.01, 0.5)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            params, cov = curve_fit(lambda x, a, b, c: a + b * x ** (-c), k, y, p0=p0,
                                    bounds=([-np.inf, -np.inf, 0.0], [np.inf, np.inf, 5.0]), maxfev=20000)
        se = np.sqrt(np.diag(cov))
        out.update(zip(["a", "b", "c", "a_se", "b_se", "c_se"], [*params, *se]))
    except (RuntimeError, ValueError):
        pass
    return out | {"points": int(len(k))}


def fits(cells: pd.DataFrame, metric: str = "error") -> pd.DataFrame:
    """The scaling law per (dataset, classifier, method), fitted on every seed's points."""
    ok = cells[(cells["status"] == "ok") & cells["step"].notna() & (cells["method"] != BASELINE)]
    rows = []
    for (d, c, m), g in ok.groupby(["dataset", "classifier", "method"]):
        rows.append({"dataset": d, "classifier": c, "method": m,
                     **scaling_law(g["rows_added"].to_numpy(), g[metric].to_numpy())})
    return pd.DataFrame(rows)


def plot(cells: pd.DataFrame, metric: str, out_dir: Path) -> list[Path]:
    """One figure per classifier: a panel per dataset, metric vs k per method, ±1 std band and the fit."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    cur, fit = curves(cells, metric), fits(cells, metric)
    paths = []
    for clf, sub in cur.groupby("classifier"):
        datasets = sorted(sub["dataset"].unique())
        ncol = min(4, len(datasets))
        nrow = -(-len(datasets) // ncol)
        fig, axes = plt.subplots(nrow, ncol, figsize=(4 * ncol, 3.2 * nrow), squeeze=False)
        for ax, d in zip(axes.ravel(), datasets):
            for i, (m, g) in enumerate(sub[sub["dataset"] == d].groupby("method")):
                g = g.sort_values("k")
                color = f"C{i}"
                ax.plot(g["k"], g["mean"], "o-", color=color, label=m, ms=3)
                ax.fill_between(g["k"], g["mean"] - g["std"].fillna(0), g["mean"] + g["std"].fillna(0),
                                color=color, alpha=0.15)
                f = fit[(fit["dataset"] == d) & (fit["classifier"] == clf) & (fit["method"] == m)]
                if len(f) and np.isfinite(f["a"].iloc[0]):
                    a, b, c = f[["a", "b", "c"]].iloc[0]
                    kk = np.linspace(max(g["k"][g["k"] > 0].min(), 1), g["k"].max(), 50)
                    ax.plot(kk, a + b * kk ** (-c), "--", color=color, lw=0.8)
            ax.set_title(d, fontsize=9)
            ax.set_xlabel("synthetic rows added (k)", fontsize=8)
            ax.set_ylabel(metric, fontsize=8)
        for ax in axes.ravel()[len(datasets):]:
            ax.axis("off")
        axes.ravel()[0].legend(fontsize=7)
        fig.suptitle(f"{metric} vs synthetic rows · {clf} (mean ± 1 std over seeds; dashed: a + b·k^-c)", fontsize=10)
        fig.tight_layout()
        for ext in ("png", "svg"):
            path = out_dir / f"sweep-{metric}-{clf}.{ext}"
            fig.savefig(path, dpi=110)
            paths.append(path)
        plt.close(fig)
    return paths


def markdown(cells: pd.DataFrame, out_dir: Path, metrics: tuple[str, ...] = ("error",)) -> str:
    """The sweep section of a leaderboard README: first vs last step, group errors, fits, figures."""
    out_dir.mkdir(parents=True, exist_ok=True)
    lines = ["## Augmentation sweep", "",
             "Each method adds k synthetic rows for k on the suite's grid; k = 0 is the shared no-oversampling "
             "fit. Mean ± std over seeds (ddof = 1)."]
    group_metrics = [m for m in ("worst_group_error", "minority_group_error", "majority_group_error", "group_gap")
                     if m in cells.columns and cells[m].notna().any()]
    for metric in (*metrics, *group_metrics):
        cur = curves(cells, metric)
        first, last = cur["step"].min(), cur["step"].max()
        rows = []
        for (d, c, m), g in cur.groupby(["dataset", "classifier", "method"]):
            if metric in group_metrics and g["mean"].isna().all():
                continue
            at = {s: r for s, r in zip(g["step"], g.itertuples())}
            if first in at and last in at:
                a, b = at[first], at[last]
                rows.append([d, c, m, f"{a.mean:.3f} ± {a.std:.3f}", f"{b.mean:.3f} ± {b.std:.3f}",
                             f"{b.mean - a.mean:+.3f}", int(b.k)])
        arrow = "↑" if METRICS[metric].higher_is_better else "↓"
        lines += ["", f"### {metric} {arrow}: step {first:g} vs step {last:g}", "",
                  tabulate(rows, headers=["dataset", "classifier", "method", f"step {first:g}", f"step {last:g}",
                                          "change", "k at last step"], tablefmt="github")]
    fit = fits(cells, metrics[0])
    fit.to_csv(out_dir / "scaling_law.csv", index=False)
    (out_dir / "scaling_law.json").write_text(json.dumps(fit.to_dict(orient="records"), indent=1, default=float))
    rows = [[r.dataset, r.classifier, r.method, *(f"{getattr(r, p):.3g} ± {getattr(r, p + '_se'):.2g}"
                                                   for p in "abc")] for r in fit.itertuples()]
    lines += ["", f"### Scaling law: {metrics[0]}(k) = a + b·k^(-c)", "",
              "Fitted per (dataset, classifier, method) on every seed's points with k > 0 (scipy curve_fit, "
              "c bounded to [0, 5]); ± is the standard error from the fit's covariance. Also in "
              "[scaling_law.csv](scaling_law.csv).", "",
              tabulate(rows, headers=["dataset", "classifier", "method", "a", "b", "c"], tablefmt="github")]
    for metric in (*metrics, *group_metrics[:1]):
        for path in plot(cells, metric, out_dir):
            if path.suffix == ".png":
                lines += ["", f"![{metric} vs k, {path.stem}]({path.name})"]
    return "\n".join(lines) + "\n"
