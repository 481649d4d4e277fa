"""Head to head: each language-model method against SMOTE and against no oversampling.

The question this project exists for, "do an LLM's rows beat SMOTE on my kind of data, and at what cost?",
gets its own paired test beside the ranking. For every method of the ``llm`` family (``bench list methods``),
per classifier and per metric of ``METRICS``: a two-sided Wilcoxon signed-rank test over the datasets (each
dataset's difference of means over the (seed, fold) cells the LLM method ran, which the opponent ran too; zero
differences split), with the mean difference, wins / ties / losses, and the cost of each method (median
seconds to resample a fold). A dataset where either side failed one of those cells is left out.

The p-values are not corrected for multiplicity: each answers one named question, and the table says how many
were asked. With n datasets the smallest two-sided p-value of the exact test is 2 / 2^n (0.0078 for 8), so
fewer than 6 datasets can never reach 0.05, and the sentence says so.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from bench.leaderboard.stats import TIE_TOL
from bench.leaderboard.tables import Cell, Table
from bench.leaderboard.verdict import wilcoxon_p
from bench.metrics import METRICS as METRIC_INFO

METRICS = ("minority_recall", "balanced_accuracy", "auprc")
OPPONENTS = ("smote", "none")  # entry labels, when the suite has them
ALPHA = 0.05


@dataclass
class Duel:
    """One LLM method against one opponent, on one (classifier, metric), over the datasets both completed."""

    classifier: str
    method: str
    opponent: str
    metric: str
    datasets: int
    wins: int
    ties: int
    losses: int
    mean_diff: float  # method minus opponent, signed so that > 0 is better
    p: float  # two-sided Wilcoxon signed-rank; NaN under 2 datasets
    seconds: float = float("nan")  # median seconds to resample a fold, the method
    opponent_seconds: float = float("nan")

    @property
    def verdict(self) -> str:
        if not self.p < ALPHA:
            return "no difference shown"
        return "better" if self.mean_diff > 0 else "worse"

    def as_json(self) -> dict:
        return {k: (None if isinstance(v, float) and np.isnan(v) else v) for k, v in vars(self).items()} | {
            "verdict": self.verdict}


def llm_methods(cells: pd.DataFrame) -> list[str]:
    """Entry labels whose registry name belongs to the ``llm`` family."""
    from bench import registry

    family = registry.families()
    names = cells.drop_duplicates("method").set_index("method")["method_name"]
    return sorted(label for label, name in names.items() if family.get(name) == "llm")


def duels(sections, cells: pd.DataFrame) -> list[Duel]:
    """Every (classifier, LLM method, opponent, metric) of a leaderboard's sections (``cells``: entries)."""
    out = []
    llms = llm_methods(cells)
    for s in sections:
        sub = cells[cells["classifier"] == s.classifier]
        for method in llms:
            for opponent in (o for o in OPPONENTS if o in s.methods and o != method):
                for metric in (m for m in METRICS if m in sub.columns):
                    diff = paired_differences(sub, method, opponent, metric)
                    if diff.empty:  # no dataset where both ran: nothing to say
                        continue
                    wins, losses = int((diff > TIE_TOL).sum()), int((diff < -TIE_TOL).sum())
                    out.append(Duel(s.classifier, method, opponent, metric, len(diff), wins,
                                    len(diff) - wins - losses, losses,
                                    float(diff.mean()),
                                    wilcoxon_p(diff, "two-sided") if len(diff) >= 2 else float("nan"),
                                    _seconds(s.cost, method), _seconds(s.cost, opponent)))
    return out


def paired_differences(cells: pd.DataFrame, method: str, opponent: str, metric: str) -> pd.Series:
    """Per dataset, the method's mean minus the opponent's over the (seed, fold) cells the method ran, signed so
    that > 0 is better. A method run on some folds only (``only: {folds: N}``) is compared on those folds; a
    dataset where either side has a failed cell on them is left out (missing results never flatter)."""
    sign = 1.0 if METRIC_INFO[metric].higher_is_better else -1.0
    out = {}
    for dataset, mine in cells[cells["method"] == method].groupby("dataset"):
        theirs = cells[(cells["method"] == opponent) & (cells["dataset"] == dataset)]
        pairs = mine.merge(theirs, on=["seed", "fold"], suffixes=("", "_vs"))
        if len(pairs) < len(mine) or (pairs[["status", "status_vs"]] != "ok").any(axis=None):
            continue
        d = sign * (pairs[metric].mean() - pairs[f"{metric}_vs"].mean())
        if np.isfinite(d):
            out[dataset] = d
    return pd.Series(out, dtype=float)


def _seconds(cost: pd.DataFrame, method: str) -> float:
    return float(cost.at[method, "seconds"]) if "seconds" in cost.columns and method in cost.index else float("nan")


def _p(x: float) -> str:
    return "-" if np.isnan(x) else f"{x:.2g}" if x < 0.001 else f"{x:.3f}"


def sentence(ds: list[Duel], method: str, opponent: str = "smote") -> str:
    """The plain answer to "does METHOD beat OPPONENT here?" over every classifier and metric."""
    mine = [d for d in ds if d.method == method and d.opponent == opponent]
    if not mine:
        return f"`{method}` was not compared with `{opponent}` here (not both complete on a dataset)."
    better = [d for d in mine if d.verdict == "better"]
    worse = [d for d in mine if d.verdict == "worse"]
    n = max(d.datasets for d in mine)
    pairs = len(mine)

    def which(group: list[Duel]) -> str:
        return "; ".join(f"{d.classifier} · {d.metric}, {d.mean_diff:+.3f}, p = {_p(d.p)}" for d in group)

    answer = ("Mixed" if better and worse else "Yes" if better else "No, it is worse" if worse
              else "Not shown")
    over = f"{n} dataset" + ("" if n == 1 else "s")
    text = (f"**Does `{method}` beat `{opponent}` here?** {answer}: over {over} it is significantly better "
            f"on {len(better)} of {pairs} (classifier, metric) pairs")
    text += f" ({which(better)})" if better else ""
    text += f" and significantly worse on {len(worse)}" + (f" ({which(worse)})" if worse else "")
    text += " (two-sided Wilcoxon signed-rank over datasets, α = 0.05, uncorrected)"
    if n < 6:
        text += f"; with {over} no such test can reach α = 0.05"
    cost = [d for d in mine if not np.isnan(d.seconds)]
    if cost:
        text += (f". It costs {cost[0].seconds:.1f} s to resample a fold (median), `{opponent}` "
                 f"{cost[0].opponent_seconds:.2f} s")
    return text + "."


def table(ds: list[Duel]) -> Table:
    t = Table(["classifier", "method", "vs", "metric", "datasets", "W/T/L", "mean difference", "p (two-sided)",
               "verdict"], caption="LLM methods head to head")
    for d in ds:
        t.rows.append([Cell(d.classifier, d.classifier), Cell(d.method, d.method), Cell(d.opponent, d.opponent),
                       Cell(d.metric, d.metric), Cell(str(d.datasets), d.datasets),
                       Cell(f"{d.wins}/{d.ties}/{d.losses}", d.wins - d.losses),
                       Cell("-") if np.isnan(d.mean_diff) else Cell(f"{d.mean_diff:+.3f}", d.mean_diff),
                       Cell(_p(d.p), None if np.isnan(d.p) else d.p), Cell(d.verdict, d.verdict)])
    return t


def sentences(ds: list[Duel]) -> list[str]:
    """One sentence per (LLM method, opponent) compared."""
    pairs = dict.fromkeys((d.method, d.opponent) for d in ds)
    return [sentence(ds, m, o) for m in dict.fromkeys(m for m, _ in pairs) for o in OPPONENTS if (m, o) in pairs]


def markdown_lines(ds: list[Duel]) -> list[str]:
    """The head-to-head section of README.md (nothing when the suite has no LLM method and opponent)."""
    if not ds:
        return []
    from bench.leaderboard.tables import markdown

    lines = ["## Head to head: language-model methods against SMOTE and no oversampling", ""]
    lines += [f"- {text}" for text in sentences(ds)]
    lines += ["", ("Per dataset, each method's mean over folds and seeds; differences are the LLM method minus "
                   "the opponent, signed so that positive is better; W/T/L counts datasets. Cost beside gain: "
                   "the cost table of each classifier below."), "", markdown(table(ds)), ""]
    return lines
