"""The leaderboard's tables, built once and rendered twice (Markdown for README.md, HTML for index.html)."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from bench.leaderboard.stats import TIE_TOL, MetricResult
from bench.metrics import METRICS

LEFT = {"method", "dataset", "classifier", "status", "a key", "first failure", "vs", "metric", "verdict"}  # left-aligned columns


@dataclass
class Cell:
    text: str
    sort: float | str | None = None  # what the HTML sorter compares (None: missing, sorts last)
    bold: bool = False
    title: str | None = None  # HTML tooltip (e.g. the keys of the cells behind a mean)


@dataclass
class Table:
    headers: list[str]
    rows: list[list[Cell]] = field(default_factory=list)
    caption: str = ""


def arrow(metric: str) -> str:
    return "↑" if METRICS[metric].higher_is_better else "↓"


def _num(x: float, fmt: str = ".3f") -> Cell:
    return Cell("—") if x is None or pd.isna(x) else Cell(format(x, fmt), float(x))


def _mean_std(mean: float, std: float) -> str:
    return f"{mean:.3f}" if pd.isna(std) else f"{mean:.3f} ± {std:.3f}"


def headline(r: MetricResult, baselines: list[str], ok_cells: pd.Series, all_cells: pd.Series) -> Table:
    """Methods by mean rank: mean rank, mean ± std across the ranked datasets, coverage, W/T/L vs baselines."""
    headers = ["#", "method", "mean rank", "mean ± std", "datasets", *[f"W/T/L vs {b}" for b in baselines],
               "cells ok"]
    t = Table(headers)
    n_datasets = len(r.mean.index)
    for pos, m in enumerate(r.order, 1):
        ranked = m in r.mean_rank.index
        row = [Cell(str(pos) if ranked else "—", pos if ranked else None), Cell(m, m)]
        if ranked:
            mu, sd = r.summary(m)
            row += [_num(r.mean_rank[m], ".2f"), Cell(_mean_std(mu, sd), mu)]
        else:
            row += [Cell("—"), Cell("—")]
        covered = int(r.complete[m].sum())
        row.append(Cell(f"{covered}/{n_datasets}", covered))
        for b in baselines:
            wtl = r.wins_ties_losses(m, b) if m != b else None
            row.append(Cell("·") if wtl is None else Cell("/".join(map(str, wtl)), wtl[0] - wtl[2]))
        ok, total = int(ok_cells.get(m, 0)), int(all_cells.get(m, 0))
        row.append(Cell(f"{ok}/{total}", ok / total if total else None))
        t.rows.append(row)
    return t


def test_lines(r: MetricResult) -> list[str]:
    """What the ranking covers and what the tests say, in sentences."""
    lines = []
    if r.friedman is not None:
        k, n = len(r.ranked_methods), len(r.ranked_datasets)
        line = (f"Friedman χ²({k - 1}) = {r.friedman[0]:.2f}, p = {r.friedman[1]:.3g} over {n} datasets × "
                f"{k} methods")
        if r.cd is not None:
            line += f"; Nemenyi critical difference of mean ranks CD = {r.cd:.2f} (α = {r.alpha})"
        else:
            line += f"; post-hoc: pairwise Wilcoxon signed-rank, Holm-corrected (α = {r.alpha})"
        lines.append(line + ".")
    elif r.ranked_datasets:
        lines.append(f"Ranks over {len(r.ranked_datasets)} datasets × {len(r.ranked_methods)} methods.")
    if r.left_out_methods:
        lines.append("Not ranked: "
                     + "; ".join(f"{m} ({why})" for m, why in r.left_out_methods.items()) + ".")
    if r.left_out_datasets:
        lines.append(f"Datasets left out of ranks and tests ({len(r.left_out_datasets)}): "
                     + "; ".join(f"{d} ({why})" for d, why in r.left_out_datasets.items()) + ".")
    lines += [n[0].upper() + n[1:] + "." for n in r.notes]
    return lines


def per_dataset(r: MetricResult, keys: pd.Series | None = None) -> Table:
    """Rows datasets, columns methods (by mean rank): mean ± std over ok cells; best complete entry in bold.

    ``†`` marks a partial entry (ok cells of those the dataset's fullest method has); it does not count for
    ranks, tests or wins.
    """
    methods = r.order
    t = Table(["dataset", *methods])
    # plain arrays: scalar .loc lookups would dominate the time of a large leaderboard
    mean, std, n, total, full, score = (x.reindex(columns=methods).to_numpy() for x in (
        r.mean, r.std, r.n, r.cells, r.complete, r.score()))
    best = np.nanmax(np.where(np.isnan(score), -np.inf, score), axis=1)
    want = r.expected.reindex(r.mean.index).fillna(0).astype(int).to_numpy()
    for i, d in enumerate(r.mean.index):
        row = [Cell(d, d)]
        for j, m in enumerate(methods):
            title = None if keys is None else keys.get((d, m))
            if np.isnan(mean[i, j]):
                row.append(Cell(f"failed (0/{want[i]})" if total[i, j] else "—", None, title=title))
                continue
            text = _mean_std(mean[i, j], std[i, j])
            if not full[i, j]:
                text += f" † ({n[i, j]}/{want[i]})"
            bold = bool(full[i, j]) and score[i, j] >= best[i] - TIE_TOL
            row.append(Cell(text, float(mean[i, j]), bold, title))
        t.rows.append(row)
    return t


def rank_overview(results: dict[str, MetricResult]) -> Table:
    """Method x metric mean ranks, best per metric in bold; methods by their average rank."""
    from bench.leaderboard.stats import mean_rank_table

    table = mean_rank_table(results)
    t = Table(["method", *[f"{m} {arrow(m)}" for m in table.columns], "average"])
    best = table.min()
    for m, row in table.iterrows():
        cells = [Cell(str(m), str(m))]
        for metric, v in row.items():
            c = _num(v, ".2f")
            c.bold = not pd.isna(v) and v <= best[metric] + 1e-9
            cells.append(c)
        cells.append(_num(row.mean(), ".2f"))
        t.rows.append(cells)
    return t


def cost(frame: pd.DataFrame) -> Table:
    """Per method: fit time, memory, rows added, minority-recall gain over `none`, compute spent."""
    t = Table(["method", "fit s (median)", "peak MB (mean)", "rows added (mean)",
               "minority recall gain vs none (mean ± s.e.)", "datasets", "cell time total (s)"])
    for m, row in frame.iterrows():
        gain = row.get("gain")
        g = Cell("—") if pd.isna(gain) else Cell(
            f"{gain:+.3f}" + ("" if pd.isna(row["sem"]) else f" ± {row['sem']:.3f}"), float(gain))
        t.rows.append([Cell(str(m), str(m)), _num(row.get("seconds"), ".3g"), _num(row.get("memory"), ".1f"),
                       _num(row.get("rows"), ".0f"), g, _num(row.get("datasets"), ".0f"),
                       _num(row.get("cell_seconds"), ".0f")])
    return t


def cost_frame(cells: pd.DataFrame, minority: MetricResult | None) -> pd.DataFrame:
    """The numbers of the cost table and the cost-vs-gain plot, one row per method (of one classifier)."""
    ok = cells[cells["status"] == "ok"]
    out = pd.DataFrame(index=sorted(cells["method"].unique()))
    for col, src, how in [("seconds", "fit_seconds", "median"), ("memory", "peak_memory_mb", "mean"),
                          ("rows", "rows_added", "mean")]:
        if src in ok.columns:
            out[col] = ok.groupby("method")[src].agg(how)
    out["cell_seconds"] = cells.groupby("method")["seconds"].sum()
    if minority is not None and "none" in minority.mean.columns:
        s = minority.score()
        diff = s.sub(s["none"], axis=0)
        out["gain"] = diff.mean()
        out["datasets"] = diff.count()
        out["sem"] = diff.std() / np.sqrt(diff.count().where(diff.count() > 0))
    return out


def status_counts(cells: pd.DataFrame) -> Table:
    """Cells per (classifier, method) by status."""
    counts = cells.groupby(["classifier", "method", "status"]).size().unstack("status", fill_value=0)
    statuses = ["ok", *sorted(s for s in counts.columns if s != "ok")]
    counts = counts.reindex(columns=statuses, fill_value=0)
    t = Table(["classifier", "method", *statuses, "total"])
    for (clf, m), row in counts.iterrows():
        t.rows.append([Cell(clf, clf), Cell(m, m), *[Cell(str(v), int(v)) for v in row],
                       Cell(str(row.sum()), int(row.sum()))])
    return t


def failures(cells: pd.DataFrame) -> Table:
    """Cells that did not succeed, grouped by (classifier, dataset, method, status), with a key and the reason."""
    failed = cells[cells["status"] != "ok"]
    t = Table(["classifier", "dataset", "method", "status", "cells", "a key", "first failure"])
    for (clf, d, m, s), g in failed.groupby(["classifier", "dataset", "method", "status"]):
        why = str(g["failure"].dropna().iloc[0]) if g["failure"].notna().any() else ""
        why = why.strip().splitlines()[-1][:160] if why.strip() else ""
        t.rows.append([Cell(clf, clf), Cell(d, d), Cell(m, m), Cell(s, s), Cell(str(len(g)), len(g)),
                       Cell(g["key"].iloc[0][:12], g["key"].iloc[0]), Cell(why, why)])
    return t


def markdown(t: Table) -> str:
    def esc(c: Cell) -> str:
        text = c.text.replace("|", "\\|").replace("\n", " ")
        return f"**{text}**" if c.bold and text else text

    lines = ["| " + " | ".join(h.replace("|", "\\|") for h in t.headers) + " |",
             "|" + "|".join("---" if h in LEFT else "--:" for h in t.headers) + "|"]
    lines += ["| " + " | ".join(esc(c) for c in row) + " |" for row in t.rows]
    return "\n".join(lines)
