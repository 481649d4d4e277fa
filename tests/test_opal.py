"""OPAL as a method: the generation loop, counting, budget, cache, conditioning and the tiny real model.

The loop's bookkeeping is tested with a scripted backend (exact replies, so every count is known); the real
model path with the tiny GPT-2 test model (``model="tiny-test"``), in-context and fine-tuned.
"""

import numpy as np
import pandas as pd
import pytest

import methods.opal.method as opal_method
from bench.oversampler import CellContext
from methods.opal.backends import Reply, TransformersBackend
from methods.opal.method import Opal
from methods.opal.parse import format_number

TINY_FT = {"model": "tiny-test", "finetune": "full", "finetune_epochs": 12, "threads": 1}


def data(n_major=12, n_minor=4, seed=0):
    rng = np.random.default_rng(seed)
    n = n_major + n_minor
    X = pd.DataFrame({
        "age": rng.integers(20, 70, size=n),
        "bmi": np.round(rng.uniform(18, 40, size=n), 1),
        "smoker": pd.Categorical(rng.choice(["yes", "no"], size=n)),
        "sex": pd.Categorical(np.where(np.arange(n) % 2 == 0, "f", "m")),
    })
    y = pd.Series([0] * n_major + [1] * n_minor, name="sick")
    return X, y


class Scripted:
    """A backend that answers from a list of texts and records the prompts it was sent."""

    name = "scripted"

    def __init__(self, texts, truncated=False):
        self.texts, self.truncated, self.prompts = list(texts), truncated, []
        self.model_id = "scripted"

    def count_tokens(self, text):
        return len(text.split())

    def complete(self, prompts, *, temperature, top_p, max_new_tokens, seed, grammars=None):
        self.prompts += prompts
        self.grammars = grammars
        out = []
        for _ in prompts:
            text = self.texts.pop(0) if self.texts else "nothing useful"
            out.append(Reply(text, self.truncated, prompt_tokens=100, completion_tokens=len(text.split()), seconds=0.5))
        return out


@pytest.fixture
def scripted(monkeypatch):
    def install(texts, **kw):
        backend = Scripted(texts, **kw)
        monkeypatch.setattr(opal_method, "make_backend", lambda *a, **k: backend)
        return backend
    return install


def test_counts_add_up_and_rows_of_other_cells_are_dropped(scripted):
    X, y = data(n_major=6, n_minor=3)
    real = X.iloc[6].to_dict()
    copy = f"age is {real['age']}, bmi is {real['bmi']}, smoker is {real['smoker']}, sex is {real['sex']}, sick is 1."
    good = ["age is 30, bmi is 25.5, smoker is no, sex is f, sick is 1.",
            "age is 31, bmi is 26, smoker is yes, sex is m, sick is 1."]
    backend = scripted([
        ("Sure! Here are the records:\n" + good[0] + "\nage is 40, bmi is 22, smoker is no, sex is m, sick is 0.\n"
         + copy + "\nage is 41, bmi is 22, smoker is maybe, sex is m, sick is 1."),
        good[1] + "\n" + good[0] + "\nage is 50, bmi is",
    ])
    m = Opal(k=3, batch_size=1, measure_quality=False, cache=False, random_state=0)
    X_res, y_res = m.fit_resample(X, y)
    r = m.report_
    assert (y_res == 1).sum() == 6 and len(backend.prompts) == 2
    assert r["calls"] == 2 and r["prompt_tokens"] == 200 and r["llm_seconds"] == pytest.approx(1.0)
    assert r["rows_generated"] == 7 and r["rows_accepted"] == 3 and r["copies"] == 1
    assert {k: v for k, v in r.items() if k.startswith("rejected.")} == {
        "rejected.other_cell": 1, "rejected.copy": 1, "rejected.unknown_category": 1, "rejected.missing_feature": 1}
    assert r["rows_generated"] == r["rows_accepted"] + r["rows_rejected"]
    assert r["extra_text_lines"] == 1 and r["mode"] == "in-context"
    assert r["acceptance_rate"] == pytest.approx(3 / 7) and r["parse_rate"] == pytest.approx(5 / 7)
    new = X_res.iloc[len(X):].reset_index(drop=True)
    assert new["age"].tolist() == [30, 31, 30] and str(new["age"].dtype) == str(X["age"].dtype)


def test_the_prompt_shows_real_rows_of_the_grown_cell_and_the_description(scripted):
    X, y = data()
    backend = scripted(["age is 30, bmi is 25.5, smoker is no, sex is f, sick is 1."] * 20)
    m = Opal(k=2, window=3, batch_size=1, measure_quality=False, cache=False, random_state=0)
    m.bind(CellContext(dataset=type("Spec", (), {"description": "a patient of a clinic"})(), seed=0, fold=0,
                       data_dir=None))
    m.fit_resample(X, y)
    system, task, window, _answer = backend.prompts[0]
    assert "a patient of a clinic" in system["content"] and "2 new records in which sick is 1" in task["content"]
    shown = window["content"].splitlines()
    assert len(shown) == 3 and all(line.endswith("sick is 1.") for line in shown)
    minority = {f"age is {r.age}, bmi is {format_number(r.bmi)}, smoker is {r.smoker}, sex is {r.sex}, sick is 1."
                for r in X[y == 1].itertuples()}
    assert set(shown) <= minority


def test_balanced_window_and_group_aware_cells(scripted):
    X, y = data(n_major=12, n_minor=6)
    reply = ("age is 30, bmi is 25.5, smoker is no, sex is f, sick is 1.\n"
             "age is 33, bmi is 25.5, smoker is no, sex is m, sick is 1.\n"
             "age is 35, bmi is 25.5, smoker is no, sex is m, sick is 0.")
    backend = scripted([reply] * 40)
    m = Opal(k=3, window=8, window_mode="balanced", batch_size=1, measure_quality=False, cache=False,
             group_column="sex", random_state=0)
    X_res, y_res = m.fit_resample(X, y)
    assert (pd.crosstab(y_res, X_res["sex"]).to_numpy() == 6).all()
    labels = [line.rsplit("sick is ", 1)[1] for line in backend.prompts[0][2]["content"].splitlines()]
    assert len(labels) == 8 and labels.count("0.") == 4 and labels.count("1.") == 4  # 2 rows from each of 4 cells
    assert "in which sick is 1 and sex is f" in backend.prompts[0][1]["content"]
    assert m.report_["rejected.other_cell"] > 0  # rows of the other group / class were written and dropped


def test_budget_runs_out_clearly(scripted):
    X, y = data()
    scripted(["no records today"] * 10)
    m = Opal(k=2, batch_size=1, max_calls=3, measure_quality=False, cache=False, random_state=0)
    with pytest.raises(RuntimeError, match=r"opal: budget max_calls=3 spent for cell sick=1 with 8 of 8 rows"):
        m.fit_resample(X, y)
    assert m.report_["calls"] == 3 and m.report_["extra_text_lines"] == 3
    scripted(["age is 30, bmi is 25.5, smoker is no, sex is f, sick is 1."] * 10)
    m = Opal(k=2, batch_size=1, max_calls=None, max_tokens=250, measure_quality=False, cache=False, random_state=0)
    with pytest.raises(RuntimeError, match=r"max_tokens=250 .* 5 of 8 rows .* accepted 3,"):
        m.fit_resample(X, y)
    assert m.report_["rows_accepted"] == 3 and m.report_["acceptance_rate"] == 1.0
    scripted(["no records today"] * 10)
    with pytest.raises(RuntimeError, match=r"max_seconds=1"):
        Opal(k=2, batch_size=1, max_seconds=1, measure_quality=False, cache=False, random_state=0).fit_resample(X, y)


def test_bad_parameters_are_refused():
    X, y = data()
    with pytest.raises(ValueError, match="finetune needs backend='transformers'"):
        Opal(backend="openai", finetune="lora").fit_resample(X, y)
    with pytest.raises(ValueError, match="window_mode"):
        Opal(window_mode="wide").fit_resample(X, y)


def test_cache_hit_reproduces_rows_without_calling_the_model(tmp_path, monkeypatch):
    X, y = data(n_major=30, n_minor=10)
    params = dict(TINY_FT, cache_dir=str(tmp_path), measure_quality=False, random_state=3)
    first = Opal(**params)
    X1, _ = first.fit_resample(X, y)
    assert first.report_["cached_calls"] == 0 and list(tmp_path.rglob("*.json"))

    def no_model(*a, **k):
        raise AssertionError("the model was called despite the cache")

    monkeypatch.setattr(TransformersBackend, "complete", no_model)
    again = Opal(**params)
    X2, _ = again.fit_resample(X, y)
    pd.testing.assert_frame_equal(X1, X2)
    assert again.report_["cached_calls"] == again.report_["calls"] == first.report_["calls"]
    assert again.report_["completion_tokens"] == first.report_["completion_tokens"]
    assert first.report_["finetune_steps"] > 0 and "finetune_steps" not in again.report_  # no training either
    # the replayed cell costs what the first one took: its replies' LLM time and the training they spared
    assert first.report_["replayed_seconds"] == 0
    assert again.report_["replayed_seconds"] == pytest.approx(
        first.report_["llm_seconds"] + first.report_["finetune_seconds"])
    with pytest.raises(AssertionError, match="despite the cache"):  # the flag bypasses the cache
        Opal(**{**params, "cache": False}).fit_resample(X, y)


def test_tiny_model_in_context_really_calls_the_model():
    """The untrained test model writes noise (well-formed under the grammar, but out of range or copies): every
    call is counted, too few rows pass, the budget stops it."""
    X, y = data()
    m = Opal(model="tiny-test", k=2, window=2, max_calls=2, batch_size=2, threads=1, cache=False,
             measure_quality=False, random_state=0)
    with pytest.raises(RuntimeError, match="max_calls=2"):
        m.fit_resample(X, y)
    r = m.report_
    assert r["calls"] == 2 and r["prompt_tokens"] > 200 and r["completion_tokens"] > 0
    needed = int((y == 0).sum() - (y == 1).sum())
    assert r["rows_accepted"] < needed and r["model"] == "tiny-test"
    assert r["rows_generated"] == 2 * 2  # k records in each of the two calls, all parsed
    assert {k for k in r if k.startswith("rejected.")} <= {"rejected.out_of_range", "rejected.copy"}  # the grammar


def test_tiny_model_fine_tuned_makes_valid_rows_with_quality():
    X, y = data(n_major=30, n_minor=10)
    m = Opal(**TINY_FT, cache=False, random_state=0)
    _, y_res = m.fit_resample(X, y)
    r = m.report_
    assert (y_res == 1).sum() == 30 and r["mode"] == "fine-tuned" and r["finetune_seconds"] > 0
    assert r["finetune_records"] == 40  # every training row (finetune_rows="all")
    assert r["rows_accepted"] >= 20 and r["acceptance_rate"] > 0.5
    assert 0 < r["fidelity"] <= 1 and r["model"].startswith("tiny-test+ft:")


@pytest.mark.parametrize("rows, expected", [("all", 40), ("grown", 10)])
def test_fine_tuning_trains_on_every_row_or_on_the_grown_cells(rows, expected, monkeypatch):
    import methods.opal.method as opal_method

    seen = {}

    def training_set_only(backend, texts, settings, fp):
        seen["texts"] = texts
        raise RuntimeError("stop: the training set is known")

    monkeypatch.setattr(opal_method, "finetune", training_set_only)
    X, y = data(n_major=30, n_minor=10)
    with pytest.raises(RuntimeError, match="the training set is known"):
        Opal(**TINY_FT, finetune_rows=rows, cache=False, random_state=0).fit_resample(X, y)
    assert len(seen["texts"]) == expected
    labels = {t.split(",")[0] for t in seen["texts"]}  # each record starts with its label
    assert len(labels) == (1 if rows == "grown" else 2)


def test_local_defaults_send_one_wide_call_of_short_replies(scripted):
    """On a local model OPAL asks each reply for k = 2 records, sends every reply a cell needs in one call
    (up to 128), and draws up to 32 replies from each window (a prompt computed once)."""
    X, y = data()  # 8 minority rows to make: ceil(8 x 1.1 / 2) = 5 replies
    texts = [f"age is {30 + i}, bmi is 25.5, smoker is no, sex is f, sick is 1.\n"
             f"age is {50 + i}, bmi is 30.5, smoker is yes, sex is m, sick is 1." for i in range(5)]
    backend = scripted(texts)
    m = Opal(measure_quality=False, cache=False, random_state=0)
    X_res, y_res = m.fit_resample(X, y)
    assert (y_res == 1).sum() == 4 + 8 and m.report_["calls"] == 5 and len(backend.prompts) == 5
    assert len({str(p) for p in backend.prompts}) == 1  # one window, shared
    assert "write 2 new records" in str(backend.prompts[0])
    assert all("root ::= record nl record" in g for g in backend.grammars)  # two records, then stop


def test_local_default_budget_allows_eight_times_the_records(scripted):
    X, y = data()
    scripted(["no records today"] * 100)
    with pytest.raises(RuntimeError, match=r"budget max_calls=42 spent .* 8 of 8 rows"):  # ceil(8 x 8 / 2) + 10
        Opal(measure_quality=False, cache=False, random_state=0).fit_resample(X, y)
    scripted(["no records today"] * 100)
    with pytest.raises(RuntimeError, match=r"budget max_calls=42 spent"):  # openai: ceil(4 x 8 / 1) + 10
        Opal(backend="openai", k=1, measure_quality=False, cache=False, random_state=0).fit_resample(X, y)


def test_micro_batches_keep_order_and_bound_padded_tokens():
    from methods.opal.finetune import micro_batches

    batch = [[1] * 3, [2] * 5, [3] * 2, [4] * 9, [5] * 1]
    parts = micro_batches(batch, max_tokens=10)
    assert [s for part in parts for s in part] == batch  # every record, in order
    assert parts == [[[1] * 3, [2] * 5], [[3] * 2], [[4] * 9], [[5] * 1]]
    assert micro_batches(batch, max_tokens=4)[3] == [[4] * 9]  # a record longer than the budget goes alone
    assert micro_batches(batch, max_tokens=10_000) == [batch]


def test_training_in_parts_gives_the_gradient_of_whole_batches(monkeypatch):
    """Splitting a batch of long records to bound memory sums the parts' gradients into the batch's own."""
    import torch

    import methods.opal.finetune as ft

    backend = TransformersBackend("tiny-test", device="cpu")
    model, tok = backend.model, backend.tokenizer
    model.train()
    for module in model.modules():  # the test model's dropout would draw other masks for other shapes
        if isinstance(module, torch.nn.Dropout):
            module.p = 0.0
    batch = [tok(f"sick is 1, age is {20 + 3 * i}, bmi is {18 + i}.{i}5" + ", x" * i)["input_ids"] + [0]
             for i in range(5)]  # of different lengths: the parts are padded differently
    grads, losses = [], []
    for budget in (10_000, 40):  # the whole batch at once; about one record a part
        monkeypatch.setattr(ft, "MICRO_TOKENS", budget)
        assert len(ft.micro_batches(batch, budget)) == (1 if budget > 1000 else len(batch))
        model.zero_grad()
        losses.append(ft.backward(model, batch, 0, "cpu", torch))
        grads.append([p.grad.clone() for p in model.parameters()])
    assert losses[0] == pytest.approx(losses[1], rel=1e-5)
    assert all(torch.allclose(a, b, rtol=1e-4, atol=1e-6) for a, b in zip(*grads))
    assert max(g.abs().max().item() for g in grads[0]) > 1e-3  # gradients that mean something
