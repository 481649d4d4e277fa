"""One contract test over every registered method (as imblearn's parametrize_with_checks does).

Methods that train a model get fast parameters from FAST so the whole contract stays quick. The 91 members of
the smote-variants family run the same checks in their own tests at the end, so that the members that cannot
pass are listed with their reason (methods/smote_variants_names.py, CONTRACT_FAILURES) instead of dropped.
"""

import re

import numpy as np
import pandas as pd
import pytest

from bench import registry
from bench.oversampler import Oversampler
from methods.smote_variants_names import CLASSES, CONTRACT_FAILURES

# A few epochs for generators; methods not listed use their defaults.
FAST: dict[str, dict] = {
    "ctgan": {"epochs": 3, "batch_size": 50},  # CTGAN: an even batch that is a multiple of pac (10)
    "tvae": {"epochs": 3, "batch_size": 50},
    # OPAL with a tiny GPT-2 built in-process (an untrained *test model*), fully fine-tuned on the rows for a few
    # seconds so that it writes parsable records; no disk cache, so determinism comes from the seeds alone.
    # The categorical-only table has few distinct rows, so many samples are copies (dropped): a larger call budget.
    "opal": {"model": "tiny-test", "finetune": "full", "finetune_epochs": 12, "threads": 1, "cache": False,
             "max_calls": 300},
    # 'auto' asks each cluster for more than its share of minority rows: the categorical-only table has none
    "kmeans-smote": {"cluster_balance_threshold": 0.1},
    # smote-variants' search-based members: fewer iterations and particles (their defaults take minutes here)
    "sv-amsco": {"n_pop": 2, "n_iter": 2},
    "sv-dsrbf": {"n_pop": 4, "n_init_pop": 8, "n_iter": 2, "n_sampling_epoch": 1},
    "sv-smote-pso": {"n_pop": 3, "num_it": 2},
    "sv-ipade-id": {"OT": 2, "max_it": 2},
    "sv-smote-psobat": {"maxit": 1},
    "sv-gasmote": {"n_pop": 4, "Ge": 2},
    "sv-dsmote": {"n_step": 5},
    "sv-somo": {"n_iter": 10},
    "sv-smotewb": {"n_iters": 10},
}
FAMILY = sorted(m for m, f in registry.families().items() if f == "smote-variants")
# Pool methods (rows from a file or a fixed recipe) add rows as given; tests/test_opal_paper.py covers them.
METHODS = sorted(m for m in registry.available()
                 if m not in FAMILY and registry.resolve(m).supports_group_aware)


def table(n_major=40, n_minor=12, kinds=("num", "cat"), seed=0):
    """A small typed table: numeric and/or categorical columns, minority label 1."""
    rng = np.random.default_rng(seed)
    n = n_major + n_minor
    y = pd.Series([0] * n_major + [1] * n_minor, name="target")
    cols = {}
    if "num" in kinds:
        cols["x1"] = rng.normal(size=n) + y.to_numpy() * 2
        cols["x2"] = rng.uniform(0, 10, size=n)
        cols["count"] = rng.integers(0, 5, size=n)  # integer dtype must stay integer
    if "cat" in kinds:
        cols["colour"] = pd.Categorical(rng.choice(["red", "green", "blue"], size=n))
        cols["size"] = pd.Categorical(rng.choice(["S", "L"], size=n))
    X = pd.DataFrame(cols)
    X["grp"] = pd.Categorical(np.where(np.arange(n) % 3 == 0, "a", "b"))
    return X, y


def make(name, **kw):
    return registry.create(name, FAST.get(name, {}), **kw)


@pytest.mark.parametrize("name", METHODS)
@pytest.mark.parametrize("kinds", [("num", "cat"), ("num",), ("cat",)], ids=["mixed", "numeric", "categorical"])
def test_contract(name, kinds):
    check_contract(name, kinds)


def check_contract(name, kinds):
    """Every check of the contract on one method and one table; an AssertionError (or the method's own
    error) says which failed."""
    X, y = table(kinds=kinds)
    method = make(name, random_state=1)
    assert isinstance(method, Oversampler)
    X_res, y_res = method.fit_resample(X, y)

    # pandas in, pandas out, same schema and dtypes (categories included)
    assert isinstance(X_res, pd.DataFrame) and isinstance(y_res, pd.Series)
    assert list(X_res.columns) == list(X.columns)
    assert X_res.dtypes.to_dict() == X.dtypes.to_dict()
    assert len(X_res) == len(y_res) and not X_res.isna().any().any()
    # the original rows come first, untouched
    pd.testing.assert_frame_equal(X_res.iloc[: len(X)], X)
    assert (y_res.iloc[: len(y)].to_numpy() == y.to_numpy()).all()
    # the minority grows to the majority's size (ADASYN only approximately), the majority does not change
    counts = y_res.value_counts()
    assert counts[0] == 40
    if name == "none":
        assert counts[1] == 12 and method.n_generated_ == 0
    elif method.exact_counts:
        assert counts[1] == 40 and method.n_generated_ == 28
    else:
        assert counts[1] > 12
    if name in FAMILY:  # the adapter keeps a seeded subset when a member makes more than asked
        assert method.n_generated_ <= 28
    # determinism under a seed
    X_again, y_again = make(name, random_state=1).fit_resample(X, y)
    pd.testing.assert_frame_equal(X_res, X_again)
    pd.testing.assert_series_equal(y_res, y_again)


@pytest.mark.parametrize("name", [m for m in METHODS if m != "none"])
def test_group_aware_grows_every_cell(name):
    check_group_aware(name)


def check_group_aware(name):
    X, y = table(n_major=60, n_minor=24)
    X_res, y_res = make(name, random_state=0, group_column="grp").fit_resample(X, y)
    cells = pd.crosstab(y_res, X_res["grp"])
    largest = pd.crosstab(y, X["grp"]).to_numpy().max()
    if make(name).exact_counts:
        assert (cells.to_numpy() == largest).all(), cells
    else:
        assert (cells.to_numpy() >= pd.crosstab(y, X["grp"]).to_numpy()).all()
    assert set(X_res["grp"].cat.categories) == {"a", "b"}


def test_different_seeds_give_different_rows():
    X, y = table(kinds=("num",))
    a, _ = make("smote", random_state=1).fit_resample(X, y)
    b, _ = make("smote", random_state=2).fit_resample(X, y)
    assert not a.iloc[len(X):].reset_index(drop=True).equals(b.iloc[len(X):].reset_index(drop=True))


def test_kmeans_smote_auto_threshold_falls_back_to_the_cells_share():
    # Eight tight blobs, each a quarter minority: imblearn's "auto" asks a cluster for half the share the minority
    # must gain (0.25 of all rows here), which none reaches (0.24 < 0.25); the fallback asks for its share overall.
    rng = np.random.default_rng(0)
    centres = np.repeat(np.arange(8) * 100.0, 50)
    X = pd.DataFrame({"a": centres + rng.normal(size=400), "b": rng.normal(size=400)})
    y = pd.Series(np.tile([1] * 12 + [0] * 38, 8))
    sampler = registry.create("kmeans-smote", random_state=0)
    new_X, new_y = sampler.fit_resample(X, y)
    assert (new_y == 1).sum() == (new_y == 0).sum() == 304
    with pytest.raises(ValueError, match="no cluster where a grown cell's share of rows exceeds"):
        registry.create("kmeans-smote", {"cluster_balance_threshold": 0.5}, random_state=0).fit_resample(X, y)


def test_svm_smote_fits_its_svm_on_a_stratified_sample():
    from methods.svm_smote import SampledSVC

    rng = np.random.default_rng(0)
    X = rng.normal(size=(1000, 3))
    y = (X[:, 0] + rng.normal(size=1000) > 1.5).astype(int)
    svc = SampledSVC(max_rows=200, random_state=0).fit(X, y)
    assert np.array_equal(svc.support_vectors_, X[svc.support_])  # indexes the rows given, not the sample
    assert svc.n_support_.sum() < 200 and set(y[svc.support_]) == {0, 1}


def test_smote_variant_sees_a_stratified_sample_of_a_large_fold():
    X, y = table(n_major=300, n_minor=60, kinds=("num", "cat"))
    m = make("sv-prowsyn", max_rows=120, random_state=0)
    new_X, new_y = m.fit_resample(X, y)
    assert m.report_["rows_sampled"] == 120  # 20 of the cell, 100 of the rest: the shares of the fold
    assert (new_y == 1).sum() == (new_y == 0).sum() == 300  # still every row the fold needs
    whole = make("sv-prowsyn", random_state=0)
    whole.fit_resample(X, y)
    assert "rows_sampled" not in whole.report_  # 360 rows: under the default of 10,000, every row is given


def test_smote_variant_follows_the_columns():
    for kinds, variant in [(("num",), "SMOTE"), (("num", "cat"), "SMOTENC"), (("cat",), "SMOTEN")]:
        X, y = table(kinds=kinds)
        m = make("smote", random_state=0)
        m.fit_resample(X.drop(columns="grp") if kinds == ("num",) else X, y)
        assert m.report_["variant"] == variant


def test_bad_input_is_refused_clearly():
    X, y = table()
    with pytest.raises(ValueError, match="single class"):
        make("smote").fit_resample(X, pd.Series([0] * len(X)))
    X_nan = X.copy()
    X_nan.loc[3, "x1"] = np.nan
    with pytest.raises(ValueError, match=r"missing values in columns \['x1'\]"):
        make("duplication").fit_resample(X_nan, y)
    tiny_y = pd.Series([0] * (len(X) - 3) + [1] * 3)
    with pytest.raises(ValueError, match="k_neighbors"):
        make("smote").fit_resample(X, tiny_y)


def test_drops_into_an_imblearn_pipeline():
    from imblearn.pipeline import Pipeline
    from sklearn.tree import DecisionTreeClassifier

    X, y = table(kinds=("num",))
    X = X.drop(columns="grp")
    pipe = Pipeline([("oversample", make("smote", random_state=0)), ("clf", DecisionTreeClassifier(random_state=0))])
    pipe.fit(X, y)
    assert pipe.predict(X).shape == (len(X),)


def test_unknown_method_suggests_a_name():
    with pytest.raises(registry.UnknownMethodError, match="Did you mean 'smote'"):
        registry.resolve("smot")


# -- the smote-variants family -------------------------------------------------------------------------------
def test_family_table_is_the_installed_library():
    import smote_variants

    assert list(CLASSES) == [c.__name__ for c in smote_variants.get_all_oversamplers()]
    assert set(CONTRACT_FAILURES) <= set(FAMILY)


def expect_error(error, check, *args):
    """Run a check that must pass (``error`` None) or fail with an error matching ``error``."""
    if error is None:
        check(*args)
        return
    with pytest.raises(Exception) as failure:  # the method's own error type, or an AssertionError
        check(*args)
    assert re.search(error, f"{type(failure.value).__name__}: {failure.value}"), failure.value


@pytest.mark.parametrize("name", FAMILY)
def test_family_contract(name):
    """Every member on the mixed table (numeric columns standardised, categorical one-hot, then decoded);
    members listed in CONTRACT_FAILURES must fail, with their recorded error."""
    expect_error(CONTRACT_FAILURES.get(name, (None, None))[1], check_contract, name, ("num", "cat"))


# The numeric-only and categorical-only tables (slow: the family twice more). Where a member's outcome there
# differs from the mixed table's (CONTRACT_FAILURES), the outcome is recorded here: None = passes, else its
# error. Most are members giving up on 52 rows, e.g. too few categorical-only minority rows for their filters.
OTHER_TABLES: dict[tuple[str, str], str | None] = {
    ("sv-amsco", "num"): None,
    ("sv-vis-rst", "num"): None,
    ("sv-adg", "cat"): r"sv-adg returned none of the grown cell's",
    ("sv-amsco", "cat"): None,
    ("sv-asmobd", "cat"): r"sv-asmobd made no new rows .*not enough not-noise minority sample",
    ("sv-gazzah", "cat"): None,
    ("sv-ipade-id", "cat"): r"sv-ipade-id made no new rows .*No minority samples in reduced dataset",
    ("sv-kerneladasyn", "cat"): None,
    ("sv-neater", "cat"): r"sv-neater made no new rows",
    ("sv-nras", "cat"): r"sv-nras made no new rows .*most minority samples indentified as noise",
    ("sv-smote-enn", "cat"): None,
    ("sv-somo", "cat"): r"sv-somo made no new rows .*all clusters filtered",
    ("sv-spy", "cat"): r"sv-spy made no new rows",
    ("sv-symprod", "cat"): r"sv-symprod made no new rows .*Not enough samples for m_neighbors 7",
    ("sv-v-synth", "cat"): r"sv-v-synth made no new rows .*No candidate face generators found",
}


@pytest.mark.slow
@pytest.mark.parametrize("name", FAMILY)
@pytest.mark.parametrize("kinds", [("num",), ("cat",)], ids=["numeric", "categorical"])
def test_family_contract_other_tables(name, kinds):
    key = (name, kinds[0])
    error = OTHER_TABLES[key] if key in OTHER_TABLES else CONTRACT_FAILURES.get(name, (None, None))[1]
    expect_error(error, check_contract, name, kinds)


def test_family_seeds_pass_through_and_rows_stay_valid():
    X, y = table(n_major=60, n_minor=15)
    a, _ = make("sv-prowsyn", random_state=1).fit_resample(X, y)
    b, _ = make("sv-prowsyn", random_state=2).fit_resample(X, y)
    assert not a.iloc[len(X):].reset_index(drop=True).equals(b.iloc[len(X):].reset_index(drop=True))
    new = a.iloc[len(X):]
    for c in ("colour", "size", "grp"):  # one-hot blocks decode to a level of the column, never a mix
        assert set(new[c]) <= set(X[c].cat.categories)
    assert (new["count"] == new["count"].round()).all()  # integer columns stay whole numbers
    assert new["x2"].between(X["x2"].min() - 1e-9, X["x2"].max() + 1e-9).all()  # interpolation stays inside


def test_a_library_radius_is_sized_from_the_data():
    """SMOBD's OPTICS radius (max_eps, an absolute length in the library) defaults to "auto": the median
    distance to the min_samples-th neighbour in the grown cell, so a wide one-hot table still has neighbours."""
    X, y = table(n_major=60, n_minor=15)
    m = make("sv-smobd", random_state=1)
    assert m.max_eps == "auto"
    X_res, _ = m.fit_resample(X, y)
    assert len(X_res) > len(X) and m.report_["max_eps"] > 1.0  # the library's 1.0 found no neighbour here
    fixed = make("sv-smobd", max_eps=1.0, random_state=1)
    with pytest.raises(RuntimeError, match=r"sv-smobd made no new rows .*factor_1 or factor_2 is not suitable"):
        fixed.fit_resample(X, y)
    assert "max_eps" not in fixed.report_


def test_family_group_aware():
    check_group_aware("sv-prowsyn")
