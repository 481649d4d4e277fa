"""The OPAL paper's protocol inside the suite: fixed splits, precomputed rows, recipes, sweeps, GLM."""

import numpy as np
import pandas as pd
import pytest

from bench import registry, runner
from bench.cell import CellSpec, augmentation_size, run_cell
from bench.classifiers import make_classifier
from bench.config import load_suite
from bench.oversampler import CellContext
from bench.splits import load_parts

SUITE = load_suite("opal-paper")
SPECS = {d.name: d for d in SUITE.datasets}


def parts(name, seed=1, sources=("gpt4",)):
    return load_parts(SPECS[name], seed, sources=sources)


def method(name, dataset, seed=1, n=None, **params):
    m = registry.create(name, params, random_state=0)
    m.bind(CellContext(SPECS[dataset], seed, 0, None))
    m.n_synthetic = n
    return m


def test_fixed_splits_load_as_the_protocol_describes():
    p = parts("diabetes-imbalanced")
    assert len(p["train"].X) == 100 and int(p["train"].y.sum()) == 10  # 10 minority rows (label 0 -> 1)
    assert len(p["test"].X) == 200 and len(p["gpt4"].X) == 200
    assert list(p["train"].X.columns) == ["preg", "plas", "pres", "skin", "insu", "mass", "pedi", "age"]
    # rows 1-20 alternate minority, majority
    assert p["train"].y.iloc[:20].tolist() == [1, 0] * 10
    s = parts("gender-spurious")
    cells = pd.crosstab(s["train"].y, s["train"].group)
    assert sorted(cells.to_numpy().ravel().tolist()) == [5, 5, 20, 20]


def test_precomputed_adds_the_first_rows_of_the_file_in_order():
    p = parts("craft-imbalanced", seed=6)
    X, y = p["train"].X, p["train"].y
    X_res, y_res = method("precomputed", "craft-imbalanced", seed=6, n=100, source="gpt4").fit_resample(X, y)
    pd.testing.assert_frame_equal(X_res.iloc[100:].reset_index(drop=True), p["gpt4"].X.iloc[:100])
    # the protocol notes that craft seed 6's last 5 rows of step 5 are label 1 (majority): added as given
    assert y_res.iloc[100:].tolist() == p["gpt4"].y.iloc[:100].tolist()
    assert (y_res.iloc[-5:] == 0).all() and (y_res.iloc[100:-5] == 1).all()


def test_paper_duplication_draws_from_the_first_rows_with_seed_0():
    p = parts("diabetes-imbalanced")
    X, y = p["train"].X, p["train"].y
    X_res, y_res = method("paper-duplication", "diabetes-imbalanced").fit_resample(X, y)
    idx = np.random.RandomState(0).randint(0, 10, 100)
    pd.testing.assert_frame_equal(X_res.iloc[100:].reset_index(drop=True), X.iloc[idx].reset_index(drop=True))
    assert int(y_res.iloc[100:].sum()) == 45  # the protocol: 45 label-0 (minority) / 55 label-1 rows


def test_paper_smote_pool():
    p = parts("diabetes-imbalanced")
    X, y = p["train"].X, p["train"].y
    m = method("paper-smote", "diabetes-imbalanced")
    X_res, y_res = m.fit_resample(X, y)
    new = X_res.iloc[100:]
    assert len(new) == 100 and (y_res.iloc[100:] == 1).all()
    # the pool holds the 10 real minority rows plus 90 SMOTE rows, shuffled
    real = {tuple(r) for r in X[y == 1].itertuples(index=False)}
    assert sum(tuple(r) in real for r in new.itertuples(index=False)) >= 10
    assert (new["preg"] % 1 == 0).all()  # whole-number columns are rounded
    again, _ = method("paper-smote", "diabetes-imbalanced").fit_resample(X, y)
    pd.testing.assert_frame_equal(X_res, again)
    # the shared shuffle stream: another seed's pool is shuffled differently
    p2 = parts("diabetes-imbalanced", seed=2)
    other, _ = method("paper-smote", "diabetes-imbalanced", seed=2).fit_resample(p2["train"].X, p2["train"].y)
    assert len(other) == 200


def test_augmentation_plan_and_sizes():
    cells = runner.plan(SUITE.select(datasets=["heart_failure-imbalanced"]))
    steps = {(c.method.label, c.step) for c in cells}
    assert ("none", 0.0) in steps and not any(label == "none" and s > 0 for label, s in steps)
    assert {s for label, s in steps if label == "paper-smote"} == {0.0, 0.2, 0.4, 0.6, 0.8, 1.0}
    assert {c.seed for c in cells} == {1, 2, 6, 8, 42} and {c.fold for c in cells} == {0}
    assert augmentation_size(0.2, "train_rows", pd.Series([0] * 40 + [1] * 10)) == 10  # m = N/5


def test_a_spurious_cell_reports_group_errors():
    spec = next(c for c in runner.plan(SUITE.select(datasets=["heart_failure-spurious"]))
                if c.method.label == "opal-gpt4" and c.step == 1.0 and c.classifier.name == "glm")
    out = run_cell(spec)
    assert out["rows_added"] == 50
    for k in ("worst_group_error", "group_gap", "minority_group_error", "majority_group_error", "error"):
        assert 0 <= out[k] <= 1
    assert out["worst_group_error"] >= max(out["minority_group_error"], out["majority_group_error"]) - 1e-12


@pytest.mark.filterwarnings("ignore")
def test_glm_is_statsmodels_irls_with_a_ones_column_first():
    import statsmodels.api as sm

    p = parts("diabetes-imbalanced", sources=())
    X, y = p["train"].X.drop(columns="age"), p["train"].y
    model = make_classifier("glm", 0).fit(X, y)
    design = np.column_stack([np.ones(len(X)), X.to_numpy(float)])
    ref = sm.GLM(y.to_numpy(float), design, family=sm.families.Binomial()).fit()
    assert np.allclose(model.predict_proba(X)[:, 1], ref.predict(design))


def test_cell_spec_key_depends_on_the_step():
    c = runner.plan(SUITE.select(datasets=["craft-imbalanced"]))[0]
    assert isinstance(c, CellSpec)
    import dataclasses

    assert c.key != dataclasses.replace(c, step=0.4).key
