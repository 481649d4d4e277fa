"""Valid records by construction: a grammar built from the schema, enforced token by token with xgrammar.

The grammar fixes everything the schema knows: the features in the prompt's order and their names, the exact
levels of categorical columns, digits for integer columns (no more digits than the column's range needs), decimal
numbers for the rest, and the label (and group) of the cell being grown. What it cannot know is left to the
parser's checks: a number outside the column's range, a record that copies a real one. A sequence writes
exactly ``k`` records, one per line, then stops.

xgrammar (C++, ``pip install --no-deps xgrammar`` to avoid its optional triton) compiles the grammar against the
tokenizer's vocabulary once, and fills a bitmask of the allowed next tokens per sequence in microseconds.
"""

from __future__ import annotations

import functools
import json
import math
from typing import Any, Mapping

import numpy as np

from methods.opal.parse import GROUP, LABEL, Column, Schema, csv_field

SERIALIZATIONS = ("sentence", "compact")


def ebnf(schema: Schema, target: Mapping[str, Any], order: list[str], *, serialization: str = "sentence",
         k: int = 1, lead: str = "") -> str:
    """The grammar (xgrammar EBNF) of ``k`` records of the cell ``target``, fields in ``order`` (column keys).

    ``sentence``: ``name is value, ..., label is 1.``; ``compact``: ``v1,v2,...,1`` (the header is in the prompt).
    ``lead`` is written before each record (a fine-tuned model continues its prefix with ``" name is"``).
    """
    cols = {c.key: c for c in schema.columns}
    rules = {}
    parts = []
    for i, key in enumerate(order):
        col = cols[key]
        rule = f"v{i}"
        rules[rule] = _literal(col.format(target[key])) if key in target else _value(col, serialization)
        if serialization == "sentence":
            sep = "" if i == 0 else ", "
            parts.append(_literal(f"{sep}{col.name} is ") + " " + rule)
        else:
            parts.append((_literal(",") + " " if i else "") + rule)
    end = _literal(".") if serialization == "sentence" else ""
    record = " ".join(([_literal(lead)] if lead else []) + parts + ([end] if end else []))
    lines = [f"root ::= {' '.join(['record'] + ['nl record'] * (k - 1))}",
             f"record ::= {record}", 'nl ::= "\\n"']
    lines += [f"{name} ::= {body}" for name, body in rules.items()]
    return "\n".join(lines)


def _literal(text: str) -> str:
    return json.dumps(text)  # EBNF string literals take JSON-style escapes


def _value(col: Column, serialization: str) -> str:
    if col.kind == "category":
        levels = [csv_field(t) if serialization == "compact" else t for t in col.levels]
        return "(" + " | ".join(_literal(t) for t in levels) + ")"
    digits = max(1, len(str(int(max(abs(col.low), abs(col.high))))) if math.isfinite(col.low) else 1)
    sign = '"-"? ' if col.low < 0 else ""
    whole = f"[0-9]{{1,{digits}}}"
    if col.kind == "int":
        return f"{sign}{whole}"
    return f'{sign}{whole} ("." [0-9]{{1,{col.decimals}}})?'


def order_of(schema: Schema, features: list[str], *, label_first: bool) -> list[str]:
    """Column keys in record order: features, then group and label (or label and group first, fine-tuned)."""
    tail = [k for k in (GROUP, LABEL) if k in {c.key for c in schema.columns}]
    return (tail[::-1] + features) if label_first else (features + tail)


@functools.cache
def _tokenizer_info(tokenizer: Any, vocab_size: int):
    import xgrammar as xgr

    return xgr.TokenizerInfo.from_huggingface(tokenizer, vocab_size=vocab_size)


@functools.lru_cache(maxsize=64)
def _compile(tokenizer: Any, vocab_size: int, grammar: str):
    import xgrammar as xgr

    return xgr.GrammarCompiler(_tokenizer_info(tokenizer, vocab_size), max_threads=1).compile_grammar(grammar)


class GrammarConstraints:
    """One grammar matcher per sequence of a batch; the :class:`methods.opal.engine.Constraint` of a call.

    Parameters
    ----------
    tokenizer : the model's tokenizer; vocab_size: the model's output size (may exceed the tokenizer's).
    grammars : list of str
        The EBNF grammar of each sequence (identical strings are compiled once).
    """

    def __init__(self, tokenizer: Any, vocab_size: int, grammars: list[str]):
        import xgrammar as xgr

        self._xgr = xgr
        self.vocab_size = vocab_size
        self.matchers = [xgr.GrammarMatcher(_compile(tokenizer, vocab_size, g)) for g in grammars]
        self.bitmask = xgr.allocate_token_bitmask(len(grammars), vocab_size)
        self._scratch = xgr.allocate_token_bitmask(len(grammars), vocab_size)  # for allowed()
        self._one = xgr.allocate_token_bitmask(1, vocab_size)  # for forced()
        # forced() reads the words of one row; bits past the vocabulary (the last word's tail) are not tokens
        self._valid = np.full(self._one.shape[1], -1, dtype=np.int32)
        if vocab_size % 32:
            self._valid[-1] = (1 << vocab_size % 32) - 1

    def mask(self, logits: Any, rows: list[int], seqs: list[int]) -> None:
        for r, s in zip(rows, seqs):
            self.matchers[s].fill_next_token_bitmask(self.bitmask, r)
        self._xgr.apply_token_bitmask_inplace(logits, self.bitmask[: logits.shape[0]], vocab_size=self.vocab_size,
                                              indices=rows)

    def allowed(self, seqs: list[int]):
        """The ids of every token that any of ``seqs`` may take next (the union of their masks)."""
        import torch

        scratch = self._scratch[: len(seqs)]
        for j, s in enumerate(seqs):
            self.matchers[s].fill_next_token_bitmask(self._scratch, j)
        union = scratch[0].clone()
        for row in scratch[1:]:
            union |= row
        bits = (union.unsqueeze(-1) >> torch.arange(32, dtype=union.dtype)) & 1
        return bits.view(-1)[: self.vocab_size].nonzero().view(-1)

    def accept(self, seq: int, token: int) -> bool:
        m = self.matchers[seq]
        if not m.accept_token(token):
            raise RuntimeError(f"grammar refused token {token} that its own mask allowed")
        return m.is_terminated()

    def forced(self, seq: int, limit: int) -> tuple[list[int], bool]:
        """The tokens (at most ``limit``) sequence ``seq`` must write next, each the only one its grammar allows,
        accepted; and whether its text is then complete. Exactly what masked sampling would draw, one per step."""
        m, row, tokens = self.matchers[seq], self._one[0], []
        while len(tokens) < limit and not m.is_terminated():
            m.fill_next_token_bitmask(self._one, 0)
            words = row.numpy() & self._valid
            nonzero = words.nonzero()[0]
            if len(nonzero) != 1:
                break
            word = int(words[nonzero[0]]) & 0xFFFFFFFF
            if word & (word - 1):  # more than one bit: a choice
                break
            token = int(nonzero[0]) * 32 + word.bit_length() - 1
            self.accept(seq, token)
            tokens.append(token)
        return tokens, m.is_terminated()
