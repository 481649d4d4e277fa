"""One contract test over every registered method (as imblearn's parametrize_with_checks does).

Methods that train a model get fast parameters from FAST so the whole contract stays quick.
"""

import numpy as np
import pandas as pd
import pytest

from bench import registry
from bench.oversampler import Oversampler

# A few epochs for generators; methods not listed use their defaults.
FAST: dict[str, dict] = {
    "ctgan": {"epochs": 3, "batch_size": 50},  # CTGAN: an even batch that is a multiple of pac (10)
    "tvae": {"epochs": 3, "batch_size": 50},
    # OPAL with a tiny GPT-2 built in-process (an untrained *test model*), fully fine-tuned on the rows for a few
    # seconds so that it writes parsable records; no disk cache, so determinism comes from the seeds alone.
    # The categorical-only table has few distinct rows, so many samples are copies (dropped): a larger call budget.
    "opal": {"model": "tiny-test", "finetune": "full", "finetune_epochs": 12, "threads": 1, "cache": False,
             "max_calls": 300},
}
# Pool methods (rows from a file or a fixed recipe) add rows as given; tests/test_opal_paper.py covers them.
METHODS = sorted(m for m in registry.available() if registry.resolve(m).supports_group_aware)


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
    # determinism under a seed
    X_again, y_again = make(name, random_state=1).fit_resample(X, y)
    pd.testing.assert_frame_equal(X_res, X_again)
    pd.testing.assert_series_equal(y_res, y_again)


@pytest.mark.parametrize("name", [m for m in METHODS if m != "none"])
def test_group_aware_grows_every_cell(name):
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
