"""Write a suite's leaderboard from the results store alone: README.md, index.html, figures, exports.

Layout of ``leaderboards/<suite>/``::

    README.md        tables, test results and figures (renders on a git host)
    index.html       the same, self-contained, with sortable tables (open it from disk)
    results.csv      every cell, one row each, metrics as columns (also results.json)
    aggregates.csv   one row per (classifier, dataset, method, metric): mean, std, n ok, cells
    stats.json       mean ranks, Friedman and post-hoc p-values, what was left out and why
    cd/              critical-difference diagrams, <classifier>-<metric>.svg/.png
    plots/           per-dataset point charts, cost vs gain, scaling curves (PNG)

Examples
--------
>>> from bench.store import ResultsStore                                  # doctest: +SKIP
>>> write(ResultsStore().frame("quick"), "quick", Path("leaderboards/quick"))  # doctest: +SKIP
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import pandas as pd

import bench
from bench.leaderboard import headtohead, stats, tables, verdict
from bench.metrics import METRICS

HEADLINE = [m for m, spec in METRICS.items() if spec.headline]
COST_METRICS = ("fit_seconds", "peak_memory_mb", "rows_added")
POINT_METRICS = ("minority_recall", "worst_group_accuracy")
SCALING_METRICS = ("minority_recall", "balanced_accuracy", "worst_group_accuracy")
BASELINES = ("none", "smote")


@dataclass
class Section:
    """One classifier's part of the leaderboard."""

    classifier: str
    methods: list[str]
    results: dict[str, stats.MetricResult]  # every ranked metric
    cost: pd.DataFrame
    figures: dict[str, list[str]] = field(default_factory=dict)  # id -> paths relative to the output folder

    @property
    def headline(self) -> list[str]:
        return [m for m in HEADLINE if m in self.results and not self.results[m].mean.empty]


@dataclass
class Leaderboard:
    suite: str
    raw: pd.DataFrame  # the store's cells, exported as they are
    cells: pd.DataFrame  # the same cells labelled as entries (see `entries`)
    summary: pd.DataFrame
    sections: list[Section]
    baselines: list[str]
    posthoc: str
    written: str = field(default_factory=lambda: date.today().isoformat())
    drawn: bool = False  # figures were drawn (not --no-plots)
    verdicts: list[verdict.MetricVerdict] = field(default_factory=list)  # per (classifier, headline metric)
    duels: list[headtohead.Duel] = field(default_factory=list)  # LLM methods against smote and none

    def keys(self, classifier: str) -> pd.Series:
        """(dataset, method) -> the key prefixes of its cells, for tooltips that trace a mean to its cells."""
        sub = self.cells[self.cells["classifier"] == classifier]
        return sub.groupby(["dataset", "method"])["key"].agg(lambda k: "cells: " + " ".join(x[:10] for x in k))


def slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", text).strip("_") or "x"


def entries(cells: pd.DataFrame) -> pd.DataFrame:
    """The cells as the leaderboard compares them, plus a ``series`` column for scaling curves.

    In an augmentation sweep (cells with a ``step``) each (method, step) is its own entry, labelled
    ``"<method> @<step>"``; ``none`` runs once (step 0) and stays ``none``, the baseline of every step. A series
    is one method across steps (a sweep) or one registry name across labels (e.g. labels differing by a ratio).
    """
    out = cells.copy()
    out["series"] = out["method_name"]
    if "step" in out.columns and out["step"].notna().any():
        sweep = out["step"].notna() & (out["method_name"] != "none")
        out["series"] = out["method"]
        out.loc[sweep, "method"] = out.loc[sweep, "method"] + " @" + out.loc[sweep, "step"].map("{:g}".format)
    return out


def build(cells: pd.DataFrame, suite: str, posthoc: str = "nemenyi") -> Leaderboard:
    """All aggregates and tests of a leaderboard (no files written)."""
    raw, cells = cells, entries(cells)
    summary = stats.summarize(cells)
    metrics = [m for m in stats.metric_columns(cells) if m not in COST_METRICS]
    present = set() if summary.empty else set(zip(summary.index.get_level_values("classifier"),
                                                  summary.index.get_level_values("metric")))
    sections = []
    for clf in sorted(cells["classifier"].unique()):
        sub = cells[cells["classifier"] == clf]
        methods = sorted(sub["method"].unique())
        ok_per_dataset = sub.groupby("dataset")["status"].apply(lambda s: (s == "ok").sum())
        failed = tuple(ok_per_dataset.index[ok_per_dataset == 0])
        results = {}
        for m in metrics:
            if (clf, m) in present:
                results[m] = stats.analyse(summary, clf, m, methods, posthoc, failed_datasets=failed)
        cost = tables.cost_frame(sub, results.get("minority_recall"))
        sections.append(Section(clf, methods, results, cost))
    baselines = [b for b in BASELINES if b in set(cells["method"])]
    return Leaderboard(suite, raw, cells, summary, sections, baselines, posthoc,
                       verdicts=verdict.verdicts(sections, cells), duels=headtohead.duels(sections, cells))


def draw(lb: Leaderboard, out_dir: Path) -> None:
    """Draw every figure into out_dir/cd and out_dir/plots; record their relative paths on the sections."""
    from bench.leaderboard import plots

    for sub in ("cd", "plots"):  # figures of an earlier run (a classifier or metric now gone) must not linger
        for old in (out_dir / sub).glob("*.[ps][nv]g"):
            old.unlink()
    lb.drawn = True
    palette = plots.colors(sorted(set(lb.cells["method"]) | set(lb.cells["series"])))
    for s in lb.sections:
        c = slug(s.classifier)
        figs: dict[str, list[Path]] = {}
        for m in s.headline:
            figs[f"cd:{m}"] = plots.cd_diagram(s.results[m], out_dir / "cd" / f"{c}-{m}", palette)
        for m in POINT_METRICS:
            if m in s.results:
                figs[f"points:{m}"] = plots.dataset_points(s.results[m], out_dir / "plots" / f"{c}-{m}-by-dataset",
                                                           palette)
        if "gain" in s.cost.columns:
            figs["cost"] = plots.cost_gain(s.cost, out_dir / "plots" / f"{c}-cost-vs-gain", s.classifier, palette)
        for m in SCALING_METRICS:
            if m not in s.results:
                continue
            points = plots.sweeps(lb.cells, lb.summary, s.classifier, m)
            base = s.results[m].mean["none"] if "none" in s.results[m].mean.columns else pd.Series(dtype=float)
            figs[f"scaling:{m}"] = plots.scaling(points, base, out_dir / "plots" / f"{c}-scaling-{m}",
                                                 s.classifier, m)
        s.figures = {k: [p.relative_to(out_dir).as_posix() for p in v] for k, v in figs.items() if v}


def status_line(cells: pd.DataFrame) -> str:
    counts = cells["status"].value_counts()
    words = {"ok": "ok", "error": "failed with an error", "timeout": "timed out", "oom": "ran out of memory",
             "crashed": "crashed"}
    parts = [f"{counts.get('ok', 0)} ok"] + [f"{n} {words.get(s, s)}" for s, n in counts.items() if s != "ok"]
    return f"{len(cells)} cells ran: " + ", ".join(parts) + "."


def _n(k: int, word: str) -> str:
    return f"{k} {word}" + ("" if k == 1 else "s")


def provenance(lb: Leaderboard) -> str:
    c = lb.raw
    versions = ", ".join(sorted(c["version"].astype(str).unique()))
    steps = sorted(c["step"].dropna().unique()) if "step" in c.columns else []
    sweep = f"; augmentation steps {', '.join(f'{s:g}' for s in steps)}" if steps else ""
    return (f"oversampling-bench {bench.__version__}, written {lb.written} from {len(c)} cells "
            f"({_n(c['dataset'].nunique(), 'dataset')} × {_n(c['method'].nunique(), 'method')} × "
            f"{_n(c['classifier'].nunique(), 'classifier')}; seeds {', '.join(map(str, sorted(c['seed'].unique())))}"
            f"{sweep}; "
            f"recorded {str(c['started_at'].min())[:10]} to {str(c['finished_at'].max())[:10]} "
            f"by version {versions}). {compute(c)}")


def compute(cells: pd.DataFrame) -> str:
    """What the cells cost: summed cell time, the hosts, and the wall-clock span from first start to last finish."""
    span = pd.to_datetime(cells["finished_at"]).max() - pd.to_datetime(cells["started_at"]).min()
    hosts = ", ".join(sorted(cells["host"].astype(str).unique()))
    return (f"Compute: {_duration(cells['seconds'].sum())} of cell time on host {hosts}; "
            f"{_duration(span.total_seconds())} from the first cell's start to the last one's finish "
            f"(parallel workers and any pause between runs included).")


def _duration(seconds: float) -> str:
    if seconds < 60:
        return f"{seconds:.0f} s"
    minutes = round(seconds / 60)
    return f"{minutes // 60} h {minutes % 60} min" if minutes >= 60 else f"{minutes} min"


def method_lines(lb: Leaderboard) -> list[str]:
    """How each number was made: the policy for missing results, ties, the tests, and how to trace a number."""
    test = ("Nemenyi test (bars join methods whose mean ranks differ by less than the critical difference)"
            if lb.posthoc == "nemenyi" else "pairwise Wilcoxon signed-rank tests with Holm's correction")
    return [
        ("- **Mean rank**: within each dataset the methods are ranked on their mean over folds and seeds "
        "(1 = best; ties share the average rank), then ranks are averaged over datasets. "
        "↑ higher is better, ↓ lower is better."),
        ("- **Missing results never flatter a method**: an entry (dataset, method) counts only when every one of its "
        "cells succeeded. A method complete on fewer than "
        f"{stats.MIN_COVERAGE:.0%} of the datasets is not ranked; the ranks, the Friedman test and the "
        "critical-difference diagram use only the datasets where every ranked method is complete, so every mean "
        "rank compares the same datasets; where leaving out the methods incomplete on some dataset instead keeps "
        "more results ranked, they are left out and every dataset stays. What was left out is listed under each "
        "table. "
        "Partial entries are marked † on the per-dataset tables."),
        "- **mean ± std** in the headline tables: over the ranked datasets, of each dataset's mean.",
        ("- **W/T/L vs a baseline**: datasets where the method's mean is better / within "
        f"{stats.TIE_TOL} (a tie at the precision shown) / worse than the baseline's, over datasets where both are "
        "complete. `none` is no oversampling; `smote` is SMOTE."),
        f"- **Tests**: Friedman test across datasets (scipy), then the {test} (scikit-posthocs), α = {stats.ALPHA}.",
        (f"- **Trace a number**: `bench show {lb.suite} --dataset D --method M` lists the cells behind a mean, "
        "`bench show --key PREFIX` shows one cell; `results.csv` / `results.json` hold every cell with its key "
        "(in index.html, hover a per-dataset entry to see its cell keys); `stats.json` has every test."),
    ] + ([("- **References, not oversampling**: `class-weights` fits the classifier with sample weights that "
           "balance the classes; `threshold` fits it as it is and predicts the minority when its score passes the "
           "cut that maximises balanced accuracy on an inner split of the training fold (the test fold is never "
           "seen). A cut does not change scores: on AUPRC and ROC-AUC `threshold` equals `none`. The verdict "
           "tests each oversampler against both with a one-sided Wilcoxon signed-rank test over the ranked "
           "datasets, Holm-corrected.")]
         if lb.cells["method_name"].isin(verdict.REFERENCES).any() else []) + ([("- **Augmentation sweep**: `M @s` is method M at sweep step s (the cells' `step` column; "
          "`bench show` lists all steps of M); `none` is the shared step-0 baseline.")]
         if lb.cells["method"].ne(lb.raw["method"]).any() else [])


def markdown(lb: Leaderboard) -> str:
    md = tables.markdown
    lines = [f"# Leaderboard: {lb.suite}", "", provenance(lb), "", f"**{status_line(lb.cells)}**", "",
             ("[Interactive page (sortable tables)](index.html) · exports: [results.csv](results.csv), "
             "[results.json](results.json), [aggregates.csv](aggregates.csv), [stats.json](stats.json)"), "",
             *verdict.markdown_lines(lb.verdicts), *headtohead.markdown_lines(lb.duels), "## How to read it", "",
             *method_lines(lb)]
    for s in lb.sections:
        lines += ["", f"## Classifier: {s.classifier}", ""]
        if s.results:
            lines += ["### Mean rank on every metric", "", md(tables.rank_overview(s.results))]
        for m in s.headline:
            r = s.results[m]
            lines += ["", f"### {m} {tables.arrow(m)} · {s.classifier}", "", f"{METRICS[m].description}.", "",
                      md(headline_table(lb, s, r)), "", *[f"{t}  " for t in tables.test_lines(r)]]
            for path in s.figures.get(f"cd:{m}", [])[:1]:
                lines += ["", f"![critical-difference diagram, {m}, {s.classifier}]({path})"]
            lines += ["", ("<details><summary>Per dataset: mean ± std over folds and seeds (bold: best; "
                      "† partial)</summary>"), "", md(tables.per_dataset(r)), "", "</details>"]
        figs = [(k, p) for k, ps in s.figures.items() for p in ps if k.startswith(("points:", "cost", "scaling:"))]
        if figs:
            lines += ["", f"### Plots · {s.classifier}", ""]
            lines += [f"![{k}]({p})" for k, p in figs]
        if lb.drawn and not any(k.startswith("scaling:") for k in s.figures):
            lines += ["", ("No scaling curves: no (dataset, method) was run with three or more numbers of "
                      "synthetic rows.")]
        lines += ["", f"### Cost · {s.classifier}", "", md(tables.cost(s.cost))]
    lines += ["", "## Cells by status", "", md(tables.status_counts(lb.cells))]
    if (lb.cells["status"] != "ok").any():
        lines += ["", "## Failed cells", "", ("Each row groups the failed cells of one (classifier, dataset, "
                  "method, status); `bench show --failed` lists them all."), "", md(tables.failures(lb.cells))]
    return "\n".join(lines) + "\n"


def headline_table(lb: Leaderboard, s: Section, r: stats.MetricResult) -> tables.Table:
    sub = lb.cells[lb.cells["classifier"] == s.classifier]
    ok = sub[sub["status"] == "ok"].groupby("method").size()
    return tables.headline(r, lb.baselines, ok, sub.groupby("method").size())


def export(lb: Leaderboard, out_dir: Path) -> None:
    """Every cell as CSV and JSON (one row per cell, metrics as columns), aggregates and test results."""
    lb.raw.to_csv(out_dir / "results.csv", index=False)
    _write_records(lb.raw, out_dir / "results.json")
    lb.summary.reset_index().to_csv(out_dir / "aggregates.csv", index=False)
    doc = {"suite": lb.suite, "version": bench.__version__, "written": lb.written, "posthoc": lb.posthoc,
           "tie_tolerance": stats.TIE_TOL, "min_coverage": stats.MIN_COVERAGE,
           "results": [stats.as_json(r) for s in lb.sections for r in s.results.values()],
           "verdict": [v.as_json() for v in lb.verdicts], "head_to_head": [d.as_json() for d in lb.duels]}
    (out_dir / "stats.json").write_text(json.dumps(doc, indent=1, ensure_ascii=False) + "\n")


def _write_records(frame: pd.DataFrame, path: Path) -> None:
    """A JSON array of objects, one cell per line; floats exact (repr), missing values null."""
    def plain(v):
        if v is None or (isinstance(v, float) and math.isnan(v)):
            return None
        return v.item() if hasattr(v, "item") else v

    cols = list(frame.columns)
    with path.open("w") as f:
        f.write("[\n")
        for i, row in enumerate(frame.itertuples(index=False, name=None)):
            f.write(("," if i else "") + json.dumps(dict(zip(cols, map(plain, row))), ensure_ascii=False) + "\n")
        f.write("]\n")


def write(cells: pd.DataFrame, suite: str, out_dir: Path, plots: bool = True, posthoc: str = "nemenyi") -> Path:
    """Write the whole leaderboard of ``cells`` into ``out_dir``; return the README's path."""
    from bench.leaderboard import html

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    lb = build(cells, suite, posthoc)
    if plots:
        draw(lb, out_dir)
    export(lb, out_dir)
    (out_dir / "index.html").write_text(html.page(lb))
    text = markdown(lb)
    if "step" in cells.columns and cells["step"].notna().any():  # an augmentation sweep: curves and fits first
        from bench.leaderboard import sweep

        at = text.find("\n## Classifier:")
        section = sweep.markdown(cells, out_dir / "sweep").replace("](", "](sweep/").replace("](sweep/http", "](http")
        text = text[:at] + "\n" + section + text[at:] if at >= 0 else text + "\n" + section
    path = out_dir / "README.md"
    path.write_text(text)
    return path
