"""References that are not oversampling: balanced class weights and a decision threshold tuned on the training fold."""

import numpy as np
import pandas as pd
import pytest

from bench import registry, runner
from bench.classifiers import (CLASSIFIERS, Thresholded, balanced_weights, best_threshold, fit_reference,
                               fit_weighted, make_classifier, positive_scores)
from bench.config import REFERENCES, load_suite
from bench.executors import InlineExecutor
from bench.store import ResultsStore


def imbalanced(n=200, seed=0):
    """Overlapping classes, 15 % minority, a numeric and a categorical column."""
    rng = np.random.default_rng(seed)
    y = (rng.random(n) < 0.15).astype(int)
    X = pd.DataFrame({"x1": rng.normal(size=n) + y, "x2": rng.normal(size=n),
                      "kind": pd.Categorical(rng.choice(["p", "q"], size=n))})
    return X, y


@pytest.mark.parametrize("name", sorted(CLASSIFIERS))
def test_every_classifier_takes_balanced_weights(name):
    X, y = imbalanced()
    w = balanced_weights(y)
    assert w[y == 1].sum() == pytest.approx(w[y == 0].sum())  # each class weighs the same in the loss
    plain = make_classifier(name, 0).fit(X, y)
    weighted = fit_weighted(make_classifier(name, 0), X, y, w)
    # upweighting the minority must raise its predicted probability on new rows (here by 1.4x to 2.7x):
    # the weights reached the estimator inside its pipeline
    X_new, _ = imbalanced(seed=1)
    assert positive_scores(weighted, X_new).mean() > 1.2 * positive_scores(plain, X_new).mean()


def balanced_accuracy(y, pred):
    return (np.mean(pred[y == 1] == 1) + np.mean(pred[y == 0] == 0)) / 2


def test_best_threshold_maximises_balanced_accuracy():
    rng = np.random.default_rng(1)
    y = (rng.random(300) < 0.2).astype(int)
    scores = np.round(rng.random(300) * 0.6 + 0.3 * y, 2)  # overlapping, with ties
    cut = best_threshold(y, scores)
    best = max(balanced_accuracy(y, (scores >= c).astype(int)) for c in np.unique(scores))
    assert balanced_accuracy(y, (scores >= cut).astype(int)) == pytest.approx(best)
    assert cut not in set(scores)  # halfway between two scores, not on one
    # separable scores: every minority row above the cut, every majority row below
    assert best_threshold(np.array([0, 0, 1, 1]), np.array([0.1, 0.2, 0.7, 0.9])) == pytest.approx(0.45)


def test_thresholded_predicts_by_its_cut_and_keeps_the_scores():
    X, y = imbalanced()
    model = make_classifier("logreg", 0).fit(X, y)
    cut = Thresholded(model, 0.2)
    p = positive_scores(model, X)
    assert (cut.predict(X) == (p >= 0.2).astype(int)).all()
    assert np.array_equal(positive_scores(cut, X), p)
    assert cut.predict(X).sum() > model.predict(X).sum()  # a cut below 0.5 predicts more minority rows


def test_threshold_is_chosen_on_an_inner_split_and_seeded():
    X, y = imbalanced()

    def make():
        return make_classifier("logreg", 0)

    a, report = fit_reference("threshold", make, X, y, seed=3)
    again, _ = fit_reference("threshold", make, X, y, seed=3)
    assert a.threshold == again.threshold and report["validation_rows"] == 50
    # the cut is the best one on the inner validation rows (seeded, stratified), reproduced here by hand
    from sklearn.model_selection import train_test_split

    X_in, X_val, y_in, y_val = train_test_split(X, y, test_size=0.25, stratify=y, random_state=3)
    assert a.threshold == best_threshold(y_val, positive_scores(make().fit(X_in, y_in), X_val))
    # the final model is refitted on the whole training fold: the scores of a plain fit
    assert np.array_equal(positive_scores(a, X), positive_scores(make().fit(X, y), X))
    with pytest.raises(ValueError, match="validation_size must be in"):
        fit_reference("threshold", make, X, y, seed=3, validation_size=1.0)
    with pytest.raises(ValueError, match="unknown reference 'nope'"):
        fit_reference("nope", make, X, y, seed=3)


def test_references_are_markers_that_keep_the_rows():
    X, y = imbalanced()
    for name in REFERENCES:
        method = registry.create(name, random_state=0)
        X_res, y_res = method.fit_resample(X, y)
        pd.testing.assert_frame_equal(X_res, X)
        assert (y_res.to_numpy() == y).all() and method.reference and not method.supports_group_aware


def test_every_suite_gets_the_references_but_a_sweep(toy_suite):
    suite = load_suite(str(toy_suite(["smote"])))
    labels = [m.label for m in suite.methods]
    assert {"none", "duplication", "class-weights", "threshold", "smote"} == set(labels)
    listed = load_suite(str(toy_suite(["smote", "threshold: {validation_size: 0.3}", "class-weights"])))
    assert [m.label for m in listed.methods].count("class-weights") == 1  # listed plainly: not added again
    assert "threshold" in [m.label for m in listed.methods]  # the variant has its own label
    sweep = load_suite(str(toy_suite(["smote"], augmentation="{steps: [0, 1]}")))
    assert not {"class-weights", "threshold"} & {m.label for m in sweep.methods}


def test_reference_keys_say_what_they_do(toy_suite):
    cells = runner.plan(load_suite(str(toy_suite(["smote"]))))
    by_method = {}
    for c in cells:
        by_method.setdefault(c.method.name, set()).add(c.key)
    assert all(len(keys) == 3 for keys in by_method.values())
    assert len(set().union(*by_method.values())) == 3 * len(by_method)  # no two cells share a key
    ident = {c.method.name: c._ident() for c in cells if c.fold == 0}
    assert ident["class-weights"]["reference"] == "class_weights"
    assert ident["threshold"]["reference"] == "threshold"
    assert "reference" not in ident["none"] and "reference" not in ident["smote"]  # other keys are unchanged


def test_reference_cells_end_to_end(toy_suite, tmp_path):
    path = toy_suite(["threshold: {validation_size: 0.5}"], group_aware="true", classifiers="[logreg, xgboost]")
    suite = load_suite(str(path)).select(methods=["none", "class-weights", "threshold",
                                                  "threshold(validation_size=0.5)"])
    store = ResultsStore(tmp_path / "r.sqlite")
    summary = runner.run(suite, store, InlineExecutor(), data_dir=path.parent, show_progress=False)
    assert summary.ok == 24 and summary.failed == 0
    cells = store.frame("toy")
    refs = cells[cells["method_name"] != "none"]
    assert (cells["rows_added"] == 0).all() and (refs["group_aware"] == 0).all()  # a group-aware suite, too
    thr = cells[cells["method_name"] == "threshold"]
    assert thr["method.threshold"].between(0, 1).all()
    assert set(thr["method.validation_rows"]) == {20.0, 40.0}  # 80 training rows: 25 % and 50 %
    wide = {m: cells[cells["method"] == m].set_index(["classifier", "fold"]) for m in set(cells["method"])}
    # a threshold leaves the scores alone: AUPRC and ROC-AUC equal none's, cell for cell
    for m in ("threshold", "threshold(validation_size=0.5)"):
        for metric in ("auprc", "roc_auc"):
            assert wide[m][metric].equals(wide["none"][metric])
    # while the predictions it makes are its own, and weighting the classes finds more minority rows
    assert not wide["threshold"]["minority_recall"].equals(wide["none"]["minority_recall"])
    assert wide["class-weights"]["minority_recall"].mean() > wide["none"]["minority_recall"].mean()
