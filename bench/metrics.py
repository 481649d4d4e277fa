"""What a cell measures. Every metric declares its direction, so leaderboards rank without special cases.

Labels are 0/1 with 1 the minority (positive) class. With a group attribute, the groups that matter are the
(class, group) cells, as in the worst-group literature (Sagawa et al. 2020; the OPAL paper's spurious task):
worst-group accuracy is the lowest accuracy over those cells.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

# pandas and scikit-learn are imported in the functions that use them: `bench list metrics` reads only METRICS.


@dataclass(frozen=True)
class Metric:
    name: str
    higher_is_better: bool
    description: str
    headline: bool = False


METRICS: dict[str, Metric] = {
    m.name: m
    for m in [
        Metric("minority_recall", True, "recall of the minority class ('minority accuracy')", headline=True),
        Metric("majority_recall", True, "recall of the majority class"),
        Metric("balanced_accuracy", True, "mean of the two recalls", headline=True),
        Metric("error", False, "fraction of test rows misclassified"),
        Metric("f1_minority", True, "F1 of the minority class"),
        Metric("g_mean", True, "geometric mean of the two recalls"),
        Metric("mcc", True, "Matthews correlation coefficient", headline=True),
        Metric("auprc", True, "area under the precision-recall curve (average precision)", headline=True),
        Metric("roc_auc", True, "area under the ROC curve"),
        Metric("worst_group_accuracy", True, "lowest accuracy over (class, group) cells", headline=True),
        Metric("worst_group_error", False, "highest error over (class, group) cells"),
        Metric("group_gap", False, "highest minus lowest error over (class, group) cells"),
        Metric("minority_group_error", False, "error pooled over the (class, group) cells that are small in training"),
        Metric("majority_group_error", False, "error pooled over the (class, group) cells that are large in training"),
        Metric("dp_difference", False, "demographic-parity difference between groups (fairlearn)"),
        Metric("eo_difference", False, "equalized-odds difference between groups (fairlearn)"),
        Metric("fit_seconds", False, "wall time of the oversampler's fit_resample"),
        Metric("peak_memory_mb", False, "peak memory growth during fit_resample"),
        Metric("rows_added", False, "synthetic rows the oversampler added"),
    ]
}


def classification_metrics(y_true, y_pred, y_score) -> dict[str, float]:
    """The class-level metrics of one test fold."""
    from sklearn import metrics as skm

    y_true, y_pred, y_score = np.asarray(y_true), np.asarray(y_pred), np.asarray(y_score, dtype=float)
    rec_min = skm.recall_score(y_true, y_pred, pos_label=1, zero_division=0)
    rec_maj = skm.recall_score(y_true, y_pred, pos_label=0, zero_division=0)
    return {
        "minority_recall": rec_min,
        "majority_recall": rec_maj,
        "balanced_accuracy": (rec_min + rec_maj) / 2,
        "error": float(np.mean(y_true != y_pred)),
        "f1_minority": skm.f1_score(y_true, y_pred, pos_label=1, zero_division=0),
        "g_mean": float(np.sqrt(rec_min * rec_maj)),
        "mcc": skm.matthews_corrcoef(y_true, y_pred),
        "auprc": skm.average_precision_score(y_true, y_score),
        "roc_auc": skm.roc_auc_score(y_true, y_score),
    }


def group_metrics(y_true, y_pred, groups, train_cells=None) -> dict[str, float]:
    """Per-(class, group) accuracy, the worst and the gap, and fairlearn's parity differences.

    With ``train_cells = (y_train, groups_train)``, the cells smaller than the mean training cell are the
    minority groups (in the spurious-correlation setting: the groups that go against the correlation), and
    the errors pooled over minority and over majority groups are reported too (as in the OPAL protocol).
    Rows whose group is missing (NaN; a dataset may have a few, see ``GroupSpec``) count in no group metric.
    """
    import pandas as pd
    from fairlearn.metrics import MetricFrame, false_positive_rate, selection_rate, true_positive_rate

    groups = np.asarray(groups, dtype=object)
    known = pd.notna(groups)
    y_true, y_pred, groups = np.asarray(y_true)[known], np.asarray(y_pred)[known], groups[known]
    cells = pd.DataFrame({"y": y_true, "g": groups}).groupby(["y", "g"]).groups
    acc = {cell: float(np.mean(y_true[idx] == y_pred[idx])) for cell, idx in cells.items()}
    out: dict[str, float] = {f"accuracy[y={y},g={g}]": a for (y, g), a in acc.items()}
    out["worst_group_accuracy"] = min(acc.values())
    out["worst_group_error"] = 1 - min(acc.values())
    out["group_gap"] = max(acc.values()) - min(acc.values())
    if train_cells is not None:
        sizes = pd.DataFrame({"y": np.asarray(train_cells[0]), "g": np.asarray(train_cells[1], dtype=object)})
        sizes = sizes.groupby(["y", "g"]).size()
        small = {cell for cell, n in sizes.items() if n < sizes.mean()}
        in_small = np.array([(y, g) in small for y, g in zip(y_true, groups)])
        wrong = y_true != y_pred
        if in_small.any():
            out["minority_group_error"] = float(wrong[in_small].mean())
        if (~in_small).any():
            out["majority_group_error"] = float(wrong[~in_small].mean())
    # One MetricFrame for both parity gaps: fairlearn's demographic_parity_difference and
    # equalized_odds_difference compute exactly these differences, but build three frames (the cost of a cell).
    rates = MetricFrame(metrics={"selection": selection_rate, "tpr": true_positive_rate, "fpr": false_positive_rate},
                        y_true=y_true, y_pred=y_pred, sensitive_features=groups).difference()
    out["dp_difference"] = float(rates["selection"])
    out["eo_difference"] = float(max(rates["tpr"], rates["fpr"]))
    return out
