"""Pieces the tests of OPAL's two engines share."""

from __future__ import annotations

import numpy as np
import pandas as pd


class StopAfter:
    """A constraint that allows every token and ends sequence i after lengths[i] tokens."""

    def __init__(self, lengths):
        self.lengths, self.seen = lengths, [0] * len(lengths)

    def mask(self, logits, rows, seqs):
        pass

    def accept(self, seq, token):
        self.seen[seq] += 1
        return self.seen[seq] >= self.lengths[seq]


def frame(rng, n=60):
    """A small mixed table (integer, float, categorical with a two-word level), 12 rows of minority class 1."""
    X = pd.DataFrame({"age": rng.integers(18, 90, n), "income": rng.normal(3000, 900, n).round(2),
                      "colour": pd.Categorical(rng.choice(["red", "green", "dark blue"], n))})
    y = pd.Series(np.r_[np.ones(12, int), np.zeros(n - 12, int)], name="target")
    return X, y
