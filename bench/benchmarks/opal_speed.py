"""OPAL's speed and row quality with a packaged model, on this machine.

``speed``: tokens/s of raw generation (no prompt, no parsing, fixed length), valid rows/s of OPAL with the same
model, and their ratio: the share of the model's raw throughput that ends as accepted rows (what the prompt,
the parsing and the rejections cost).
``compare``: parse rate, acceptance rate, fidelity of accepted rows (bench.quality) and rows/s for each model,
in-context and after LoRA fine-tuning.

Data: the OPAL paper's diabetes training file (seed 1: 100 rows, 10 of the minority class 0), from ../shared,
or with ``--dataset NAME`` the first training fold of a catalog dataset (``--rows 0``: every row it needs).
The disk cache is off, so every number is a fresh measurement. Timings on a shared CPU are noisy.

    python -m bench.benchmarks.opal_speed speed --model smollm2-135m --threads 1
    python -m bench.benchmarks.opal_speed compare --models smollm2-135m gemma3-270m --rows 20
"""

from __future__ import annotations

import argparse
import json
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


def raw_tokens_per_second(model: str, new_tokens: int = 128, batch: int = 1) -> dict:
    """Generation alone: a short prompt, exactly ``new_tokens`` sampled tokens per sequence."""
    import torch

    from methods.opal.backends import load_causal_lm

    tok, lm, device = load_causal_lm(model)
    text = "Write records of patients, one per line: age is 50, glucose is 120, bmi is 31.2."
    enc = tok([text] * batch, return_tensors="pt", padding=True).to(device)
    with torch.inference_mode():
        lm.generate(**enc, max_new_tokens=4, min_new_tokens=4, do_sample=True, pad_token_id=tok.pad_token_id)
        t0 = time.perf_counter()
        lm.generate(**enc, max_new_tokens=new_tokens, min_new_tokens=new_tokens, do_sample=True, temperature=0.6,
                    pad_token_id=tok.pad_token_id)
        seconds = time.perf_counter() - t0
    return {"batch": batch, "tokens": new_tokens * batch, "seconds": seconds, "tokens_per_s": new_tokens * batch / seconds}


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
    import torch

    torch.set_num_threads(args.threads)
    X, y, description = load(args.dataset)
    raw = [raw_tokens_per_second(args.model, batch=b) for b in (1, 4, 16)]
    opal = run_opal(X, y, args.rows, description, model=args.model, k=args.k, window=args.window, threads=args.threads,
                    max_calls=args.max_calls, device=args.device)
    from methods.opal.backends import load_causal_lm
    from methods.opal.parse import Schema

    tok = load_causal_lm(args.model)[0]
    schema = Schema(X, str(y.name), list(y.unique()))
    per_row = sum(len(tok(schema.serialize({**r, "__label__": v}))["input_ids"])
                  for r, v in zip(X.to_dict("records"), y)) / len(X)
    best = max(r["tokens_per_s"] for r in raw)
    out = {"model": args.model, "device": str(opal.get("model")), "threads": args.threads, "raw": raw,
           "tokens_per_record": per_row, "opal": opal, "raw_rows_per_s": best / per_row,
           "ratio": opal["valid_rows_per_s"] / (best / per_row)}
    print("raw generation: " + ", ".join(f"batch {r['batch']}: {r['tokens_per_s']:.1f} tokens/s" for r in raw))
    print(f"one record ~ {per_row:.0f} tokens -> at most {best / per_row:.2f} records/s")
    print(f"OPAL in-context: {opal.get('rows_accepted', 0)} valid rows of {opal.get('rows_generated', 0)} generated, "
          f"{opal['valid_rows_per_s']:.3f} valid rows/s (LLM time {opal.get('llm_seconds', 0):.0f} s, "
          f"{opal.get('calls', 0)} calls, {opal.get('prompt_tokens', 0)} prompt + "
          f"{opal.get('completion_tokens', 0)} completion tokens)")
    print(f"ratio OPAL valid rows/s : raw rows/s = {out['ratio']:.2f}")
    return out


def compare(args) -> dict:
    import torch

    torch.set_num_threads(args.threads)
    X, y, description = load(args.dataset)
    results = []
    for model in args.models:
        for ft in args.modes:
            params = {"model": model, "k": args.k, "window": args.window, "threads": args.threads,
                      "max_calls": args.max_calls, "batch_size": args.batch_size}
            if ft != "none":
                params.update(finetune=ft, finetune_epochs=args.finetune_epochs)
            r = run_opal(X, y, args.rows, description, **params)
            r.update(model_name=model, finetune=ft)
            results.append(r)
            print(json.dumps({k: r.get(k) for k in ("model_name", "finetune", "rows_generated", "rows_accepted",
                                                    "parse_rate", "acceptance_rate", "fidelity", "dcr_ratio",
                                                    "valid_rows_per_s", "llm_seconds", "finetune_seconds", "error")},
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


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)
    for name in ("speed", "compare"):
        s = sub.add_parser(name)
        s.add_argument("--threads", type=int, default=1)
        s.add_argument("--rows", type=int, default=20, help="minority rows to generate (0: all the fold needs)")
        s.add_argument("--dataset", default="", help="a dataset of datasets/imbalanced.yaml (default: paper diabetes)")
        s.add_argument("--k", type=int, default=10)
        s.add_argument("--window", type=int, default=10)
        s.add_argument("--max-calls", type=int, default=30)
        s.add_argument("--out", default=str(REPO / "results" / "benchmarks"))
    sp = sub.choices["speed"]
    sp.add_argument("--model", default="smollm2-135m")
    sp.add_argument("--device", default="auto")
    cp = sub.choices["compare"]
    cp.add_argument("--models", nargs="+", default=["smollm2-135m", "gemma3-270m"])
    cp.add_argument("--modes", nargs="+", default=["none", "lora"])
    cp.add_argument("--finetune-epochs", type=int, default=3)
    cp.add_argument("--batch-size", type=int, default=None)
    args = p.parse_args(argv)
    out = speed(args) if args.cmd == "speed" else compare(args)
    out.update(host=platform.node(), machine=platform.machine(), when=time.strftime("%Y-%m-%d %H:%M:%S"))
    path = Path(args.out) / f"opal_{args.cmd}_{time.strftime('%Y%m%d-%H%M%S')}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(out, indent=1, default=str))
    print(f"written {path}")


if __name__ == "__main__":
    main()
