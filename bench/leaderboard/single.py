"""The answer for one dataset (``bench compare``): per headline metric, each method's mean, a 95 % interval of
its paired difference to ``none`` across test folds, the methods that cannot be told apart from the best, the
cost, and a recommendation sentence that says so when the evidence is weak.

With one dataset the unit of evidence is the test fold. Folds of repeated k-fold share most of their training
rows, so their differences are correlated and the plain t interval is too narrow; the interval here is Nadeau
and Bengio's corrected resampled t (Machine Learning 52, 2003), in the repeated k-fold form of Bouckaert and
Frank (PAKDD 2004): the variance of the mean of the n = k x r paired differences is (1/n + n_test/n_train) s²
instead of s²/n, with n - 1 degrees of freedom.

Examples
--------
>>> lo, hi = corrected_interval(np.array([0.02, 0.03, 0.01, 0.04, 0.02]), test_train_ratio=0.25)[1:3]
>>> bool(lo < 0.024 < hi)
True
"""

from __future__ import annotations

from dataclasses import dataclass, field
from html import escape

import numpy as np
import pandas as pd

from bench.leaderboard.tables import Cell, Table, markdown
from bench.metrics import METRICS

BASELINE = "none"
LEVEL = 0.95
HEADLINE = [m for m, spec in METRICS.items() if spec.headline]
PAIR = ["seed", "fold"]  # cells of different methods on the same test fold


def corrected_interval(d: np.ndarray, test_train_ratio: float, level: float = LEVEL) -> tuple[float, ...]:
    """Mean, interval and two-sided p of paired differences ``d`` over the folds of repeated k-fold.

    Returns
    -------
    (mean, low, high, p)
        NaN interval and p with fewer than two differences; a zero-width interval when every difference is
        the same (p = 1 if they are all 0, else 0).
    """
    from scipy import stats

    d = np.asarray(d, dtype=float)
    n = len(d)
    if n == 0:
        return (np.nan,) * 4
    mean = float(d.mean())
    if n < 2:
        return mean, np.nan, np.nan, np.nan
    se = float(np.sqrt((1 / n + test_train_ratio) * d.var(ddof=1)))
    if se == 0 or not np.isfinite(se):
        return mean, mean, mean, 1.0 if mean == 0 else 0.0
    q = float(stats.t.ppf(0.5 + level / 2, n - 1))
    p = float(2 * stats.t.sf(abs(mean) / se, n - 1))
    return mean, mean - q * se, mean + q * se, p


@dataclass
class MetricAnswer:
    """One (classifier, metric): a row per method (best first) and the sentence that reads it."""

    classifier: str
    metric: str
    rows: pd.DataFrame  # index method: mean, std, n, diff, low, high, p, vs_none, vs_best, fit_seconds
    best: str
    sentence: str

    @property
    def label(self) -> str:
        return self.metric.replace("_", " ")


@dataclass
class Answer:
    """Everything ``bench compare`` prints and writes for one dataset."""

    dataset: str
    folds: int  # test folds per method (k x repeats)
    metrics: list[MetricAnswer]
    cost: pd.DataFrame  # (classifier, method): fit_seconds, rows_added, seconds, ok, failed
    recommendation: str
    primary: str
    failures: list[str] = field(default_factory=list)

    def summary(self) -> pd.DataFrame:
        """One tidy row per (classifier, metric, method)."""
        frames = [m.rows.reset_index().assign(classifier=m.classifier, metric=m.metric) for m in self.metrics]
        if not frames:
            return pd.DataFrame()
        out = pd.concat(frames, ignore_index=True)
        return out[["classifier", "metric", "method"] + [c for c in out.columns
                                                          if c not in ("classifier", "metric", "method")]]

    def tables(self) -> list[tuple[MetricAnswer, Table]]:
        return [(m, _table(m)) for m in self.metrics]

    def how(self) -> str:
        return (f"Each interval is the {LEVEL:.0%} interval of a method's paired difference to `{BASELINE}` "
                f"over the same {self.folds} test folds, from Nadeau and Bengio's corrected resampled t-test "
                "(it widens the plain t interval because cross-validation folds share training rows). `better` / "
                "`worse`: the interval excludes 0. `tied`: not distinguishable from the best method by the same "
                "test. Intervals are per comparison, not corrected for the number of methods.")

    def markdown(self) -> str:
        parts = [f"# Which oversampling method for `{self.dataset}`?", "", self.how(), ""]
        for m, t in self.tables():
            parts += [f"## {m.label} ({_direction(m.metric)}) · {m.classifier}", "", markdown(t), "", m.sentence,
                      ""]
        parts += ["## Cost", "", markdown(_cost_table(self.cost)), ""]
        if self.failures:
            parts += ["## Failed cells", "", *[f"- {f}" for f in self.failures], ""]
        parts += ["## Recommendation", "", self.recommendation, ""]
        return "\n".join(parts)

    def text(self) -> str:
        """Plain text for a terminal."""
        from tabulate import tabulate

        def plain(t: Table) -> str:
            return tabulate([[c.text for c in row] for row in t.rows], headers=t.headers, disable_numparse=True)

        parts = []
        for m, t in self.tables():
            parts += [f"{m.label} ({_direction(m.metric)}), {m.classifier}:", plain(t),
                      m.sentence.replace("`", ""), ""]
        parts += ["cost:", plain(_cost_table(self.cost)), ""]
        parts += [f"failed: {f}" for f in self.failures]
        parts += [self.how().replace("`", ""), "", "Recommendation: " + self.recommendation.replace("`", "")]
        return "\n".join(parts)

    def html(self, page: bool = True) -> str:
        """A self-contained page (``page``), or a fragment for Jupyter."""
        from bench.leaderboard.html import CSS, JS, _inline, table

        body = [f"<h2>Which oversampling method for <code>{escape(self.dataset)}</code>?</h2>",
                f"<p><strong>Recommendation.</strong> {_inline(self.recommendation)}</p>",
                f'<p class="muted">{_inline(self.how())}</p>']
        for i, (m, t) in enumerate(self.tables()):
            body += [f"<h3>{escape(m.label)} ({_direction(m.metric)}) · {escape(m.classifier)}</h3>",
                     table(t, f"metric-{i}"), f"<p>{_inline(m.sentence)}</p>"]
        body += ["<h3>Cost</h3>", table(_cost_table(self.cost), "cost")]
        if self.failures:
            body += ["<h3>Failed cells</h3><ul>", *[f"<li>{escape(f)}</li>" for f in self.failures], "</ul>"]
        if not page:
            return '<div class="bench-compare">' + "\n".join(body) + "</div>"
        return (f'<!doctype html>\n<html lang="en"><head><meta charset="utf-8"><title>bench compare: '
                f"{escape(self.dataset)}</title><style>{CSS}</style></head>\n<body><main>\n" + "\n".join(body)
                + f"\n</main><script>{JS}</script></body></html>\n")


def answer(cells: pd.DataFrame, dataset: str, primary: str = "balanced_accuracy") -> Answer:
    """The per-dataset answer from the cells of one comparison (one dataset, any classifiers)."""
    ok = cells[cells["status"] == "ok"]
    metrics = [m for m in HEADLINE if m in ok.columns and ok[m].notna().any()]
    if primary in metrics:
        metrics.remove(primary)
        metrics.insert(0, primary)
    folds = len(cells[PAIR].drop_duplicates())
    results, sentences = [], []
    cost = _cost(cells)
    for clf, sub in ok.groupby("classifier", sort=False):
        ratio = float(sub["test_rows"].mean() / sub["train_rows"].mean()) if "test_rows" in sub else 0.25
        for metric in metrics:
            r = _metric(clf, metric, sub, ratio, cost.loc[clf] if clf in cost.index.get_level_values(0) else None)
            results.append(r)
            if metric == primary:
                sentences.append(r.sentence if ok["classifier"].nunique() == 1 else f"With {clf}: {r.sentence}")
    if not sentences:
        sentences = [f"No successful cells on {primary.replace('_', ' ')}: no recommendation."]
    failures = []
    for (clf, method, status), g in cells[cells["status"] != "ok"].groupby(["classifier", "method", "status"]):
        first = str(g["failure"].iloc[0] or "").strip().splitlines()
        total = int(((cells["classifier"] == clf) & (cells["method"] == method)).sum())
        failures.append(f"{method} ({clf}): {len(g)} of {total} folds {status}"
                        + (f", e.g. {first[0][:200]}" if first else "") + "; left out where it has no result")
    return Answer(dataset, folds, results, cost, " ".join(sentences), primary, failures)


def _metric(clf: str, metric: str, sub: pd.DataFrame, ratio: float, cost: pd.DataFrame | None) -> MetricAnswer:
    sign = 1 if METRICS[metric].higher_is_better else -1
    wide = sub.pivot_table(index=PAIR, columns="method", values=metric, aggfunc="first")
    stats = wide.agg(["mean", "std", "count"]).T.rename(columns={"count": "n"})
    best = str((stats["mean"] * sign).idxmax())
    rows = []
    for method in stats.index:
        has_base = BASELINE in wide and method != BASELINE
        d = (wide[method] - wide[BASELINE]).dropna() if has_base else pd.Series(dtype=float)
        diff, low, high, p = corrected_interval(d.to_numpy(), ratio)
        vs_best = (wide[method] - wide[best]).dropna()
        _, blo, bhi, _ = corrected_interval(vs_best.to_numpy(), ratio)
        rows.append({
            "method": method, "mean": stats.at[method, "mean"], "std": stats.at[method, "std"],
            "n": int(stats.at[method, "n"]), "diff": diff, "low": low, "high": high, "p": p,
            "vs_none": "" if method == BASELINE else _verdict(low, high, sign),
            "vs_best": "best" if method == best else ("tied" if _contains_zero(blo, bhi) else "below"),
            "fit_seconds": cost.at[method, "fit_seconds"] if cost is not None and method in cost.index else np.nan,
            "seconds": cost.at[method, "seconds"] if cost is not None and method in cost.index else np.nan,
        })
    table = pd.DataFrame(rows).set_index("method")
    table = table.loc[(table["mean"] * sign).sort_values(ascending=False).index]
    return MetricAnswer(clf, metric, table, best, _sentence(metric, table, best, sign))


def _verdict(low: float, high: float, sign: int) -> str:
    if pd.isna(low):
        return "n/a"
    if low * sign > 0 and high * sign > 0:
        return "better"
    if low * sign < 0 and high * sign < 0:
        return "worse"
    return "~"


def _contains_zero(low: float, high: float) -> bool:
    return pd.isna(low) or low <= 0 <= high


def _sentence(metric: str, t: pd.DataFrame, best: str, sign: int) -> str:
    """The honest reading of one table: which methods beat ``none``, the cheapest among the best, and whether
    that one is oversampling at all (the references reweight classes or move the threshold)."""
    name = metric.replace("_", " ")
    if BASELINE not in t.index:
        return f"On {name}, `{BASELINE}` has no successful cells, so no method can be compared with it."
    better, worse = list(t.index[t["vs_none"] == "better"]), list(t.index[t["vs_none"] == "worse"])
    n = int(t.at[BASELINE, "n"])
    worse_text = (f" ({_names(worse)} {'is' if len(worse) == 1 else 'are'} worse than `{BASELINE}`)"
                  if worse else "")
    if not better:
        return (f"No method is distinguishable from no oversampling (`{BASELINE}`) on {name} here{worse_text}: "
                f"every {LEVEL:.0%} interval of the difference over {n} folds includes 0.")
    tied = [m for m in t.index if t.at[m, "vs_best"] in ("best", "tied")]
    pool = [m for m in better if m in tied] or better
    cost = t["seconds"].where(t["seconds"].notna(), t["fit_seconds"]).fillna(np.inf)
    pick = min(pool, key=lambda m: (cost[m], -sign * t.at[m, "mean"]))
    text = f"On {name}, `{pick}`{_kind(pick)} beats no oversampling by {_gain(t.loc[pick])}"
    if pick == best:
        text += ", the best mean"
    elif t.at[pick, "vs_best"] == "tied":
        text += f", and cannot be told apart from the best mean (`{best}`)"
    else:
        text += f"; the best mean (`{best}`) is not distinguishable from `{BASELINE}`"
    others = [m for m in pool if m != pick]
    if others:
        text += (f"; {_names(others)} also beat{'s' if len(others) == 1 else ''} `{BASELINE}` "
                 f"and {'is' if len(others) == 1 else 'are'} as good, but `{pick}` costs least")
    if _kind(pick):
        oversamplers = [m for m in better if not _kind(m)]
        if oversamplers:
            top = max(oversamplers, key=lambda m: sign * t.at[m, "mean"])
            text += f"; the best oversampler that beats `{BASELINE}` is `{top}`, by {_gain(t.loc[top])}"
        else:
            text += f"; no oversampling method is distinguishable from `{BASELINE}`"
    return text + worse_text + "."


def _gain(r: pd.Series) -> str:
    return f"{r['diff']:+.3f} ({LEVEL:.0%} CI {r['low']:+.3f} to {r['high']:+.3f})"


def _kind(method: str) -> str:
    """`` (a reference: ..., not oversampling)`` for the references, else empty."""
    from bench import registry

    try:
        reference = getattr(registry.resolve(method), "reference", None)
    except registry.UnknownMethodError:
        reference = None
    what = {"class_weights": "balanced class weights", "threshold": "a tuned decision threshold"}
    return f" ({what.get(reference, reference)}, not oversampling)" if reference else ""


def _names(methods: list[str]) -> str:
    quoted = [f"`{m}`" for m in methods]
    return quoted[0] if len(quoted) == 1 else ", ".join(quoted[:-1]) + " and " + quoted[-1]


def _direction(metric: str) -> str:
    return "higher is better" if METRICS[metric].higher_is_better else "lower is better"


def _cost(cells: pd.DataFrame) -> pd.DataFrame:
    ok = cells["status"] == "ok"
    g = cells.assign(ok=ok, failed=~ok).groupby(["classifier", "method"], sort=False)
    cols = {c: "mean" for c in ("fit_seconds", "rows_added", "seconds") if c in cells}
    out = g.agg({**cols, "ok": "sum", "failed": "sum"})
    return out.reindex(columns=["fit_seconds", "rows_added", "seconds", "ok", "failed"])


def _fmt(x: float, fmt: str, signed: bool = False) -> Cell:
    if x is None or pd.isna(x):
        return Cell("")
    return Cell(format(x, ("+" if signed else "") + fmt), float(x))


def _table(m: MetricAnswer) -> Table:
    t = Table(["method", "mean", "± std", f"Δ vs {BASELINE}", "95% CI of Δ", f"vs {BASELINE}", "vs best",
               "method s/fold"])
    for method, r in m.rows.iterrows():
        ci = "" if pd.isna(r["low"]) or method == BASELINE else f"{r['low']:+.3f} … {r['high']:+.3f}"
        t.rows.append([Cell(method, method, bold=method == m.best), _fmt(r["mean"], ".3f"), _fmt(r["std"], ".3f"),
                       Cell("") if method == BASELINE else _fmt(r["diff"], ".3f", signed=True),
                       Cell(ci, r["low"]), Cell(r["vs_none"], r["vs_none"]), Cell(r["vs_best"], r["vs_best"]),
                       _fmt(r["fit_seconds"], ".2f")])
    return t


def _cost_table(cost: pd.DataFrame) -> Table:
    t = Table(["classifier", "method", "method s/fold", "rows added/fold", "cell s/fold", "ok", "failed"])
    for (clf, method), r in cost.iterrows():
        t.rows.append([Cell(clf, clf), Cell(method, method), _fmt(r["fit_seconds"], ".3f"),
                       _fmt(r["rows_added"], ".0f"), _fmt(r["seconds"], ".2f"), _fmt(r["ok"], ".0f"),
                       _fmt(r["failed"], ".0f")])
    return t
