"""The OPAL paper's protocol inside the suite: fixed splits, precomputed rows, recipes, sweeps, GLM."""

import functools
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from bench import registry, runner
from bench.cell import CellSpec, augmentation_size, run_cell
from bench.classifiers import make_classifier
from bench.config import load_suite
from bench.data import default_data_dir
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
    X_res, y_res = method("paper-smote", "diabetes-imbalanced").fit_resample(X, y)
    new = X_res.iloc[100:]
    assert len(new) == 100 and (y_res.iloc[100:] == 1).all()
    # the pool holds the 10 real minority rows plus 90 SMOTE rows, shuffled
    real = {tuple(r) for r in X[y == 1].itertuples(index=False)}
    assert sum(tuple(r) in real for r in new.itertuples(index=False)) >= 10
    assert (new["preg"] % 1 == 0).all()  # whole-number columns are rounded
    again, _ = method("paper-smote", "diabetes-imbalanced").fit_resample(X, y)
    pd.testing.assert_frame_equal(X_res, again)


REFERENCE = default_data_dir() / "opal-paper" / "reference-pools"
POOLS = [(d, m, s) for d in SPECS for m in ("paper-smote", "paper-duplication")
         for s in SPECS[d].splits["seeds"]]


def reference_pool(dataset, recipe, seed):
    """The original code's rows: ``<data>/<data>_see_small_raw<N>_<task>_{smote,duplicate}/..<seed>.csv``."""
    folder = Path(SPECS[dataset].splits["train"]).parent
    kind = {"paper-smote": "smote", "paper-duplication": "duplicate"}[recipe]
    folder = REFERENCE / folder.parent.name / folder.name.replace("_focus", f"_{kind}")
    path = folder / f"train_generate_colsbase_rand{seed}.csv"
    return pd.read_csv(path, float_precision="round_trip")  # pandas' default parser can be 1 ulp off


@functools.cache
def training_rows(dataset, seed):
    return parts(dataset, seed, sources=())["train"]


@pytest.mark.parametrize("dataset,recipe,seed", POOLS, ids=["-".join(map(str, p)) for p in POOLS])
def test_paper_pools_match_the_original_codes_rows(dataset, recipe, seed):
    spec = SPECS[dataset]
    train = training_rows(dataset, seed)
    X_res, y_res = method(recipe, dataset, seed).fit_resample(train.X, train.y)
    ref = reference_pool(dataset, recipe, seed)
    new = X_res.iloc[len(train.X):].reset_index(drop=True)
    assert list(new.columns) == [c for c in ref.columns if c != spec.target] and len(new) == len(ref)
    # row for row: exact here (70 of 70 files); 1e-9 leaves room for another BLAS's last bit
    expected = ref.drop(columns=spec.target).to_numpy(float)
    np.testing.assert_allclose(new.to_numpy(float), expected, rtol=0, atol=1e-9)
    minority = ref[spec.target] == float(spec.minority)  # the suite codes the file's minority label as 1
    assert y_res.iloc[len(train.X):].tolist() == minority.astype(int).tolist()


def test_neighbours_keep_sklearn_132s_order_of_ties():
    # craft seed 2: minority rows 0 and 8 are both at squared distance 5.89 from row 1; scikit-learn 1.3.2
    # (run on these rows) returned [1, 8, 0, 2, 9, 6], and the paper's SMOTE rows depend on that order.
    from methods._sklearn132_neighbors import Sklearn132Neighbors

    train = training_rows("craft-imbalanced", 2)
    rows = train.X[train.y == 1].to_numpy()
    order = Sklearn132Neighbors(n_neighbors=6).fit(rows).kneighbors(rows, return_distance=False)
    assert order[1].tolist() == [1, 8, 0, 2, 9, 6]


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


def test_the_group_gap_comes_from_a_model_with_the_ones_column_last():
    from bench.metrics import group_metrics

    spec = next(c for c in runner.plan(SUITE.select(datasets=["diabetes-spurious"]))
                if c.method.label == "opal-gpt4" and c.seed == 1 and c.step == 0.4
                and c.classifier.name == "random_forest")
    out = run_cell(spec)
    accuracies = [v for k, v in out.items() if k.startswith("accuracy[")]
    assert out["worst_group_error"] == 1 - min(accuracies)  # worst: the main model, ones column first
    p = parts("diabetes-spurious", seed=1)
    X = pd.concat([p["train"].X, p["gpt4"].X.iloc[:40]], ignore_index=True)
    y = pd.concat([p["train"].y, p["gpt4"].y.iloc[:40]], ignore_index=True)
    params = {**spec.classifier.params, **spec.dataset.classifier_params["random_forest"]}
    assert params.pop("group_gap_ones_column") == "last"
    gap = {}
    for where in ("first", "last"):
        model = make_classifier("random_forest", 1, {**params, "ones_column": where}).fit(X, y.to_numpy())
        gap[where] = group_metrics(p["test"].y, model.predict(p["test"].X), p["test"].group)["group_gap"]
    assert gap["first"] == max(accuracies) - min(accuracies)
    assert out["group_gap"] == gap["last"] != gap["first"]  # here the forest's feature draws change the gap


def test_minority_label_0_fits_the_files_coding():
    # two identical rows, one per class: every tree votes 1/2, and a tied vote goes to the first class
    X, y = pd.DataFrame({"a": [0.0, 0.0]}), np.array([0, 1])
    params = {"n_estimators": 2, "bootstrap": False}
    plain = make_classifier("random_forest", 0, params).fit(X, y)
    coded = make_classifier("random_forest", 0, {**params, "minority_label": 0}).fit(X, y)
    assert plain.predict(X).tolist() == [0, 0]  # first class: the suite's majority
    assert coded.predict(X).tolist() == [1, 1]  # first class: the file's label 0, the minority
    assert np.allclose(coded.predict_proba(X), [[0.5, 0.5]] * 2) and list(coded.classes_) == [0, 1]
    with pytest.raises(ValueError, match="minority_label must be 0 or 1"):
        make_classifier("glm", 0, {"minority_label": 2})
