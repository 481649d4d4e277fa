"""Metrics against values computed by hand on tiny arrays."""

import math

import numpy as np
import pytest

from bench.metrics import METRICS, classification_metrics, group_metrics

# 4 minority (1), 6 majority (0). Predictions: 3 of 4 minority right, 5 of 6 majority right.
Y = [1, 1, 1, 1, 0, 0, 0, 0, 0, 0]
P = [1, 1, 1, 0, 0, 0, 0, 0, 0, 1]
S = [0.9, 0.8, 0.7, 0.4, 0.1, 0.2, 0.3, 0.35, 0.05, 0.6]


def test_classification_metrics_by_hand():
    m = classification_metrics(Y, P, S)
    assert m["minority_recall"] == pytest.approx(3 / 4)
    assert m["majority_recall"] == pytest.approx(5 / 6)
    assert m["balanced_accuracy"] == pytest.approx((3 / 4 + 5 / 6) / 2)
    assert m["error"] == pytest.approx(2 / 10)
    precision = 3 / 4  # 3 true positives out of 4 predicted positives
    assert m["f1_minority"] == pytest.approx(2 * precision * 0.75 / (precision + 0.75))
    assert m["g_mean"] == pytest.approx(math.sqrt(3 / 4 * 5 / 6))
    tp, tn, fp, fn = 3, 5, 1, 1
    mcc = (tp * tn - fp * fn) / math.sqrt((tp + fp) * (tp + fn) * (tn + fp) * (tn + fn))
    assert m["mcc"] == pytest.approx(mcc)
    # ROC-AUC: of the 24 (minority, majority) pairs, only 0.4 < 0.6 is ordered wrongly -> 23/24.
    assert m["roc_auc"] == pytest.approx(23 / 24)
    # Ranked by score: 1,1,1,0(0.6),1(0.4): precision at the 4 positives = 1,1,1,4/5 -> AP = (3 + 0.8) / 4.
    assert m["auprc"] == pytest.approx((3 + 0.8) / 4)


def test_group_metrics_by_hand():
    groups = ["a", "a", "b", "b", "a", "a", "a", "b", "b", "b"]
    m = group_metrics(Y, P, groups)
    # cells: (1,a) rows 0,1 -> 2/2; (1,b) rows 2,3 -> 1/2; (0,a) rows 4-6 -> 3/3; (0,b) rows 7-9 -> 2/3
    assert m["accuracy[y=1,g=a]"] == 1.0
    assert m["accuracy[y=1,g=b]"] == 0.5
    assert m["accuracy[y=0,g=b]"] == pytest.approx(2 / 3)
    assert m["worst_group_accuracy"] == 0.5 and m["worst_group_error"] == 0.5
    assert m["group_gap"] == pytest.approx(1.0 - 0.5)
    # selection rates: a predicts 1 on 2 of 5 rows, b on 2 of 5 -> no demographic-parity gap
    assert m["dp_difference"] == pytest.approx(0.0)
    # TPR a = 1, b = 1/2; FPR a = 0, b = 1/3 -> equalized odds difference = max(0.5, 1/3)
    assert m["eo_difference"] == pytest.approx(0.5)


def test_every_metric_declares_a_direction():
    assert all(isinstance(m.higher_is_better, bool) for m in METRICS.values())
    assert not METRICS["error"].higher_is_better and METRICS["minority_recall"].higher_is_better


def test_minority_and_majority_group_errors_pool_rows():
    groups = ["a", "a", "b", "b", "a", "a", "a", "b", "b", "b"]
    # training: (1,a) and (0,b) are large, (1,b) and (0,a) small -> the spurious-correlation layout
    y_train = [1] * 9 + [1] + [0] + [0] * 9
    g_train = ["a"] * 9 + ["b"] + ["a"] + ["b"] * 9
    m = group_metrics(Y, P, groups, train_cells=(y_train, g_train))
    # minority cells in test: (1,b) rows 2,3 (1 wrong) and (0,a) rows 4-6 (0 wrong) -> pooled 1/5
    assert m["minority_group_error"] == pytest.approx(1 / 5)
    # majority cells: (1,a) rows 0,1 (0 wrong) and (0,b) rows 7-9 (1 wrong) -> pooled 1/5
    assert m["majority_group_error"] == pytest.approx(1 / 5)


def test_parity_gaps_equal_fairlearns_own_functions():
    from fairlearn.metrics import demographic_parity_difference, equalized_odds_difference

    rng = np.random.default_rng(0)
    y, p, g = rng.integers(0, 2, 200), rng.integers(0, 2, 200), rng.choice(["a", "b", "c"], 200)
    m = group_metrics(y, p, g)
    assert m["dp_difference"] == pytest.approx(demographic_parity_difference(y, p, sensitive_features=g))
    assert m["eo_difference"] == pytest.approx(equalized_odds_difference(y, p, sensitive_features=g))


def test_rows_without_a_group_count_in_no_group_metric():
    # sick has 150 rows with no sex: the group metrics are those of the rows that have one
    groups = ["a", "a", "b", "b", "a", "a", "a", "b", "b", "b"]
    y_train, g_train = [1, 1, 0, 0, 1, 0], ["a", "b", "a", "b", np.nan, None]
    m = group_metrics(Y, P, groups, train_cells=(y_train, g_train))
    # two more test rows, both wrong, whose group is unknown
    m_nan = group_metrics(Y + [1, 0], P + [0, 1], groups + [np.nan, None], train_cells=(y_train, g_train))
    assert m_nan == m and not any("nan" in k or "None" in k for k in m_nan)
