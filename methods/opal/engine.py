"""Batched sampling on a local transformers model, with each distinct prompt computed and stored once.

Why not ``model.generate``: OPAL sends one prompt (a window of real records) and wants many records back. HF
``generate`` copies the prompt's keys and values into every sequence of the batch and grows its cache with
``torch.cat`` at every step; at batch 64 each step copied ~1.9 GB on this CPU, and decoding ran at a tenth of
what the matrix units allow (methods/opal/README.md). Here:

- each distinct prompt is run once (prefill at batch 1: no padding, prompt processing at matmul speed), and its
  keys/values are kept once per layer, shared by every sequence sampled from it;
- each sequence's own tokens go into a preallocated buffer written in place: nothing is copied per step;
- a decoding step samples one token per running sequence and feeds the new tokens of all of them to the model
  in one forward, packed side by side (``[1, tokens]``, no padding); attention over a shared prefix is one
  matmul of all its sequences' queries against the prefix keys, so the prefix is read once per step;
- jump-forward: under a constraint that can say which tokens are forced (the grammar allows exactly one, e.g.
  the rest of a column name), those are written at once and fed in the same forward as the sampled token, up
  to ``max_chunk`` tokens per sequence and step; sampling is unchanged (a forced token is the only one a masked
  step could draw), only the number of steps falls;
- finished sequences feed nothing; they are dropped from the buffers once a quarter of the batch has finished.

The model's own layers (projections, rotary embeddings, MLP, lm_head) run unchanged through its ``forward``;
only the attention function (registered with transformers' ``AttentionInterface``) and the cache object differ.
It works for models whose attention calls ``past_key_values.update(k, v, layer_idx)`` and the attention
interface (Llama/SmolLM2, GPT-2, Gemma 3 without sliding-window layers); :func:`supports` says which.
"""

from __future__ import annotations

import contextvars
import time
from typing import Any

from methods.opal.sampling import Constraint, Stats, group_prompts, sample_step

ATTENTION = "opal_shared_prefix"
MAX_CHUNK = 8  # tokens a sequence feeds per step at most (1 sampled + forced ones); see methods/opal/README.md
_STATE: contextvars.ContextVar[_Decode | None] = contextvars.ContextVar("opal_engine", default=None)


def supports(model: Any) -> bool:
    """Whether the model's architecture takes the shared-prefix attention (else use ``model.generate``)."""
    cfg = model.config
    return getattr(cfg, "model_type", "") in {"llama", "gpt2", "qwen2", "mistral", "smollm3"} and not getattr(
        cfg, "sliding_window", None)


class _Decode:
    """Per-layer prefix keys/values per prompt group, the per-sequence suffix buffers (the "cache"), and where
    this step's packed tokens go."""

    def __init__(self, prefixes: list[list[tuple[Any, Any]]], groups: list[tuple[int, int]], capacity: int):
        import torch

        self.prefixes = prefixes  # prefixes[g][layer] = (k, v), each [kv, P_g, d]
        self.groups = groups  # sequences of prompt g are rows groups[g][0]:groups[g][1] of the batch
        n_layers = len(prefixes[0])
        kv, _, d = prefixes[0][0][0].shape
        batch = groups[-1][1]
        dtype = prefixes[0][0][0].dtype
        # zeros, not empty: a row attends (with weight 0) to positions that only longer rows have written yet,
        # and 0 x NaN from uninitialised memory would be NaN
        self.k = [torch.zeros(batch, kv, capacity, d, dtype=dtype) for _ in range(n_layers)]
        self.v = [torch.zeros(batch, kv, capacity, d, dtype=dtype) for _ in range(n_layers)]
        self.lens = torch.zeros(batch, dtype=torch.long)  # tokens already in each row's suffix buffer

    def plan(self, rows: list[int], counts: list[int]) -> tuple[Any, Any]:
        """Lay out a step that feeds ``counts[j]`` tokens of batch row ``rows[j]`` (rows ascending), packed in
        row order; return each token's row and its position in that row's suffix buffer."""
        import torch

        counts_t = torch.tensor(counts)
        self.rows_of = torch.repeat_interleave(torch.tensor(rows), counts_t)  # [N] batch row of each token
        starts = torch.cumsum(counts_t, 0) - counts_t
        self.offs = torch.arange(len(self.rows_of)) - torch.repeat_interleave(starts, counts_t)  # within its chunk
        self.pos = self.lens[self.rows_of] + self.offs
        self.chunk = max(counts)
        self.span = int((self.lens[rows] + counts_t).max())  # suffix positions any token may attend to
        # own[b, j, s] is hidden when key position s comes after the j-th token fed by row b (causal)
        limit = self.lens[:, None] + torch.arange(self.chunk)[None, :]
        self.hidden = (torch.arange(self.span)[None, None, :] > limit[..., None])[:, None, :, None, :]
        per_row = torch.zeros(len(self.lens), dtype=torch.long).index_add_(0, torch.tensor(rows), counts_t)
        ends = torch.cumsum(per_row, 0).tolist()
        self.token_ranges = [(ends[a - 1] if a else 0, ends[b - 1]) for a, b in self.groups]
        return self.rows_of, self.pos

    def advance(self, rows: list[int], counts: list[int]) -> None:
        """The step's tokens are in the buffers: count them."""
        import torch

        self.lens[rows] += torch.tensor(counts)

    # The Cache interface the model's layers use.
    def update(self, key, value, layer_idx, *args, **kwargs):
        self.k[layer_idx][self.rows_of, :, self.pos] = key[0].transpose(0, 1)  # [N, kv, d] into row, position
        self.v[layer_idx][self.rows_of, :, self.pos] = value[0].transpose(0, 1)
        return key, value

    def get_seq_length(self, layer_idx: int = 0) -> int:
        return int(self.lens.max())

    def keep(self, rows: Any, groups: list[tuple[int, int]]) -> None:
        """Drop finished sequences: keep ``rows`` (sorted, grouped as before) with their new group ranges."""
        for layer in range(len(self.k)):  # one layer at a time: never two copies of the whole cache
            self.k[layer] = self.k[layer].index_select(0, rows)
            self.v[layer] = self.v[layer].index_select(0, rows)
        self.lens = self.lens.index_select(0, rows)
        self.groups = groups


def _attention(module, query, key, value, attention_mask, scaling=None, dropout=0.0, **kwargs):
    """Causal attention for a prefill; for a decoding step, each packed token attends to its prompt's shared
    prefix and to its own sequence's buffer up to itself."""
    import torch
    import torch.nn.functional as F

    state = _STATE.get()
    scale = scaling if scaling is not None else query.shape[-1] ** -0.5
    if state is None:  # prefill of one prompt: plain causal attention
        out = F.scaled_dot_product_attention(query, key, value, is_causal=query.shape[2] > 1, scale=scale,
                                             enable_gqa=key.shape[1] != query.shape[1])
        return out.transpose(1, 2).contiguous(), None
    _, heads, n, d = query.shape
    buf_k, buf_v = state.k[module.layer_idx][:, :, :state.span], state.v[module.layer_idx][:, :, :state.span]
    batch, kv, span = buf_k.shape[0], buf_k.shape[1], buf_k.shape[2]
    grp, chunk, rows, offs = heads // kv, state.chunk, state.rows_of, state.offs
    q = query[0].transpose(0, 1).reshape(n, kv, grp, d)  # packed tokens
    # Own part: the tokens laid out per row ([B, kv, chunk x grp, d], zeros where a row fed fewer) against the
    # row's buffer, so a row's keys are read once for all its tokens.
    padded = q.new_zeros(batch, chunk, kv, grp, d)
    padded[rows, offs] = q
    own = torch.matmul(padded.permute(0, 2, 1, 3, 4).reshape(batch, kv, chunk * grp, d), buf_k.transpose(-1, -2))
    own = own.mul_(scale).view(batch, kv, chunk, grp, span).masked_fill_(state.hidden, float("-inf"))
    own = own[rows, :, offs]  # [N, kv, grp, span]
    outs, p_own = [], []
    for g, (a, b) in enumerate(state.token_ranges):
        if a == b:
            continue
        pk, pv = state.prefixes[g][module.layer_idx]  # [kv, P, d]
        m, plen = b - a, pk.shape[1]
        qg = q[a:b].permute(1, 0, 2, 3).reshape(kv, m * grp, d)
        shared = torch.matmul(qg, pk.transpose(-1, -2)).mul_(scale)  # prefix read once for all its tokens
        p = torch.cat([shared.view(kv, m, grp, plen).permute(1, 0, 2, 3), own[a:b]], dim=-1).softmax(dim=-1)
        o = torch.matmul(p[..., :plen].permute(1, 0, 2, 3).reshape(kv, m * grp, plen), pv)
        outs.append(o.view(kv, m, grp, d).permute(1, 0, 2, 3))
        p_own.append(p[..., plen:])
    weights = q.new_zeros(batch, kv, chunk, grp, span)
    weights[rows, :, offs] = torch.cat(p_own)
    o_own = torch.matmul(weights.view(batch, kv, chunk * grp, span), buf_v).view(batch, kv, chunk, grp, d)
    out = torch.cat(outs) + o_own[rows, :, offs]  # [N, kv, grp, d]
    return out.reshape(1, n, heads, d), None  # [1, q_len, heads, d], as the model expects


_registered = False


def _register() -> None:
    global _registered
    if not _registered:
        from transformers import AttentionInterface

        AttentionInterface.register(ATTENTION, _attention)
        _registered = True


class SharedPrefixEngine:
    """Sample many sequences from a few prompts on one transformers causal LM.

    Parameters
    ----------
    model, tokenizer : a loaded causal LM (eval mode) and its tokenizer.
    compact_below : float
        Drop finished sequences from the buffers when the running ones fall below this share of them.
    max_chunk : int
        Tokens a sequence may feed in one step: its sampled token and up to ``max_chunk - 1`` forced ones
        (1: plain lockstep decoding, one token per sequence per step).
    max_cache_gb : float
        The most the sequences' own keys and values may take (GiB): more sequences than fit are decoded in
        several batches, one after the other.
    """

    def __init__(self, model: Any, tokenizer: Any, compact_below: float = 0.75, max_chunk: int = MAX_CHUNK,
                 max_cache_gb: float = 2.0):
        if not supports(model):
            raise ValueError(f"the shared-prefix engine does not support model type {model.config.model_type!r}")
        if max_chunk < 1:
            raise ValueError(f"max_chunk must be at least 1, got {max_chunk}")
        _register()
        self.model, self.tokenizer, self.compact_below, self.max_chunk = model, tokenizer, compact_below, max_chunk
        self.max_cache_gb = max_cache_gb
        self.device = next(model.parameters()).device
        eos = tokenizer.eos_token_id
        self.stop_ids = {eos} if isinstance(eos, int) else set(eos or [])

    def generate(self, prompts: list[list[int]], *, max_new_tokens: int, temperature: float = 0.6,
                 top_p: float = 1.0, seed: int = 0, constraints: Constraint | None = None,
                 ignore_eos: bool = False) -> tuple[list[list[int]], list[bool], Stats]:
        """Sample one sequence per prompt (identical prompts share their prefix).

        Returns the new token ids of each sequence (its stop token included when it stopped), whether it
        finished (stop token or complete constraint) before ``max_new_tokens``, and timing statistics.
        ``ignore_eos`` samples exactly ``max_new_tokens`` tokens per sequence (raw-throughput measurements).
        """
        import torch

        stats = Stats(sequences=len(prompts))
        order, distinct, groups = group_prompts(prompts)
        stats.distinct_prompts = len(distinct)
        gen = torch.Generator(device=self.device).manual_seed(int(seed))
        saved_attn = self.model.config._attn_implementation
        self.model.config._attn_implementation = ATTENTION
        try:
            with torch.inference_mode():
                t0 = time.perf_counter()
                prefixes, first_logits = [], []
                for ids in distinct:
                    cache_layers, logits = self._prefill(ids)
                    prefixes.append(cache_layers)
                    first_logits.append(logits)
                stats.prefill_tokens = sum(len(p) for p in distinct)
                stats.prefill_seconds = time.perf_counter() - t0
                out: list[list[int]] = [[] for _ in prompts]
                finished = [False] * len(prompts)
                t0 = time.perf_counter()
                for lo, hi in self._batches(prefixes[0], len(order), max_new_tokens):
                    live = [g for g, (a, b) in enumerate(groups) if a < hi and b > lo]
                    self._decode([prefixes[g] for g in live], [(max(a, lo) - lo, min(b, hi) - lo) for a, b in
                                 (groups[g] for g in live)], [first_logits[g] for g in live],
                                 [len(distinct[g]) for g in live], order[lo:hi], max_new_tokens, temperature, top_p,
                                 gen, constraints, ignore_eos, stats, out, finished)
                stats.decode_seconds = time.perf_counter() - t0
        finally:
            self.model.config._attn_implementation = saved_attn
        return out, finished, stats

    def _batches(self, prefix, n: int, max_new_tokens: int) -> list[tuple[int, int]]:
        """Row ranges decoded one after the other so that the suffix buffers stay under ``max_cache_gb``: on
        climate-model-simulation-crashes (289 tokens a record) 128 sequences of two records would need 3.8 GB,
        which a worker capped at 8 GB of address space could not hold."""
        layers, (kv, _, d) = len(prefix), prefix[0][0].shape
        per_row = layers * 2 * kv * d * max(1, max_new_tokens) * prefix[0][0].element_size()
        size = max(1, min(n, int(self.max_cache_gb * 2**30 // per_row)))
        size = -(-n // -(-n // size))  # as many batches as needed, of even sizes
        return [(lo, min(n, lo + size)) for lo in range(0, n, size)]

    def _prefill(self, ids: list[int]):
        import torch
        from transformers import DynamicCache

        cache = DynamicCache(config=self.model.config)
        x = torch.tensor([ids], device=self.device)
        logits = self.model(input_ids=x, past_key_values=cache, use_cache=True, logits_to_keep=1).logits[0, -1]
        layers = [(layer.keys[0], layer.values[0]) for layer in cache.layers]  # each [kv, P, d]
        return layers, logits

    def _decode(self, prefixes, groups, first_logits, prefix_lens, order, max_new_tokens, temperature, top_p,
                gen, constraints, ignore_eos, stats, out, finished):
        """Sample the sequences ``order`` (batch row -> sequence index) into ``out`` and ``finished``."""
        import torch

        rows = list(order)  # batch row -> original sequence index
        group_of = [g for g, (a, b) in enumerate(groups) for _ in range(a, b)]
        state = _Decode(prefixes, list(groups), max(1, max_new_tokens))
        logits = torch.stack([first_logits[g] for g in group_of]).float()  # one row per running batch row
        start = torch.tensor([prefix_lens[g] for g in group_of], device=self.device)  # first new position
        running = list(range(len(rows)))  # batch rows still sampling, ascending
        stop_ids = set() if ignore_eos else self.stop_ids
        forced = getattr(constraints, "forced", None) if self.max_chunk > 1 else None
        while running:
            seqs = [rows[r] for r in running]
            tokens, still = sample_step(logits, list(range(len(running))), seqs, temperature, top_p, gen,
                                        constraints, stop_ids, out, finished, stats)
            tokens = tokens.tolist()
            feed: dict[int, list[int]] = {}  # batch row -> the tokens it feeds this step
            for j in still:
                r, i = running[j], seqs[j]
                chunk = [tokens[j]]
                room = max_new_tokens - len(out[i])
                if forced is not None and room > 0:
                    tm = time.perf_counter()
                    extra, done = forced(i, min(self.max_chunk - 1, room))
                    stats.mask_seconds += time.perf_counter() - tm
                    out[i] += extra
                    stats.forced_tokens += len(extra)
                    stats.decode_tokens += len(extra)
                    if done:
                        finished[i] = True
                        continue
                    chunk += extra
                if len(out[i]) < max_new_tokens:  # else it is cut here: its last tokens need no forward
                    feed[r] = chunk
            if not feed:
                break
            running = sorted(feed)
            if len(running) < self.compact_below * len(rows):
                keep = torch.tensor(running, device=self.device)
                new_groups, begin = [], 0
                for a, b in state.groups:
                    cnt = sum(1 for r in running if a <= r < b)
                    new_groups.append((begin, begin + cnt))
                    begin += cnt
                live = [g for g, (a, b) in enumerate(new_groups) if b > a]
                state.prefixes = [state.prefixes[g] for g in live]
                state.keep(keep, [new_groups[g] for g in live])
                rows, start = [rows[r] for r in running], start[keep]
                feed = {new: feed[old] for new, old in enumerate(running)}
                running = list(range(len(rows)))
            logits = self._step(state, running, [feed[r] for r in running], start, constraints,
                                [rows[r] for r in running])
            stats.decode_steps += 1

    def _step(self, state: _Decode, running: list[int], chunks: list[list[int]], start, constraints, seqs):
        """Feed each running row's chunk (packed, one forward); the next logits of each running row.

        Under a constraint that can say which tokens any running sequence may take next, the output layer
        (576 x 49,152 for SmolLM2: a fifth of a token's FLOPs) is computed for those tokens only; the others are
        left at 0, and the constraint's mask sets them to -inf for every running sequence, so sampling is
        unchanged."""
        import torch

        counts = [len(c) for c in chunks]
        rows_of, pos = state.plan(running, counts)
        tokens = torch.tensor([t for c in chunks for t in c], device=self.device).view(1, -1)
        reset = _STATE.set(state)
        try:
            hidden = self.model.base_model(input_ids=tokens, position_ids=(start[rows_of] + pos).view(1, -1),
                                           past_key_values=state, use_cache=True).last_hidden_state[0]
        finally:
            _STATE.reset(reset)
        state.advance(running, counts)
        hidden = hidden[torch.tensor(counts).cumsum(0) - 1]  # each row's last token
        allowed = getattr(constraints, "allowed", None)
        ids = None if allowed is None else allowed(seqs)
        if ids is None:
            return self.model.get_output_embeddings()(hidden).float()
        weight = self.model.get_output_embeddings().weight
        logits = torch.zeros(hidden.shape[0], weight.shape[0], dtype=torch.float32, device=hidden.device)
        logits[:, ids] = (hidden @ weight[ids].T).float()
        return logits
