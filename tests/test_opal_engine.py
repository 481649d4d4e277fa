"""OPAL's shared-prefix engine and grammar-constrained decoding, on the tiny test model (a real, untrained LM).

The engine must sample exactly what the model would (greedy: token for token the same as transformers'
``generate``), whatever the prompts share and whenever sequences stop; the grammar must make every record of an
untrained model well-formed.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("xgrammar")

from methods.opal.backends import load_causal_lm  # noqa: E402
from methods.opal.engine import SharedPrefixEngine  # noqa: E402
from methods.opal.grammar import GrammarConstraints, ebnf, order_of  # noqa: E402
from methods.opal.method import Opal  # noqa: E402
from methods.opal.parse import LABEL, Schema  # noqa: E402
from tests.opal_helpers import StopAfter, frame  # noqa: E402


@pytest.fixture(scope="module")
def tiny():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # a tiny model; two threads on a busy machine only wait for each other
    tok, lm, _ = load_causal_lm("tiny-test", "cpu")
    yield tok, lm
    torch.set_num_threads(threads)


def _greedy_reference(tok, lm, ids: list[int], n: int) -> list[int]:
    with torch.inference_mode():
        out = lm.generate(torch.tensor([ids]), max_new_tokens=n, min_new_tokens=n, do_sample=False,
                          pad_token_id=tok.pad_token_id)
    return out[0, len(ids):].tolist()


@pytest.mark.parametrize("max_cache_gb", [2.0, 25e3 / 2**30])  # the second holds two sequences (12 KB each)
def test_engine_matches_generate_token_for_token(tiny, max_cache_gb):
    tok, lm = tiny
    a = tok("age is 42, sex is female,", add_special_tokens=False)["input_ids"]
    b = tok("Generate new records that are not copies", add_special_tokens=False)["input_ids"]
    prompts = [a, b, a, a, b]  # shared prefixes, interleaved (and split across batches under the small cap)
    engine = SharedPrefixEngine(lm, tok, max_cache_gb=max_cache_gb)
    first = next(lm.parameters())
    assert len(engine._batches([(first.new_zeros(4, 1, 16),) * 2] * 2, 5, 12)) == (1 if max_cache_gb > 1 else 3)
    out, finished, stats = engine.generate(prompts, max_new_tokens=12, temperature=0, ignore_eos=True)
    assert stats.distinct_prompts == 2 and stats.prefill_tokens == len(a) + len(b)
    assert not any(finished)  # stop tokens ignored: every sequence ran to the limit
    for p, o in zip(prompts, out):
        assert o == _greedy_reference(tok, lm, p, 12)


def test_sequences_that_stop_early_leave_the_others_unchanged(tiny):
    tok, lm = tiny
    a = tok("x1 is -0.25, x2 is", add_special_tokens=False)["input_ids"]
    lengths = [2, 3, 3, 10, 4, 10, 1, 7]  # most stop early, so the batch is compacted several times
    out, finished, stats = SharedPrefixEngine(lm, tok).generate([a] * len(lengths), max_new_tokens=10, temperature=0,
                                                                ignore_eos=True, constraints=StopAfter(lengths))
    ref = _greedy_reference(tok, lm, a, 10)
    assert [len(o) for o in out] == lengths
    assert all(o == ref[: len(o)] for o in out)
    assert all(finished)  # the constraint ended every sequence
    assert min(stats.per_step_batch) < len(lengths)  # the batch shrank


def test_same_seed_same_samples_and_seeds_differ(tiny):
    tok, lm = tiny
    a = tok("income is >50K,", add_special_tokens=False)["input_ids"]
    eng = SharedPrefixEngine(lm, tok)
    one = eng.generate([a] * 4, max_new_tokens=8, temperature=1.0, seed=3, ignore_eos=True)[0]
    two = eng.generate([a] * 4, max_new_tokens=8, temperature=1.0, seed=3, ignore_eos=True)[0]
    other = eng.generate([a] * 4, max_new_tokens=8, temperature=1.0, seed=4, ignore_eos=True)[0]
    assert one == two and one != other


@pytest.mark.parametrize("serialization", ["sentence", "compact"])
def test_every_record_of_an_untrained_model_is_well_formed_under_the_grammar(tiny, serialization):
    tok, lm = tiny
    X, y = frame(np.random.default_rng(0))
    schema = Schema(X, "target", [0, 1])
    order = order_of(schema, [c.key for c in schema.features], label_first=False)
    grammar = ebnf(schema, {LABEL: 1}, order, serialization=serialization, k=3)
    prompt = tok("Generate new records", add_special_tokens=False)["input_ids"]
    constraints = GrammarConstraints(tok, lm.config.vocab_size, [grammar] * 6)
    out, finished, _ = SharedPrefixEngine(lm, tok).generate([prompt] * 6, max_new_tokens=400, temperature=1.0,
                                                            seed=0, constraints=constraints)
    assert all(finished)
    for ids in out:
        text = tok.decode([t for t in ids if t != tok.eos_token_id])
        if serialization == "compact":
            rows, counts = schema.parse_compact(text, order)
        else:
            rows, counts = schema.parse(text)
        # the grammar fixes names, levels, types and the label; only ranges are left to the checks
        assert set(counts) <= {"out_of_range"}, (text, counts)
        assert len(rows) + counts["out_of_range"] == 3
        assert all(r[LABEL] == 1 and r["colour"] in ("red", "green", "dark blue") for r in rows)


def test_the_grammar_can_write_every_real_record(tiny):
    """A real record, as the window shows it, is a sentence of its cell's grammar: small numbers keep their six
    significant digits (0.0055254 has seven decimal places; the grammar once stopped at six)."""
    import xgrammar as xgr

    from methods.opal.grammar import _compile

    tok, lm = tiny
    X = pd.DataFrame({"a": [0.0055254, 0.25, 0.513199, 12.5], "n": [3, 40, 7, 1]})
    schema = Schema(X, "label", [0, 1])
    order = order_of(schema, ["a", "n"], label_first=False)
    compiled = _compile(tok, lm.config.vocab_size, ebnf(schema, {LABEL: 1}, order))
    for record in X.to_dict("records"):
        ids = tok(schema.serialize({**record, LABEL: 1}, order), add_special_tokens=False)["input_ids"]
        matcher = xgr.GrammarMatcher(compiled)
        assert all(matcher.accept_token(t) for t in ids), record
        assert matcher.accept_token(tok.eos_token_id) and matcher.is_terminated()  # complete: only the end left


@pytest.mark.parametrize("serialization", ["sentence", "compact"])
def test_jump_forward_writes_what_one_token_a_step_writes_in_fewer_steps(tiny, serialization):
    """Forced tokens (names, the rest of a level) fed with the sampled token in one forward: greedy output is the
    same token for token as decoding one token per sequence per step, in fewer steps."""
    tok, lm = tiny
    X, y = frame(np.random.default_rng(0))
    schema = Schema(X, "target", [0, 1])
    grammar = ebnf(schema, {LABEL: 1}, order_of(schema, [c.key for c in schema.features], label_first=False),
                   serialization=serialization, k=2)
    prompts = [tok(p, add_special_tokens=False)["input_ids"] for p in ("Generate new records", "age is")] * 4

    def run(max_chunk: int):
        constraints = GrammarConstraints(tok, lm.config.vocab_size, [grammar] * len(prompts))
        return SharedPrefixEngine(lm, tok, max_chunk=max_chunk).generate(prompts, max_new_tokens=150, temperature=0,
                                                                         constraints=constraints)

    (lock, lock_done, lock_stats), (jump, jump_done, jump_stats) = run(1), run(8)
    assert jump == lock and jump_done == lock_done
    assert lock_stats.forced_tokens == 0 and jump_stats.forced_tokens > 0
    assert jump_stats.decode_tokens == lock_stats.decode_tokens == sum(map(len, lock))
    assert jump_stats.decode_steps < lock_stats.decode_steps


def test_jump_forward_stops_at_the_token_limit(tiny):
    tok, lm = tiny
    X, y = frame(np.random.default_rng(0))
    schema = Schema(X, "target", [0, 1])
    grammar = ebnf(schema, {LABEL: 1}, order_of(schema, [c.key for c in schema.features], label_first=False), k=2)
    prompt = tok("age is", add_special_tokens=False)["input_ids"]
    for limit in (1, 2, 5, 9):  # cuts inside forced runs too
        constraints = GrammarConstraints(tok, lm.config.vocab_size, [grammar] * 3)
        out, done, _ = SharedPrefixEngine(lm, tok).generate([prompt] * 3, max_new_tokens=limit, temperature=1.0,
                                                            constraints=constraints)
        assert [len(o) for o in out] == [limit] * 3 and not any(done)


def test_constrained_opal_parses_every_record_and_records_how(tiny):
    X, y = frame(np.random.default_rng(1))
    m = Opal(model="tiny-test", k=4, window=5, cache=False, random_state=0, max_calls=400, range_margin=50.0,
             temperature=1.0, threads=1)
    X_res, y_res = m.fit_resample(X, y)
    r = m.report_
    assert (y_res == 1).sum() == (y == 0).sum()
    assert r["constrained"] is True and r["engine"] == "shared-prefix" and r["serialization"] == "sentence"
    assert r["parse_rate"] == 1.0  # out-of-range records did parse; the range is checked after
    assert set(k for k in r if k.startswith("rejected.")) <= {"rejected.copy", "rejected.out_of_range"}
    assert r["prefill_tokens"] > 0 and r["decode_tokens"] >= r["completion_tokens"]


def test_free_text_mode_is_still_the_papers_procedure(tiny):
    X, y = frame(np.random.default_rng(2))
    m = Opal(model="tiny-test", k=2, window=3, cache=False, random_state=0, constrained=False, max_calls=3,
             max_new_tokens=20, threads=1)
    with pytest.raises(RuntimeError, match="budget"):  # an untrained model writes no record without a grammar
        m.fit_resample(X, y)
    assert m.report_["constrained"] is False and m.report_["rows_accepted"] == 0


@pytest.mark.parametrize("params, message", [
    ({"serialization": "csv"}, "serialization must be one of"),
    ({"serialization": "compact", "finetune": "lora"}, "compact' is for the in-context mode"),
    ({"engine": "vllm"}, "engine must be one of"),
    ({"finetune": "lora", "finetune_rows": "minority"}, "finetune_rows must be 'all' or 'grown'"),
    ({"engine": "llama.cpp", "finetune": "lora"}, "engine 'llama.cpp' is for the in-context mode"),
    ({"backend": "openai", "constrained": True, "base_url": "http://127.0.0.1:9"}, "constrained decoding needs"),
])
def test_bad_parameters_are_clear_errors(params, message):
    X, y = frame(np.random.default_rng(3))
    with pytest.raises(ValueError, match=message):
        Opal(model="tiny-test", cache=False, random_state=0, **params).fit_resample(X, y)


def test_sampling_follows_the_distribution_and_never_draws_a_masked_token():
    from methods.opal.sampling import _sample

    logits = torch.full((20_000, 1000), float("-inf"))
    logits[:, [3, 500, 999]] = torch.log(torch.tensor([0.2, 0.3, 0.5]))  # the last entry: the CDF's edge
    tokens = _sample(logits, 1.0, 1.0, torch.Generator().manual_seed(0))
    counts = torch.bincount(tokens, minlength=1000)
    assert counts.sum() == 20_000 and set(torch.nonzero(counts).view(-1).tolist()) == {3, 500, 999}
    for token, p in ((3, 0.2), (500, 0.3), (999, 0.5)):  # within 5 standard deviations of the binomial
        assert abs(counts[token].item() - 20_000 * p) < 5 * (20_000 * p * (1 - p)) ** 0.5


@pytest.mark.parametrize("temperature", [0.0, 1.0])
def test_the_output_layer_on_allowed_tokens_only_samples_the_same(tiny, temperature):
    tok, lm = tiny
    X, y = frame(np.random.default_rng(0))
    schema = Schema(X, "target", [0, 1])
    grammar = ebnf(schema, {LABEL: 1}, order_of(schema, [c.key for c in schema.features], label_first=False), k=2)
    prompts = [tok(p, add_special_tokens=False)["input_ids"] for p in ("Generate new records", "age is")] * 3

    def run(restricted: bool):
        constraints = GrammarConstraints(tok, lm.config.vocab_size, [grammar] * len(prompts))
        if not restricted:
            constraints.allowed = None  # the engine then computes the whole output layer
        return SharedPrefixEngine(lm, tok).generate(prompts, max_new_tokens=120, temperature=temperature, seed=5,
                                                    constraints=constraints)[0]

    assert run(True) == run(False)
