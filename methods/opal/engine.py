"""Batched sampling on a local transformers model, with each distinct prompt computed and stored once.

Why not ``model.generate``: OPAL sends one prompt (a window of real records) and wants many records back. HF
``generate`` copies the prompt's keys and values into every sequence of the batch and grows its cache with
``torch.cat`` at every step; at batch 64 each step copied ~1.9 GB on this CPU, and decoding ran at a tenth of
what the matrix units allow (methods/opal/README.md). Here:

- each distinct prompt is run once (prefill at batch 1: no padding, prompt processing at matmul speed), and its
  keys/values are kept once per layer, shared by every sequence sampled from it;
- each sequence's own tokens go into a preallocated buffer written in place: nothing is copied per step;
- decoding is lockstep (one token per sequence per forward); attention over a shared prefix is one matmul of all
  its sequences' queries against the prefix keys, so the prefix is read once per step, not once per sequence;
- finished sequences are dropped from the batch once a quarter of it has finished (one copy of the buffers).

The model's own layers (projections, rotary embeddings, MLP, lm_head) run unchanged through its ``forward``;
only the attention function (registered with transformers' ``AttentionInterface``) and the cache object differ.
It works for models whose attention calls ``past_key_values.update(k, v, layer_idx)`` and the attention
interface (Llama/SmolLM2, GPT-2, Gemma 3 without sliding-window layers); :func:`supports` says which.

An optional :class:`Constraint` (a grammar per sequence, :mod:`methods.opal.grammar`) masks the logits before
every sampled token, so each sequence can only write what the grammar allows.
"""

from __future__ import annotations

import contextvars
import time
from dataclasses import dataclass, field
from typing import Any, Protocol

ATTENTION = "opal_shared_prefix"
_STATE: contextvars.ContextVar[_Decode | None] = contextvars.ContextVar("opal_engine", default=None)


class Constraint(Protocol):
    """What the engine needs of a constraint on a batch of sequences (see methods.opal.grammar)."""

    def mask(self, logits: Any, rows: list[int], seqs: list[int]) -> None:
        """Set to -inf, in place, the entries of ``logits[rows[j]]`` that sequence ``seqs[j]`` may not take."""

    def accept(self, seq: int, token: int) -> bool:
        """Advance sequence ``seq`` by ``token``; True when its constrained text is complete."""

    # Optional: ``allowed(seqs)``, the ids (a LongTensor) of every token that any of ``seqs`` may take next; the
    # engine then computes the output layer for those only.


@dataclass
class Stats:
    """What one :meth:`SharedPrefixEngine.generate` call did and how long each part took."""

    sequences: int = 0
    distinct_prompts: int = 0
    prefill_tokens: int = 0
    prefill_seconds: float = 0.0
    decode_tokens: int = 0  # tokens sampled for sequences still running (what a reply gets)
    decode_steps: int = 0
    decode_seconds: float = 0.0
    mask_seconds: float = 0.0  # constraint masks and state updates (inside decode_seconds)
    per_step_batch: list[int] = field(default_factory=list)


def supports(model: Any) -> bool:
    """Whether the model's architecture takes the shared-prefix attention (else use ``model.generate``)."""
    cfg = model.config
    return getattr(cfg, "model_type", "") in {"llama", "gpt2", "qwen2", "mistral", "smollm3"} and not getattr(
        cfg, "sliding_window", None)


class _Decode:
    """Per-layer prefix keys/values per prompt group, and the per-sequence suffix buffers (the "cache")."""

    def __init__(self, prefixes: list[list[tuple[Any, Any]]], groups: list[tuple[int, int]], capacity: int):
        import torch

        self.prefixes = prefixes  # prefixes[g][layer] = (k, v), each [kv, P_g, d]
        self.groups = groups  # sequences of prompt g are rows groups[g][0]:groups[g][1] of the batch
        n_layers = len(prefixes[0])
        kv, _, d = prefixes[0][0][0].shape
        batch = groups[-1][1]
        dtype = prefixes[0][0][0].dtype
        self.k = [torch.empty(batch, kv, capacity, d, dtype=dtype) for _ in range(n_layers)]
        self.v = [torch.empty(batch, kv, capacity, d, dtype=dtype) for _ in range(n_layers)]
        self.t = 0  # tokens already in the suffix buffers

    # The Cache interface the model's layers use.
    def update(self, key, value, layer_idx, *args, **kwargs):
        t = self.t
        self.k[layer_idx][:, :, t:t + 1] = key
        self.v[layer_idx][:, :, t:t + 1] = value
        return self.k[layer_idx][:, :, :t + 1], self.v[layer_idx][:, :, :t + 1]

    def get_seq_length(self, layer_idx: int = 0) -> int:
        return self.t

    def keep(self, rows: Any, groups: list[tuple[int, int]]) -> None:
        """Drop finished sequences: keep ``rows`` (sorted, grouped as before) with their new group ranges."""
        self.k = [k.index_select(0, rows) for k in self.k]
        self.v = [v.index_select(0, rows) for v in self.v]
        self.groups = groups


def _attention(module, query, key, value, attention_mask, scaling=None, dropout=0.0, **kwargs):
    """Causal attention for a prefill; for a decoding step, attention over [shared prefix | own suffix]."""
    import torch
    import torch.nn.functional as F

    state = _STATE.get()
    scale = scaling if scaling is not None else query.shape[-1] ** -0.5
    if state is None:  # prefill of one prompt: plain causal attention
        out = F.scaled_dot_product_attention(query, key, value, is_causal=query.shape[2] > 1, scale=scale,
                                             enable_gqa=key.shape[1] != query.shape[1])
        return out.transpose(1, 2).contiguous(), None
    batch, heads, _, d = query.shape
    kv = key.shape[1]
    grp = heads // kv
    q = query.reshape(batch, kv, grp, d)
    own = torch.matmul(q, key.transpose(-1, -2)).mul_(scale)  # [B, kv, grp, t]
    outs = []
    for g, (a, b) in enumerate(state.groups):
        pk, pv = state.prefixes[g][module.layer_idx]  # [kv, P, d]
        n, plen = b - a, pk.shape[1]
        qg = q[a:b].permute(1, 0, 2, 3).reshape(kv, n * grp, d)
        shared = torch.matmul(qg, pk.transpose(-1, -2)).mul_(scale)  # prefix read once for all n sequences
        shared = shared.view(kv, n, grp, plen).permute(1, 0, 2, 3)
        p = torch.cat([shared, own[a:b]], dim=-1).softmax(dim=-1)
        p_shared = p[..., :plen].permute(1, 0, 2, 3).reshape(kv, n * grp, plen)
        o = torch.matmul(p_shared, pv).view(kv, n, grp, d).permute(1, 0, 2, 3)
        outs.append(o + torch.matmul(p[..., plen:], value[a:b]))
    out = torch.cat(outs).reshape(batch, heads, d)
    return out.unsqueeze(1), None  # [B, q_len=1, heads, d], as the model expects


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
        Drop finished sequences from the batch when the running ones fall below this share of it.
    """

    def __init__(self, model: Any, tokenizer: Any, compact_below: float = 0.75):
        if not supports(model):
            raise ValueError(f"the shared-prefix engine does not support model type {model.config.model_type!r}")
        _register()
        self.model, self.tokenizer, self.compact_below = model, tokenizer, compact_below
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
                out = self._decode(prefixes, groups, first_logits, [len(p) for p in distinct], order,
                                   max_new_tokens, temperature, top_p, gen, constraints, ignore_eos, stats)
        finally:
            self.model.config._attn_implementation = saved_attn
        return out[0], out[1], stats

    def _prefill(self, ids: list[int]):
        import torch
        from transformers import DynamicCache

        cache = DynamicCache(config=self.model.config)
        x = torch.tensor([ids], device=self.device)
        logits = self.model(input_ids=x, past_key_values=cache, use_cache=True, logits_to_keep=1).logits[0, -1]
        layers = [(layer.keys[0], layer.values[0]) for layer in cache.layers]  # each [kv, P, d]
        return layers, logits

    def _decode(self, prefixes, groups, first_logits, prefix_lens, order, max_new_tokens, temperature, top_p,
                gen, constraints, ignore_eos, stats):
        import torch

        n = len(order)
        rows = list(order)  # batch row -> original sequence index
        group_of = [g for g, (a, b) in enumerate(groups) for _ in range(a, b)]
        state = _Decode(prefixes, list(groups), max(1, max_new_tokens))
        logits = torch.stack([first_logits[g] for g in group_of]).float()
        positions = torch.tensor([prefix_lens[g] for g in group_of], device=self.device)
        out: list[list[int]] = [[] for _ in range(n)]
        finished = [False] * n
        running = list(range(n))  # batch rows still sampling
        stop_ids = set() if ignore_eos else self.stop_ids
        t0 = time.perf_counter()
        for step in range(max_new_tokens):
            tokens, running = sample_step(logits, running, rows, temperature, top_p, gen, constraints, stop_ids,
                                          out, finished, stats)
            if not running or step == max_new_tokens - 1:
                break
            if len(running) < self.compact_below * len(rows):
                keep = torch.tensor(running, device=self.device)
                new_groups, start = [], 0
                for a, b in state.groups:
                    cnt = sum(1 for r in running if a <= r < b)
                    new_groups.append((start, start + cnt))
                    start += cnt
                live = [g for g, (a, b) in enumerate(new_groups) if b > a]
                state.prefixes = [state.prefixes[g] for g in live]
                state.keep(keep, [new_groups[g] for g in live])
                rows = [rows[r] for r in running]
                tokens, positions = tokens[keep], positions[keep]
                running = list(range(len(rows)))
            state.t = step  # the token sampled at this step is written at suffix position `step`
            reset = _STATE.set(state)
            try:
                logits = self._forward(tokens.view(-1, 1), (positions + step).view(-1, 1), state, constraints,
                                       [rows[r] for r in running])
            finally:
                _STATE.reset(reset)
            stats.decode_steps += 1
        stats.decode_seconds = time.perf_counter() - t0
        return out, finished

    def _forward(self, tokens, positions, state, constraints, seqs):
        """The next logits of every batch row. Under a constraint that can say which tokens any running sequence
        may take next, the output layer (576 x 49,152 for SmolLM2: a fifth of a step's FLOPs) is computed for
        those tokens only; the others are left at 0, and the constraint's mask sets them to -inf for every
        running sequence, so sampling is unchanged."""
        import torch

        allowed = getattr(constraints, "allowed", None)
        ids = None if allowed is None else allowed(seqs)
        kw = dict(input_ids=tokens, position_ids=positions, past_key_values=state, use_cache=True)
        if ids is None:
            return self.model(**kw).logits[:, -1].float()
        hidden = self.model.base_model(**kw).last_hidden_state[:, -1]
        weight = self.model.get_output_embeddings().weight
        logits = torch.zeros(hidden.shape[0], weight.shape[0], dtype=torch.float32, device=hidden.device)
        logits[:, ids] = (hidden @ weight[ids].T).float()
        return logits


def group_prompts(prompts: list[list[int]]) -> tuple[list[int], list[list[int]], list[tuple[int, int]]]:
    """Identical prompts side by side: the batch order (row -> prompt index), the distinct prompts, and the rows
    ``groups[g] = (a, b)`` sampled from distinct prompt ``g``."""
    order = sorted(range(len(prompts)), key=lambda i: (tuple(prompts[i]), i))
    distinct: list[list[int]] = []
    groups: list[tuple[int, int]] = []
    for pos, i in enumerate(order):
        if not distinct or prompts[i] != distinct[-1]:
            distinct.append(prompts[i])
            groups.append((pos, pos + 1))
        else:
            groups[-1] = (groups[-1][0], pos + 1)
    return order, distinct, groups


def sample_step(logits, running: list[int], rows: list[int], temperature: float, top_p: float, gen,
                constraints: Constraint | None, stop_ids: set[int], out: list[list[int]], finished: list[bool],
                stats: Stats):
    """One lockstep step: mask ``logits`` (one row per batch row), sample a token per row, append it to the
    running sequences (``rows[r]``: the sequence of batch row ``r``); return the tokens and the rows still running."""
    tm = time.perf_counter()
    if constraints is not None:
        constraints.mask(logits, running, [rows[r] for r in running])
    stats.mask_seconds += time.perf_counter() - tm
    tokens = _sample(logits, temperature, top_p, gen)
    tok_list = tokens.tolist()
    still = []
    tm = time.perf_counter()
    for r in running:
        i, t = rows[r], tok_list[r]
        out[i].append(t)
        done = t in stop_ids
        if constraints is not None and not done:
            done = constraints.accept(i, t)
        if done:
            finished[i] = True
        else:
            still.append(r)
    stats.mask_seconds += time.perf_counter() - tm
    stats.decode_tokens += len(running)
    stats.per_step_batch.append(len(running))
    return tokens, still


def _sample(logits, temperature: float, top_p: float, gen) -> Any:
    """One token per row: greedy at temperature 0, else softmax sampling (nucleus when top_p < 1)."""
    import torch

    if temperature <= 0:
        return logits.argmax(dim=-1)
    probs = torch.softmax(logits / temperature, dim=-1)
    if top_p < 1.0:
        sorted_p, idx = probs.sort(dim=-1, descending=True)
        drop = sorted_p.cumsum(dim=-1) - sorted_p > top_p
        sorted_p[drop] = 0.0
        probs = torch.zeros_like(probs).scatter_(-1, idx, sorted_p)
    # Inverse-CDF sampling: one uniform draw per row. torch.multinomial draws an exponential per vocabulary entry
    # (49,152 a row): 92 ms a step at batch 64, 12 % of the decoding time on one core.
    # u < the row's total (the factor keeps float rounding from reaching it), so the first entry whose cumulative
    # sum exceeds u has a probability above zero: a masked token is never drawn.
    cdf = probs.cumsum(dim=-1)
    u = torch.rand(cdf.shape[0], 1, generator=gen, device=cdf.device, dtype=cdf.dtype) * (1 - 2**-20)
    return torch.searchsorted(cdf, u * cdf[:, -1:], right=True).view(-1)
