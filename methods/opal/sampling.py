"""What OPAL's two local engines (transformers: :mod:`methods.opal.engine`; llama.cpp: :mod:`methods.opal.llamacpp`)
share: the constraint protocol, timing statistics, grouping identical prompts, and one sampling step."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Protocol


class Constraint(Protocol):
    """What an engine needs of a constraint on a batch of sequences (see methods.opal.grammar)."""

    def mask(self, logits: Any, rows: list[int], seqs: list[int]) -> None:
        """Set to -inf, in place, the entries of ``logits[rows[j]]`` that sequence ``seqs[j]`` may not take."""

    def accept(self, seq: int, token: int) -> bool:
        """Advance sequence ``seq`` by ``token``; True when its constrained text is complete."""

    # Optional:
    # - ``allowed(seqs)``: the ids (a LongTensor) of every token that any of ``seqs`` may take next; the engine
    #   then computes the output layer for those only.
    # - ``forced(seq, limit) -> (tokens, complete)``: the tokens, at most ``limit``, that sequence ``seq`` must
    #   write next because each is the only one its constraint allows, already accepted; the transformers engine
    #   then feeds them to the model in the same forward as the sampled token (jump-forward decoding).


@dataclass
class Stats:
    """What one ``generate`` call did and how long each part took."""

    sequences: int = 0
    distinct_prompts: int = 0
    prefill_tokens: int = 0
    prefill_seconds: float = 0.0
    decode_tokens: int = 0  # tokens written by sequences still running (what a reply gets), forced ones included
    forced_tokens: int = 0  # of those, tokens the constraint forced, written without a step of their own
    decode_steps: int = 0
    decode_seconds: float = 0.0
    mask_seconds: float = 0.0  # constraint masks and state updates (inside decode_seconds)
    per_step_batch: list[int] = field(default_factory=list)


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
