"""Batched sampling on llama.cpp (llama-cpp-python): the packaged GGUF's quantized weights, parallel sequences.

The transformers engine (:mod:`methods.opal.engine`) runs fp32 weights: at small batches every step reads
540 MB of weights, and at large ones its attention and skinny matmuls are the bound (methods/opal/README.md).
llama.cpp reads the Q4_1 weights (a sixth of that) with kernels written for this kind of CPU:

- each distinct prompt is decoded once, into the KV stream of its first sequence, and llama.cpp copies that
  stream to the other sequences sampled from the same prompt (one buffer copy per sequence per call);
- each sequence has a KV stream of its own (``kv_unified=False``): a decoding step attends over its own
  cells only, not over every sequence's;
- decoding is lockstep, one ``llama_decode`` per step with one token per running sequence; the logits of all
  running sequences come back together and go through the same constraint (xgrammar masks) and sampler as
  the transformers engine.

Tokenizing and the grammar use the model's transformers tokenizer (the same vocabulary, read from the GGUF).
Built from source by ``make llama`` (cached as a wheel under build/wheels); ``make test`` does not need it.
"""

from __future__ import annotations

import time
from typing import Any

from methods.opal.sampling import Constraint, Stats, group_prompts, sample_step

CTX_ALIGN = 256  # llama.cpp pads each stream's context to this
_SILENT: Any = None  # the log callback given to llama.cpp


def available() -> bool:
    """Whether llama-cpp-python is installed (``make llama``)."""
    import importlib.util

    return importlib.util.find_spec("llama_cpp") is not None


class LlamaCppEngine:
    """Sample many sequences from a few prompts with llama.cpp; the interface of ``SharedPrefixEngine``.

    Parameters
    ----------
    gguf : path of a GGUF model file.
    threads : CPU threads for llama.cpp (default: torch's current number of threads).
    """

    def __init__(self, gguf: str, threads: int | None = None):
        import llama_cpp
        from llama_cpp._internals import LlamaModel

        global _SILENT
        self._llama = llama_cpp
        if _SILENT is None:  # llama.cpp logs every context it makes to stderr; kept referenced for its lifetime
            _SILENT = llama_cpp.llama_log_callback(lambda level, text, data: None)
            llama_cpp.llama_log_set(_SILENT, None)
        self.model = LlamaModel(path_model=str(gguf), params=llama_cpp.llama_model_default_params(), verbose=False)
        self.n_vocab = self.model.n_vocab()
        self.stop_ids = {t for t in (self.model.token_eos(), self.model.token_eot()) if t >= 0}
        self.threads = threads
        self._ctx: Any = None
        self._shape = (0, 0)  # (sequences, cells per sequence) of the context kept between calls

    def _context(self, n_seq: int, cells: int):
        """A context with ``n_seq`` KV streams of at least ``cells`` cells each; the last one when it fits."""
        import torch
        from llama_cpp._internals import LlamaContext

        cells = -(-cells // CTX_ALIGN) * CTX_ALIGN
        if self._ctx is not None and self._shape[0] >= n_seq and self._shape[1] >= cells:
            self._ctx.kv_cache_clear()
            return self._ctx
        if self._ctx is not None:
            self._ctx.close()
        n_seq, cells = max(n_seq, self._shape[0]), max(cells, self._shape[1])
        p = self._llama.llama_context_default_params()
        p.n_seq_max, p.n_ctx, p.kv_unified = n_seq, n_seq * cells, False
        p.n_batch = p.n_ubatch = 512
        p.n_threads = p.n_threads_batch = self.threads or torch.get_num_threads()
        p.no_perf = True
        self._ctx, self._shape = LlamaContext(model=self.model, params=p, verbose=False), (n_seq, cells)
        return self._ctx

    def generate(self, prompts: list[list[int]], *, max_new_tokens: int, temperature: float = 0.6,
                 top_p: float = 1.0, seed: int = 0, constraints: Constraint | None = None,
                 ignore_eos: bool = False) -> tuple[list[list[int]], list[bool], Stats]:
        """As :meth:`methods.opal.engine.SharedPrefixEngine.generate`."""
        import torch
        from llama_cpp._internals import LlamaBatch

        stats = Stats(sequences=len(prompts))
        order, distinct, groups = group_prompts(prompts)
        stats.distinct_prompts = len(distinct)
        n = len(order)
        ctx = self._context(n, max(len(p) for p in distinct) + max_new_tokens + 1)
        batch = LlamaBatch(n_tokens=max(512, n), embd=0, n_seq_max=1, verbose=False)
        gen = torch.Generator().manual_seed(int(seed))
        try:
            t0 = time.perf_counter()
            first = []
            for (a, b), ids in zip(groups, distinct):
                first.append(self._prefill(ctx, batch, ids, seq=a))
                for r in range(a + 1, b):  # the prompt's stream copied to its other sequences
                    ctx.kv_cache_seq_cp(a, r, -1, -1)
            stats.prefill_tokens = sum(len(p) for p in distinct)
            stats.prefill_seconds = time.perf_counter() - t0
            group_of = [g for g, (a, b) in enumerate(groups) for _ in range(a, b)]
            logits = torch.stack([first[g] for g in group_of])
            positions = [len(distinct[g]) for g in group_of]
            out: list[list[int]] = [[] for _ in range(n)]
            finished = [False] * n
            live = list(range(n))  # sequences (= KV streams, batch rows) still sampling
            stop_ids = set() if ignore_eos else self.stop_ids
            t0 = time.perf_counter()
            for step in range(max_new_tokens):
                tokens, still = sample_step(logits, list(range(len(live))), [order[r] for r in live], temperature,
                                            top_p, gen, constraints, stop_ids, out, finished, stats)
                if not still or step == max_new_tokens - 1:
                    break
                tok = tokens.tolist()
                batch.reset()
                for j in still:
                    r = live[j]
                    k = batch.batch.n_tokens
                    batch.batch.token[k], batch.batch.pos[k] = tok[j], positions[r] + step
                    batch.batch.seq_id[k][0], batch.batch.n_seq_id[k], batch.batch.logits[k] = r, 1, True
                    batch.batch.n_tokens = k + 1
                for j in set(range(len(live))) - set(still):
                    ctx.kv_cache_seq_rm(live[j], -1, -1)  # a finished sequence's cells are no longer read
                live = [live[j] for j in still]
                ctx.decode(batch)
                logits = self._logits(ctx, len(live))
                stats.decode_steps += 1
            stats.decode_seconds = time.perf_counter() - t0
        finally:
            batch.close()
        return out, finished, stats

    def _prefill(self, ctx, batch, ids: list[int], seq: int):
        """Decode ``ids`` into stream ``seq`` in chunks of the batch size; the logits after its last token."""
        import torch

        size = 512
        for start in range(0, len(ids), size):
            chunk = ids[start:start + size]
            batch.reset()
            batch.add_sequence(chunk, seq, logits_all=False)
            for i in range(len(chunk)):  # add_sequence numbers positions from 0 within the chunk
                batch.batch.pos[i] = start + i
            batch.batch.logits[len(chunk) - 1] = start + size >= len(ids)
            ctx.decode(batch)
        return torch.from_numpy(self._as_numpy(ctx.get_logits_ith(-1), 1)[0].copy())

    def _logits(self, ctx, rows: int):
        import torch

        return torch.from_numpy(self._as_numpy(ctx.get_logits(), rows).copy())

    def _as_numpy(self, pointer, rows: int):
        import numpy as np

        return np.ctypeslib.as_array(pointer, shape=(rows, self.n_vocab))

    def close(self) -> None:
        if self._ctx is not None:
            self._ctx.close()
            self._ctx = None
