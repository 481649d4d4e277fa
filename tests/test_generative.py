"""The generative base, CTGAN and TVAE, and the synthetic-data quality figures.

Generators train for a few epochs on small tables: these tests check behaviour (counts, labels, dtypes,
seeds, tiny cells), not how good the rows are.
"""

import numpy as np
import pandas as pd
import pytest

from bench.generative import CELL, GenerativeOversampler
from bench.quality import column_pair_trends, column_shapes, synthetic_quality

# small networks and batches so that a few hundred training steps take a second or two
TINY_CTGAN = {"batch_size": 20, "embedding_dim": 8, "generator_dim": (32,), "discriminator_dim": (32,)}
TINY_TVAE = {"batch_size": 20, "embedding_dim": 8, "compress_dims": (32,), "decompress_dims": (32,)}


def mixed(n_major=40, n_minor=12, seed=0):
    """Numeric, integer and categorical columns; the minority (label 1) sits at x ~ +4 and is mostly 'red'."""
    rng = np.random.default_rng(seed)
    y = pd.Series([0] * n_major + [1] * n_minor, name="target")
    minor = y.to_numpy() == 1
    X = pd.DataFrame({
        "x": rng.normal(size=len(y)) + 4 * minor,
        "count": rng.integers(0, 5, size=len(y)),
        "colour": pd.Categorical(np.where(minor, "red", rng.choice(["green", "blue"], size=len(y))),
                                 categories=["blue", "green", "red", "unused"]),
    })
    return X, y


def ctgan(epochs=3, **kw):
    from methods.ctgan import Ctgan

    return Ctgan(epochs=epochs, **{**TINY_CTGAN, **kw})


def tvae(epochs=3, **kw):
    from methods.tvae import Tvae

    return Tvae(epochs=epochs, **{**TINY_TVAE, **kw})


@pytest.fixture(autouse=True, scope="module")
def one_torch_thread():
    """Tiny networks gain nothing from more threads, and spinning threads crawl on a busy 2-core machine."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def new_rows(X_res, X):
    return X_res.iloc[len(X):].reset_index(drop=True)


# -- the base, with a scripted generator (no training) -------------------------------------------------------
class Scripted(GenerativeOversampler):
    """Returns rows of every cell with the CELL column, some incomplete or with an unknown level."""

    def __init__(self, bad: bool = True, cells: tuple = (0, 1), *, strategy="conditional", measure_quality=True,
                 ratio=1.0, group_column=None, random_state=None):
        super().__init__(strategy=strategy, measure_quality=measure_quality, ratio=ratio,
                         group_column=group_column, random_state=random_state)
        self.bad = bad
        self.cells = cells

    def _fit(self, X, condition_column):
        self.rows_ = X.drop(columns=[CELL], errors="ignore").reset_index(drop=True)
        self.rng_ = np.random.default_rng(self.seed(self.fit_index_))

    def _sample(self, n, condition):
        rows = self.rows_.iloc[self.rng_.integers(0, len(self.rows_), size=n)].reset_index(drop=True)
        rows = rows.astype({c: object for c in rows.columns if isinstance(rows[c].dtype, pd.CategoricalDtype)})
        rows[CELL] = self.rng_.choice(self.cells, size=n)
        rows["count"] = rows[CELL]  # marks which cell the generator meant each row for
        if self.bad:
            rows.loc[::5, "x"] = np.nan
            rows.loc[1::7, "colour"] = "purple"
        return rows


def test_base_keeps_only_complete_rows_of_the_requested_cell_and_exactly_the_count():
    X, y = mixed()
    m = Scripted(random_state=0)
    X_res, y_res = m.fit_resample(X, y)
    assert y_res.value_counts().to_dict() == {0: 40, 1: 40}
    new = new_rows(X_res, X)
    assert (new["count"] == 1).all()  # only rows the generator made for the minority cell
    assert not new.isna().any().any() and set(new["colour"]) <= {"blue", "green", "red"}
    assert m.report_["rows_drawn"] > 28 and m.report_["sample_rounds"] > 1


def test_base_fails_clearly_when_the_cell_never_comes():
    X, y = mixed()
    with pytest.raises(RuntimeError, match=r"made only 0 of the 28 rows asked for cell 1 .*per_cell"):
        Scripted(bad=False, cells=(0,)).fit_resample(X, y)


def test_unknown_strategy_is_refused():
    X, y = mixed()
    with pytest.raises(ValueError, match="strategy must be one of"):
        Scripted(strategy="both").fit_resample(X, y)


# -- CTGAN and TVAE ------------------------------------------------------------------------------------------
# TVAE conditional needs ~100 epochs before its decoder makes minority rows at all (see methods/tvae.py)
@pytest.mark.parametrize("make, strategy, epochs", [(ctgan, "per_cell", 3), (ctgan, "conditional", 3),
                                                    (tvae, "per_cell", 3), (tvae, "conditional", 100)],
                         ids=["ctgan-per_cell", "ctgan-conditional", "tvae-per_cell", "tvae-conditional"])
def test_rows_keep_schema_levels_and_record_their_cost_and_quality(make, strategy, epochs):
    X, y = mixed(n_major=60, n_minor=30)
    m = make(epochs=epochs, strategy=strategy, random_state=0)
    X_res, y_res = m.fit_resample(X, y)
    assert y_res.value_counts().to_dict() == {0: 60, 1: 60}
    assert X_res.dtypes.to_dict() == X.dtypes.to_dict()
    new = new_rows(X_res, X)
    assert set(new["colour"]) <= {"blue", "green", "red"}  # a level never seen is never made
    # sdv clips numbers to the range it was fitted on: the cell's with per_cell, the fold's with conditional
    fitted = X[y == 1] if strategy == "per_cell" else X
    assert new["x"].between(fitted["x"].min(), fitted["x"].max()).all()
    r = m.report_
    assert r["device"] == "cpu" and r["fit_seconds"] > 0 and r["sample_seconds"] > 0 and r["rows_drawn"] >= 30
    assert 0 <= r["fidelity"] <= 1 and r["dcr_ratio"] >= 0 and 0 <= r["exact_copies"] <= 1


def test_ctgan_condition_steers_the_label():
    """CTGAN's own conditional vector asks for a cell (upstream faults worked around: see methods/_sdv.py)."""
    from methods import _sdv

    X, y = mixed(n_major=60, n_minor=30)
    m = ctgan(epochs=100, strategy="conditional", random_state=0)
    m.fit_resample(X, y)
    share_of_1 = {c: (_sdv.sample(m.synthesizer_, 300, (CELL, c))[CELL].astype(int) == 1).mean() for c in (0, 1)}
    assert share_of_1[1] > share_of_1[0] + 0.1, share_of_1


def test_tvae_conditional_rows_imitate_the_requested_class():
    X, y = mixed(n_major=60, n_minor=30)
    X_res, _ = tvae(epochs=100, strategy="conditional", random_state=0).fit_resample(X, y)
    new = new_rows(X_res, X)
    # the minority sits at x ~ 4 and is all red; the majority at x ~ 0 and never red
    assert new["x"].mean() > 2 and (new["colour"] == "red").mean() > 0.8


@pytest.mark.parametrize("make", [ctgan, tvae], ids=["ctgan", "tvae"])
def test_same_seed_same_rows_other_seed_other_rows_global_state_untouched(make):
    import torch

    X, y = mixed()
    np_state, torch_state = np.random.get_state()[1].copy(), torch.get_rng_state().clone()
    a, _ = make(random_state=3).fit_resample(X, y)
    b, _ = make(random_state=3).fit_resample(X, y)
    c, _ = make(random_state=4).fit_resample(X, y)
    pd.testing.assert_frame_equal(a, b)
    assert not new_rows(a, X).equals(new_rows(c, X))
    assert (np.random.get_state()[1] == np_state).all() and torch.equal(torch.get_rng_state(), torch_state)


# -- tiny cells ----------------------------------------------------------------------------------------------
@pytest.mark.parametrize("make", [ctgan, tvae], ids=["ctgan", "tvae"])
def test_a_one_row_cell_is_refused_per_cell(make):
    X, y = mixed(n_major=40, n_minor=1)
    with pytest.raises(ValueError, match=r"needs at least 2, but cells \{1: 1\}.*strategy='conditional'"):
        make(strategy="per_cell").fit_resample(X, y)


def test_ctgan_conditional_grows_a_one_row_cell():
    X, y = mixed(n_major=40, n_minor=1)
    _, y_res = ctgan(strategy="conditional", random_state=0).fit_resample(X, y)
    assert y_res.value_counts().to_dict() == {0: 40, 1: 40}


@pytest.mark.parametrize("make", [ctgan, tvae], ids=["ctgan", "tvae"])
def test_a_cell_smaller_than_a_batch_with_a_constant_column(make):
    X, y = mixed(n_major=30, n_minor=4)
    X.loc[y == 1, "count"] = 3  # constant within the grown cell (and 'red' is too)
    X_res, _ = make(batch_size=500, strategy="per_cell", random_state=0).fit_resample(X, y)
    new = new_rows(X_res, X)
    assert len(new) == 26 and (new["count"] == 3).all() and (new["colour"] == "red").all()


def test_ctgan_batch_size_must_suit_pac():
    X, y = mixed()
    with pytest.raises(ValueError, match="multiple of pac=10"):
        ctgan(batch_size=64).fit_resample(X, y)


def test_ctgan_trains_fewer_epochs_on_big_or_wide_folds_only():
    from methods import _sdv
    from methods.ctgan import Ctgan

    X, y = mixed(n_major=60, n_minor=30)
    assert _sdv.encoded_width(X) == sum(1 + min(10, X[c].nunique()) for c in ("x", "count")) + 3  # 3 colours seen
    big = pd.concat([X] * 500, ignore_index=True)  # 45,000 rows
    m = Ctgan(epochs=100)
    assert m.train_epochs(X) == 100  # small folds (the quick suite's) train as before
    expected = m.max_values // (500 * _sdv.encoded_width(big)) // (len(big) // 500)
    assert m.train_epochs(big) == expected < 100
    wide = pd.concat([big] + [big[["x"]].add_suffix(str(i)) for i in range(8)], axis=1)
    assert m.train_epochs(wide) < m.train_epochs(big)  # wider rows cost more per step: fewer epochs
    assert Ctgan(epochs=100, max_values=None).train_epochs(big) == 100 and Ctgan(max_values=1).train_epochs(big) == 1
    # conditional: one fit on the 90 rows plus the cell column, one step an epoch at batch_size 50
    width = _sdv.encoded_width(X.assign(cell=pd.Categorical(y)))
    fitted = Ctgan(epochs=100, batch_size=50, max_values=7 * 50 * width, random_state=0)
    fitted.fit_resample(X, y)
    assert fitted.report_["epochs"] == fitted.report_["training_steps"] == 7
    with pytest.raises(ValueError, match="max_values must be a whole number >= 1 or None"):
        Ctgan(max_values=0).fit_resample(X, y)


# -- quality figures -----------------------------------------------------------------------------------------
def frame(n, seed, shift=0.0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=n) + shift
    return pd.DataFrame({
        "x": x,
        "z": 2 * x + rng.normal(size=n),
        "k": rng.integers(0, 3, size=n),
        "c": pd.Categorical(np.where(x > shift, "a", rng.choice(["b", "c"], size=n)), categories=["a", "b", "c"]),
    })


def test_copies_are_at_distance_zero_and_far_rows_far():
    real = frame(200, 0)
    same = synthetic_quality(real, real.sample(50, random_state=0), reference=real)
    assert same["dcr"] == 0 and same["exact_copies"] == 1 and same["dcr_ratio"] == 0
    fresh = synthetic_quality(real, frame(200, 1), reference=real)
    assert 0.5 < fresh["dcr_ratio"] < 2 and fresh["exact_copies"] == 0 and fresh["fidelity"] > 0.85
    far = synthetic_quality(real, frame(200, 1, shift=6), reference=real)
    assert far["dcr_ratio"] > 5 and far["fidelity"] < fresh["fidelity"] - 0.2


def test_fidelity_equals_sdmetrics_scores():
    from itertools import combinations

    from sdmetrics.column_pairs import ContingencySimilarity, CorrelationSimilarity
    from sdmetrics.single_column import KSComplement, TVComplement

    real, synth = frame(300, 0), frame(150, 1, shift=0.5)
    numeric = ["x", "z", "k"]
    shapes = [KSComplement.compute(real[c], synth[c]) for c in numeric]
    shapes.append(TVComplement.compute(real["c"].astype(str), synth["c"].astype(str)))
    pairs = []
    for a, b in combinations(real.columns, 2):
        if a in numeric and b in numeric:
            pairs.append(CorrelationSimilarity.compute(real[[a, b]], synth[[a, b]]))
        else:
            cont = [col for col in (a, b) if col in numeric]
            r, s = real[[a, b]].astype({"c": str}), synth[[a, b]].astype({"c": str})
            pairs.append(ContingencySimilarity.compute(r, s, continuous_column_names=cont))
    assert column_shapes(real, synth) == pytest.approx(np.mean(shapes), abs=1e-9)
    assert column_pair_trends(real, synth) == pytest.approx(np.mean(pairs), abs=1e-9)
