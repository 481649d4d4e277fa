"""OPAL's llama.cpp engine on the packaged SmolLM2-135M GGUF (the file OPAL's default model comes from).

llama.cpp is built from source by `make llama` (minutes), so these tests are marked slow (`make test-llama`)
and skipped where it is not installed. The engine must sample what llama.cpp's own single-sequence generation
samples (greedy, token for token), whatever the prompts share and whenever sequences stop; under a grammar every
record must be well-formed; OPAL must run on it end to end.
"""

from __future__ import annotations

import numpy as np
import pytest

pytestmark = pytest.mark.slow
llama_cpp = pytest.importorskip("llama_cpp")
pytest.importorskip("xgrammar")

from methods.opal.backends import load_tokenizer  # noqa: E402
from methods.opal.grammar import GrammarConstraints, ebnf, order_of  # noqa: E402
from methods.opal.llamacpp import LlamaCppEngine  # noqa: E402
from methods.opal.method import Opal  # noqa: E402
from methods.opal.models import gguf_file  # noqa: E402
from methods.opal.parse import LABEL, Schema  # noqa: E402
from tests.opal_helpers import StopAfter, frame  # noqa: E402

MODEL = "smollm2-135m"


@pytest.fixture(scope="module")
def engine():
    eng = LlamaCppEngine(gguf_file(MODEL), threads=1)
    yield eng, load_tokenizer(MODEL)
    eng.close()


@pytest.fixture(scope="module")
def reference():
    """llama.cpp's own high-level generation, one sequence at a time."""
    lm = llama_cpp.Llama(str(gguf_file(MODEL)), n_ctx=512, n_threads=1, verbose=False)

    def greedy(ids: list[int], n: int) -> list[int]:
        lm.reset()
        out = []
        for t in lm.generate(ids, temp=0.0, top_k=1, reset=True):
            out.append(t)
            if len(out) == n:
                return out
        return out

    yield greedy
    lm.close()


def test_engine_matches_llama_cpp_token_for_token(engine, reference):
    eng, tok = engine
    a = tok("Write a record: age is 42, sex is female,", add_special_tokens=False)["input_ids"]
    b = tok("List three colours:", add_special_tokens=False)["input_ids"]
    prompts = [a, b, a, a, b]  # shared prefixes, interleaved: each distinct prompt is decoded once
    out, finished, stats = eng.generate(prompts, max_new_tokens=12, temperature=0, ignore_eos=True)
    assert stats.distinct_prompts == 2 and stats.prefill_tokens == len(a) + len(b)
    assert not any(finished)
    for p, o in zip(prompts, out):
        assert o == reference(p, 12)


def test_sequences_that_stop_early_leave_the_others_unchanged(engine, reference):
    eng, tok = engine
    a = tok("x1 is -0.25, x2 is", add_special_tokens=False)["input_ids"]
    lengths = [2, 3, 10, 1, 7]
    out, finished, stats = eng.generate([a] * len(lengths), max_new_tokens=10, temperature=0, ignore_eos=True,
                                        constraints=StopAfter(lengths))
    ref = reference(a, 10)
    assert [len(o) for o in out] == lengths and all(finished)
    assert all(o == ref[: len(o)] for o in out)
    assert stats.per_step_batch[-1] < len(lengths)  # finished sequences left the batch


def test_same_seed_same_samples_and_a_larger_batch_reuses_nothing_stale(engine):
    eng, tok = engine
    a = tok("income is >50K,", add_special_tokens=False)["input_ids"]
    one = eng.generate([a] * 3, max_new_tokens=8, temperature=1.0, seed=3, ignore_eos=True)[0]
    eng.generate([a] * 6, max_new_tokens=30, temperature=1.0, seed=9, ignore_eos=True)  # a larger context
    two = eng.generate([a] * 3, max_new_tokens=8, temperature=1.0, seed=3, ignore_eos=True)[0]
    other = eng.generate([a] * 3, max_new_tokens=8, temperature=1.0, seed=4, ignore_eos=True)[0]
    assert one == two and one != other


def test_every_record_is_well_formed_under_the_grammar(engine):
    eng, tok = engine
    X, y = frame(np.random.default_rng(0))
    schema = Schema(X, "target", [0, 1])
    order = order_of(schema, [c.key for c in schema.features], label_first=False)
    grammar = ebnf(schema, {LABEL: 1}, order, k=3)
    prompt = tok("Write three records of people:", add_special_tokens=False)["input_ids"]
    constraints = GrammarConstraints(tok, eng.n_vocab, [grammar] * 4)
    out, finished, _ = eng.generate([prompt] * 4, max_new_tokens=300, temperature=1.0, seed=0,
                                    constraints=constraints)
    assert all(finished)
    for ids in out:
        rows, counts = schema.parse(tok.decode([t for t in ids if t not in eng.stop_ids]))
        assert set(counts) <= {"out_of_range"}, counts
        assert len(rows) + counts["out_of_range"] == 3


def test_opal_in_context_on_llama_cpp(tmp_path):
    X, y = frame(np.random.default_rng(1))
    m = Opal(engine="llama.cpp", k=3, window=5, cache=False, random_state=0, range_margin=50.0, threads=1)
    X_res, y_res = m.fit_resample(X, y)
    r = m.report_
    assert (y_res == 1).sum() == (y == 0).sum()
    assert r["engine"] == "llama.cpp" and r["constrained"] is True and r["parse_rate"] == 1.0
    assert r["prefill_tokens"] > 0 and r["decode_tokens"] >= r["completion_tokens"]

