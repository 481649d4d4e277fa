"""OPAL's speed and row quality with a packaged model, on this machine.

``speed`` measures, side by side in one run:

- the fp32 matmul peak at the thread count, and the FLOP-bound token rate it implies for the model
  (peak / (2 x parameters));
- raw generation from real in-context prompts (4 windows, stop tokens ignored, ``--new-tokens`` each) at the batch
  sizes OPAL uses, per engine (transformers' ``generate``, the shared-prefix engine, llama.cpp; ``lockstep``, the
  shared-prefix engine without jump-forward, is the same engine here: raw text has no forced tokens), prompt processing and
  decoding timed apart, and decoding as a share of the FLOP-bound rate;
- OPAL itself for each ``--configs`` entry (engine : serialization : constrained|free): records written and
  accepted, tokens per record, valid rows/s over LLM time, and valid rows/s / (raw tokens/s / tokens per record),
  the share of the raw rate that ends as accepted rows (raw tokens/s of the same engine at the largest batch,
  prompt processing included).

``chunks``: OPAL's first call on the data (prompts, grammars, seed), decoded by the shared-prefix engine at each
``--max-chunks`` (1: one token per sequence per step; more: jump-forward over forced tokens), alternating.

``compare``: parse rate, acceptance rate, fidelity of accepted rows (bench.quality) and rows/s for each model,
in-context and after LoRA fine-tuning.

Data: the OPAL paper's diabetes training file (seed 1: 100 rows, 10 of the minority class 0), from ../shared,
or with ``--dataset NAME`` the first training fold of a catalog dataset (``--rows 0``: every row it needs).
The disk cache is off, so every number is a fresh measurement. Timings on a shared CPU are noisy.

    python -m bench.benchmarks.opal_speed speed            # or: make bench-opal
    python -m bench.benchmarks.opal_speed compare --models smollm2-135m gemma3-270m --rows 20
"""

from __future__ import annotations

import argparse
import json
import math
import platform
import time
from pathlib import Path

import pandas as pd

REPO = Path(__file__).resolve().parents[2]
DIABETES = REPO.parent / "shared/datasets/opal-paper/openmlDiabetes/openmlDiabetes_see_small_raw100_imbalanced_focus"
DESCRIPTION = "a Pima Indian woman tested for diabetes (class 1: tested positive, class 0: negative)"


def load(dataset: str = "", seed: int = 1) -> tuple[pd.DataFrame, pd.Series, str]:
    """The paper's diabetes file, or the training fold 0 (of 5, seed 0) of a dataset of datasets/imbalanced.yaml."""
    if not dataset:
        df = pd.read_csv(DIABETES / f"train_colsbase_size100_total568_rand{seed}.csv")
        y = df.pop("class").astype(int)
        return df, y, DESCRIPTION
    from sklearn.model_selection import StratifiedKFold

    from bench.data import load_catalog, load_dataset

    ds = load_dataset(load_catalog(REPO / "datasets" / "imbalanced.yaml")[dataset])
    train, _ = next(StratifiedKFold(5, shuffle=True, random_state=0).split(ds.X, ds.y))
    X, y = ds.X.iloc[train].reset_index(drop=True), ds.y.iloc[train].reset_index(drop=True)
    keep = X.notna().all(axis=1).to_numpy()
    return X[keep].reset_index(drop=True), y[keep].reset_index(drop=True), ds.spec.description


def matmul_peak(threads: int, n: int = 1536, repeats: int = 5) -> float:
    """fp32 GFLOP/s of a square matmul at ``threads`` torch threads (best of ``repeats``)."""
    import torch

    torch.set_num_threads(threads)
    a, b = torch.randn(n, n), torch.randn(n, n)
    torch.matmul(a, b)
    best = math.inf
    for _ in range(repeats):
        t0 = time.perf_counter()
        torch.matmul(a, b)
        best = min(best, time.perf_counter() - t0)
    return 2 * n ** 3 / best / 1e9


def flops_per_token(model: str) -> float:
    """2 x parameters (embedding included: it is the output projection too): the matmul work of one token."""
    from methods.opal.backends import load_causal_lm

    lm = load_causal_lm(model)[1]
    return 2.0 * sum(p.numel() for p in lm.parameters())


def opal_prompts(model: str, X, y, description: str, windows: int, k: int = 10, window: int = 10) -> list[list[int]]:
    """Token ids of ``windows`` in-context prompts as OPAL writes them for the minority class (other windows)."""
    import numpy as np

    from methods.opal.backends import TransformersBackend
    from methods.opal.parse import LABEL, Schema
    from methods.opal.prompt import in_context_messages, window_rows

    schema = Schema(X, str(y.name), list(y.unique()))
    minority = y.value_counts().idxmin()
    strata = (y != minority).astype(int).to_numpy()
    rows = [{**r, LABEL: v} for r, v in zip(X.to_dict("records"), y)]
    backend, rng = TransformersBackend(model), np.random.default_rng(0)
    out = []
    for _ in range(windows):
        shown = [schema.serialize(rows[i]) for i in window_rows(strata, 0, 2, window, "cell", rng)]
        messages = in_context_messages(schema, shown, k, {LABEL: minority}, description)
        out.append(backend.tokenizer(backend.render(messages), add_special_tokens=False)["input_ids"])
    return out


def raw_generation(model: str, prompts: list[list[int]], batch: int, new_tokens: int, engine: str, seed: int = 0) -> dict:
    """Sample exactly ``new_tokens`` per sequence (stop tokens ignored) from ``batch`` sequences over ``prompts``
    (each prompt asked batch/len(prompts) times); prompt processing and decoding timed apart."""
    import torch

    from methods.opal.backends import load_causal_lm
    from methods.opal.engine import SharedPrefixEngine

    seqs = [prompts[i * len(prompts) // batch] for i in range(batch)]
    if engine in ("shared-prefix", "llama.cpp"):
        if engine == "llama.cpp":
            eng = _llama_engine(model)
        else:
            tok, lm, device = load_causal_lm(model)
            eng = SharedPrefixEngine(lm, tok)
        _, _, st = eng.generate(seqs, max_new_tokens=new_tokens, temperature=0.6, seed=seed, ignore_eos=True)
        prefill_tokens, prefill_s, decode_s = st.prefill_tokens, st.prefill_seconds, st.decode_seconds
    else:  # transformers' generate: left-padded batch; prefill = a run of one new token
        tok, lm, device = load_causal_lm(model)
        width = max(map(len, seqs))
        ids = torch.tensor([[tok.pad_token_id] * (width - len(s)) + s for s in seqs])
        mask = torch.tensor([[0] * (width - len(s)) + [1] * len(s) for s in seqs])
        kw = dict(input_ids=ids, attention_mask=mask, do_sample=True, temperature=0.6, pad_token_id=tok.pad_token_id)
        with torch.inference_mode():
            t0 = time.perf_counter()
            lm.generate(**kw, max_new_tokens=1, min_new_tokens=1)
            prefill_s = time.perf_counter() - t0
            t0 = time.perf_counter()
            lm.generate(**kw, max_new_tokens=new_tokens, min_new_tokens=new_tokens)
            decode_s = max(1e-9, time.perf_counter() - t0 - prefill_s)
        prefill_tokens = int(mask.sum())
    tokens = batch * new_tokens
    return {"engine": engine, "batch": batch, "distinct_prompts": len(set(map(tuple, seqs))),
            "prompt_tokens": int(sum(map(len, seqs)) / batch), "prefill_tokens": prefill_tokens,
            "prefill_seconds": prefill_s, "prefill_tokens_per_s": prefill_tokens / prefill_s,
            "new_tokens": tokens, "decode_seconds": decode_s, "decode_tokens_per_s": tokens / decode_s,
            "tokens_per_s": tokens / (prefill_s + decode_s)}


_LLAMA: dict = {}


def _llama_engine(model: str):
    """One llama.cpp engine per model for the whole benchmark (loading and contexts are not what is measured)."""
    from methods.opal.llamacpp import LlamaCppEngine
    from methods.opal.models import gguf_file

    if model not in _LLAMA:
        _LLAMA[model] = LlamaCppEngine(gguf_file(model))
    return _LLAMA[model]


def run_opal(X, y, rows: int, description: str = DESCRIPTION, **params) -> dict:
    from methods.opal.method import Opal

    m = Opal(cache=False, description=description, random_state=0, **params)
    if rows:
        m.n_synthetic = rows  # run context: grow the minority by exactly this many rows
    t0 = time.perf_counter()
    try:
        m.fit_resample(X, y)
        error = ""
    except RuntimeError as e:  # a spent budget: keep the counts
        error = str(e)
    r = dict(m.report_)
    r.update(wall_seconds=time.perf_counter() - t0, error=error, rows_asked=rows or getattr(m, "n_requested_", 0))
    used = min(r.get("rows_accepted", 0), r["rows_asked"])
    r["valid_rows_per_s"] = used / max(r.get("llm_seconds", 0.0), 1e-9)
    return r


def speed(args) -> dict:
    """The hardware's bound, raw generation per engine and batch, and OPAL's valid rows/s per configuration."""
    import torch

    torch.set_num_threads(args.threads)
    X, y, description = load(args.dataset)
    peak = matmul_peak(args.threads)
    per_token = flops_per_token(args.model)
    bound = peak * 1e9 / per_token
    print(f"fp32 matmul peak {peak:.1f} GFLOP/s on {args.threads} threads; {per_token / 1e9:.3f} GFLOP per token "
          f"-> FLOP-bound rate {bound:.0f} tokens/s", flush=True)
    prompts = opal_prompts(args.model, X, y, description, windows=4)
    raw = []
    for engine in args.engines:
        for b in [b for b in args.batches if engine != "generate" or b <= args.generate_max_batch]:
            r = raw_generation(args.model, prompts if b > 1 else prompts[:1], b, args.new_tokens, engine)
            r["of_bound"] = r["decode_tokens_per_s"] / bound
            raw.append(r)
            print(f"raw {engine:13} batch {b:3}: prompt {r['prefill_tokens_per_s']:6.0f} tokens/s, decode "
                  f"{r['decode_tokens_per_s']:6.1f} tokens/s = {r['of_bound']:.0%} of the bound "
                  f"(end to end {r['tokens_per_s']:.1f})", flush=True)
    runs = []
    for config in args.configs:
        engine, serialization, constrained = config.split(":")
        params = dict(model=args.model, k=args.k, window=args.window, threads=args.threads, max_calls=args.max_calls,
                      device=args.device, engine=engine, serialization=serialization,
                      constrained=constrained == "constrained")
        rows = args.baseline_rows if engine == "generate" else args.rows
        r = run_opal(X, y, rows, description, **params)
        per_record = r.get("completion_tokens", 0) / max(1, r.get("rows_generated", 0))
        base = "shared-prefix" if engine == "lockstep" else engine  # the same engine on unconstrained raw text
        same = sorted((x for x in raw if x["engine"] == base), key=lambda x: x["batch"])[-1:]
        raw_rate = same[0]["tokens_per_s"] if same else float("nan")
        r.update(config=config, tokens_per_record=per_record, raw_tokens_per_s=raw_rate,
                 ratio=r["valid_rows_per_s"] / (raw_rate / per_record) if per_record else 0.0)
        runs.append(r)
        print(f"OPAL {config:34}: {r.get('rows_accepted', 0)} accepted of {r.get('rows_generated', 0)} "
              f"(parse {r.get('parse_rate', 0):.2f}, acceptance {r.get('acceptance_rate', 0):.2f}), "
              f"{per_record:.1f} tokens/record ({r.get('forced_tokens', 0):.0f} forced, "
              f"{r.get('decode_steps', 0):.0f} steps), {r['valid_rows_per_s']:.3f} valid rows/s, "
              f"ratio to raw/tokens-per-record {r['ratio']:.2f}" + (f" [{r['error'][:80]}]" if r["error"] else ""),
              flush=True)
    return {"model": args.model, "threads": args.threads, "dataset": args.dataset or "opal-paper diabetes",
            "matmul_gflops": peak, "flops_per_token": per_token, "flop_bound_tokens_per_s": bound, "raw": raw,
            "opal": runs}


def compare(args) -> dict:
    import torch

    torch.set_num_threads(args.threads)
    X, y, description = load(args.dataset)
    results = []
    for model in args.models:
        for ft in args.modes:
            params = {"model": model, "k": args.k, "window": args.window, "threads": args.threads,
                      "max_calls": args.max_calls, "batch_size": args.batch_size}
            mode, rows, epochs = (ft.split(":") + ["", ""])[:3]  # lora, or lora:grown:3
            if mode != "none":
                params.update(finetune=mode, finetune_rows=rows or "all",
                              finetune_epochs=int(epochs) if epochs else args.finetune_epochs)
            r = run_opal(X, y, args.rows, description, **params)
            r.update(model_name=model, finetune=ft)
            results.append(r)
            print(json.dumps({k: r.get(k) for k in ("model_name", "finetune", "rows_generated", "rows_accepted",
                                                    "parse_rate", "acceptance_rate", "fidelity", "dcr_ratio",
                                                    "valid_rows_per_s", "llm_seconds", "finetune_records",
                                                    "finetune_seconds", "error")},
                             default=str), flush=True)
    print("\n| model | mode | generated | parse rate | acceptance | fidelity | DCR ratio | valid rows/s | fine-tune s |")
    print("|---|---|---|---|---|---|---|---|---|")
    for r in results:
        fid = f"{r['fidelity']:.3f}" if "fidelity" in r else "-"
        dcr = f"{r['dcr_ratio']:.2f}" if "dcr_ratio" in r else "-"
        print(f"| {r['model_name']} | {'in-context' if r['finetune'] == 'none' else r['finetune'] + ' fine-tuned'} | "
              f"{r.get('rows_generated', 0)} | {r.get('parse_rate', 0):.2f} | {r.get('acceptance_rate', 0):.2f} | "
              f"{fid} | {dcr} | {r['valid_rows_per_s']:.3f} | {r.get('finetune_seconds', 0):.0f} |")
    return {"results": results}


def first_call(X, y, rows: int, description: str, **params):
    """The backend and the arguments of OPAL's first LLM call on this data (the call is captured, not run)."""
    from methods.opal.backends import TransformersBackend

    class Captured(Exception):
        pass

    seen = {}

    def capture(self, prompts, **kw):
        seen.update(backend=self, prompts=prompts, kw=kw)
        raise Captured

    real, TransformersBackend.complete = TransformersBackend.complete, capture
    try:
        run_opal(X, y, rows, description, **params)
    except Captured:
        pass
    finally:
        TransformersBackend.complete = real
    return seen["backend"], seen["prompts"], seen["kw"]


def chunks(args) -> dict:
    """The same OPAL call (its prompts, grammars and seed) decoded at each ``--max-chunks`` in turn, repeated:
    jump-forward against one token per sequence per step, nothing else different."""
    import torch

    from methods.opal.engine import SharedPrefixEngine

    torch.set_num_threads(args.threads)
    X, y, description = load(args.dataset)
    backend, prompts, kw = first_call(X, y, args.rows, description, model=args.model, k=args.k, window=args.window,
                                      threads=args.threads, engine="shared-prefix")
    ids = [backend.tokenizer(backend.render(p), add_special_tokens=False)["input_ids"] for p in prompts]
    runs = []
    for rep in range(args.repeats):
        for max_chunk in args.max_chunks:
            engine = SharedPrefixEngine(backend.model, backend.tokenizer, max_chunk=max_chunk)
            _, finished, st = engine.generate(ids, max_new_tokens=kw["max_new_tokens"], temperature=kw["temperature"],
                                              top_p=kw["top_p"], seed=kw["seed"],
                                              constraints=backend._constraints(kw["grammars"]))
            r = {"max_chunk": max_chunk, "repeat": rep, "sequences": len(ids), "finished": sum(finished),
                 **{k: getattr(st, k) for k in ("decode_tokens", "forced_tokens", "decode_steps", "decode_seconds",
                                                 "mask_seconds", "prefill_seconds")}}
            r["decode_tokens_per_s"] = r["decode_tokens"] / r["decode_seconds"]
            runs.append(r)
            print(f"max_chunk {max_chunk}: {r['decode_tokens']} tokens ({r['forced_tokens']} forced) in "
                  f"{r['decode_steps']} steps, {r['decode_seconds']:.1f} s: {r['decode_tokens_per_s']:.1f} tokens/s",
                  flush=True)
    return {"model": args.model, "threads": args.threads, "dataset": args.dataset or "opal-paper diabetes",
            "runs": runs}


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)
    for name in ("speed", "compare", "chunks"):
        s = sub.add_parser(name)
        s.add_argument("--threads", type=int, default=2)
        s.add_argument("--rows", type=int, default=232 if name == "speed" else 20,
                       help="minority rows to generate (0: all the fold needs); 232 is one full call of OPAL's "
                            "default in-context batch (128 sequences of k = 2 records, 10 %% more than asked)")
        s.add_argument("--dataset", default="", help="a dataset of datasets/imbalanced.yaml (default: paper diabetes)")
        s.add_argument("--k", type=int, default=None, help="records per in-context reply (default: OPAL's)")
        s.add_argument("--window", type=int, default=10)
        s.add_argument("--max-calls", type=int, default=None, help="per grown cell (default: OPAL's own budget)")
        s.add_argument("--out", default=str(REPO / "results" / "benchmarks"))
    sp = sub.choices["speed"]
    sp.add_argument("--model", default="smollm2-135m")
    sp.add_argument("--device", default="auto")
    sp.add_argument("--engines", nargs="+", default=["generate", "shared-prefix", "llama.cpp"])
    sp.add_argument("--batches", nargs="+", type=int, default=[1, 8, 32, 64, 128])
    sp.add_argument("--new-tokens", type=int, default=128)
    sp.add_argument("--baseline-rows", type=int, default=20,
                    help="rows asked of OPAL on transformers' generate (about 0.04 valid rows/s on this CPU)")
    sp.add_argument("--generate-max-batch", type=int, default=8,
                    help="largest batch for transformers' generate (it prefills every copy of the prompt: minutes)")
    sp.add_argument("--configs", nargs="+", default=[
        "generate:sentence:free", "shared-prefix:sentence:free", "shared-prefix:sentence:constrained",
        "shared-prefix:compact:constrained", "llama.cpp:sentence:constrained"], help="OPAL runs as engine:serialization:constrained|free")
    cp = sub.choices["compare"]
    cp.add_argument("--models", nargs="+", default=["smollm2-135m", "gemma3-270m"])
    cp.add_argument("--modes", nargs="+", default=["none", "lora"],
                    help="none (in-context), lora, full, or MODE:ROWS:EPOCHS, e.g. lora:grown:3 (finetune_rows, epochs)")
    cp.add_argument("--finetune-epochs", type=int, default=3)
    cp.add_argument("--batch-size", type=int, default=None)
    kp = sub.choices["chunks"]
    kp.add_argument("--model", default="smollm2-135m")
    kp.add_argument("--max-chunks", nargs="+", type=int, default=[1, 8], help="1: lockstep; >1: jump-forward")
    kp.add_argument("--repeats", type=int, default=2)
    args = p.parse_args(argv)
    out = {"speed": speed, "compare": compare, "chunks": chunks}[args.cmd](args)
    out.update(host=platform.node(), machine=platform.machine(), when=time.strftime("%Y-%m-%d %H:%M:%S"))
    path = Path(args.out) / f"opal_{args.cmd}_{time.strftime('%Y%m%d-%H%M%S')}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(out, indent=1, default=str))
    print(f"written {path}")


if __name__ == "__main__":
    main()
