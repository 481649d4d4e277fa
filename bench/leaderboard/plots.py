"""The leaderboard's figures (matplotlib, no pyplot state): CD diagrams, per-dataset point charts, cost vs gain,
scaling curves. Each function draws from aggregates of recorded cells and returns the files it wrote."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from bench.leaderboard.stats import MetricResult

# Stable output: the same results give byte-identical SVGs (no date, fixed element ids), so diffs stay readable.
RC = {"svg.hashsalt": "oversampling-bench", "svg.fonttype": "none", "font.size": 9, "axes.titlesize": 10}
PNG_DPI = 110


def colors(methods: list[str]) -> dict[str, tuple]:
    """One colour per method, the same in every figure."""
    from matplotlib import colormaps

    cmap = colormaps["tab10" if len(methods) <= 10 else "tab20"]
    return {m: cmap(i % cmap.N) for i, m in enumerate(sorted(methods))}


def _save(fig, stem: Path, formats: tuple[str, ...] = ("png",), tight: bool = False) -> list[Path]:
    """Save; ``tight`` for figures whose labels lie outside the axes (slower: one more layout pass)."""
    stem.parent.mkdir(parents=True, exist_ok=True)
    out = []
    for fmt in formats:
        path = stem.with_suffix(f".{fmt}")
        meta = {"Date": None} if fmt == "svg" else {"Software": None}
        fig.savefig(path, format=fmt, dpi=PNG_DPI, metadata=meta, bbox_inches="tight" if tight else None,
                    pad_inches=0.1)
        out.append(path)
    return out


def _figure(width: float, height: float, layout: str | None = "constrained"):
    from matplotlib.figure import Figure

    return Figure(figsize=(width, height), layout=layout)


def cd_diagram(r: MetricResult, stem: Path, palette: dict[str, tuple]) -> list[Path]:
    """Critical-difference diagram (SVG and PNG) of the ranked methods, or nothing if no post-hoc test ran."""
    import matplotlib
    import scikit_posthocs as sp

    if r.posthoc is None:
        return []
    with matplotlib.rc_context(RC):
        k = len(r.mean_rank)
        fig = _figure(7.5, 1.4 + 0.32 * k, layout=None)
        ax = fig.add_subplot()
        sp.critical_difference_diagram(
            r.mean_rank, r.posthoc, ax=ax, alpha=r.alpha, color_palette={m: palette[m] for m in r.mean_rank.index},
            label_fmt_left="{label} ({rank:.2f})", label_fmt_right="({rank:.2f}) {label}",
        )
        if r.cd is not None:  # drawn here, above the tick labels (the library's bar sits on them)
            from matplotlib.transforms import ScaledTranslation

            up = ax.transData + ScaledTranslation(0, 22 / 72, fig.dpi_scale_trans)
            x0 = 1.0  # as in Demšar (2006): the bar starts at rank 1, on a rank axis from 1 to k
            ax.set_xlim(0.9, max(k, 1 + r.cd) + 0.1)
            ax.plot([x0, x0 + r.cd], [0, 0], color="k", lw=2, transform=up, clip_on=False)
            ax.text(x0 + r.cd / 2, 0, f"CD = {r.cd:.2f}", transform=up + ScaledTranslation(0, 3 / 72,
                    fig.dpi_scale_trans), ha="center", va="bottom", fontsize=8)
        test = "Nemenyi" if r.posthoc_name == "nemenyi" else "Wilcoxon–Holm"
        assert r.friedman is not None
        ax.set_title(f"{r.metric} · {r.classifier}: mean rank over {len(r.ranked_datasets)} datasets "
                     f"(1 = best)\nFriedman p = {r.friedman[1]:.2g}; bars join methods {test} "
                     f"cannot tell apart at α = {r.alpha}", pad=36 if r.cd is not None else 12)
        return _save(fig, stem, ("svg", "png"), tight=True)


def dataset_points(r: MetricResult, stem: Path, palette: dict[str, tuple]) -> list[Path]:
    """Per dataset, each method's mean ± std over its ok cells; hollow markers for partial entries."""
    import matplotlib

    if r.mean.empty:
        return []
    methods = r.order
    datasets = list(r.mean.index)[::-1]  # first dataset on top
    k = len(methods)
    step = 0.8 / max(k, 1)
    with matplotlib.rc_context(RC):
        fig = _figure(8, 1.6 + 0.18 * len(datasets) * max(2.0, k / 3))
        ax = fig.add_subplot()
        y = np.arange(len(datasets))
        for i, m in enumerate(methods):
            offset = (k - 1) / 2 * step - i * step
            mean, std = r.mean[m].reindex(datasets), r.std[m].reindex(datasets).fillna(0)
            full = r.complete[m].reindex(datasets).fillna(False).astype(bool).to_numpy()
            c = palette[m]
            ax.errorbar(mean[full], y[full] + offset, xerr=std[full], fmt="o", ms=3.5, color=c, elinewidth=1,
                        capsize=1.5, label=m)
            if (~full).any():
                ax.errorbar(mean[~full], y[~full] + offset, xerr=std[~full], fmt="o", ms=3.5, mfc="white",
                            color=c, elinewidth=1, capsize=1.5)
        ax.set_yticks(y, datasets)
        ax.set_ylim(-0.6, len(datasets) - 0.4)
        for edge in y[:-1]:
            ax.axhline(edge + 0.5, color="0.9", lw=0.6, zorder=0)
        arrow = "higher is better" if r.higher_is_better else "lower is better"
        ax.set_xlabel(f"{r.metric} ({arrow}); mean ± std over folds and seeds; hollow = some cells failed")
        fig.suptitle(f"{r.metric} per dataset · {r.classifier}")
        fig.legend(loc="outside right upper", frameon=False, fontsize=8)
        return _save(fig, stem)


def cost_gain(gain: pd.DataFrame, stem: Path, classifier: str, palette: dict[str, tuple]) -> list[Path]:
    """Scatter: the method's median fit time (log x) vs its mean minority-recall gain over no oversampling.

    ``gain`` has one row per method: seconds, gain, sem, datasets.
    """
    import matplotlib

    if not {"seconds", "gain"} <= set(gain.columns):
        return []
    gain = gain.dropna(subset=["seconds", "gain"])
    if gain.empty:
        return []
    with matplotlib.rc_context(RC):
        fig = _figure(7, 4.5)
        ax = fig.add_subplot()
        floor = 1e-3
        seconds = gain["seconds"].clip(lower=floor)
        log = seconds.max() / seconds.min() > 20  # a log axis only where times span orders of magnitude
        for m, row in gain.iterrows():
            x = max(row["seconds"], floor)
            ax.errorbar([x], [row["gain"]], yerr=[0 if pd.isna(row["sem"]) else row["sem"]], fmt="o",
                        color=palette[m], capsize=2)
            ax.annotate(str(m), (x, row["gain"]), textcoords="offset points", xytext=(5, 4), fontsize=8)
        if log:
            ax.set_xscale("log")
        ax.margins(x=0.12, y=0.08)
        ax.axhline(0, color="0.5", lw=0.8, ls="--")
        ax.set_xlabel("median fit_resample time per cell, seconds"
                      + (f" (log scale; below {floor} s drawn at {floor})" if log else ""))
        ax.set_ylabel("minority recall gain over `none`")
        ax.set_title(f"Cost vs gain · {classifier}: mean gain over datasets ± 1 s.e.")
        return _save(fig, stem)


def sweeps(cells: pd.DataFrame, summary: pd.DataFrame, classifier: str, metric: str) -> pd.DataFrame:
    """Points of the scaling curves: per (dataset, series) with >= 3 entries of distinct mean rows_added.

    ``cells`` carry a ``series`` column (see ``report.entries``). Returns rows (dataset, series, method,
    rows_added, mean, std) or an empty frame.
    """
    cols = ["dataset", "series", "method", "rows_added", "mean", "std"]
    if "rows_added" not in cells.columns:
        return pd.DataFrame(columns=cols)
    ok = cells[(cells["status"] == "ok") & (cells["classifier"] == classifier)]
    rows = ok.groupby(["dataset", "series", "method"])["rows_added"].mean().reset_index()
    rows["size"] = rows["rows_added"].round()
    distinct = rows.groupby(["dataset", "series"])["size"].transform("nunique")
    rows = rows[distinct >= 3]
    if rows.empty:
        return pd.DataFrame(columns=cols)
    try:
        m = summary.xs((classifier, metric), level=("classifier", "metric"))[["mean", "std"]].reset_index()
    except KeyError:
        return pd.DataFrame(columns=cols)
    return rows.merge(m, on=["dataset", "method"])[cols].sort_values(["dataset", "series", "rows_added"])


def scaling(points: pd.DataFrame, baseline: pd.Series, stem: Path, classifier: str, metric: str) -> list[Path]:
    """Small multiples, one per dataset: metric vs rows added, one line per series; dashed: `none`."""
    import matplotlib

    if points.empty:
        return []
    datasets = list(dict.fromkeys(points["dataset"]))
    cols = min(4, len(datasets))
    nrows = int(np.ceil(len(datasets) / cols))
    line_colors = colors(list(points["series"].unique()))  # few series: the clearer tab10 colours
    with matplotlib.rc_context(RC):
        fig = _figure(3.2 * cols, 2.5 * nrows + 0.6)
        axes = fig.subplots(nrows, cols, squeeze=False)
        for ax, d in zip(axes.flat, datasets):
            for name, g in points[points["dataset"] == d].groupby("series"):
                ax.errorbar(g["rows_added"], g["mean"], yerr=g["std"].fillna(0), marker="o", ms=3, capsize=2,
                            color=line_colors[name], label=name)
            if d in baseline.index and pd.notna(baseline[d]):
                ax.axhline(baseline[d], color="0.4", ls="--", lw=0.9, label="none")
            ax.set_title(d, fontsize=9)
            ax.set_xlabel("rows added")
            ax.set_ylabel(metric)
        for ax in list(axes.flat)[len(datasets):]:
            ax.set_visible(False)
        legend: dict[str, object] = {}
        for ax in axes.flat:
            for h, lab in zip(*ax.get_legend_handles_labels()):
                legend.setdefault(lab, h)
        labels, handles = list(legend), list(legend.values())
        fig.legend(handles, labels, loc="outside lower center", ncol=min(len(labels), 6), frameon=False)
        fig.suptitle(f"{metric} vs synthetic rows · {classifier} (mean ± std over folds and seeds)")
        return _save(fig, stem)
